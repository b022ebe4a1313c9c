"""The operator and the spec a user applies or changes: a trial template the API server cannot turn into a Job
fails the search with a phase and a condition naming the field; a lower maxTrials withdraws the trials beyond
it; a raised final.architectures trains the extra networks; each condition keeps its own transition time."""

from __future__ import annotations

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
    wait_for_phase,
    wait_until,
)

pytestmark = pytest.mark.cluster


def _patch_spec(kube: ApiClient, namespace: str, name: str, spec: dict[str, object]) -> None:
    kube.patch(f"{SEARCHES.format(namespace=namespace)}/{name}", {"spec": spec})


def _conditions(search: dict[str, object]) -> dict[str, dict[str, str]]:
    status = search["status"]
    assert isinstance(status, dict)
    return {c["type"]: c for c in status["conditions"]}


def test_a_trial_template_the_server_refuses_fails_the_search_naming_the_field(
    kube: ApiClient, namespace: str, operator: OperatorProcess
) -> None:
    document = build_search("badenv", {"kind": "random", "seed": 1}, max_trials=2, trial={"env": [{"foo": "bar"}]})
    apply_search(kube, namespace, document)
    search = wait_for_phase(kube, namespace, "badenv", ("Failed",), operator, timeout=60)
    failed = _conditions(search)["Failed"]
    assert failed["status"] == "True" and failed["reason"] == "InvalidSpec", failed
    assert failed["message"].startswith("spec.trial: the API server refuses the trial Job"), failed
    assert "env[0].name: Required value" in failed["message"], failed
    assert list_jobs(kube, namespace, "badenv") == []
    # The operator posts the Event after the status write (search_reconciler._reject): wait for it, not read once.
    wait_until(
        "the InvalidSpec Event",
        lambda: "InvalidSpec" in [e["reason"] for e in list_events(kube, namespace, "badenv")] or None,
        timeout=30,
    )
    _patch_spec(kube, namespace, "badenv", {"trial": {"env": [{"name": "FOO", "value": "bar"}]}})  # mended
    wait_for_phase(kube, namespace, "badenv", ("Running", "Succeeded"), operator, timeout=60)


def test_a_lower_max_trials_withdraws_the_trials_beyond_it(
    kube: ApiClient, namespace: str, operator: OperatorProcess
) -> None:
    apply_search(kube, namespace, build_search("lower", {"kind": "random", "seed": 2, "mode": "async"}, max_trials=8))
    wait_until("two trials running", lambda: len(list_jobs(kube, namespace, "lower")) >= 2 or None, timeout=60)
    _patch_spec(kube, namespace, "lower", {"budget": {"maxTrials": 1}})
    search = wait_for_phase(kube, namespace, "lower", ("Succeeded", "Failed"), operator, timeout=300)
    assert search["status"]["phase"] == "Succeeded", search["status"]
    trials = read_ledger(kube, namespace, "lower").of(TrialPurpose.SEARCH)
    assert trials[0].index == 0 and all(t.done for t in trials)  # none beyond the limit still runs
    reasons = [e["reason"] for e in list_events(kube, namespace, "lower")]
    assert "TrialWithdrawn" in reasons
    events = list_events(kube, namespace, "lower")
    withdrawn = {e["message"].split()[0] for e in events if e["reason"] == "TrialWithdrawn"}

    def jobs_gone() -> bool | None:
        jobs = {j["metadata"]["labels"]["nago.dev/trial"] for j in list_jobs(kube, namespace, "lower")}
        return not (withdrawn & jobs) or None

    wait_until("the withdrawn trials' Jobs deleted", jobs_gone, timeout=60)


def test_a_raised_final_evaluation_trains_the_extra_networks_and_each_condition_keeps_its_time(
    kube: ApiClient, namespace: str, operator: OperatorProcess
) -> None:
    document = build_search("more", {"kind": "random", "seed": 4}, max_trials=2, final={"architectures": 1})
    apply_search(kube, namespace, document)
    done = wait_for_phase(kube, namespace, "more", ("Succeeded", "Failed"), operator, timeout=300)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    conditions = _conditions(done)
    assert all(c.get("reason") and c.get("message") for c in conditions.values()), conditions
    assert conditions["Succeeded"]["lastTransitionTime"] == done["status"]["completionTime"]
    assert conditions["Failed"]["lastTransitionTime"] == done["status"]["startTime"]  # never changed
    assert done["status"]["finalTestAccuracy"].endswith("(1 networks)")
    _patch_spec(kube, namespace, "more", {"final": {"architectures": 3}})
    wait_for_phase(kube, namespace, "more", ("FinalEvaluation",), operator, timeout=60)
    again = wait_for_phase(kube, namespace, "more", ("Succeeded", "Failed"), operator, timeout=300)
    assert again["status"]["phase"] == "Succeeded", again["status"]
    finals = read_ledger(kube, namespace, "more").of(TrialPurpose.FINAL)
    assert len(finals) == 3 and all(t.state is TrialState.SUCCEEDED for t in finals)
    [group] = again["status"]["final"]
    assert group["networks"] == 3 and group["succeeded"] == 3 and 0.0 < group["testAccuracy"] <= 1.0
    messages = [e["message"] for e in list_events(kube, namespace, "more") if e["reason"] == "FinalEvaluation"]
    assert any("spec.final.architectures was raised: training 2 more networks" in m for m in messages), messages
    changed = _conditions(again)
    assert changed["Succeeded"]["lastTransitionTime"] == again["status"]["completionTime"]
    assert changed["Failed"]["lastTransitionTime"] == conditions["Failed"]["lastTransitionTime"]
