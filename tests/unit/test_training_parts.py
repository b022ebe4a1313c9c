"""Protocol rules, augmentations and record parsing, as tables."""

from __future__ import annotations

import pytest
import torch

from nago.training.augment import crop_padding_for, cutout, random_crop, random_flip
from nago.trial.protocol import ProtocolMode, Regularisation, TrainingProtocol, scale_learning_rate, warn_learning_rate
from nago.trial.records import EpochRecord, RecordParseError, dump_record, parse_record


@pytest.mark.parametrize(("batch", "lr"), [(96, 0.025), (512, 0.1), (304, 0.0625), (32, 0.025 - 0.075 * 64 / 416)])
def test_learning_rate_is_linear_in_the_batch(batch: int, lr: float) -> None:
    assert scale_learning_rate(batch) == pytest.approx(lr)


def test_modes_fill_their_defaults_and_explicit_knobs_win() -> None:
    search, final = TrainingProtocol(), TrainingProtocol(mode=ProtocolMode.FINAL)
    assert (search.cutout, search.drop_path, search.auxiliary_weight, search.grad_clip) == (0, 0.0, 0.0, None)
    assert (final.cutout, final.drop_path, final.auxiliary_weight, final.grad_clip) == (None, None, None, 5.0)
    assert TrainingProtocol(mode=ProtocolMode.FINAL, cutout=0).cutout == 0
    assert search.regularisation(32) == Regularisation(0, 0.0, 0.0)
    assert TrainingProtocol(batch_size=200).learning_rate_for(200) == pytest.approx(scale_learning_rate(200))
    assert TrainingProtocol(learning_rate=0.3).learning_rate_for(512) == 0.3


# (epochs, image side) -> (cutout, drop-path, auxiliary weight) of the final protocol's budget rule
@pytest.mark.parametrize(
    ("epochs", "side", "expected"),
    [
        (600, 32, (16, 0.2, 0.4)),  # the paper's final protocol on CIFAR, exactly (docs/trainer.md)
        (1500, 32, (16, 0.2, 0.4)),  # longer: no stronger than the paper's
        (600, 28, (14, 0.2, 0.4)),  # Fashion-MNIST: half the side
        (600, 224, (112, 0.2, 0.4)),
        (300, 32, (8, 0.1, 0.4)),
        (100, 32, (3, 0.2 / 6, 0.4)),  # from 100 epochs on: drop-path and the auxiliary head
        (99, 32, (3, 0.0, 0.0)),
        (60, 32, (2, 0.0, 0.0)),
        (3, 28, (0, 0.0, 0.0)),  # the quickstart's final networks: nothing to regularise
        (1, 32, (0, 0.0, 0.0)),
    ],
)
def test_final_regularisation_scales_with_the_budget(
    epochs: int, side: int, expected: tuple[int, float, float]
) -> None:
    rule = TrainingProtocol(mode=ProtocolMode.FINAL, epochs=epochs).regularisation(side)
    assert (rule.cutout, rule.drop_path, rule.auxiliary_weight) == pytest.approx(expected)
    assert rule == Regularisation.for_budget(epochs, side)


def test_the_papers_protocols_at_their_budgets_are_unchanged() -> None:
    """Final: 600 epochs, lr 0.025 at batch 96, weight decay 3e-4, clip 5, cutout 16, drop-path 0.2,
    auxiliary head 0.4; search: no regularisation at any budget, the batch rule (appendix C)."""
    final = TrainingProtocol(mode=ProtocolMode.FINAL, epochs=600)
    assert final.regularisation(32) == Regularisation(16, 0.2, 0.4)
    assert (final.grad_clip, final.weight_decay, final.momentum, final.learning_rate_for(96)) == (5.0, 3e-4, 0.9, 0.025)
    for epochs in (30, 60, 120):
        search = TrainingProtocol(epochs=epochs)
        assert search.regularisation(32) == Regularisation(0, 0.0, 0.0) and search.grad_clip is None
        assert search.learning_rate_for(512) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("lr", "batch", "warns"),
    [(0.1, 32, True), (0.025, 96, False), (0.1, 512, False), (0.05, 64, False), (0.001, 512, True), (0.4, 96, True)],
)
def test_a_learning_rate_far_from_the_batch_rule_warns(lr: float, batch: int, warns: bool) -> None:
    warning = warn_learning_rate(lr, batch)
    assert (warning is not None) == warns
    if warning is not None:
        assert warning.startswith("warning: learning rate") and f"batch {batch}" in warning


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
