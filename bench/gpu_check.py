"""`make gpu-check`: every check that needs a GPU, in one run, its figures in one Markdown file.

1. the GPU test tier (`pytest -m gpu`);
2. training throughput through `nago train` on CUDA (bf16 autocast, channels-last, the automatic
   batch, compilation by its rule): images/s, achieved training FLOP/s (analytic MACs × 2 × 3) and its
   fraction of the device's dense bf16 peak, and the measured memory per image (the trainer's CUDA
   slope) against `nago describe`'s analytic figure;
3. a short real search on Fashion-MNIST (`examples/fashion-mnist-gpu-check.yaml`, about 10 minutes).

Without CUDA it prints that it skipped and exits 0. The only CUDA calls are behind `CudaBoundary`
(is there a device, and its name); everything else runs the project's own commands.

    make gpu-check                          # figures in out/gpu-check/figures.md
    .venv/bin/python bench/gpu_check.py --out DIR
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from nago.atomic import write_text_atomically
from nago.generator.architecture import InputSpec
from nago.generator.sampling import sample_architecture
from nago.generator.spaces import get_space
from nago.trial.records import split_records

ROOT = Path(__file__).resolve().parent.parent
SEARCH_MANIFEST = ROOT / "examples" / "fashion-mnist-gpu-check.yaml"
# Dense bf16 tensor-core peaks from the vendors' data sheets, TFLOP/s; the first name contained wins.
BF16_PEAK_TFLOPS = (
    ("H100 PCIe", 756.0), ("H200", 989.0), ("H100", 989.0), ("GH200", 989.0), ("A100", 312.0),
    ("L40S", 362.0), ("L4", 121.0), ("A10", 125.0), ("RTX 4090", 165.0),
)  # fmt: skip
HEAD_CHANNELS = {2.5e5: 128, 1e6: 512, 4e6: 1280}


class CudaBoundary(Protocol):
    """The device questions gpu-check asks; `device` is what the trainer is told to use."""

    device: str

    def is_available(self) -> bool: ...

    def device_name(self) -> str: ...


class TorchCuda:
    """The real boundary: torch's CUDA runtime."""

    device = "cuda"

    def is_available(self) -> bool:
        import torch

        return bool(torch.cuda.is_available())

    def device_name(self) -> str:
        import torch

        return str(torch.cuda.get_device_name(0))


@dataclass(frozen=True)
class CheckSizes:
    """How much each step does; the defaults fit about 15 minutes on one modern GPU."""

    budgets: tuple[float, ...] = (2.5e5, 1e6, 4e6)
    networks: int = 3
    train_images: int = 20_000
    manifest: Path = SEARCH_MANIFEST
    gpu_tests: bool = True


def look_up_peak_tflops(name: str) -> float | None:
    """Dense bf16 peak of a device by its name, or None when the table does not know it."""
    for key, peak in BF16_PEAK_TFLOPS:
        if key.lower() in name.lower():
            return peak
    return None


def run_command(command: Sequence[str], log: Path) -> tuple[int, str, float]:
    """Run a command with its output appended to `log`; its exit code, stdout and wall seconds."""
    start = time.perf_counter()
    result = subprocess.run(list(command), capture_output=True, text=True, check=False, cwd=ROOT)
    with log.open("a") as handle:
        handle.write(f"$ {' '.join(command)}\n{result.stdout}{result.stderr}\n")
    return result.returncode, result.stdout, time.perf_counter() - start


