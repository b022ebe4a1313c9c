"""The engine as tables: a ledger and events in, actions out (docs/design.md §2.5)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nago.search.engine import (
    CancelTrial,
    Event,
    LaunchTrial,
    RecordReceived,
    SearchFinished,
    Step,
    TrialExited,
    TrialLost,
    TrialStarted,
    reconcile,
)
from nago.search.ledger import Ledger, SearchPhase, TrialPurpose, TrialState
from nago.search.spec import GeneratorSearchSpec, parse_search
from nago.trial.records import FinalRecord


def _spec(**spec: Any) -> GeneratorSearchSpec:
    base: dict[str, Any] = {
        "strategy": {"kind": "random", "batchSize": 2, "mode": "sync"},
        "budget": {"maxTrials": 4, "parallelism": 2, "maxFailedTrials": 1, "epochs": 1, "maxRetries": 1},
        "final": {"architectures": 0},
    }
    for key, value in spec.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    manifest = {"apiVersion": "nago.dev/v1alpha1", "kind": "GeneratorSearch", "metadata": {"name": "s"}, "spec": base}
    return parse_search(manifest).spec


def _final(
    ledger: Ledger, trial_id: str, attempt: int = 0, accuracy: float = 0.5, status: str = "succeeded", code: int = 0
) -> Event:
    entry = ledger.get(trial_id)
    assert entry is not None
    record = FinalRecord(
        search="s", trial_id=trial_id, attempt=attempt, epoch=1, time=0.0, status=status, exit_code=code,  # type: ignore[arg-type]
        trial_digest=entry.digest(),
        best_val_accuracy=accuracy if status == "succeeded" else None, activation_bytes_per_image=1000, params=10,
    )  # fmt: skip
    return RecordReceived(record, at=0.0)


def _launched(step: Step) -> list[tuple[str, int]]:
    return [(a.trial.trial_id, a.trial.attempt) for a in step.actions if isinstance(a, LaunchTrial)]


def _finish(spec: GeneratorSearchSpec, ledger: Ledger, now: float, accuracy: float = 0.5) -> Step:
    """Every running trial sends a succeeded final record and exits 0."""
    events: list[Event] = []
    for t in ledger.trials:
        if t.state is TrialState.RUNNING:
            events += [_final(ledger, t.trial_id, t.attempt, accuracy), TrialExited(t.trial_id, t.attempt, 0, now)]
    return reconcile(spec, ledger, events, now)


def test_sync_batches_wait_for_the_whole_batch() -> None:
    spec = _spec()
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    assert _launched(step) == [("s-0000", 0), ("s-0001", 0)] and step.ledger.phase is SearchPhase.RUNNING
    step = reconcile(spec, step.ledger, [_final(step.ledger, "s-0000"), TrialExited("s-0000", 0, 0, 1)], now=1)
    assert _launched(step) == []  # one of the batch still runs: Algorithm 1 waits
    step = reconcile(spec, step.ledger, [_final(step.ledger, "s-0001"), TrialExited("s-0001", 0, 0, 2)], now=2)
    assert _launched(step) == [("s-0002", 0), ("s-0003", 0)]


def test_async_mode_refills_a_slot_as_soon_as_a_trial_ends() -> None:
    spec = _spec(strategy={"mode": "async"})
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    step = reconcile(spec, step.ledger, [_final(step.ledger, "s-0000"), TrialExited("s-0000", 0, 0, 1)], now=1)
    assert _launched(step) == [("s-0002", 0)]


def test_a_batch_larger_than_parallelism_queues_its_rest() -> None:
    spec = _spec(strategy={"batchSize": 3}, budget={"maxTrials": 3, "parallelism": 2})
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    assert _launched(step) == [("s-0000", 0), ("s-0001", 0)]
    assert step.ledger.trials[2].state is TrialState.PENDING
    step = reconcile(spec, step.ledger, [_final(step.ledger, "s-0000")], now=1)
    assert _launched(step) == [("s-0002", 0)]


@pytest.mark.parametrize(
    ("code", "state", "reason", "relaunched"),
    [
        (1, TrialState.RUNNING, "RunTimeError", True),
        (4, TrialState.RUNNING, "ReportUndelivered", True),
        (137, TrialState.RUNNING, "RunTimeError", True),
        (2, TrialState.FAILED, "BadInput", False),
        (3, TrialState.FAILED, "OutOfMemory", False),
        (5, TrialState.FAILED, "Diverged", False),  # the same seed and settings diverge again
    ],
)
def test_retry_or_not_by_exit_code(code: int, state: TrialState, reason: str, relaunched: bool) -> None:
    spec = _spec(budget={"maxFailedTrials": 5})
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    step = reconcile(spec, step.ledger, [TrialExited("s-0000", 0, code, 1)], now=1)
    trial = step.ledger.trials[0]
    assert trial.state is state and trial.reason == reason
    assert (("s-0000", 1) in _launched(step)) is relaunched


def test_retries_are_limited() -> None:
    spec = _spec(budget={"maxRetries": 1, "maxFailedTrials": 5})
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    step = reconcile(spec, step.ledger, [TrialExited("s-0000", 0, 1, 1)], now=1)
    step = reconcile(spec, step.ledger, [TrialExited("s-0000", 1, 1, 2)], now=2)
    trial = step.ledger.trials[0]
    assert trial.state is TrialState.FAILED and trial.retries == 1 and "no retries left" in (trial.message or "")


def test_a_failed_final_record_counts_like_its_exit_code() -> None:
    spec = _spec(budget={"maxFailedTrials": 5})
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    step = reconcile(spec, step.ledger, [_final(step.ledger, "s-0000", status="failed", code=2)], now=1)
    assert step.ledger.trials[0].state is TrialState.FAILED and step.ledger.trials[0].reason == "BadInput"


def test_a_lost_attempt_is_relaunched_without_spending_a_retry() -> None:
    spec = _spec(budget={"maxRetries": 0})
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    step = reconcile(spec, step.ledger, [TrialLost("s-0000", 0, 1)], now=1)
    assert ("s-0000", 1) in _launched(step) and step.ledger.trials[0].retries == 0


def test_stale_events_of_an_earlier_attempt_are_ignored() -> None:
    spec = _spec(budget={"maxFailedTrials": 5})
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    step = reconcile(spec, step.ledger, [TrialExited("s-0000", 0, 1, 1)], now=1)  # retried as attempt 1
    step = reconcile(
        spec, step.ledger, [_final(step.ledger, "s-0000", attempt=0), TrialExited("s-0000", 0, 0, 2)], now=2
    )
    assert step.ledger.trials[0].state is TrialState.RUNNING and step.ledger.trials[0].attempt == 1


def test_metrics_missing_after_the_timeout() -> None:
    spec = _spec(budget={"metricsTimeoutSeconds": 60, "maxFailedTrials": 5})
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    step = reconcile(spec, step.ledger, [TrialExited("s-0000", 0, 0, 10)], now=10)
    assert step.ledger.trials[0].state is TrialState.RUNNING
    step = reconcile(spec, step.ledger, [], now=69)
    assert step.ledger.trials[0].state is TrialState.RUNNING
    step = reconcile(spec, step.ledger, [], now=70)
    assert step.ledger.trials[0].state is TrialState.FAILED and step.ledger.trials[0].reason == "MetricsMissing"


def test_a_record_after_a_clean_exit_still_counts() -> None:
    spec = _spec()
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    step = reconcile(spec, step.ledger, [TrialExited("s-0000", 0, 0, 10)], now=10)
    step = reconcile(spec, step.ledger, [_final(step.ledger, "s-0000", accuracy=0.7)], now=20)
    assert step.ledger.trials[0].state is TrialState.SUCCEEDED and step.ledger.trials[0].result is not None


def test_deadline_cancels_and_retries() -> None:
    spec = _spec(budget={"trialTimeoutSeconds": 100, "maxFailedTrials": 5})
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    step = reconcile(spec, step.ledger, [], now=100)
    assert CancelTrial("s-0000", 0, "DeadlineExceeded") in step.actions
    assert ("s-0000", 1) in _launched(step)


def test_the_deadline_counts_from_the_start_not_the_launch() -> None:
    spec = _spec(budget={"trialTimeoutSeconds": 100, "maxFailedTrials": 5})
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    step = reconcile(spec, step.ledger, [TrialStarted("s-0000", 0, 50)], now=50)  # e.g. an image pull took 50 s
    step = reconcile(spec, step.ledger, [], now=120)
    assert not any(isinstance(a, CancelTrial) and a.trial_id == "s-0000" for a in step.actions)
    step = reconcile(spec, step.ledger, [], now=150)
    assert CancelTrial("s-0000", 0, "DeadlineExceeded") in step.actions


def test_too_many_failures_fail_the_search() -> None:
    spec = _spec(budget={"maxFailedTrials": 1, "maxRetries": 0})
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    step = reconcile(spec, step.ledger, [TrialExited("s-0000", 0, 2, 1)], now=1)
    assert step.ledger.phase is SearchPhase.RUNNING  # one failure is tolerated
    step = reconcile(spec, step.ledger, [TrialExited("s-0001", 0, 2, 2)], now=2)
    assert step.ledger.phase is SearchPhase.FAILED and step.ledger.reason == "TooManyFailedTrials"
    assert SearchFinished(SearchPhase.FAILED, "TooManyFailedTrials") in step.actions
    assert reconcile(spec, step.ledger, [], now=3).actions == []  # a failed search stays failed


def test_a_search_without_one_successful_trial_fails() -> None:
    """Every trial exits with bad input (exit 2, no retry) but maxFailedTrials allows them all: the search
    must end Failed, not Succeeded with no best."""
    spec = _spec(budget={"maxTrials": 2, "maxFailedTrials": 5, "maxRetries": 0})
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    step = reconcile(spec, step.ledger, [TrialExited("s-0000", 0, 2, 1), TrialExited("s-0001", 0, 2, 1)], now=1)
    assert step.ledger.phase is SearchPhase.FAILED and step.ledger.reason == "NoSuccessfulTrial"
    assert step.ledger.message is not None and step.ledger.message.startswith("none of the 2 search trials succeeded")
    assert SearchFinished(SearchPhase.FAILED, "NoSuccessfulTrial") in step.actions
    assert step.ledger.best() is None and not _launched(step)


def test_one_success_among_failures_still_succeeds() -> None:
    spec = _spec(budget={"maxTrials": 2, "maxFailedTrials": 5, "maxRetries": 0})
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    events = [TrialExited("s-0000", 0, 2, 1), _final(step.ledger, "s-0001"), TrialExited("s-0001", 0, 0, 1)]
    step = reconcile(spec, step.ledger, events, now=1)
    assert step.ledger.phase is SearchPhase.SUCCEEDED and step.ledger.reason == "MaxTrialsReached"


def test_max_trials_reached_finishes_once() -> None:
    spec = _spec()
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    step = _finish(spec, step.ledger, 1)
    step = _finish(spec, step.ledger, 2)
    assert step.ledger.phase is SearchPhase.SUCCEEDED and step.ledger.reason == "MaxTrialsReached"
    assert len(step.ledger.trials) == 4 and len({t.trial_id for t in step.ledger.trials}) == 4
    assert SearchFinished(SearchPhase.SUCCEEDED, "MaxTrialsReached") in step.actions
    assert reconcile(spec, step.ledger, [], now=3).actions == []


def test_a_budget_raised_after_the_end_continues_the_search() -> None:
    spec = _spec()
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    step = _finish(spec, _finish(spec, step.ledger, 1).ledger, 2)
    assert step.ledger.phase is SearchPhase.SUCCEEDED
    raised = _spec(budget={"maxTrials": 6})
    step = reconcile(raised, step.ledger, [], now=3)
    assert step.ledger.phase is SearchPhase.RUNNING and _launched(step) == [("s-0004", 0), ("s-0005", 0)]
    step = _finish(raised, step.ledger, 4)
    assert step.ledger.phase is SearchPhase.SUCCEEDED and len(step.ledger.of(TrialPurpose.SEARCH)) == 6


def test_suspend_stops_running_trials_and_resume_relaunches_them() -> None:
    spec = _spec()
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    suspended = _spec(suspend=True)
    step = reconcile(suspended, step.ledger, [], now=1)
    assert step.ledger.phase is SearchPhase.SUSPENDED
    assert {a.trial_id for a in step.actions if isinstance(a, CancelTrial)} == {"s-0000", "s-0001"}
    assert reconcile(suspended, step.ledger, [TrialExited("s-0000", 0, 143, 2)], now=2).actions == []
    step = reconcile(spec, step.ledger, [], now=3)
    assert _launched(step) == [("s-0000", 1), ("s-0001", 1)]
    assert all(t.retries == 0 for t in step.ledger.trials)  # a suspension is not a failure


def test_bohb_promotes_the_best_of_a_rung() -> None:
    spec = _spec(
        strategy={"kind": "bohb", "bohb": {"eta": 2, "budgets": [1, 2, 4]}}, budget={"maxTrials": 7, "parallelism": 4}
    )
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    assert [t.budget for t in step.ledger.trials] == [1, 1, 1, 1]
    accuracies = {"s-0000": 0.1, "s-0001": 0.9, "s-0002": 0.5, "s-0003": 0.3}
    events: list[Event] = [_final(step.ledger, tid, accuracy=acc) for tid, acc in accuracies.items()]
    step = reconcile(spec, step.ledger, events, now=1)
    promoted = step.ledger.trials[4:6]
    assert [t.budget for t in promoted] == [2, 2]
    assert [t.theta for t in promoted] == [step.ledger.trials[1].theta, step.ledger.trials[2].theta]


def test_final_evaluation_trains_k_architectures_of_the_best_generator() -> None:
    spec = _spec(final={"architectures": 3, "epochs": 2})
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    step = reconcile(
        spec,
        step.ledger,
        [_final(step.ledger, "s-0000", accuracy=0.2), _final(step.ledger, "s-0001", accuracy=0.8)],
        now=1,
    )
    step = reconcile(
        spec,
        step.ledger,
        [_final(step.ledger, "s-0002", accuracy=0.3), _final(step.ledger, "s-0003", accuracy=0.4)],
        now=2,
    )
    assert step.ledger.phase is SearchPhase.FINAL_EVALUATION
    finals = step.ledger.of(TrialPurpose.FINAL)
    assert len(finals) == 3 and {t.budget for t in finals} == {2} and len({t.seed for t in finals}) == 3
    assert all(t.theta == step.ledger.trials[1].theta for t in finals)
    step = _finish(spec, step.ledger, 3)
    step = _finish(spec, step.ledger, 4)
    assert step.ledger.phase is SearchPhase.SUCCEEDED


def test_the_engine_does_not_change_its_input_and_is_deterministic() -> None:
    spec = _spec(strategy={"kind": "sobol"})
    ledger = Ledger(search="s")
    first, second = reconcile(spec, ledger, [], now=0), reconcile(spec, ledger, [], now=0)
    assert ledger.trials == [] and first.ledger == second.ledger


@pytest.mark.parametrize("digest", [None, "0123456789abcdef"], ids=["no digest", "another trial's digest"])
def test_a_record_made_for_another_theta_is_not_taken(digest: str | None) -> None:
    spec = _spec(budget={"maxTrials": 2, "parallelism": 2})
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    event = _final(step.ledger, "s-0000", accuracy=0.9)
    assert isinstance(event, RecordReceived)
    foreign = RecordReceived(event.record.model_copy(update={"trial_digest": digest}), at=1.0)
    step = reconcile(spec, step.ledger, [foreign], now=1)
    trial = step.ledger.get("s-0000")
    assert trial is not None and trial.result is None and trial.reason == "ForeignRecord"
    assert trial.attempt == 1 and trial.retries == 1  # launched again, as a retry: it cannot loop
    assert any(isinstance(a, CancelTrial) and a.trial_id == "s-0000" and a.attempt == 0 for a in step.actions)
    assert ("s-0000", 1) in _launched(step)


def _finish_everything(spec: GeneratorSearchSpec, ledger: Ledger, start: float) -> Step:
    step, now = reconcile(spec, ledger, [], now=start), start
    while step.ledger.phase not in (SearchPhase.SUCCEEDED, SearchPhase.FAILED):
        now += 1
        step = _finish(spec, step.ledger, now)
    return step


def test_raising_final_architectures_on_a_finished_search_trains_the_extra_networks() -> None:
    spec = _spec(final={"architectures": 1, "epochs": 1})
    done = _finish_everything(spec, Ledger(search="s"), 0.0)
    assert done.ledger.phase is SearchPhase.SUCCEEDED and len(done.ledger.of(TrialPurpose.FINAL)) == 1
    more = _spec(final={"architectures": 3, "epochs": 1})
    step = reconcile(more, done.ledger, [], now=100)
    finals = step.ledger.of(TrialPurpose.FINAL)
    assert step.ledger.phase is SearchPhase.FINAL_EVALUATION and len(finals) == 3
    assert len({t.seed for t in finals}) == 3 and len({json.dumps(t.theta, sort_keys=True) for t in finals}) == 1
    assert [a.trial.trial_id for a in step.actions if isinstance(a, LaunchTrial)] == ["s-final-001", "s-final-002"]
    again = _finish_everything(more, step.ledger, 101.0)
    assert again.ledger.phase is SearchPhase.SUCCEEDED and len(again.ledger.of(TrialPurpose.FINAL)) == 3
    assert reconcile(spec, again.ledger, [], now=200).ledger.phase is SearchPhase.SUCCEEDED  # lowering: nothing


def test_lowering_max_trials_stops_the_trials_beyond_it_and_keeps_what_is_done() -> None:
    spec = _spec(strategy={"mode": "async"}, budget={"maxTrials": 6, "parallelism": 3})
    step = reconcile(spec, Ledger(search="s"), [], now=0)
    step = reconcile(spec, step.ledger, [_final(step.ledger, "s-0002", accuracy=0.6)], now=1)  # s-0002 done
    running = {t.trial_id for t in step.ledger.trials if t.state is TrialState.RUNNING}
    assert running == {"s-0000", "s-0001", "s-0003"}
    lower = _spec(strategy={"mode": "async"}, budget={"maxTrials": 1, "parallelism": 3})
    step = reconcile(lower, step.ledger, [], now=2)
    assert [t.trial_id for t in step.ledger.of(TrialPurpose.SEARCH)] == ["s-0000", "s-0002"]  # done s-0002 kept
    cancelled = {(a.trial_id, a.reason) for a in step.actions if isinstance(a, CancelTrial)}
    assert cancelled == {("s-0001", "MaxTrialsLowered"), ("s-0003", "MaxTrialsLowered")}
    assert not any(isinstance(a, LaunchTrial) for a in step.actions)


def test_each_condition_time_moves_only_when_that_condition_flips() -> None:
    spec = _spec(final={"architectures": 1, "epochs": 1})
    step = reconcile(spec, Ledger(search="s"), [], now=10)
    assert step.ledger.condition_times == {"Running": 10}
    step = _finish(spec, step.ledger, 20)  # search trials done: still Running (final evaluation)
    step = _finish(spec, step.ledger, 30)
    step = _finish(spec, step.ledger, 40)
    assert step.ledger.phase is SearchPhase.SUCCEEDED
    assert step.ledger.condition_times == {"Running": 40, "Succeeded": 40}
    suspended = reconcile(_spec(suspend=True, final={"architectures": 1, "epochs": 1}), Ledger(search="s"), [], 50)
    assert suspended.ledger.condition_times == {"Suspended": 50}
