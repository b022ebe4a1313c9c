"""The operator under the failures issue 7 names: SIGKILLs mid-search, a Redis restart, failing trainers,
garbage in the metrics stream, deletion of a running search, suspend/resume and a raised budget."""

from __future__ import annotations

import time
from typing import Any

import pytest

from control_plane import ApiClient
from nago.search.ledger import TrialPurpose, TrialState
from operator_harness import (
    SEARCHES,
    OperatorProcess,
    apply_search,
    build_search,
    list_events,
    list_jobs,
    read_ledger,
    read_search,
    wait_for_phase,
    wait_until,
)

pytestmark = pytest.mark.cluster

# A trainer stand-in that exits with a code chosen by the trial id: 2 (bad input) for trial 0, else 1 (run time).
EXIT_BY_TRIAL = [
    "python", "-c",
    "import json, sys; trial = json.loads(sys.argv[sys.argv.index('--trial-json') + 1]); "
    "sys.exit(2 if trial['trialId'].endswith('-0000') else 1)",
]  # fmt: skip


def _status(kube: ApiClient, namespace: str, name: str) -> dict[str, Any]:
    return dict(read_search(kube, namespace, name).get("status") or {})


def _search_trials(kube: ApiClient, namespace: str, name: str) -> list[Any]:
    return read_ledger(kube, namespace, name).of(TrialPurpose.SEARCH)


def test_three_sigkills_lose_nothing_and_launch_nothing_twice(
    kube: ApiClient, namespace: str, operator: OperatorProcess
) -> None:
    apply_search(kube, namespace, build_search("kills", {"kind": "random", "seed": 5}, max_trials=6))
    kill_points = [
        ("the first Job exists", lambda: len(list_jobs(kube, namespace, "kills")) >= 1),
        ("a trial succeeded", lambda: _status(kube, namespace, "kills").get("trials", {}).get("succeeded", 0) >= 1),
        ("four trials were launched", lambda: len(list_jobs(kube, namespace, "kills")) >= 4),
    ]
    for what, reached in kill_points:
        wait_until(what, lambda reached=reached: reached() or None, timeout=300)
        operator.kill()
        time.sleep(2)  # trials go on without the operator
        operator.start()
    search = wait_for_phase(kube, namespace, "kills", ("Succeeded", "Failed"), operator, timeout=420)
    assert search["status"]["phase"] == "Succeeded", search["status"]
    trials = _search_trials(kube, namespace, "kills")
    assert [t.trial_id for t in trials] == [f"kills-{i:04d}" for i in range(6)]
    assert all(t.state is TrialState.SUCCEEDED and t.result is not None for t in trials)
    assert all(t.attempt == 0 for t in trials), [(t.trial_id, t.attempt, t.reason) for t in trials]
    jobs = sorted(j["metadata"]["name"] for j in list_jobs(kube, namespace, "kills"))
    assert jobs == [f"kills-{i:04d}-a0" for i in range(6)]
    events = list_events(kube, namespace, "kills")
    launched = [e["message"].split()[0] for e in events if e["reason"] == "TrialLaunched"]
    assert len(launched) == len(set(launched))  # a kill may lose an Event, never repeat one


def test_a_redis_restart_mid_search_loses_no_record(kube: ApiClient, namespace: str, operator: OperatorProcess) -> None:
    apply_search(kube, namespace, build_search("outage", {"kind": "random", "seed": 7}, max_trials=4))
    wait_until("a trial running", lambda: _status(kube, namespace, "outage").get("trials", {}).get("running"), 300)
    operator.redis.stop(save=True)
    time.sleep(8)  # trainers that finish now keep their records in memory and retry
    operator.redis.start()
    search = wait_for_phase(kube, namespace, "outage", ("Succeeded", "Failed"), operator, timeout=420)
    assert search["status"]["phase"] == "Succeeded", search["status"]
    trials = _search_trials(kube, namespace, "outage")
    assert len(trials) == 4
    for trial in trials:  # every trial's result arrived, or the trial was retried for a reason that says why
        assert trial.state is TrialState.SUCCEEDED and trial.result is not None, trial
        assert trial.attempt == 0 or trial.reason in ("ReportUndelivered", "RunTimeError"), trial


def test_exit_codes_decide_retries_and_too_many_failures_fail_the_search(
    kube: ApiClient, namespace: str, operator: OperatorProcess
) -> None:
    document = build_search("failing", {"kind": "random"}, max_trials=2, trial={"command": EXIT_BY_TRIAL},
                            budget={"maxRetries": 1, "maxFailedTrials": 1})  # fmt: skip
    apply_search(kube, namespace, document)
    search = wait_for_phase(kube, namespace, "failing", ("Succeeded", "Failed"), operator)
    status = search["status"]
    assert status["phase"] == "Failed"
    [failed] = [c for c in status["conditions"] if c["type"] == "Failed"]
    assert failed["status"] == "True" and failed["reason"] == "TooManyFailedTrials"
    bad_input, run_time = _search_trials(kube, namespace, "failing")
    assert (bad_input.state, bad_input.reason, bad_input.attempt) == (TrialState.FAILED, "BadInput", 0)
    assert (run_time.state, run_time.reason, run_time.attempt, run_time.retries) == (
        TrialState.FAILED, "RunTimeError", 1, 1)  # fmt: skip
    jobs = sorted(j["metadata"]["name"] for j in list_jobs(kube, namespace, "failing"))
    assert jobs == ["failing-0000-a0", "failing-0001-a0", "failing-0001-a1"]
    reasons = [e["reason"] for e in list_events(kube, namespace, "failing")]
    assert reasons.count("TrialRetried") == 1 and reasons.count("TrialFailed") == 2 and "SearchFailed" in reasons


