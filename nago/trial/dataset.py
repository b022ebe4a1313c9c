"""Which data a trial trains on: the dataset part of the wire contract between a search and a trainer.

Pure pydantic (no torch): the search spec, the CRD and the operator read it; `nago.training.data` loads
what it names.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from nago.errors import InvalidInputError

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_DIR_VARIABLE = "NAGO_FASHION_MNIST_DIR"  # where a machine without Debian's package keeps the files
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")


class DatasetKind(StrEnum):
    FASHION_MNIST = "fashion-mnist"
    CIFAR10 = "cifar10"
    CIFAR100 = "cifar100"
    IMAGE_FOLDER = "image-folder"


class DatasetSpec(BaseModel):
    """Which data a trial trains on, and how the validation split is held out."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True, allow_inf_nan=False
    )

    kind: DatasetKind = Field(
        default=DatasetKind.FASHION_MNIST,
        description="fashion-mnist, cifar10, cifar100 or image-folder (a folder of class folders)",
    )
    path: Path | None = Field(default=None, description="folder with the files; Fashion-MNIST defaults to Debian's")
    validation_fraction: float = Field(
        strict=True, default=0.1, gt=0, lt=1, description="share of training images held out"
    )
    split_seed: int = Field(
        strict=True, default=0, ge=0, description="seed of the train/validation split, shared by all trials"
    )
    train_limit: int | None = Field(strict=True, default=None, ge=1, description="use only this many training images")
    validation_limit: int | None = Field(
        strict=True, default=None, ge=1, description="score on only this many of the held-out images (quick searches)"
    )
    image_size: int = Field(
        strict=True, default=224, ge=8, le=1024, description="image-folder images are resized to this"
    )

    def resolved_path(self) -> Path:
        if self.path is not None:
            return self.path
        if self.kind is DatasetKind.FASHION_MNIST:
            return Path(os.environ.get(FASHION_MNIST_DIR_VARIABLE, FASHION_MNIST_DIR))
        raise InvalidInputError("dataset.path", f"a path is required for dataset kind {self.kind.value!r}")
