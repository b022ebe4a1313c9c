"""From trial Jobs, pods and final records to engine events, as tables: what is observed, what the engine hears."""

from __future__ import annotations

from typing import Any

import pytest

from nago.exit_codes import ExitCode
from nago.search.engine import RecordReceived, TrialExited, TrialStarted
from nago.search.ledger import Ledger, TrialEntry, TrialState
from nago.trial.records import FinalRecord
from nago_operator.observe import observe_cluster

NOW = 100.0


def _trial(index: int, state: TrialState = TrialState.RUNNING, attempt: int = 0, started: bool = False) -> TrialEntry:
    return TrialEntry(trial_id=f"s-{index:04d}", index=index, theta={"x": 1}, seed=index, budget=1, state=state,
                      attempt=attempt, started_at=1.0 if started else None)  # fmt: skip


def _job(name: str, condition: str | None = None, reason: str = "") -> dict[str, Any]:
    status = {"conditions": [{"type": condition, "status": "True", "reason": reason}]} if condition else {}
    return {"metadata": {"name": name}, "status": status}


def _pod(job: str, phase: str, exit_code: int | None = None, reason: str | None = None) -> dict[str, Any]:
    state = {"terminated": {"exitCode": exit_code, "reason": reason}} if exit_code is not None else {"running": {}}
    return {"metadata": {"labels": {"job-name": job}},
            "status": {"phase": phase, "containerStatuses": [{"name": "trainer", "state": state}]}}  # fmt: skip


def _final(trial: str, attempt: int = 0) -> FinalRecord:
    return FinalRecord(search="ns.s", trial_id=trial, attempt=attempt, epoch=1, time=0.0, status="succeeded",
                       exit_code=0, best_val_accuracy=0.5)  # fmt: skip


def _describe(event: Any) -> tuple[Any, ...]:
    if isinstance(event, TrialStarted):
        return ("started", event.trial_id)
    if isinstance(event, TrialExited):
        return ("exited", event.trial_id, event.exit_code)
    assert isinstance(event, RecordReceived)
    return ("record", event.record.trial_id)


CASES = [
    # (name, trials, jobs, pods, finals, expected events, missing jobs, stray jobs)
    ("no Job yet: create it", [_trial(0)], [], [], {}, [], ["s-0000"], []),
    ("pod pending: nothing", [_trial(0)], [_job("s-0000-a0")], [_pod("s-0000-a0", "Pending")], {}, [], [], []),
    ("pod running: started", [_trial(0)], [_job("s-0000-a0")], [_pod("s-0000-a0", "Running")], {},
     [("started", "s-0000")], [], []),
    ("started once only", [_trial(0, started=True)], [_job("s-0000-a0")], [_pod("s-0000-a0", "Running")], {},
     [], [], []),
    ("exit 0", [_trial(0, started=True)], [_job("s-0000-a0", "Complete")], [_pod("s-0000-a0", "Succeeded", 0)], {},
     [("exited", "s-0000", 0)], [], []),
    ("runtime failure code", [_trial(0, started=True)], [_job("s-0000-a0", "Failed")],
     [_pod("s-0000-a0", "Failed", 1)], {}, [("exited", "s-0000", 1)], [], []),
    ("bad input code", [_trial(0, started=True)], [_job("s-0000-a0", "Failed")], [_pod("s-0000-a0", "Failed", 2)],
     {}, [("exited", "s-0000", 2)], [], []),
    ("OOMKilled is out of memory", [_trial(0, started=True)], [_job("s-0000-a0", "Failed")],
     [_pod("s-0000-a0", "Failed", 137, "OOMKilled")], {}, [("exited", "s-0000", int(ExitCode.OUT_OF_MEMORY))], [], []),
    ("Job failed without a pod (deadline)", [_trial(0, started=True)],
     [_job("s-0000-a0", "Failed", "DeadlineExceeded")], [], {}, [("exited", "s-0000", 1)], [], []),
    ("final record", [_trial(0, started=True)], [_job("s-0000-a0")], [_pod("s-0000-a0", "Running")],
     {("s-0000", 0): _final("s-0000")}, [("record", "s-0000")], [], []),
    ("record of a Job already gone: no re-create", [_trial(0, started=True)], [], [],
     {("s-0000", 0): _final("s-0000")}, [("record", "s-0000")], [], []),
    ("record of another attempt is not this one's", [_trial(0, attempt=1, started=True)], [_job("s-0000-a1")],
     [_pod("s-0000-a1", "Running")], {("s-0000", 0): _final("s-0000", 0)}, [], [], []),
    ("old attempt's Job still active: stray", [_trial(0, attempt=1)], [_job("s-0000-a0"), _job("s-0000-a1")], [],
     {}, [], [], ["s-0000-a0"]),
    ("finished old attempt's Job is left to its TTL", [_trial(0, attempt=1)],
     [_job("s-0000-a0", "Failed"), _job("s-0000-a1")], [], {}, [], [], []),
    ("cancelled trial's Job (now pending): stray", [_trial(0, state=TrialState.PENDING, attempt=1)],
     [_job("s-0000-a0")], [], {}, [], [], ["s-0000-a0"]),
    ("succeeded trial's Job still exiting: left to finish", [_trial(0, state=TrialState.SUCCEEDED)],
     [_job("s-0000-a0")], [], {}, [], [], []),
    ("failed trial's running Job: stray", [_trial(0, state=TrialState.FAILED)], [_job("s-0000-a0")], [], {},
     [], [], ["s-0000-a0"]),
    # Watches report the pod's exit before the Job controller marks the Job failed: its logs must stay.
    ("failed trial's Job whose pod exited, not yet marked: left", [_trial(0, state=TrialState.FAILED)],
     [_job("s-0000-a0")], [_pod("s-0000-a0", "Failed", 1)], {}, [], [], []),
    ("retried trial's old Job whose pod exited, not yet marked: left", [_trial(0, attempt=1)],
     [_job("s-0000-a0"), _job("s-0000-a1")], [_pod("s-0000-a0", "Failed", 1)], {}, [], [], []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("trials", "jobs", "pods", "finals", "events", "missing", "stray"),
    [case[1:] for case in CASES], ids=[case[0] for case in CASES],
)  # fmt: skip
def test_observation(
    trials: list[TrialEntry],
    jobs: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    finals: dict[tuple[str, int], FinalRecord],
    events: list[tuple[Any, ...]],
    missing: list[str],
    stray: list[str],
) -> None:
    observation = observe_cluster(Ledger(search="s", trials=trials), jobs, pods, finals, NOW)
    assert [_describe(e) for e in observation.events] == events
    assert [t.trial_id for t in observation.missing_jobs] == missing
    assert observation.stray_jobs == stray