def test_garbage_and_oversized_records_are_dropped_with_an_event(
    kube: ApiClient, namespace: str, operator: OperatorProcess
) -> None:
    client = operator.redis.client()
    stream = f"nago:{namespace}.noisy:metrics"
    client.xadd(stream, {"record": "not json at all"})
    client.xadd(stream, {"record": '{"kind": "final", "trialId": 7}'})
    client.xadd(stream, {"record": "x" * 200_000})
    client.xadd(stream, {"unexpected": "field"})
    apply_search(kube, namespace, build_search("noisy", {"kind": "random"}, max_trials=2))
    search = wait_for_phase(kube, namespace, "noisy", ("Succeeded", "Failed"), operator)
    assert search["status"]["phase"] == "Succeeded"
    assert operator.process is not None and operator.process.poll() is None
    dropped = [e["message"] for e in list_events(kube, namespace, "noisy") if e["reason"] == "BadMetricsRecord"]
    assert len(dropped) == 4 and any("at most" in message for message in dropped), dropped
    assert client.xpending(stream, "nago-engine")["pending"] == 0  # dropped records are acknowledged too


def test_deleting_a_running_search_removes_its_jobs_pods_and_redis_keys(
    kube: ApiClient, namespace: str, operator: OperatorProcess
) -> None:
    apply_search(kube, namespace, build_search("doomed", {"kind": "random"}, max_trials=4))
    wait_until("a trial running", lambda: _status(kube, namespace, "doomed").get("trials", {}).get("running"), 300)
    client = operator.redis.client()
    client.set(f"nago:{namespace}.doomed:seen:probe", "1")  # as a trainer's delivery mark would be
    assert client.keys(f"nago:{namespace}.doomed:*")
    kube.delete(f"{SEARCHES.format(namespace=namespace)}/doomed")
    selector = {"labelSelector": "nago.dev/search=doomed"}
    wait_until("the search gone", lambda: not kube.exists(f"{SEARCHES.format(namespace=namespace)}/doomed"), 120)
    wait_until("its Jobs gone", lambda: not kube.get(f"/apis/batch/v1/namespaces/{namespace}/jobs", selector)[
        "items"], 120)  # fmt: skip
    wait_until("its pods gone", lambda: not kube.get(f"/api/v1/namespaces/{namespace}/pods", selector)["items"], 120)
    assert client.keys(f"nago:{namespace}.doomed:*") == []
    wait_until("its ledger and Secret collected", lambda: not kube.exists(
        f"/api/v1/namespaces/{namespace}/configmaps/doomed-ledger") and not kube.exists(
        f"/api/v1/namespaces/{namespace}/secrets/doomed-metrics"), 120)  # fmt: skip


def test_suspend_resume_and_a_raised_budget(kube: ApiClient, namespace: str, operator: OperatorProcess) -> None:
    path = f"{SEARCHES.format(namespace=namespace)}/pausing"
    apply_search(kube, namespace, build_search("pausing", {"kind": "random"}, max_trials=2))
    wait_until("a trial running", lambda: _status(kube, namespace, "pausing").get("trials", {}).get("running"), 300)
    kube.patch(path, {"spec": {"suspend": True}})
    wait_for_phase(kube, namespace, "pausing", ("Suspended",), operator, timeout=120)

    def no_active_jobs() -> bool:
        return not [j for j in list_jobs(kube, namespace, "pausing") if j.get("status", {}).get("active")]

    wait_until("no trial Job running", lambda: no_active_jobs() or None, 120)
    kube.patch(path, {"spec": {"suspend": False}})
    search = wait_for_phase(kube, namespace, "pausing", ("Succeeded", "Failed"), operator, timeout=300)
    assert search["status"]["progress"] == "2/2"
    kube.patch(path, {"spec": {"budget": {"maxTrials": 3}}})
    wait_for_phase(kube, namespace, "pausing", ("Running",), operator, timeout=120)
    search = wait_for_phase(kube, namespace, "pausing", ("Succeeded", "Failed"), operator, timeout=300)
    assert search["status"]["phase"] == "Succeeded" and search["status"]["progress"] == "3/3"
    trials = _search_trials(kube, namespace, "pausing")
    assert len(trials) == 3 and all(t.state is TrialState.SUCCEEDED for t in trials)
    reasons = [e["reason"] for e in list_events(kube, namespace, "pausing")]
    for reason in ("SearchSuspended", "SearchResumed", "SearchContinued"):
        assert reason in reasons, reasons
