"""Datasets read from disk, decoded once into tensors; never downloaded.

Kinds: Fashion-MNIST from the standard IDX files (Debian's `dataset-fashion-mnist` puts them in
/usr/share/datasets/fashion-mnist), CIFAR-10 and CIFAR-100 from the standard python pickles, and
class-per-folder image datasets (SPORT8 / MIT67 / FLOWERS102 kind), resized once to a square.
The validation split is held out of the training set by a fixed split seed, so every trial of a
search validates on the same images; the test set is only read for the final evaluation.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nago.errors import InvalidInputError
from nago.trial.dataset import DatasetKind, DatasetSpec

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")


@dataclass(frozen=True)
class ImageSet:
    """Images as uint8 N×C×H×W and labels as int64 N."""

    images: Tensor
    labels: Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, index: Tensor) -> ImageSet:
        return ImageSet(self.images[index], self.labels[index])


@dataclass(frozen=True)
class LoadedDataset:
    """Train, validation and (optionally) test images, with their normalisation."""

    kind: DatasetKind
    train: ImageSet
    validation: ImageSet
    test: ImageSet | None
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def channels(self) -> int:
        return int(self.train.images.shape[1])

    @property
    def size(self) -> int:
        return int(self.train.images.shape[2])


def _read_idx(path: Path) -> np.ndarray:
    """One IDX file (optionally gzipped): magic, dimensions, then unsigned bytes."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as error:
        raise InvalidInputError("dataset.path", f"cannot read {path}: {error}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise InvalidInputError("dataset.path", f"{path} is not an unsigned-byte IDX file")
    dims = raw[3]
    shape = struct.unpack(f">{dims}I", raw[4 : 4 + 4 * dims])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims)
    if data.size != int(np.prod(shape)):
        raise InvalidInputError("dataset.path", f"{path} holds {data.size} bytes, its header says {shape}")
    return data.reshape(shape)


def _find(folder: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise InvalidInputError("dataset.path", f"{folder} has no {stem}(.gz); is it the Fashion-MNIST folder?")


def _load_fashion_mnist(folder: Path) -> tuple[ImageSet, ImageSet]:
    sets = []
    for prefix in ("train", "t10k"):
        images = _read_idx(_find(folder, f"{prefix}-images-idx3-ubyte"))
        labels = _read_idx(_find(folder, f"{prefix}-labels-idx1-ubyte"))
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise InvalidInputError("dataset.path", f"{folder}: {prefix} images and labels do not match")
        sets.append(ImageSet(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))))
    return sets[0], sets[1]


def _read_pickle(path: Path) -> dict[bytes, object]:
    try:
        with path.open("rb") as handle:
            loaded = pickle.load(handle, encoding="bytes")
    except FileNotFoundError:
        raise InvalidInputError("dataset.path", f"{path} is missing; expected the CIFAR python pickles") from None
    except (OSError, pickle.UnpicklingError, EOFError, ValueError) as error:
        raise InvalidInputError("dataset.path", f"cannot read {path}: {error}") from None
    if not isinstance(loaded, dict) or b"data" not in loaded:
        raise InvalidInputError("dataset.path", f"{path} is not a CIFAR pickle (no b'data')")
    return loaded


def _cifar_set(paths: list[Path], label_key: bytes) -> ImageSet:
    images, labels = [], []
    for path in paths:
        batch = _read_pickle(path)
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or label_key not in batch:
            raise InvalidInputError("dataset.path", f"{path} does not hold 32×32×3 images with {label_key!r}")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch[label_key], dtype=np.int64))
    return ImageSet(torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels)))


def _load_cifar(folder: Path, kind: DatasetKind) -> tuple[ImageSet, ImageSet]:
    if kind is DatasetKind.CIFAR10:
        train = [folder / f"data_batch_{i}" for i in range(1, 6)]
        return _cifar_set(train, b"labels"), _cifar_set([folder / "test_batch"], b"labels")
    return _cifar_set([folder / "train"], b"fine_labels"), _cifar_set([folder / "test"], b"fine_labels")


def _load_folder(folder: Path, classes: list[str], size: int) -> ImageSet:
    from PIL import Image, UnidentifiedImageError

    images: list[np.ndarray] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        class_dir = folder / name
        if not class_dir.is_dir():
            continue
        for path in sorted(class_dir.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                with Image.open(path) as img:
                    rgb = img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            except (OSError, UnidentifiedImageError) as error:
                raise InvalidInputError("dataset.path", f"cannot decode {path}: {error}") from None
            images.append(np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1))
            labels.append(label)
    if not images:
        raise InvalidInputError("dataset.path", f"{folder} holds no images in class folders")
    return ImageSet(torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64))


def _load_image_folder(root: Path, size: int) -> tuple[ImageSet, ImageSet | None, int]:
    """`root/train/<class>/*` and optional `root/test/<class>/*`, or `root/<class>/*` (no test set)."""
    train_dir = root / "train" if (root / "train").is_dir() else root
    classes = sorted(p.name for p in train_dir.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise InvalidInputError("dataset.path", f"{train_dir} needs at least two class folders, found {classes}")
    test_dir = root / "test"
    test = _load_folder(test_dir, classes, size) if test_dir.is_dir() and train_dir != root else None
    return _load_folder(train_dir, classes, size), test, len(classes)


def _split(train: ImageSet, spec: DatasetSpec) -> tuple[ImageSet, ImageSet]:
    """Hold out `validation_fraction` of the training images with the split seed."""
    order = torch.from_numpy(np.random.default_rng(spec.split_seed).permutation(len(train)))
    held_out = max(1, round(len(train) * spec.validation_fraction))
    if held_out >= len(train):
        raise InvalidInputError("dataset.validation_fraction", f"leaves no training images out of {len(train)}")
    validation, rest = order[:held_out], order[held_out:]
    if spec.train_limit is not None:
        rest = rest[: spec.train_limit]
    if spec.validation_limit is not None:
        validation = validation[: spec.validation_limit]  # the same images for every trial: the order is seeded
    return train.subset(rest), train.subset(validation)


def load_dataset(spec: DatasetSpec, with_test: bool = False) -> LoadedDataset:
    """Decode the dataset once; train and validation always, the test set only when asked."""
    path = spec.resolved_path()
    if not path.is_dir():
        raise InvalidInputError("dataset.path", f"{path} is not a folder")
    test: ImageSet | None
    if spec.kind is DatasetKind.FASHION_MNIST:
        full_train, test = _load_fashion_mnist(path)
        num_classes = 10
    elif spec.kind in (DatasetKind.CIFAR10, DatasetKind.CIFAR100):
        full_train, test = _load_cifar(path, spec.kind)
        num_classes = 10 if spec.kind is DatasetKind.CIFAR10 else 100
    else:
        full_train, test, num_classes = _load_image_folder(path, spec.image_size)
    if int(full_train.labels.max()) >= num_classes or int(full_train.labels.min()) < 0:
        raise InvalidInputError("dataset.path", f"labels outside [0, {num_classes}) in {path}")
    train, validation = _split(full_train, spec)
    scaled = train.images.float().div_(255)
    mean = tuple(float(v) for v in scaled.mean(dim=(0, 2, 3)))
    std = tuple(max(float(v), 1e-3) for v in scaled.std(dim=(0, 2, 3)))
    return LoadedDataset(spec.kind, train, validation, test if with_test else None, num_classes, mean, std)
