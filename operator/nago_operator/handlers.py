"""The kopf handlers: thin. One daemon per GeneratorSearch runs its reconcile in a worker thread every few
seconds (docs/design.md §7.2: level-triggered, one place that compares desired and actual); one delete
handler cleans what owner references cannot (Redis keys), within a bounded time (docs/design.md §7.6).

Handlers return None: kopf would write a return value into the status, which has exactly one writer, the
reconcile (docs/design.md §7.4). Watches and API calls have timeouts (docs/design.md §7.5); kopf's own
progress and diff-base annotations are under nago.dev; its handler Events are posted only for warnings (ours
say more).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import kopf

from nago_operator import operator_metrics as metrics
from nago_operator.kube_client import KubeClient, load_credentials
from nago_operator.search_events import WARNING, SearchEvent
from nago_operator.search_reconciler import SearchReconciler
from nago_operator.settings import OperatorSettings
from nago_operator.trial_jobs import GROUP, PLURAL, VERSION

SETTLED_PHASES = ("Succeeded", "Failed")
ERROR_BACKOFF_SECONDS = (1.0, 60.0)  # first and largest wait after a reconcile that raised
log = logging.getLogger("nago_operator")


@dataclass
class Runtime:
    """What every handler shares: settings, clients, the worker threads and one reconciler per search."""

    settings: OperatorSettings
    kube: KubeClient
    redis: Any
    workers: ThreadPoolExecutor
    reconcilers: dict[str, SearchReconciler] = field(default_factory=dict)

    def reconciler(self, namespace: str, name: str, uid: str) -> SearchReconciler:
        if uid not in self.reconcilers:
            self.reconcilers[uid] = SearchReconciler(self.kube, self.redis, self.settings, namespace, name, uid)
            metrics.SEARCHES.set(len(self.reconcilers))
        return self.reconcilers[uid]


def _runtime(memo: kopf.Memo) -> Runtime:
    runtime: Runtime = memo["runtime"]
    return runtime


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    import redis

    operator_settings: OperatorSettings = memo["settings"]
    settings.watching.server_timeout = 120
    settings.watching.client_timeout = 150
    settings.watching.connect_timeout = 10
    settings.networking.request_timeout = 30
    settings.networking.connect_timeout = 10
    settings.persistence.finalizer = "nago.dev/cleanup"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="nago.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="nago.dev")
    settings.posting.level = logging.WARNING
    client = redis.Redis.from_url(
        operator_settings.redis_url, password=operator_settings.redis_password,
        socket_timeout=5.0, socket_connect_timeout=5.0, health_check_interval=30,
    )  # fmt: skip
    memo["runtime"] = Runtime(
        operator_settings, KubeClient(load_credentials()), client,
        ThreadPoolExecutor(operator_settings.workers, thread_name_prefix="reconcile"),
    )  # fmt: skip
    metrics.serve_metrics(operator_settings.metrics_port)


@kopf.on.cleanup()
def shut_down(memo: kopf.Memo, **_: Any) -> None:
    if "runtime" in memo:
        _runtime(memo).workers.shutdown(wait=False, cancel_futures=True)


@kopf.on.probe(id="searches")
def count_searches(memo: kopf.Memo, **_: Any) -> int:
    return len(_runtime(memo).reconcilers) if "runtime" in memo else 0


def _is_settled(body: dict[str, Any]) -> bool:
    """Finished and unchanged since: nothing to do until the spec changes (e.g. maxTrials is raised)."""
    status = body.get("status") or {}
    return status.get("phase") in SETTLED_PHASES and status.get("observedGeneration") == body["metadata"].get(
        "generation"
    )


@kopf.daemon(GROUP, VERSION, PLURAL, id="reconcile", cancellation_timeout=60.0, initial_delay=0.0)
async def run_search(
    *, stopped: kopf.DaemonStopped, body: kopf.Body, namespace: str | None, name: str, uid: str, memo: Any, **_: Any
) -> None:
    assert namespace is not None  # the resource is namespaced
    runtime = _runtime(memo)
    reconciler = runtime.reconciler(namespace, name, uid)
    loop = asyncio.get_running_loop()
    backoff = 0.0
    while not stopped:
        snapshot = copy.deepcopy(dict(body))
        if not _is_settled(snapshot):
            try:
                await loop.run_in_executor(runtime.workers, reconciler.reconcile, snapshot)
                backoff = 0.0
            except Exception as error:  # keep the search alive: report, back off, try again
                reason = type(error).__name__
                metrics.RECONCILE_ERRORS.labels(namespace, reason).inc()
                log.exception("search %s/%s: reconcile failed", namespace, name)
                backoff = min(max(backoff * 2, ERROR_BACKOFF_SECONDS[0]), ERROR_BACKOFF_SECONDS[1])
                await loop.run_in_executor(
                    runtime.workers, reconciler.post_event, SearchEvent(WARNING, "ReconcileError", f"{reason}: {error}")
                )
        await stopped.wait(runtime.settings.reconcile_seconds + backoff)


@kopf.on.delete(GROUP, VERSION, PLURAL, id="cleanup", retries=3, backoff=2.0, timeout=600.0)
async def clean_up_search(*, namespace: str | None, name: str, uid: str, memo: Any, **_: Any) -> None:
    assert namespace is not None  # the resource is namespaced
    runtime = _runtime(memo)
    reconciler = runtime.reconciler(namespace, name, uid)  # created when the search went before a reconcile
    del runtime.reconcilers[uid]
    metrics.SEARCHES.set(len(runtime.reconcilers))
    deadline = time.monotonic() + runtime.settings.cleanup_timeout_seconds
    problems = await asyncio.get_running_loop().run_in_executor(runtime.workers, reconciler.clean_up, deadline)
    for problem in problems:  # bounded: deletion never waits on an unreachable Redis
        log.warning("search %s/%s deleted; %s", namespace, name, problem)
