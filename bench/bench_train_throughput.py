"""Training throughput on Fashion-MNIST: `nago train` against a bare eager and a compiled loop, and ResNet-18.

For each parameter budget (50K, 250K, 1M, 4M) and each of N HNAG networks (Θ uniform over the paper's
ranges, seed 0, 28×28×1), side by side in one run:

- **eager**: a bare loop (SGD, the trainer's augmentation, batch 96) over `--steps` steps after two
  warm-up steps;
- **compiled**: the same loop on `torch.compile(model)`; the first step's seconds are the compile time;
- **trainer, today**: `nago train`'s own loop (`run_trial`, two epochs of `--steps` batches, the
  second one's images/s) with compilation off: the code path before compilation existed;
- **trainer, compiled**: the same with `compile: always` (it compiles in the first epoch, after its
  timed eager probe), its compile seconds from the final record
  (warm: inductor's caches hold the bare loop's compile of the same network, so the rule below is
  charged the bare loop's cold compile seconds instead);
- **trainer, rule**: what `compile: auto` does for a reference trial of `--reference-epochs` epochs
  on 54,000 images, and its images/s over that whole trial (compile time included), against the
  faster of the bare loops over the same trial.

Achieved training FLOP/s = analytic MACs × 2 × 3 × images/s (ResNet-18: its forward FLOPs counted by
torch × 3). ResNet-18 adapted to 28×28×1 (3×3 stride-1 first conv on one channel, no max-pool) runs
under the same bare loop once per budget. Run it on a quiet machine: loads move these figures 2-3×.
Run it with a fresh inductor cache and compilation in-process: with a warm cache every compile after
the first is a cache hit, and inductor's compile-worker pool, started by the first compile, imports
torch in the background during the first compiled loop's timed steps (it measured 490 images/s
there against 1,718 with the pool already up).

    export TORCHINDUCTOR_CACHE_DIR=$(mktemp -d) TORCHINDUCTOR_COMPILE_THREADS=1
    .venv/bin/python bench/bench_train_throughput.py --networks 5 --steps 12
    .venv/bin/python bench/bench_train_throughput.py --networks 5 --steps 12 \
        --range top_nodes=3:5 --range mid_nodes=1:2 --range bottom_nodes=3:5   # the quickstart's ranges
"""

from __future__ import annotations

import argparse
import io
import platform
import time
from collections.abc import Callable

import numpy as np
import torch
import torchvision
from torch import nn
from torch.nn import functional
from torch.utils.flop_counter import FlopCounterMode

from nago.cli import parse_ranges
from nago.generator.architecture import InputSpec
from nago.generator.complexity import measure_complexity
from nago.generator.sampling import sample_architecture
from nago.generator.spaces import get_space
from nago.training.augment import random_crop, random_flip
from nago.training.compilation import PROBE_STEPS, CompileChoice, decide_compile
from nago.training.data import load_dataset
from nago.training.network import build_network
from nago.training.trainer import choose_batch_size, run_trial
from nago.trial.dataset import DatasetSpec
from nago.trial.protocol import TrainingProtocol
from nago.trial.records import EpochRecord, FinalRecord, parse_record
from nago.trial.sinks import StdoutSink
from nago.trial.spec import TrialSpec

HEAD_CHANNELS = {5e4: 64, 2.5e5: 128, 1e6: 512, 4e6: 1280}
FULL_TRAINING_SPLIT = 54_000


def build_resnet18_28(num_classes: int = 10) -> nn.Module:
    model = torchvision.models.resnet18(num_classes=num_classes)
    model.conv1 = nn.Conv2d(1, 64, 3, 1, 1, bias=False)
    model.maxpool = nn.Identity()  # type: ignore[assignment]
    return model


