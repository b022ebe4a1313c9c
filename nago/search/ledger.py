"""The trial ledger: the durable truth of a search (docs/design.md §3.1).

Every trial has a deterministic id (search name + index), its Θ, seed, budget, state, attempt,
retries and result. The proposer's JSON state and the ids already told to it live here too, so a
restarted runner or operator continues the same search. The ledger is plain JSON.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nago.trial.records import FinalRecord, compute_trial_digest


class TrialState(StrEnum):
    PENDING = "Pending"  # to be launched (new, retried or relaunched after a suspension)
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class TrialPurpose(StrEnum):
    SEARCH = "search"
    FINAL = "final"  # Algorithm 1, line 10: a network sampled from Θ*, trained with the final protocol


class SearchPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUSPENDED = "Suspended"
    FINAL_EVALUATION = "FinalEvaluation"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


# The status's conditions and the phases in which each is True (docs/operator.md). A search in its
# final evaluation is still Running.
CONDITION_PHASES: dict[str, tuple[SearchPhase, ...]] = {
    "Running": (SearchPhase.RUNNING, SearchPhase.FINAL_EVALUATION),
    "Suspended": (SearchPhase.SUSPENDED,),
    "Succeeded": (SearchPhase.SUCCEEDED,),
    "Failed": (SearchPhase.FAILED,),
}


class TrialResult(BaseModel):
    """What the engine keeps of a trial's final record."""

    model_config = ConfigDict(frozen=True)

    accuracy: float = Field(description="best validation accuracy")
    memory: float | None = Field(default=None, description="bytes per image: measured on CUDA, else activations")
    params: int | None = None
    test_accuracy: float | None = None
    fingerprint: str | None = None
    train_seconds: float | None = None

    @classmethod
    def from_record(cls, record: FinalRecord) -> TrialResult:
        memory = record.measured_memory_per_image
        if memory is None and record.activation_bytes_per_image is not None:
            memory = float(record.activation_bytes_per_image)
        accuracy = record.best_val_accuracy if record.best_val_accuracy is not None else record.final_val_accuracy
        return cls(
            accuracy=float(accuracy or 0.0), memory=memory, params=record.params, test_accuracy=record.test_accuracy,
            fingerprint=record.fingerprint, train_seconds=record.train_seconds,
        )  # fmt: skip


class TrialEntry(BaseModel):
    """One trial of the ledger."""

    model_config = ConfigDict(validate_assignment=True)

    trial_id: str
    index: int = Field(ge=0)
    purpose: TrialPurpose = TrialPurpose.SEARCH
    theta: dict[str, int | float]
    seed: int = Field(ge=0)
    budget: int = Field(ge=1, description="epochs")
    job: int | None = Field(default=None, description="BOHB job id")
    group: int | None = Field(default=None, description="final evaluation: which chosen Θ")
    state: TrialState = TrialState.PENDING
    attempt: int = Field(default=0, ge=0, description="launches so far minus one; records carry it")
    retries: int = Field(default=0, ge=0, description="relaunches after run-time failures")
    reason: str | None = None
    message: str | None = None
    exit_code: int | None = None
    launched_at: float | None = None
    started_at: float | None = Field(default=None, description="when the attempt's process or pod started")
    exited_at: float | None = Field(default=None, description="when the process exited 0 without a final record")
    finished_at: float | None = None
    result: TrialResult | None = None

    @property
    def done(self) -> bool:
        return self.state in (TrialState.SUCCEEDED, TrialState.FAILED)

    def digest(self) -> str:
        """What this entry asks a trainer to train (records carry the same digest; nago/trial/records.py)."""
        return compute_trial_digest(self.trial_id, self.theta, self.seed, self.budget)


class Ledger(BaseModel):
    """All trials of a search plus what the engine needs to continue it."""

    model_config = ConfigDict(validate_assignment=True)

    search: str
    phase: SearchPhase = SearchPhase.PENDING
    reason: str | None = None
    message: str | None = None
    trials: list[TrialEntry] = Field(default_factory=list)
    proposer_state: dict[str, Any] | None = None
    told: list[str] = Field(default_factory=list, description="trial ids whose outcome the proposer has")
    started_at: float | None = None
    completed_at: float | None = None
    condition_times: dict[str, float] = Field(
        default_factory=dict, description="when each condition of CONDITION_PHASES last changed status"
    )

    def get(self, trial_id: str) -> TrialEntry | None:
        return next((t for t in self.trials if t.trial_id == trial_id), None)

    def of(self, purpose: TrialPurpose) -> list[TrialEntry]:
        return [t for t in self.trials if t.purpose is purpose]

    def active(self) -> list[TrialEntry]:
        return [t for t in self.trials if not t.done]

    def failed_count(self) -> int:
        return sum(t.state is TrialState.FAILED for t in self.trials)

    def succeeded_at_top_budget(self) -> list[TrialEntry]:
        """The succeeded search trials trained on the largest budget any was (BOHB's smaller budgets
        are not comparable with it; other strategies have one budget)."""
        done = [t for t in self.of(TrialPurpose.SEARCH) if t.state is TrialState.SUCCEEDED and t.result]
        top = max((t.budget for t in done), default=0)
        return [t for t in done if t.budget == top]

    def best(self) -> TrialEntry | None:
        """The succeeded search trial of highest accuracy; for BOHB runs, on the largest budget run."""
        done = self.succeeded_at_top_budget()
        return max(done, key=lambda t: t.result.accuracy if t.result else 0.0) if done else None
