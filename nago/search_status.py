"""The GeneratorSearch status: what `kubectl get`, `kubectl describe` and the local runner show.

Built from the ledger (the truth) by `build_status`; bounded whatever the number of trials: the
Pareto front keeps at most `MAX_PARETO_POINTS` points, spread over the front by memory.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import Field

from nago.ledger import Ledger, SearchPhase, TrialPurpose, TrialState
from nago.report import find_pareto_front, spread_over
from nago.search_spec import GeneratorSearchSpec, SpecModel

MAX_PARETO_POINTS = 20


class Condition(SpecModel):
    """Kubernetes-style condition."""

    type: str = Field(description="Running, Succeeded, Failed or Suspended")
    status: str = Field(description="True, False or Unknown")
    reason: str | None = Field(default=None, description="one CamelCase word")
    message: str | None = Field(default=None, description="what happened, for people")
    last_transition_time: str | None = Field(default=None, description="when this condition last changed (RFC 3339)")


class BestTrial(SpecModel):
    """The best generator so far."""

    trial: str = Field(description="the trial's id")
    theta: dict[str, int | float] = Field(description="the generator hyperparameters Θ, by name")
    accuracy: float = Field(description="best validation accuracy, 0 to 1")
    memory: float | None = Field(default=None, description="bytes per image")
    memory_text: str | None = Field(default=None, description="memory per image for people, e.g. 1.20 MB")
    params: int | None = Field(default=None, description="parameters of the network")


class ParetoPoint(SpecModel):
    """A generator no other beats on both accuracy and memory."""

    trial: str = Field(description="the trial's id")
    accuracy: float = Field(description="best validation accuracy, 0 to 1")
    memory: float = Field(description="bytes per image")


class TrialCounts(SpecModel):
    """Trials by state."""

    total: int = Field(default=0, description="trials so far, in every state")
    running: int = Field(default=0, description="trials running now")
    pending: int = Field(default=0, description="trials waiting to start")
    succeeded: int = Field(default=0, description="trials that reported a result")
    failed: int = Field(default=0, description="trials that failed after their retries")


class SearchStatus(SpecModel):
    """The observed state of a search."""

    phase: SearchPhase = Field(
        default=SearchPhase.PENDING,
        description="Pending, Running, Suspended, FinalEvaluation, Succeeded or Failed",
    )
    conditions: list[Condition] = Field(default_factory=list, description="why the search is in its phase")
    progress: str = Field(default="0/0", description="search trials done (succeeded or failed) / maxTrials")
    trials: TrialCounts = Field(default_factory=TrialCounts, description="search trials")
    final_trials: TrialCounts = Field(default_factory=TrialCounts, description="final-evaluation trials")
    best: BestTrial | None = Field(default=None, description="the best generator so far")
    pareto_front: list[ParetoPoint] = Field(default_factory=list, description=f"at most {MAX_PARETO_POINTS} points")
    observed_generation: int | None = Field(default=None, description="the spec generation this status is for")
    start_time: str | None = Field(default=None, description="when the first trial started (RFC 3339)")
    completion_time: str | None = Field(default=None, description="when the search ended (RFC 3339)")


def format_timestamp(seconds: float) -> str:
    """RFC 3339 in UTC to the second, as Kubernetes writes times."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _timestamp(seconds: float | None) -> str | None:
    return None if seconds is None else format_timestamp(seconds)


def format_bytes(value: float | None) -> str | None:
    """Decimal units, three significant figures: 950 B, 12.3 kB, 1.20 MB."""
    if value is None:
        return None
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(value) >= scale:
            scaled = value / scale
            return f"{scaled:.0f} {unit}" if abs(scaled) >= 100 else f"{scaled:#.3g} {unit}"
    return f"{value:.0f} B"


def _count(ledger: Ledger, purpose: TrialPurpose) -> TrialCounts:
    trials = ledger.of(purpose)
    return TrialCounts(
        total=len(trials),
        running=sum(t.state is TrialState.RUNNING for t in trials),
        pending=sum(t.state is TrialState.PENDING for t in trials),
        succeeded=sum(t.state is TrialState.SUCCEEDED for t in trials),
        failed=sum(t.state is TrialState.FAILED for t in trials),
    )


def build_status(spec: GeneratorSearchSpec, ledger: Ledger, generation: int | None = None) -> SearchStatus:
    """The status for a ledger; conditions say why the search is where it is."""
    best = ledger.best()
    search = ledger.of(TrialPurpose.SEARCH)
    front = spread_over(find_pareto_front(ledger), MAX_PARETO_POINTS)
    now = _timestamp(ledger.completed_at or ledger.started_at)
    phase = ledger.phase
    conditions = [
        Condition(
            type=kind,
            status="True" if phase is matching else "False",
            reason=ledger.reason if phase is matching else None,
            message=ledger.message if phase is matching else None,
            last_transition_time=now,
        )
        for kind, matching in (
            ("Running", SearchPhase.RUNNING),
            ("Suspended", SearchPhase.SUSPENDED),
            ("Succeeded", SearchPhase.SUCCEEDED),
            ("Failed", SearchPhase.FAILED),
        )
    ]
    return SearchStatus(
        phase=phase, conditions=conditions, trials=_count(ledger, TrialPurpose.SEARCH),
        progress=f"{sum(t.done for t in search)}/{spec.budget.max_trials}",
        final_trials=_count(ledger, TrialPurpose.FINAL),
        best=BestTrial(trial=best.trial_id, theta=best.theta, accuracy=best.result.accuracy,
                       memory=best.result.memory, memory_text=format_bytes(best.result.memory),
                       params=best.result.params)
        if best is not None and best.result is not None else None,
        pareto_front=[ParetoPoint(trial=t.trial_id, accuracy=t.result.accuracy, memory=float(t.result.memory or 0.0))
                      for t in front if t.result is not None],
        observed_generation=generation, start_time=_timestamp(ledger.started_at),
        completion_time=_timestamp(ledger.completed_at),
    )  # fmt: skip
