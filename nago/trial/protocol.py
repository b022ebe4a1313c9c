"""Training protocols: the BO search protocol and the final protocol (appendix C, G; docs/trainer.md).

Search: SGD (momentum 0.9), cosine schedule to 0, weight decay 3e-4, the batch grown up to 512 to
fit the device, the learning rate linear from 0.025 at batch 96 to 0.1 at batch 512, epochs = the
trial's budget (appendix C). Final: the same optimiser with gradient clipping at 5 and, at the
paper's budget of 600 epochs on 32×32 images, cutout 16, drop-path 0.2 (ramped linearly over the
epochs) and an auxiliary head weighted 0.4. Shorter budgets get regularisation scaled to them
(`Regularisation.for_budget`, the rule in docs/trainer.md): a 2-epoch run needs none of it. Every
knob can be set; unset knobs take the mode's value or the rule's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

REFERENCE_BATCH, REFERENCE_LR = 96, 0.025
MAX_BATCH, MAX_LR = 512, 0.1
# The final protocol at the paper's budget (docs/trainer.md): 600 epochs on 32×32 images.
PAPER_FINAL_EPOCHS, PAPER_IMAGE_SIDE = 600, 32
PAPER_CUTOUT, PAPER_DROP_PATH, PAPER_AUXILIARY_WEIGHT, PAPER_GRAD_CLIP = 16, 0.2, 0.4, 5.0
LONG_TRAINING_EPOCHS = 100  # drop-path and the auxiliary head only from this many epochs on
LEARNING_RATE_WARNING_FACTOR = 4.0  # a set learning rate this far from the batch rule gets a warning


class CompileChoice(StrEnum):
    """Whether the trainer compiles the network with torch.compile (`nago.training.compilation` decides `auto`)."""

    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


class ProtocolMode(StrEnum):
    SEARCH = "search"
    FINAL = "final"


_PRESETS: dict[ProtocolMode, dict[str, Any]] = {
    ProtocolMode.SEARCH: {"cutout": 0, "drop_path": 0.0, "auxiliary_weight": 0.0, "grad_clip": None},
    ProtocolMode.FINAL: {"cutout": None, "drop_path": None, "auxiliary_weight": None, "grad_clip": PAPER_GRAD_CLIP},
}


@dataclass(frozen=True)
class Regularisation:
    """What a run adds to the loss and the images: cutout side (pixels), final drop-path probability
    and auxiliary-head weight."""

    cutout: int
    drop_path: float
    auxiliary_weight: float

    @classmethod
    def for_budget(cls, epochs: int, image_side: int) -> Regularisation:
        """The final protocol's regularisation for a budget (docs/trainer.md, "Protocols"):
        strength r = min(1, epochs / 600); cutout r × side / 2 pixels (16 on 32×32); drop-path
        0.2 r and the auxiliary head (weight 0.4) only from 100 epochs on. At 600 epochs on 32×32
        images this is the paper's final protocol exactly (cutout 16, drop-path 0.2, weight 0.4)."""
        strength = min(1.0, epochs / PAPER_FINAL_EPOCHS)
        long_enough = epochs >= LONG_TRAINING_EPOCHS
        return cls(
            cutout=round(strength * image_side * PAPER_CUTOUT / PAPER_IMAGE_SIDE),
            drop_path=PAPER_DROP_PATH * strength if long_enough else 0.0,
            auxiliary_weight=PAPER_AUXILIARY_WEIGHT if long_enough else 0.0,
        )


def scale_learning_rate(batch_size: int) -> float:
    """Linear in the batch: 0.025 at 96, 0.1 at 512 (appendix C)."""
    return REFERENCE_LR + (MAX_LR - REFERENCE_LR) * (batch_size - REFERENCE_BATCH) / (MAX_BATCH - REFERENCE_BATCH)


def warn_learning_rate(learning_rate: float, batch_size: int) -> str | None:
    """A warning line when a set learning rate is more than 4× away from the batch rule (appendix C)."""
    rule = scale_learning_rate(batch_size)
    ratio = learning_rate / rule
    if 1 / LEARNING_RATE_WARNING_FACTOR <= ratio <= LEARNING_RATE_WARNING_FACTOR:
        return None
    return (
        f"warning: learning rate {learning_rate:g} is {ratio:.2g}× the rule for batch {batch_size} "
        f"({rule:.4g}: 0.025 at batch 96 to 0.1 at 512, appendix C); short runs at such rates can diverge"
    )


class TrainingProtocol(BaseModel):
    """How one trial trains. Unset knobs take the values of `mode`."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True, allow_inf_nan=False
    )

    mode: ProtocolMode = Field(
        default=ProtocolMode.SEARCH,
        description="search or final: the preset for cutout, drop-path, auxiliary head and clipping",
    )
    epochs: int = Field(strict=True, default=1, ge=1, le=10_000, description="epochs to train (the trial's budget)")
    batch_size: int | None = Field(
        strict=True, default=None, ge=1, le=65_536, description="None: the largest that fits"
    )
    max_batch_size: int = Field(
        strict=True, default=MAX_BATCH, ge=1, le=65_536, description="cap of the automatic batch"
    )
    learning_rate: float | None = Field(
        strict=True, default=None, gt=0, le=10, description="None: linear in the batch size"
    )
    momentum: float = Field(strict=True, default=0.9, ge=0, lt=1, description="SGD momentum")
    weight_decay: float = Field(strict=True, default=3e-4, ge=0, le=1, description="L2 weight decay")
    label_smoothing: float = Field(strict=True, default=0.0, ge=0, lt=1, description="label smoothing of the loss")
    augment: bool = Field(default=True, description="random crop and flip")
    cutout: int | None = Field(
        strict=True,
        default=0,
        ge=0,
        le=512,
        description="cutout square side in pixels, 0 for none; None: the budget rule (side/2 × min(1, epochs/600))",
    )
    drop_path: float | None = Field(
        strict=True,
        default=0.0,
        ge=0,
        lt=1,
        description="final drop-path probability, ramped from 0; None: the budget rule "
        "(0.2 × min(1, epochs/600), 0 under 100 epochs)",
    )
    auxiliary_weight: float | None = Field(
        strict=True,
        default=0.0,
        ge=0,
        le=10,
        description="loss weight of the auxiliary head, 0 for none; None: the budget rule (0.4 from 100 epochs on)",
    )
    grad_clip: float | None = Field(
        strict=True, default=None, gt=0, description="max gradient norm, None for no clipping"
    )
    compile: CompileChoice = Field(
        default=CompileChoice.AUTO,
        description="torch.compile the training step: auto (only when the trial's steps pay back the compile "
        "time, docs/trainer.md), always or never",
    )
    eval_batch_size: int = Field(
        strict=True, default=512, ge=1, le=65_536, description="batch size when scoring validation and test images"
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

    def regularisation(self, image_side: int) -> Regularisation:
        """The knobs as set, and the budget rule for those left unset (`Regularisation.for_budget`)."""
        rule = Regularisation.for_budget(self.epochs, image_side)
        return Regularisation(
            cutout=rule.cutout if self.cutout is None else self.cutout,
            drop_path=rule.drop_path if self.drop_path is None else self.drop_path,
            auxiliary_weight=rule.auxiliary_weight if self.auxiliary_weight is None else self.auxiliary_weight,
        )
