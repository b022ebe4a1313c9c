"""`nago train` on real Fashion-MNIST: learns, repeats itself, resumes, and refuses bad input."""

from __future__ import annotations

import io
import json
import math
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from nago.exit_codes import ExitCode
from nago.training.compilation import REQUIRED_SAVING
from nago.training.trainer import run_trial
from nago.trial.dataset import DatasetSpec
from nago.trial.protocol import TrainingProtocol
from nago.trial.records import EpochRecord, FinalRecord, parse_record
from nago.trial.sinks import StdoutSink
from nago.trial.spec import TrialSpec
from train_helpers import SMALL_THETA, run_train, train_command, train_env


def _records(text: str) -> list[EpochRecord | FinalRecord]:
    return [parse_record(line) for line in text.splitlines() if line.strip()]


def _train_in_process(spec: TrialSpec) -> tuple[ExitCode, list[EpochRecord | FinalRecord]]:
    out = io.StringIO()
    code = run_trial(spec, [StdoutSink(out)])
    return code, _records(out.getvalue())


def test_one_epoch_on_5k_fashion_mnist_learns_well_above_chance() -> None:
    torch.set_num_threads(2)
    spec = TrialSpec(
        theta=SMALL_THETA,
        seed=0,
        param_budget=2e5,
        head_channels=64,
        device="cpu",
        dataset=DatasetSpec(train_limit=5000, validation_fraction=0.05),
        protocol=TrainingProtocol(epochs=1, batch_size=32, learning_rate=0.05, augment=False),
    )
    code, records = _train_in_process(spec)
    assert code == ExitCode.OK
    epoch, final = records
    assert isinstance(epoch, EpochRecord) and isinstance(final, FinalRecord)
    assert epoch.val_accuracy > 0.6, epoch
    assert final.status == "succeeded" and final.best_val_accuracy == epoch.val_accuracy
    assert final.params is not None and abs(final.params - 2e5) < 0.1 * 2e5
    assert final.fingerprint and final.nodes == 9 and final.test_accuracy is None
    assert epoch.images_per_second > 0 and epoch.epoch_seconds > 0


QUICK_THETA = {"top_nodes": 3, "top_k": 2, "top_p": 0.5, "mid_nodes": 1, "mid_p": 0.5,
               "bottom_nodes": 3, "bottom_k": 2, "bottom_p": 0.4}  # fmt: skip
LEARNS_THRESHOLD = 0.70  # between the measured 0.74-0.76 and the old protocol's 0.63-0.66 (see below)
QUICK_RANGES = {"top_nodes": (3, 5), "mid_nodes": (1, 2), "bottom_nodes": (3, 5)}  # the quickstart's


def test_a_two_epoch_final_protocol_run_learns(capsys: pytest.CaptureFixture[str]) -> None:
    """The final protocol on a short budget once added cutout 16, drop-path and an auxiliary head to a
    2-epoch run and reached 0.41 test accuracy; scaled to the budget it learns (docs/trainer.md)."""
    torch.set_num_threads(2)
    spec = TrialSpec(
        theta=QUICK_THETA, ranges=QUICK_RANGES, seed=0, param_budget=1e5, head_channels=64, device="cpu",
        dataset=DatasetSpec(train_limit=4000, validation_fraction=0.05),
        protocol=TrainingProtocol(mode="final", epochs=2, batch_size=32, learning_rate=0.03),
    )  # fmt: skip
    code, records = _train_in_process(spec)
    assert code == ExitCode.OK
    epochs = [r for r in records if isinstance(r, EpochRecord)]
    final = records[-1]
    assert isinstance(final, FinalRecord) and final.status == "succeeded" and len(epochs) == 2
    assert epochs[-1].train_loss < 0.5 * math.log(10), epochs  # chance: ln 10 = 2.30
    # Measured on 2 cores (seeds 0 and 1): training loss 0.78-0.81, validation 0.74-0.76, test 0.75. The old
    # fixed final protocol (cutout 16, drop-path 0.2, auxiliary head 0.4): training loss 2.1-2.3, validation
    # 0.63-0.66. A linear classifier trained the same 2 epochs on these images: validation 0.77-0.79.
    assert final.best_val_accuracy is not None and final.best_val_accuracy > LEARNS_THRESHOLD, epochs
    assert final.test_accuracy is not None and final.test_accuracy > LEARNS_THRESHOLD
    # 250 steps at the few milliseconds a step takes on a quiet core never pay back a compilation; on a loaded
    # machine the probed step is slower and the rule may decide otherwise. The record follows the logged decision,
    # and that decision follows the rule at the speed it measured (nago.training.compilation).
    logged = re.search(r"compile: (yes|no) \(auto; (\d+) steps left at (\d+) ms, .* expected saving (-?\d+) s\)",
                       capsys.readouterr().err)  # fmt: skip
    assert logged is not None
    decided, steps_left, step_ms, saving = (
        logged.group(1),
        int(logged.group(2)),
        int(logged.group(3)),
        int(logged.group(4)),
    )
    assert final.compiled is (decided == "yes")
    required = REQUIRED_SAVING * steps_left * step_ms / 1000
    if abs(saving - required) > 1 + 0.001 * steps_left:  # the log rounds seconds and milliseconds
        assert decided == ("yes" if saving > required else "no"), logged.group(0)


