"""Kubernetes Events a search shows in `kubectl describe`, read off the change between two ledgers. Pure.

Trial launched, succeeded, failed and retried; the search suspended, resumed and finished. Deriving them
from the ledger (not from the actions) means every transition is told once, whatever caused it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from nago.search.ledger import Ledger, SearchPhase, TrialEntry, TrialState
from nago.search.status import format_bytes

NORMAL, WARNING = "Normal", "Warning"


@dataclass(frozen=True)
class SearchEvent:
    type: str
    reason: str
    message: str


def _trial_changes(old: TrialEntry | None, new: TrialEntry) -> list[SearchEvent]:
    events = []
    retried = old is not None and new.attempt > old.attempt and new.retries > old.retries
    if retried and old is not None:
        events.append(SearchEvent(WARNING, "TrialRetried", f"{new.trial_id} attempt {old.attempt} failed "
                                  f"({new.reason}: {new.message}); retry {new.retries}"))  # fmt: skip
    relaunched = old is not None and new.attempt != old.attempt
    if new.state is TrialState.RUNNING and (old is None or old.state is not TrialState.RUNNING or relaunched):
        theta = json.dumps(new.theta, sort_keys=True)
        events.append(SearchEvent(NORMAL, "TrialLaunched", f"{new.trial_id} attempt {new.attempt}: Θ {theta}, "
                                  f"seed {new.seed}, {new.budget} epochs"))  # fmt: skip
    if old is not None and old.state is new.state:
        return events
    if new.state is TrialState.SUCCEEDED and new.result is not None:
        memory = format_bytes(new.result.memory) or "unknown"
        events.append(SearchEvent(NORMAL, "TrialSucceeded", f"{new.trial_id}: validation accuracy "
                                  f"{new.result.accuracy:.4f}, memory {memory} per image, "
                                  f"{new.result.params} parameters"))  # fmt: skip
    elif new.state is TrialState.FAILED:
        events.append(SearchEvent(WARNING, "TrialFailed", f"{new.trial_id}: {new.reason}: {new.message}"))
    return events


def _phase_change(old: Ledger, new: Ledger) -> SearchEvent | None:
    if old.phase is new.phase:
        return None
    detail = f"{new.reason}: {new.message}" if new.reason else ""
    if new.phase is SearchPhase.SUCCEEDED:
        best = new.best()
        summary = f"; best {best.trial_id}, accuracy {best.result.accuracy:.4f}" if best and best.result else ""
        return SearchEvent(NORMAL, "SearchSucceeded", f"{detail}{summary}")
    if new.phase is SearchPhase.FAILED:
        return SearchEvent(WARNING, "SearchFailed", detail)
    if new.phase is SearchPhase.SUSPENDED:
        return SearchEvent(NORMAL, "SearchSuspended", "spec.suspend is true: running trials stopped")
    if new.phase is SearchPhase.FINAL_EVALUATION and old.phase is SearchPhase.SUCCEEDED:
        extra = len(new.trials) - len(old.trials)
        return SearchEvent(NORMAL, "FinalEvaluation", f"spec.final.architectures was raised: training {extra} more "
                           "networks sampled from Θ*")  # fmt: skip
    if new.phase is SearchPhase.FINAL_EVALUATION:
        return SearchEvent(NORMAL, "FinalEvaluation", "search trials done; training networks sampled from Θ*")
    if old.phase is SearchPhase.SUSPENDED:
        return SearchEvent(NORMAL, "SearchResumed", "spec.suspend is false")
    if old.phase in (SearchPhase.SUCCEEDED, SearchPhase.FAILED):
        return SearchEvent(NORMAL, "SearchContinued", "the budget was raised")
    return None


def describe_changes(old: Ledger, new: Ledger) -> list[SearchEvent]:
    """The events between two successive ledgers of one search, in trial order, the phase last."""
    before = {t.trial_id: t for t in old.trials}
    after = {t.trial_id for t in new.trials}
    events = [
        SearchEvent(NORMAL, "TrialWithdrawn", f"{t.trial_id} attempt {t.attempt} ({t.state.value}) stopped and "
                    "withdrawn: spec.budget.maxTrials was lowered below it; done trials keep their results")
        for t in old.trials if t.trial_id not in after
    ]  # fmt: skip
    events += [e for t in new.trials for e in _trial_changes(before.get(t.trial_id), t)]
    phase = _phase_change(old, new)
    return [*events, phase] if phase is not None else events
