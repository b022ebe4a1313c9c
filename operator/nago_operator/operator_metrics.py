"""Prometheus metrics of the operator, served on `/metrics` (NAGO_METRICS_PORT; 0 turns it off)."""

from __future__ import annotations

import contextlib

from prometheus_client import Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

TRIALS = Gauge("nago_trials", "Trials of a search by state", ["namespace", "search", "state"])
SEARCHES = Gauge("nago_searches", "Searches this operator reconciles")
RECONCILE_SECONDS = Histogram(
    "nago_reconcile_seconds", "Time of one reconcile of one search (API calls, Redis, the engine)",
    buckets=LATENCY_BUCKETS,
)  # fmt: skip
PROPOSER_SECONDS = Histogram(
    "nago_proposer_seconds", "Time of the engine step, which runs the proposer when it proposes",
    buckets=LATENCY_BUCKETS,
)  # fmt: skip
REDIS_LAG = Gauge(
    "nago_redis_lag_records", "Metric records in a search's stream not yet applied", ["namespace", "search"]
)
BAD_RECORDS = Counter("nago_bad_records_total", "Metric records dropped because they do not parse", ["namespace"])
RECONCILE_ERRORS = Counter("nago_reconcile_errors_total", "Reconciles that raised", ["namespace", "reason"])
JOBS_CREATED = Counter("nago_jobs_created_total", "Trial Jobs created", ["namespace"])


def serve_metrics(port: int) -> None:
    """Start the /metrics endpoint in a background thread (no-op for port 0)."""
    if port:
        start_http_server(port)


def forget_search(namespace: str, search: str) -> None:
    """Drop a deleted search's labelled series."""
    for state in ("Pending", "Running", "Succeeded", "Failed"):
        with contextlib.suppress(KeyError):
            TRIALS.remove(namespace, search, state)
    with contextlib.suppress(KeyError):
        REDIS_LAG.remove(namespace, search)
