"""Dataset readers on small files made here: IDX, CIFAR pickles, image folders, and their errors."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from nago.errors import InvalidInputError
from nago.training.data import load_dataset
from nago.trial.dataset import DatasetKind, DatasetSpec


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def _fashion(folder: Path, train: int = 50, test: int = 20) -> Path:
    rng = np.random.default_rng(0)
    for prefix, n in (("train", train), ("t10k", test)):
        _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    return folder


def test_idx_files_load_with_a_fixed_validation_split(tmp_path: Path) -> None:
    spec = DatasetSpec(path=_fashion(tmp_path), validation_fraction=0.2, train_limit=30)
    data = load_dataset(spec, with_test=True)
    assert (len(data.train), len(data.validation)) == (30, 10)
    assert data.test is not None and len(data.test) == 20
    assert data.train.images.dtype == torch.uint8 and data.train.images.shape[1:] == (1, 28, 28)
    again = load_dataset(spec)
    assert torch.equal(again.validation.labels, data.validation.labels) and again.test is None
    other = load_dataset(DatasetSpec(path=tmp_path, validation_fraction=0.2, split_seed=1))
    assert not torch.equal(other.validation.images, data.validation.images)


def test_validation_limit_keeps_a_fixed_prefix_of_the_held_out_images(tmp_path: Path) -> None:
    full = load_dataset(DatasetSpec(path=_fashion(tmp_path), validation_fraction=0.2))
    limited = load_dataset(DatasetSpec(path=tmp_path, validation_fraction=0.2, validation_limit=4))
    assert len(limited.validation) == 4 and len(limited.train) == len(full.train)
    assert torch.equal(limited.validation.images, full.validation.images[:4])


def test_cifar_pickles_load(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (4, 3072)).astype(np.uint8), b"labels": [0, 1, 2, 9]}
        (tmp_path / name).write_bytes(pickle.dumps(batch))
    data = load_dataset(DatasetSpec(kind=DatasetKind.CIFAR10, path=tmp_path, validation_fraction=0.1), True)
    assert (data.num_classes, data.channels, data.size) == (10, 3, 32)
    assert len(data.train) + len(data.validation) == 20 and data.test is not None and len(data.test) == 4


def test_image_folders_load_and_resize(tmp_path: Path) -> None:
    from PIL import Image

    for split, count in (("train", 3), ("test", 1)):
        for label in ("cats", "dogs"):
            (tmp_path / split / label).mkdir(parents=True)
            for i in range(count):
                Image.new("RGB", (40 + i, 30), (i * 40, 10, 200)).save(tmp_path / split / label / f"{i}.png")
    spec = DatasetSpec(kind=DatasetKind.IMAGE_FOLDER, path=tmp_path, image_size=16, validation_fraction=0.2)
    data = load_dataset(spec, with_test=True)
    assert (data.num_classes, data.size, data.channels) == (2, 16, 3)
    assert data.test is not None and sorted(data.test.labels.tolist()) == [0, 1]


def _truncated_idx(folder: Path) -> Path:
    _fashion(folder)
    raw = gzip.decompress((folder / "train-images-idx3-ubyte.gz").read_bytes())
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw[:-100]))
    return folder


BAD = [
    (lambda p: DatasetSpec(path=p / "missing"), "is not a folder"),
    (lambda p: DatasetSpec(path=p), "has no train-images-idx3-ubyte"),
    (lambda p: DatasetSpec(path=_truncated_idx(p)), "its header says"),
    (lambda p: DatasetSpec(kind=DatasetKind.CIFAR10, path=p), "expected the CIFAR python pickles"),
    (lambda p: DatasetSpec(kind=DatasetKind.IMAGE_FOLDER, path=p), "needs at least two class folders"),
    (lambda p: DatasetSpec(kind=DatasetKind.CIFAR100), "a path is required"),
]


@pytest.mark.parametrize(("make_spec", "message"), BAD)
def test_bad_datasets_name_the_field(make_spec: object, message: str, tmp_path: Path) -> None:
    assert callable(make_spec)
    with pytest.raises(InvalidInputError, match=message) as caught:
        load_dataset(make_spec(tmp_path))
    assert caught.value.field == "dataset.path"
