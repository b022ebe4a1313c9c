"""`make gpu-check`'s GPU path with the CUDA boundary faked: every step runs for real, on the CPU."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from nago.trial.dataset import FASHION_MNIST_DIR

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from gpu_check import CheckSizes, look_up_peak_tflops, run_gpu_check

TINY_SEARCH = """\
apiVersion: nago.dev/v1alpha1
kind: GeneratorSearch
metadata: {name: gpu-check-tiny}
spec:
  space: {name: hnag, ranges: {top_nodes: [3, 4], mid_nodes: [1, 1], bottom_nodes: [3, 4]}}
  dataset: {kind: fashion-mnist, trainLimit: 300, validationLimit: 100}
  strategy: {kind: bo, mode: async, batchSize: 2, seed: 0, initialPoints: 2}
  budget: {maxTrials: 2, parallelism: 2, epochs: 1}
  training: {paramBudget: 20000, headChannels: 32, device: cpu}
  final: {architectures: 1, epochs: 1, trainLimit: 300}
"""


class FakeCuda:
    """A device that answers like an H200 while the trainer is told to use the CPU."""

    device = "cpu"

    def __init__(self, available: bool) -> None:
        self.available = available

    def is_available(self) -> bool:
        return self.available

    def device_name(self) -> str:
        return "NVIDIA H200"


@pytest.mark.parametrize(
    ("name", "peak"),
    [("NVIDIA H200", 989.0), ("NVIDIA H100 PCIe", 756.0), ("NVIDIA H100 80GB HBM3", 989.0),
     ("NVIDIA A100-SXM4-80GB", 312.0), ("NVIDIA L4", 121.0), ("Tesla V100-SXM2-16GB", None)],
)  # fmt: skip
def test_peak_is_looked_up_by_device_name(name: str, peak: float | None) -> None:
    assert look_up_peak_tflops(name) == peak


def test_without_cuda_it_says_skipped_and_runs_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_gpu_check(FakeCuda(available=False), CheckSizes(), tmp_path / "out", None) == 0
    assert "skipped: no CUDA device" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not FASHION_MNIST_DIR.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_gpu_path_writes_every_figure(tmp_path: Path) -> None:
    manifest = tmp_path / "search.yaml"
    manifest.write_text(TINY_SEARCH)
    sizes = CheckSizes(budgets=(2e4,), networks=1, train_images=400, manifest=manifest, gpu_tests=True)
    assert run_gpu_check(FakeCuda(available=True), sizes, tmp_path / "out", None) == 0
    figures = (tmp_path / "out" / "figures.md").read_text()
    assert figures.startswith("# gpu-check on NVIDIA H200") and "peak 989 TFLOP/s dense bf16" in figures
    assert "`pytest -m gpu tests/gpu`: exit" in figures
    row = next(line for line in figures.splitlines() if line.startswith("| 2e+04 | hnag-0 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert "failed" not in row and float(cells[6].replace(",", "")) > 0  # images/s
    assert cells[8].endswith("%") and cells[9] == "-"  # fraction of peak; no CUDA slope on the CPU
    assert float(cells[10]) > 0  # analytic memory per image
    assert "`nago search search.yaml`: exit 0" in figures and "final networks from Θ*: test accuracy" in figures