def count_forward_flops(model: nn.Module) -> float:
    """Forward FLOPs of one 28×28×1 image, counted by torch."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(torch.zeros(1, 1, 28, 28))
    return float(counter.get_total_flops())


def measure_images_per_second(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch: int,
    steps: int,
    device: torch.device,
    wrap: Callable[[nn.Module], Callable[[torch.Tensor], torch.Tensor]] | None = None,
) -> tuple[float, float, float | None]:
    """Images/s over `steps` SGD steps after two warm-up steps, the first step's seconds (the compile
    time when `wrap` compiles), and peak CUDA memory in GB."""
    model = model.to(device).train()
    if wrap is not None:
        torch._dynamo.reset()  # else after 8 networks dynamo's recompile limit silently leaves them eager
    forward = wrap(model) if wrap is not None else model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=3e-4)
    generator = torch.Generator().manual_seed(0)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def step(i: int) -> None:
        index = torch.arange(i * batch, (i + 1) * batch) % images.shape[0]
        x = random_flip(random_crop(images[index].float().div(255), 2, generator), generator).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = functional.cross_entropy(forward(x).float(), labels[index].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    first = time.perf_counter()
    step(0)
    first_seconds = time.perf_counter() - first
    step(1)
    start = time.perf_counter()
    for i in range(steps):
        step(i + 2)
    elapsed = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) / 1e9 if device.type == "cuda" else None
    return steps * batch / elapsed, first_seconds, peak


def run_trainer(
    theta: dict[str, float | int], seed: int, budget: float, steps: int, batch: int, compile_: str
) -> tuple[float, FinalRecord]:
    """`nago train`'s loop for two epochs of `steps` full batches; the second epoch's images/s (steady:
    any compilation happened in the first) and the final record."""
    limit = steps * batch
    for _ in range(5):  # the training split keeps exactly `steps` batches after 2 % is held out
        limit = steps * batch + max(1, round(limit * 0.02))
    spec = TrialSpec(
        theta=theta, seed=seed, param_budget=budget, head_channels=HEAD_CHANNELS[budget], device="auto",
        dataset=DatasetSpec(train_limit=limit, validation_fraction=0.02),
        protocol=TrainingProtocol(epochs=2, batch_size=batch, compile=CompileChoice(compile_)),
    )  # fmt: skip
    out = io.StringIO()
    run_trial(spec, [StdoutSink(out)])
    records = [parse_record(line) for line in out.getvalue().splitlines() if line.strip()]
    epochs, final = [r for r in records if isinstance(r, EpochRecord)], records[-1]
    assert isinstance(final, FinalRecord) and final.status == "succeeded", final
    assert len(epochs) == 2
    return epochs[1].images_per_second, final


def over_trial(images: float, steady: float, compile_seconds: float) -> float:
    """Images/s over a whole trial of `images` images: compile time included."""
    return images / (compile_seconds + images / steady)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", type=int, default=5)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--skip", type=int, default=0, help="draw but do not measure the first N networks of a size")
    parser.add_argument("--sizes", type=float, nargs="+", default=[5e4, 2.5e5, 1e6, 4e6], choices=list(HEAD_CHANNELS))
    parser.add_argument("--batch-size", type=int, default=96, help="CPU batch (CUDA: the trainer's automatic batch)")
    parser.add_argument("--reference-epochs", type=int, default=60, help="the trial the rule is judged on")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--range", dest="ranges", action="append", default=[], metavar="NAME=LOW:HIGH",
        help="draw Θ from a narrower range, e.g. the quickstart's top_nodes=3:5 (repeatable)",
    )  # fmt: skip
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = load_dataset(DatasetSpec(train_limit=4096))
    spec = InputSpec(channels=1, size=28, num_classes=10)
    images, labels = data.train.images, data.train.labels
    print(
        f"machine: {platform.machine()}, device {device}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}"
    )
    print(f"reference trial: {args.reference_epochs} epochs on {FULL_TRAINING_SPLIT} images")
    space = get_space("hnag", parse_ranges(args.ranges))
    print(f"Θ ranges: {', '.join(args.ranges) or 'the appendix H.1 ranges'}")
    resnet_flops = count_forward_flops(build_resnet18_28()) * 3
    columns = ("network", "params", "ops", "batch", "eager", "compiled", "compile s", "trainer today",
               "trainer compiled", "trainer compile s", "rule", "rule/best", "rule/today", "GFLOP/s eager",
               "GFLOP/s rule", "peak GB")  # fmt: skip
    print(" | ".join(columns))
    for budget in args.sizes:
        rng = np.random.default_rng(args.seed)
        for index in range(args.networks):
            theta = space.sample_theta(rng)
            if index < args.skip:  # the same Θ sequence as a run that measured them
                continue
            arch = sample_architecture(space, theta, index, spec, budget, HEAD_CHANNELS[budget])
            size = measure_complexity(arch)
            batch = args.batch_size
            if device.type == "cuda":
                batch, _ = choose_batch_size(build_network(arch).to(device), spec, TrainingProtocol(), device, 4096)
            eager, _, peak = measure_images_per_second(
                build_network(arch, seed=index), images, labels, batch, args.steps, device
            )
            compiled, compile_seconds, _ = measure_images_per_second(
                build_network(arch, seed=index),
                images,
                labels,
                batch,
                args.steps,
                device,
                wrap=lambda m: torch.compile(m),
            )
            # the trainer decides after PROBE_STEPS timed eager steps, so `steps` must leave compiled steps
            today_ips, _ = run_trainer(dict(theta), index, budget, max(args.steps, PROBE_STEPS + 4), batch, "never")
            torch._dynamo.reset()
            trainer_steady, with_compile = run_trainer(
                dict(theta), index, budget, max(args.steps, PROBE_STEPS + 4), batch, "always"
            )
            trainer_compile = with_compile.compile_seconds or 0.0
            trial_images = args.reference_epochs * FULL_TRAINING_SPLIT
            decision = decide_compile(
                CompileChoice.AUTO, arch.node_count, batch / today_ips, trial_images // batch, device.type
            )
            # the bare loop compiled this network first, cold; the trainer's compile then hits inductor's
            # caches, so the trial is charged the cold figure (a trial pod compiles cold)
            cold_compile = max(trainer_compile, compile_seconds)
            rule = over_trial(trial_images, trainer_steady, cold_compile) if decision.compile else today_ips
            best = max(eager, over_trial(trial_images, compiled, compile_seconds))
            flops = size.macs * 2 * 3
            peak_text = f"{peak:.2f}" if peak is not None else "-"
            print(
                f"hnag-{index} | {size.params:,} | {arch.node_count} | {batch} | {eager:.1f} | {compiled:.1f} | "
                f"{compile_seconds:.0f} | {today_ips:.1f} | {trainer_steady:.1f} | {trainer_compile:.0f} | "
                f"{'compiled' if decision.compile else 'eager'} {rule:.1f} | {rule / best:.2f} | "
                f"{rule / today_ips:.2f} | {flops * eager / 1e9:.1f} | {flops * rule / 1e9:.1f} | {peak_text}",
                flush=True,
            )
        resnet = build_resnet18_28()
        reference, _, _ = measure_images_per_second(resnet, images, labels, args.batch_size, args.steps, device)
        print(
            f"resnet18 | {sum(p.numel() for p in resnet.parameters()):,} | - | {args.batch_size} | {reference:.1f} | "
            "- | - | - | - | - | - | - | - | "
            f"{resnet_flops * reference / 1e9:.1f} | - | -",
            flush=True,
        )


if __name__ == "__main__":
    main()