def check_gpu_tests(log: Path) -> str:
    code, out, seconds = run_command([sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-rs", "tests/gpu"], log)
    summary = next((line for line in reversed(out.splitlines()) if line.strip()), "(no output)")
    return f"## GPU tests\n\n`pytest -m gpu tests/gpu`: exit {code} in {seconds:.0f} s: {summary}\n"


def check_throughput(cuda: CudaBoundary, sizes: CheckSizes, peak_tflops: float | None, log: Path) -> str:
    """One epoch of `nago train` per network; a table row each."""
    rows = [
        "## Training throughput through `nago train`",
        "",
        "| budget | network | params | ops | batch | compiled | images/s | TFLOP/s | of bf16 peak | "
        "memory/image measured MB | analytic MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    space = get_space("hnag")
    spec = InputSpec(channels=1, size=28, num_classes=10)
    for budget in sizes.budgets:
        rng = np.random.default_rng(0)
        for index in range(sizes.networks):
            theta = space.sample_theta(rng)
            arch = sample_architecture(space, theta, index, spec, budget, HEAD_CHANNELS.get(budget, 128))
            path = log.parent / f"arch-{budget:.0e}-{index}.json"
            write_text_atomically(path, arch.to_json())
            code, out, _ = run_command(
                [sys.executable, "-m", "nago.cli", "train", "--arch", str(path), "--seed", str(index),
                 "--dataset", "fashion-mnist", "--train-limit", str(sizes.train_images), "--epochs", "1",
                 "--validation-fraction", "0.05", "--device", cuda.device],
                log,
            )  # fmt: skip
            epochs, final = split_records(out)
            if code != 0 or final is None or not epochs:
                rows.append(f"| {budget:.0e} | hnag-{index} | failed: exit {code} (see the log) |")
                continue
            ips = epochs[-1].images_per_second
            tflops = (final.macs or 0) * 6 * ips / 1e12
            fraction = f"{tflops / peak_tflops:.2%}" if peak_tflops else "-"
            measured = f"{final.measured_memory_per_image / 1e6:.2f}" if final.measured_memory_per_image else "-"
            rows.append(
                f"| {budget:.0e} | hnag-{index} | {final.params:,} | {final.nodes} | {final.batch_size} | "
                f"{final.compiled} | {ips:,.0f} | {tflops:.2f} | {fraction} | {measured} | "
                f"{(final.activation_bytes_per_image or 0) / 1e6:.2f} |"
            )
    return "\n".join(rows) + "\n"


def check_search(sizes: CheckSizes, out_dir: Path, log: Path) -> str:
    state = out_dir / "search"
    code, _, seconds = run_command(
        [sys.executable, "-m", "nago.cli", "search", str(sizes.manifest), "--state-dir", str(state)], log
    )
    report = state / "results" / "report.md"
    first = report.read_text().splitlines()[:3] if report.exists() else ["(no report)"]
    return (
        f"## A real search on the GPU\n\n`nago search {sizes.manifest.name}`: exit {code} in "
        f"{seconds / 60:.1f} min.\n\n" + "\n".join(first) + "\n"
    )


def run_gpu_check(cuda: CudaBoundary, sizes: CheckSizes, out_dir: Path, peak_override: float | None) -> int:
    """Run every step, writing `figures.md` as each ends; 0 when there is no GPU (skipped) or all ran."""
    if not cuda.is_available():
        print("gpu-check: skipped: no CUDA device on this machine (nothing was run)")
        return 0
    out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / "log.txt"
    name = cuda.device_name()
    peak = peak_override or look_up_peak_tflops(name)
    peak_text = f"{peak:g} TFLOP/s dense bf16" if peak else "unknown (pass --peak-tflops)"
    sections = [f"# gpu-check on {name}\n\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; peak {peak_text}\n"]
    figures = out_dir / "figures.md"
    steps = [lambda: check_gpu_tests(log)] if sizes.gpu_tests else []
    steps += [lambda: check_throughput(cuda, sizes, peak, log), lambda: check_search(sizes, out_dir, log)]
    for step in steps:
        sections.append(step())
        write_text_atomically(figures, "\n".join(sections))
        print(sections[-1], flush=True)
    print(f"gpu-check: figures in {figures}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "out" / "gpu-check", help="folder for figures.md and the log"
    )
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's dense bf16 peak, if not known")
    args = parser.parse_args(argv)
    if args.peak_tflops is not None and not args.peak_tflops > 0:
        print("gpu-check: --peak-tflops: must be positive", file=sys.stderr)
        return 2
    return run_gpu_check(TorchCuda(), CheckSizes(), args.out, args.peak_tflops)


if __name__ == "__main__":
    raise SystemExit(main())
