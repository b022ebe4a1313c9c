"""What one trial is: the input of `nago train`, shared by the local runner and the Kubernetes Jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from nago.generator.sampling import DEFAULT_HEAD_CHANNELS, DEFAULT_PARAM_BUDGET
from nago.generator.spaces import SpaceName
from nago.trial.dataset import DatasetSpec
from nago.trial.protocol import TrainingProtocol


class TrialSpec(BaseModel):
    """One training run: an architecture (from Θ and a seed, or a JSON file), data and protocol."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True, allow_inf_nan=False
    )

    search: str = Field(default="local", min_length=1, max_length=200, pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")
    trial_id: str = Field(default="trial-0", min_length=1, max_length=200, pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")
    attempt: int = Field(strict=True, default=0, ge=0)
    space: SpaceName = SpaceName.HNAG
    ranges: dict[str, tuple[float, float]] = Field(default_factory=dict)
    theta: dict[str, int | float] | None = None
    architecture: Path | None = Field(default=None, description="architecture JSON; instead of theta")
    seed: int = Field(strict=True, default=0, ge=0, lt=2**63)
    param_budget: float = Field(strict=True, default=DEFAULT_PARAM_BUDGET, gt=0)
    head_channels: int = Field(strict=True, default=DEFAULT_HEAD_CHANNELS, ge=1)
    dataset: DatasetSpec = Field(default_factory=DatasetSpec)
    protocol: TrainingProtocol = Field(default_factory=TrainingProtocol)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    checkpoint: Path | None = None

    @model_validator(mode="after")
    def _one_architecture_source(self) -> TrialSpec:
        if (self.theta is None) == (self.architecture is None):
            raise ValueError("give exactly one of theta and architecture")
        return self