@pytest.mark.parametrize(
    ("epochs", "weight_decay", "cause"),
    [(2, 1.0, "not finite"), (6, 3e-4, "never went below chance")],  # measured: NaN after 19 steps; 12-68 all along
)
def test_a_diverging_run_is_reported_as_diverged_not_as_a_result(epochs: int, weight_decay: float, cause: str) -> None:
    spec = TrialSpec(
        theta=SMALL_THETA, seed=0, param_budget=3e4, head_channels=32, device="cpu",
        dataset=DatasetSpec(train_limit=600, validation_fraction=0.05),
        protocol=TrainingProtocol(
            epochs=epochs, batch_size=32, learning_rate=10.0, momentum=0.99 if epochs > 2 else 0.9,
            weight_decay=weight_decay,
        ),
    )  # fmt: skip
    code, records = _train_in_process(spec)
    final = records[-1]
    assert code == ExitCode.DIVERGED
    assert isinstance(final, FinalRecord) and final.status == "failed" and final.exit_code == ExitCode.DIVERGED
    assert final.error is not None and final.error.startswith("diverged: ") and cause in final.error, final.error


def test_a_compiled_training_step_trains_and_records_its_compile_time() -> None:
    spec = TrialSpec(
        theta=SMALL_THETA, seed=0, param_budget=3e4, head_channels=32, device="cpu",
        dataset=DatasetSpec(train_limit=400, validation_fraction=0.05),
        protocol=TrainingProtocol(epochs=2, batch_size=16, learning_rate=0.03, compile="always"),
    )  # fmt: skip
    code, records = _train_in_process(spec)
    final = records[-1]
    assert code == ExitCode.OK and isinstance(final, FinalRecord) and final.status == "succeeded"
    assert final.compiled is True and final.compile_seconds is not None and final.compile_seconds > 0
    epochs = [r for r in records if isinstance(r, EpochRecord)]
    assert len(epochs) == 2 and epochs[1].train_loss < epochs[0].train_loss < 2.5, epochs


def test_same_seed_repeats_on_cpu_and_final_mode_reports_test_accuracy() -> None:
    spec = TrialSpec(
        theta=SMALL_THETA,
        seed=5,
        param_budget=3e4,
        head_channels=32,
        device="cpu",
        dataset=DatasetSpec(train_limit=300, validation_fraction=0.01),
        protocol=TrainingProtocol(mode="final", epochs=2, batch_size=32, cutout=8),
    )
    first, second = _train_in_process(spec), _train_in_process(spec)
    assert first[0] == second[0] == ExitCode.OK
    metrics = [
        [(r.train_loss, r.val_accuracy) for r in run[1] if isinstance(r, EpochRecord)] for run in (first, second)
    ]
    assert metrics[0] == metrics[1] and len(metrics[0]) == 2
    final = first[1][-1]
    assert isinstance(final, FinalRecord) and final.test_accuracy is not None and 0 <= final.test_accuracy <= 1


def test_interrupted_trial_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    checkpoint, jsonl = tmp_path / "trial.ckpt", tmp_path / "records.jsonl"
    command = train_command("--epochs", "4", "--checkpoint", str(checkpoint), "--jsonl", str(jsonl))
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=train_env())
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if jsonl.exists() and '"epoch":2' in jsonl.read_text():
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    interrupted = _records(jsonl.read_text())
    assert [r.epoch for r in interrupted][:2] == [1, 2] and not any(isinstance(r, FinalRecord) for r in interrupted)
    resumed = run_train("--epochs", "4", "--checkpoint", str(checkpoint), "--jsonl", str(jsonl))
    assert resumed.returncode == ExitCode.OK, resumed.stderr
    assert "resumed trial-0" in resumed.stderr
    records = _records(jsonl.read_text())
    assert [(r.kind, r.epoch) for r in records] == [
        ("epoch", 1),
        ("epoch", 2),
        ("epoch", 3),
        ("epoch", 4),
        ("final", 4),
    ]
    assert torch.load(checkpoint, weights_only=False)["epochs_done"] == 4


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


