"""The status built from a ledger: counters, best, conditions and a bounded Pareto front."""

from __future__ import annotations

import itertools

import pytest

from nago.search.ledger import Ledger, SearchPhase, TrialEntry, TrialPurpose, TrialResult, TrialState
from nago.search.spec import GeneratorSearchSpec
from nago.search.status import MAX_PARETO_POINTS, build_status, format_bytes

MOBO = GeneratorSearchSpec.model_validate({"objectives": ["accuracy", "memory"], "strategy": {"kind": "mobo"}})


def _trial(index: int, state: TrialState, accuracy: float = 0.0, memory: float = 1.0) -> TrialEntry:
    result = TrialResult(accuracy=accuracy, memory=memory, params=100) if state is TrialState.SUCCEEDED else None
    return TrialEntry(trial_id=f"s-{index:04d}", index=index, theta={"x": index}, seed=index, budget=1,
                      state=state, result=result)  # fmt: skip


def test_counts_best_and_conditions() -> None:
    trials = [_trial(0, TrialState.SUCCEEDED, 0.5), _trial(1, TrialState.SUCCEEDED, 0.7), _trial(2, TrialState.FAILED),
              _trial(3, TrialState.RUNNING), _trial(4, TrialState.PENDING)]  # fmt: skip
    ledger = Ledger(search="s", phase=SearchPhase.RUNNING, trials=trials, started_at=0.0)
    status = build_status(GeneratorSearchSpec(), ledger, generation=3)
    assert status.trials.model_dump() == {"total": 5, "running": 1, "pending": 1, "succeeded": 2, "failed": 1}
    assert status.best is not None and status.best.trial == "s-0001" and status.best.accuracy == 0.7
    assert {c.type: c.status for c in status.conditions} == {
        "Running": "True",
        "Suspended": "False",
        "Succeeded": "False",
        "Failed": "False",
    }
    assert status.observed_generation == 3 and status.start_time == "1970-01-01T00:00:00Z"
    assert status.progress == f"3/{GeneratorSearchSpec().budget.max_trials}"  # succeeded and failed are done
    assert status.best.memory_text == "1 B"
    assert status.pareto_front == []  # a single-objective search has no front to show


def test_the_pareto_front_is_bounded_and_spread() -> None:
    # 50 points on a front: accuracy rises with memory, none dominated
    trials = [_trial(i, TrialState.SUCCEEDED, 0.5 + i / 100, memory=1.0 + i) for i in range(50)]
    trials.append(_trial(50, TrialState.SUCCEEDED, 0.1, memory=100.0))  # dominated
    status = build_status(MOBO, Ledger(search="s", trials=trials))
    front = status.pareto_front
    assert len(front) == MAX_PARETO_POINTS and front[0].trial == "s-0000" and front[-1].trial == "s-0049"
    assert all(a.memory < b.memory for a, b in itertools.pairwise(front))
    assert "s-0050" not in {p.trial for p in front}


def test_the_pareto_front_holds_one_budget() -> None:
    small = [_trial(i, TrialState.SUCCEEDED, 0.9, memory=1.0 + i).model_copy(update={"budget": 1}) for i in range(3)]
    large = [_trial(3 + i, TrialState.SUCCEEDED, 0.6 + i / 10, memory=10.0 + i).model_copy(update={"budget": 4})
             for i in range(2)]  # fmt: skip
    status = build_status(MOBO, Ledger(search="s", trials=[*small, *large]))
    assert [p.trial for p in status.pareto_front] == ["s-0003", "s-0004"]


def test_every_condition_has_a_reason_a_message_and_its_own_transition_time() -> None:
    ledger = Ledger(search="s", phase=SearchPhase.SUSPENDED, started_at=0.0,
                    condition_times={"Running": 100.0, "Suspended": 100.0})  # fmt: skip
    conditions = {c.type: c for c in build_status(GeneratorSearchSpec(), ledger).conditions}
    assert all(c.reason and c.message for c in conditions.values())
    assert conditions["Suspended"].status == "True" and conditions["Suspended"].reason == "SuspendRequested"
    assert "set it to false to resume" in (conditions["Suspended"].message or "")
    assert conditions["Running"].last_transition_time == "1970-01-01T00:01:40Z"
    assert conditions["Failed"].last_transition_time == "1970-01-01T00:00:00Z"  # never changed since the start
    assert conditions["Failed"].reason == "Suspended" and conditions["Failed"].message == "the search is suspended"


def test_the_final_evaluation_is_summarised_in_the_status() -> None:
    finals = [
        _trial(i, TrialState.SUCCEEDED, 0.8).model_copy(update={
            "purpose": TrialPurpose.FINAL, "trial_id": f"s-final-{i:03d}", "group": 0, "theta": {"x": 1},
            "result": TrialResult(accuracy=0.8, test_accuracy=accuracy, memory=2e6, params=1000)})
        for i, accuracy in enumerate((0.89, 0.91))
    ]  # fmt: skip
    status = build_status(GeneratorSearchSpec(), Ledger(search="s", trials=finals))
    (group,) = status.final
    assert group.networks == 2 and group.succeeded == 2 and group.test_accuracy == pytest.approx(0.90)
    assert group.memory_text == "2.00 MB" and group.params == 1000
    assert status.final_test_accuracy == f"0.9000 ± {group.test_accuracy_std:.4f} (2 networks)"


def test_final_trials_are_counted_apart() -> None:
    final = _trial(0, TrialState.RUNNING).model_copy(update={"purpose": TrialPurpose.FINAL, "trial_id": "s-final-000"})
    status = build_status(GeneratorSearchSpec(), Ledger(search="s", trials=[final]))
    assert status.trials.total == 0 and status.final_trials.running == 1


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, None), (0, "0 B"), (950, "950 B"), (1000, "1.00 kB"), (12_345, "12.3 kB"), (1.2e6, "1.20 MB"),
     (123.4e6, "123 MB"), (5e9, "5.00 GB")],
)  # fmt: skip
def test_memory_is_printed_with_three_figures(value: float | None, text: str | None) -> None:
    assert format_bytes(value) == text
