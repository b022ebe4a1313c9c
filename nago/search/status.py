"""The GeneratorSearch status: what `kubectl get`, `kubectl describe` and the local runner show.

Built from the ledger (the truth) by `build_status`; bounded whatever the number of trials: the
Pareto front keeps at most `MAX_PARETO_POINTS` points, spread over the front by memory.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from nago.search.ledger import CONDITION_PHASES, Ledger, SearchPhase, TrialPurpose, TrialState
from nago.search.selection import find_best_final, find_pareto_front, spread_over, summarise_final
from nago.search.spec import GeneratorSearchSpec, Objective, SpecModel

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


class FinalNetworks(SpecModel):
    """The networks trained from one chosen Θ in the final evaluation, tested on the test split."""

    theta: dict[str, int | float] = Field(description="the chosen Θ they were sampled from")
    networks: int = Field(description="networks trained from it")
    succeeded: int = Field(description="networks that finished")
    test_accuracy: float | None = Field(default=None, description="mean test accuracy, 0 to 1")
    test_accuracy_std: float | None = Field(default=None, description="standard deviation over the networks")
    params: float | None = Field(default=None, description="mean parameters per network")
    memory_text: str | None = Field(default=None, description="mean memory per image for people")


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
    final: list[FinalNetworks] = Field(default_factory=list, description="the final evaluation, per chosen Θ")
    final_test_accuracy: str | None = Field(
        default=None, description="the best chosen Θ's mean test accuracy ± std and its networks, for people"
    )
    pareto_front: list[ParetoPoint] = Field(
        default_factory=list,
        description=f"multi-objective searches only: at most {MAX_PARETO_POINTS} points, all at one budget",
    )
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


PHASE_WORDS = {
    SearchPhase.PENDING: "waiting for its first trials",
    SearchPhase.RUNNING: "running search trials",
    SearchPhase.SUSPENDED: "suspended",
    SearchPhase.FINAL_EVALUATION: "training the final networks",
    SearchPhase.SUCCEEDED: "finished",
    SearchPhase.FAILED: "failed",
}
DEFAULT_REASONS = {
    SearchPhase.RUNNING: "SearchTrialsRunning",
    SearchPhase.SUSPENDED: "SuspendRequested",
    SearchPhase.FINAL_EVALUATION: "FinalEvaluation",
}


def _conditions(ledger: Ledger, progress: str) -> list[Condition]:
    """Every condition with a reason, a message and the time it last changed status."""
    phase = ledger.phase
    conditions = []
    for kind, phases in CONDITION_PHASES.items():
        if phase in phases:
            reason = ledger.reason or DEFAULT_REASONS.get(phase, phase.value)
            message = ledger.message or (
                "spec.suspend is true: running trials were stopped; set it to false to resume"
                if phase is SearchPhase.SUSPENDED
                else f"{PHASE_WORDS[phase]}; search trials done {progress}"
            )
            status = "True"
        else:
            reason, message, status = phase.value, f"the search is {PHASE_WORDS[phase]}", "False"
        changed = ledger.condition_times.get(kind, ledger.started_at)
        conditions.append(Condition(type=kind, status=status, reason=reason, message=message,
                                    last_transition_time=_timestamp(changed)))  # fmt: skip
    return conditions


def _final_networks(group: dict[str, Any]) -> FinalNetworks:
    accuracy, params, memory = group["test_accuracy"], group["params"], group["memory_per_image"]
    return FinalNetworks(
        theta=group["theta"], networks=group["architectures"], succeeded=group["succeeded"],
        test_accuracy=accuracy["mean"] if accuracy else None,
        test_accuracy_std=accuracy["std"] if accuracy else None, params=params["mean"] if params else None,
        memory_text=format_bytes(memory["mean"]) if memory else None,
    )  # fmt: skip


def build_status(spec: GeneratorSearchSpec, ledger: Ledger, generation: int | None = None) -> SearchStatus:
    """The status for a ledger; conditions say why the search is where it is."""
    best = ledger.best()
    search = ledger.of(TrialPurpose.SEARCH)
    multi_objective = Objective.MEMORY in spec.objectives
    front = spread_over(find_pareto_front(ledger), MAX_PARETO_POINTS) if multi_objective else []
    progress = f"{sum(t.done for t in search)}/{spec.budget.max_trials}"
    groups = summarise_final(ledger)
    final = [_final_networks(group) for group in groups]
    chosen = find_best_final(groups)
    top = _final_networks(chosen) if chosen is not None else None
    return SearchStatus(
        phase=ledger.phase, conditions=_conditions(ledger, progress), trials=_count(ledger, TrialPurpose.SEARCH),
        progress=progress, final_trials=_count(ledger, TrialPurpose.FINAL),
        best=BestTrial(trial=best.trial_id, theta=best.theta, accuracy=best.result.accuracy,
                       memory=best.result.memory, memory_text=format_bytes(best.result.memory),
                       params=best.result.params)
        if best is not None and best.result is not None else None,
        final=final,
        final_test_accuracy=f"{top.test_accuracy:.4f} ± {top.test_accuracy_std or 0.0:.4f} ({top.succeeded} networks)"
        if top is not None and top.test_accuracy is not None else None,
        pareto_front=[ParetoPoint(trial=t.trial_id, accuracy=t.result.accuracy, memory=float(t.result.memory or 0.0))
                      for t in front if t.result is not None],
        observed_generation=generation, start_time=_timestamp(ledger.started_at),
        completion_time=_timestamp(ledger.completed_at),
    )  # fmt: skip
