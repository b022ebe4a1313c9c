"""Bad input on every CLI path: exit 2 and one line naming the field (docs/trainer.md, exit codes)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nago.cli import main
from nago.trial.dataset import FASHION_MNIST_DIR

SMALL = ["--param-budget", "30000", "--head-channels", "32"]
FASHION = ["--dataset", "fashion-mnist", "--train-limit", "200"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["sample", "--random", "--theta-seed", "-1"], "--theta-seed: must be at least 0, got -1"),
        (["describe", "--random", "--param-budget", "inf"], "param_budget: must be a positive finite number"),
        (["describe", "--random", "--param-budget", "nan"], "param_budget: must be a positive finite number"),
        (["sample", "--random", *SMALL, "-o", "{dir}"], "--output: {dir} is a folder"),
        (["sample", "--random", *SMALL, "-o", "/proc/nago/a.json"], "--output: cannot write /proc/nago/a.json"),
        (["draw", "--random", *SMALL, "-o", "{dir}"], "--output: {dir} is a folder"),
        (["train", "--random", *SMALL, "--jsonl", "{dir}"], "--jsonl: {dir} is a folder"),
        (["train", "--random", *SMALL, "--redis-url", "not a url"], "--redis-url: expected redis://"),
        (["describe", "--random", "--head-channels", "1000000000"], "head_channels: 1000000000 channels do not fit"),
        (["train", "--random", "--input", "7x9x3", "--classes", "-5"], "--classes: does not apply to nago train"),
        (["train", "--random", "--input", "28x28x1"], "--input: does not apply to nago train: the dataset sets"),
        (["train", "--trial", "{dir}/t.json", "--epochs", "3"], "--epochs: does not apply with --trial"),
        (["train", "--trial-json", "{{}}", "--seed", "3"], "--seed: does not apply with --trial-json"),
        (["sample", "--theta-seed", "3"], "--theta-seed: does not apply without --random"),
        (["describe", "--arch", "{dir}/a.json", "--param-budget", "1e5"], "--param-budget: does not apply with --arch"),
        (["train", "--arch", "{dir}/a.json", "--space", "rnag"], "--space: does not apply with --arch"),
        (["sample", "--rand"], "unrecognized arguments: --rand"),
    ],
    ids=["theta-seed", "budget-inf", "budget-nan", "sample-o-folder", "sample-o-unwritable", "draw-o-folder",
         "jsonl-folder", "redis-url", "head-channels-huge", "train-input-classes", "train-input", "trial-and-epochs",
         "trial-json-and-seed", "theta-seed-without-random", "arch-and-budget", "arch-and-space", "no-abbreviation"],
)  # fmt: skip
def test_exit_2_and_one_line(
    tmp_path: Path, argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [a.replace("{dir}", str(tmp_path)) for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert expected.replace("{dir}", str(tmp_path)) in err[0]


@pytest.mark.skipif(not FASHION_MNIST_DIR.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--param-budget", "1e12", "--head-channels", "32"], "param_budget: a network of"),
        pytest.param(
            ["--device", "cuda", *SMALL], "device: cuda was asked for but this machine has no CUDA device",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA"),
        ),
    ],
    ids=["too-large-for-the-machine", "cuda-without-cuda"],
)  # fmt: skip
def test_train_refuses_before_allocating(extra: list[str], expected: str, capfd: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "--random", *FASHION, *extra])
    assert code == 2
    assert expected in capfd.readouterr().err
