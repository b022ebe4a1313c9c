"""Metric records a trial reports: one per epoch and one final record, versioned and typed.

Every record carries the search, the trial id and the attempt; (trial, attempt, kind, epoch) is
its identity, which the sinks use to deliver each record exactly once. It also carries the digest
of what the trial was asked to train (`trial_digest`: trial id, Θ, seed, epochs), so a
search uses a record only for the Θ that produced it, never a stale or foreign record that happens
to share a trial id and attempt (a state folder or Redis stream reused by another search).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

RECORD_VERSION: Literal[1] = 1


class _RecordBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = RECORD_VERSION
    search: str
    trial_id: str
    attempt: int = Field(ge=0)
    epoch: int = Field(ge=0, description="epoch number (1-based) or, for the final record, epochs completed")
    time: float = Field(description="seconds since the epoch (Unix time) when the record was made")
    trial_digest: str | None = Field(
        default=None, description="compute_trial_digest of the trial's id, Θ, seed and epochs"
    )

    @property
    def identity(self) -> str:
        kind: str = getattr(self, "kind")  # noqa: B009  (set by each subclass)
        return f"{self.trial_id}:{self.attempt}:{kind}:{self.epoch}"


class EpochRecord(_RecordBase):
    kind: Literal["epoch"] = "epoch"
    epochs: int = Field(ge=1)
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    learning_rate: float
    batch_size: int
    epoch_seconds: float
    images_per_second: float


class FinalRecord(_RecordBase):
    kind: Literal["final"] = "final"
    status: Literal["succeeded", "failed"]
    exit_code: int
    error: str | None = None
    fingerprint: str | None = None
    params: int | None = None
    macs: int | None = None
    nodes: int | None = None
    activation_bytes_per_image: int | None = None
    measured_memory_per_image: float | None = Field(default=None, description="CUDA slope, bytes; None on CPU")
    best_val_accuracy: float | None = None
    final_val_accuracy: float | None = None
    test_accuracy: float | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    device: str | None = None
    train_seconds: float | None = None
    compiled: bool | None = Field(default=None, description="whether the training step was compiled (torch.compile)")
    compile_seconds: float | None = Field(default=None, description="seconds of the first compiled step")


def compute_trial_digest(trial_id: str, theta: Mapping[str, float] | None, seed: int, epochs: int) -> str:
    """What a trial was asked to train, in 16 hex digits: the same for a ledger entry and the
    trainer's spec made from it (Θ values compared as floats, so 3 and 3.0 agree). The search's name
    is not in it: the trial id holds it, and the operator's records carry the name scoped by namespace."""
    values = None if theta is None else {name: float(value) for name, value in sorted(theta.items())}
    text = json.dumps([trial_id, values, seed, epochs], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


Record = Annotated[EpochRecord | FinalRecord, Field(discriminator="kind")]
_RECORD_ADAPTER: TypeAdapter[EpochRecord | FinalRecord] = TypeAdapter(Record)


class RecordParseError(ValueError):
    """A line that is not a valid metric record."""


def parse_record(text: str | bytes) -> EpochRecord | FinalRecord:
    """Parse one JSON record; raises RecordParseError naming the problem."""
    try:
        return _RECORD_ADAPTER.validate_json(text)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RecordParseError(f"{where}: {first['msg']}" if where else first["msg"]) from None


def split_records(text: str) -> tuple[list[EpochRecord], FinalRecord | None]:
    """The epoch records of a trainer's output (JSON lines) and its last final record; lines that are
    not records (log lines, a line cut short) are skipped."""
    epochs: list[EpochRecord] = []
    final: FinalRecord | None = None
    for line in text.splitlines():
        try:
            record = parse_record(line)
        except RecordParseError:
            continue
        if isinstance(record, FinalRecord):
            final = record
        else:
            epochs.append(record)
    return epochs, final


def dump_record(record: EpochRecord | FinalRecord) -> str:
    """One line of JSON, keys in field order."""
    return record.model_dump_json()
