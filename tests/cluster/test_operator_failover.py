"""Two replicas, one active (the Lease): the active one SIGKILLed three times at random moments of a search.

Each time a fresh replica is started as the new standby (what the Deployment does); the standby takes over, and
the search ends with every trial run once — no second Job for any trial, no retried attempt, no lost result,
no repeated launch Event. The time from each kill until the standby holds the Lease is printed (and recorded in
docs/benchmarks.md); it is not asserted (machines are shared)."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from control_plane import ApiClient, ControlPlane
from nago.search.ledger import TrialPurpose, TrialState
from operator_harness import (
    OperatorProcess,
    apply_search,
    build_search,
    list_events,
    list_jobs,
    read_ledger,
    wait_for_phase,
    wait_until,
)
from redis_server import RedisServer

pytestmark = pytest.mark.cluster

LEASE_SECONDS = 3


def _replica(plane: ControlPlane, redis: RedisServer, namespace: str, log: Path) -> OperatorProcess:
    replica = OperatorProcess(plane, redis, namespace, log, extra_env={
        "NAGO_LEASE_NAME": "nago-operator", "NAGO_LEASE_NAMESPACE": namespace, "NAGO_LEASE_SECONDS": str(LEASE_SECONDS),
    })  # fmt: skip
    replica.start()
    return replica


def _holder(kube: ApiClient, namespace: str) -> str:
    lease = kube.get(f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/nago-operator")
    return str(lease["spec"].get("holderIdentity") or "")


def _active(replicas: list[OperatorProcess]) -> OperatorProcess | None:
    running = [r for r in replicas if r.process is not None and r.process.poll() is None]
    active = [r for r in running if "is active" in r.read_log()]
    assert len(active) <= 1, "two replicas acting at once"
    return active[0] if active else None


def test_the_standby_takes_over_three_times_without_duplicate_jobs_or_lost_results(
    control_plane: ControlPlane, kube: ApiClient, namespace: str, generator_search_crd: str,
    redis_for_operator: RedisServer, tmp_path: Path,
) -> None:  # fmt: skip
    replicas = [_replica(control_plane, redis_for_operator, namespace, tmp_path / f"replica-{i}.log") for i in (0, 1)]
    takeovers: list[float] = []
    try:
        first = wait_until("a replica is active", lambda: _active(replicas), timeout=120)
        apply_search(kube, namespace, build_search("failover", {"kind": "random", "seed": 11}, max_trials=8))
        chooser = random.Random(20261202)
        for kill in range(3):
            wait_until("a trial Job exists", lambda: list_jobs(kube, namespace, "failover") or None, timeout=300)
            time.sleep(chooser.uniform(0.5, 6.0))  # a random moment of the search
            active = _active(replicas)
            assert active is not None and active.process is not None
            holder = _holder(kube, namespace)
            active.kill()
            killed_at = time.monotonic()
            replicas.append(
                _replica(control_plane, redis_for_operator, namespace, tmp_path / f"replica-{kill + 2}.log")
            )
            wait_until("the standby holds the Lease", lambda h=holder: _holder(kube, namespace) not in ("", h) or None,
                       timeout=120)  # fmt: skip
            takeovers.append(time.monotonic() - killed_at)
            assert wait_until("the new holder acts", lambda: _active(replicas), timeout=60) is not first
        search = wait_for_phase(kube, namespace, "failover", ("Succeeded", "Failed"), replicas[-1], timeout=600)
        assert search["status"]["phase"] == "Succeeded", search["status"]
        trials = read_ledger(kube, namespace, "failover").of(TrialPurpose.SEARCH)
        assert [t.trial_id for t in trials] == [f"failover-{i:04d}" for i in range(8)]
        assert all(t.state is TrialState.SUCCEEDED and t.result is not None for t in trials)  # no lost result
        assert all(t.attempt == 0 and t.retries == 0 for t in trials), [(t.trial_id, t.attempt) for t in trials]
        jobs = sorted(job["metadata"]["name"] for job in list_jobs(kube, namespace, "failover"))
        assert jobs == [f"failover-{i:04d}-a0" for i in range(8)]  # one Job per trial, attempt 0 only
        launched = [e["message"].split()[0] for e in list_events(kube, namespace, "failover")
                    if e["reason"] == "TrialLaunched"]  # fmt: skip
        assert len(launched) == len(set(launched))
        print(f"takeover after SIGKILL (lease {LEASE_SECONDS} s): " + ", ".join(f"{t:.1f} s" for t in takeovers))
    finally:
        for replica in replicas:
            replica.stop()
        searches = f"/apis/nago.dev/v1alpha1/namespaces/{namespace}/generatorsearches"
        for item in kube.get(searches)["items"]:
            kube.patch(f"{searches}/{item['metadata']['name']}", {"metadata": {"finalizers": None}})