BAD_INPUTS = [
    (["--dataset", "mnist-digits"], "dataset.kind"),
    (["--data-dir", "/nonexistent/fashion"], "dataset.path: /nonexistent/fashion is not a folder"),
    (["--theta", json.dumps({**SMALL_THETA, "top_nodes": 30})], "theta.top_nodes: 30 is out of range [3, 10]"),
    (["--epochs", "0"], "protocol.epochs"),
    (["--device", "tpu"], "device"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_INPUTS)
def test_bad_input_exits_2_with_one_line(extra: list[str], message: str) -> None:
    result = run_train(*extra)
    assert result.returncode == ExitCode.BAD_INPUT
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr


def test_corrupt_architecture_and_unwritable_checkpoint_are_bad_input(tmp_path: Path) -> None:
    corrupt = _write(tmp_path / "arch.json", '{"format_version": 1, "space": "hnag"')
    result = run_train(source=["--arch", str(corrupt)])
    assert result.returncode == ExitCode.BAD_INPUT and str(corrupt) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    blocker = _write(tmp_path / "not-a-folder", "x")
    result = run_train("--checkpoint", str(blocker / "trial.ckpt"))
    assert result.returncode == ExitCode.BAD_INPUT
    assert "checkpoint: cannot write" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    failed = _records(result.stdout)[-1]
    assert isinstance(failed, FinalRecord) and failed.status == "failed" and failed.exit_code == ExitCode.BAD_INPUT


def test_architecture_for_another_input_is_bad_input(tmp_path: Path) -> None:
    command = [*train_command()[:3], "sample", "--theta", json.dumps(SMALL_THETA), "--input", "32x32x3"]
    sample = subprocess.run([*command, "--param-budget", "3e4"], capture_output=True, text=True, check=True)
    arch = _write(tmp_path / "arch.json", sample.stdout)
    result = run_train(source=["--arch", str(arch)])
    assert result.returncode == ExitCode.BAD_INPUT and "is built for 32x32x3" in result.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the failure when CUDA is missing")
def test_cuda_without_cuda_is_bad_input_and_still_reports_a_final_record() -> None:
    """Exit 2, not 1: the engine must not retry what can never succeed on this machine."""
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = run_train("--device", "cuda")
    assert result.returncode == ExitCode.BAD_INPUT
    failed = _records(result.stdout)[-1]
    assert isinstance(failed, FinalRecord) and failed.status == "failed" and "no CUDA device" in str(failed.error)


def test_failure_at_run_time_exits_1_and_still_reports_a_final_record(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(run: object, reporter: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("nago.training.trainer._train", broken)
    spec = TrialSpec(
        theta=SMALL_THETA, seed=0, param_budget=3e4, head_channels=32, device="cpu",
        dataset=DatasetSpec(train_limit=300, validation_fraction=0.1), protocol=TrainingProtocol(epochs=1),
    )  # fmt: skip
    code, records = _train_in_process(spec)
    assert code == ExitCode.RUNTIME_FAILURE
    failed = records[-1]
    assert isinstance(failed, FinalRecord) and failed.status == "failed" and "No space left" in str(failed.error)


def test_re_estimating_batch_norm_changes_evaluation_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The statistics pass before each evaluation leaves training exactly as it was (the head's dropout
    draws from a forked generator) and only changes what evaluation sees."""
    spec = TrialSpec(
        theta=SMALL_THETA, seed=3, param_budget=3e4, head_channels=32, device="cpu",
        dataset=DatasetSpec(train_limit=600, validation_fraction=0.05),
        protocol=TrainingProtocol(epochs=3, batch_size=32, learning_rate=0.05),
    )  # fmt: skip
    with_pass = _train_in_process(spec)[1]
    monkeypatch.setattr("nago.training.trainer.recompute_batch_norm", lambda run, train: None)
    without_pass = _train_in_process(spec)[1]
    losses = [[r.train_loss for r in run if isinstance(r, EpochRecord)] for run in (with_pass, without_pass)]
    assert len(losses[0]) == 3 and losses[0] == losses[1]
    validation = [[r.val_loss for r in run if isinstance(r, EpochRecord)] for run in (with_pass, without_pass)]
    assert validation[0] != validation[1]
