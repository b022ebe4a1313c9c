"""Protocol rules, augmentations and record parsing, as tables."""

from __future__ import annotations

import pytest
import torch

from nago.augment import crop_padding_for, cutout, random_crop, random_flip
from nago.protocol import ProtocolMode, TrainingProtocol, scale_learning_rate
from nago.records import EpochRecord, RecordParseError, dump_record, parse_record


@pytest.mark.parametrize(("batch", "lr"), [(96, 0.025), (512, 0.1), (304, 0.0625), (32, 0.025 - 0.075 * 64 / 416)])
def test_learning_rate_is_linear_in_the_batch(batch: int, lr: float) -> None:
    assert scale_learning_rate(batch) == pytest.approx(lr)


def test_modes_fill_their_defaults_and_explicit_knobs_win() -> None:
    search, final = TrainingProtocol(), TrainingProtocol(mode=ProtocolMode.FINAL)
    assert (search.cutout, search.drop_path, search.auxiliary_weight, search.grad_clip) == (0, 0.0, 0.0, None)
    assert (final.cutout, final.drop_path, final.auxiliary_weight, final.grad_clip) == (16, 0.2, 0.4, 5.0)
    assert TrainingProtocol(mode=ProtocolMode.FINAL, cutout=0).cutout == 0
    assert TrainingProtocol(batch_size=200).learning_rate_for(200) == pytest.approx(scale_learning_rate(200))
    assert TrainingProtocol(learning_rate=0.3).learning_rate_for(512) == 0.3


def test_crop_with_zero_offset_region_and_flip_are_exact() -> None:
    images = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).view(2, 1, 4, 4)
    generator = torch.Generator().manual_seed(0)
    cropped = random_crop(images, 2, generator)
    assert cropped.shape == images.shape
    for i in range(2):  # every crop is a 4×4 window of the zero-padded image
        padded = torch.nn.functional.pad(images[i], (2, 2, 2, 2))
        windows = [padded[:, y : y + 4, x : x + 4] for y in range(5) for x in range(5)]
        assert any(torch.equal(cropped[i], w) for w in windows)
    flipped = random_flip(images, torch.Generator().manual_seed(1))
    for i in range(2):
        assert torch.equal(flipped[i], images[i]) or torch.equal(flipped[i], images[i].flip(2))


def test_cutout_zeroes_one_square_per_image() -> None:
    images = torch.ones(8, 3, 32, 32)
    out = cutout(images, 16, torch.Generator().manual_seed(0))
    zeroed = (out == 0).all(dim=1).sum(dim=(1, 2))
    assert ((zeroed > 0) & (zeroed <= 256)).all()
    assert torch.equal(cutout(images, 0, torch.Generator()), images)


@pytest.mark.parametrize(("size", "padding"), [(28, 2), (32, 4), (224, 28)])
def test_crop_padding_per_dataset_kind(size: int, padding: int) -> None:
    assert crop_padding_for(size) == padding


def test_records_round_trip_and_bad_lines_are_named() -> None:
    record = EpochRecord(
        search="s", trial_id="t", attempt=1, epoch=2, time=1.0, epochs=3, train_loss=0.5, train_accuracy=0.8,
        val_loss=0.6, val_accuracy=0.7, learning_rate=0.1, batch_size=96, epoch_seconds=2.0, images_per_second=9.0,
    )  # fmt: skip
    assert parse_record(dump_record(record)) == record
    assert record.identity == "t:1:epoch:2"
    with pytest.raises(RecordParseError, match="kind"):
        parse_record('{"kind": "weekly"}')
    with pytest.raises(RecordParseError):
        parse_record("not json")
    with pytest.raises(RecordParseError, match="val_accuracy"):
        parse_record(dump_record(record).replace('"val_accuracy":0.7,', ""))
