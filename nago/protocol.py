"""Training protocols: the BO search protocol and the final protocol (appendix C, G; nago-spec §6).

Search: SGD (momentum 0.9), cosine schedule to 0, weight decay 3e-4, the batch grown up to 512 to
fit the device, the learning rate linear from 0.025 at batch 96 to 0.1 at batch 512, epochs = the
trial's budget. Final: the same optimiser with cutout 16, drop-path 0.2 (ramped linearly over the
epochs), an auxiliary head weighted 0.4 and gradient clipping at 5 (nago-spec §6(b)). Every knob
can be set; unset knobs take the mode's value.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

REFERENCE_BATCH, REFERENCE_LR = 96, 0.025
MAX_BATCH, MAX_LR = 512, 0.1


class ProtocolMode(StrEnum):
    SEARCH = "search"
    FINAL = "final"


_PRESETS: dict[ProtocolMode, dict[str, Any]] = {
    ProtocolMode.SEARCH: {"cutout": 0, "drop_path": 0.0, "auxiliary_weight": 0.0, "grad_clip": None},
    ProtocolMode.FINAL: {"cutout": 16, "drop_path": 0.2, "auxiliary_weight": 0.4, "grad_clip": 5.0},
}


def scale_learning_rate(batch_size: int) -> float:
    """Linear in the batch: 0.025 at 96, 0.1 at 512 (appendix C)."""
    return REFERENCE_LR + (MAX_LR - REFERENCE_LR) * (batch_size - REFERENCE_BATCH) / (MAX_BATCH - REFERENCE_BATCH)


class TrainingProtocol(BaseModel):
    """How one trial trains. Unset knobs take the values of `mode`."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    mode: ProtocolMode = Field(
        default=ProtocolMode.SEARCH,
        description="search or final: the preset for cutout, drop-path, auxiliary head and clipping",
    )
    epochs: int = Field(default=1, ge=1, le=10_000, description="epochs to train (the trial's budget)")
    batch_size: int | None = Field(default=None, ge=1, le=65_536, description="None: the largest that fits")
    max_batch_size: int = Field(default=MAX_BATCH, ge=1, le=65_536, description="cap of the automatic batch")
    learning_rate: float | None = Field(default=None, gt=0, le=10, description="None: linear in the batch size")
    momentum: float = Field(default=0.9, ge=0, lt=1, description="SGD momentum")
    weight_decay: float = Field(default=3e-4, ge=0, le=1, description="L2 weight decay")
    label_smoothing: float = Field(default=0.0, ge=0, lt=1, description="label smoothing of the loss")
    augment: bool = Field(default=True, description="random crop and flip")
    cutout: int = Field(default=0, ge=0, le=512, description="cutout square side, 0 for none")
    drop_path: float = Field(default=0.0, ge=0, lt=1, description="final drop-path probability, ramped from 0")
    auxiliary_weight: float = Field(default=0.0, ge=0, le=10, description="loss weight of the auxiliary head")
    grad_clip: float | None = Field(default=None, gt=0, description="max gradient norm, None for no clipping")
    eval_batch_size: int = Field(
        default=512, ge=1, le=65_536, description="batch size when scoring validation and test images"
    )

    @model_validator(mode="before")
    @classmethod
    def _fill_from_mode(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        given = {to_camel(key) if isinstance(key, str) else key: value for key, value in data.items()}
        mode = ProtocolMode(given.get("mode", ProtocolMode.SEARCH))
        return {**{to_camel(key): value for key, value in _PRESETS[mode].items()}, **given}

    def learning_rate_for(self, batch_size: int) -> float:
        return self.learning_rate if self.learning_rate is not None else scale_learning_rate(batch_size)
