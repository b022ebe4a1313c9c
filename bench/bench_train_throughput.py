"""Training throughput (images/s) on Fashion-MNIST: 5 sampled HNAG networks against ResNet-18.

Side by side in one run: each network, and torchvision's ResNet-18 adapted to 28×28×1 (3×3 stride-1
first conv on one channel, no max-pool), trains for the same number of SGD steps on the same
batches with the trainer's augmentation; the ratio (HNAG / ResNet-18) is the figure to compare.
On CUDA it also reports the batch size the trainer would choose and the peak memory.

    .venv/bin/python bench/bench_train_throughput.py --networks 5 --steps 12
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch
import torchvision
from torch import nn
from torch.nn import functional

from nago.architecture import InputSpec
from nago.augment import random_crop, random_flip
from nago.complexity import count_params
from nago.data import DatasetSpec, load_dataset
from nago.network import build_network
from nago.protocol import TrainingProtocol
from nago.sampling import sample_architecture
from nago.spaces import get_space
from nago.trainer import choose_batch_size


def build_resnet18_28(num_classes: int = 10) -> nn.Module:
    model = torchvision.models.resnet18(num_classes=num_classes)
    model.conv1 = nn.Conv2d(1, 64, 3, 1, 1, bias=False)
    model.maxpool = nn.Identity()  # type: ignore[assignment]
    return model


def measure_images_per_second(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int, steps: int, device: torch.device
) -> tuple[float, float | None]:
    """Images/s over `steps` SGD steps after two warm-up steps; and peak CUDA memory in GB."""
    model = model.to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=3e-4)
    generator = torch.Generator().manual_seed(0)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def step(i: int) -> None:
        index = torch.arange(i * batch, (i + 1) * batch) % images.shape[0]
        x = random_flip(random_crop(images[index].float().div(255), 2, generator), generator).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = functional.cross_entropy(model(x).float(), labels[index].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for i in range(2):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for i in range(steps):
        step(i + 2)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) / 1e9 if device.type == "cuda" else None
    return steps * batch / elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", type=int, default=5)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=96, help="CPU batch (CUDA: the trainer's automatic batch)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = load_dataset(DatasetSpec(train_limit=4096))
    spec = InputSpec(channels=1, size=28, num_classes=10)
    images, labels = data.train.images, data.train.labels
    threads = torch.get_num_threads()
    print(f"machine: {platform.machine()}, device {device}, {threads} torch threads, torch {torch.__version__}")
    space = get_space("hnag")
    rng = np.random.default_rng(args.seed)
    ratios = []
    header = f"{'network':<10} {'params':>10} {'nodes':>6} {'batch':>6} {'img/s':>8} {'resnet18 img/s':>15}"
    print(f"{header} {'ratio':>6} peak GB")
    for index in range(args.networks):
        arch = sample_architecture(space, space.sample_theta(rng), index, spec)
        net = build_network(arch)
        batch = args.batch_size
        if device.type == "cuda":
            batch, _ = choose_batch_size(net.to(device), spec, TrainingProtocol(), device, len(labels))
        torch.manual_seed(index)
        ours, peak = measure_images_per_second(net, images, labels, batch, args.steps, device)
        reference, _ = measure_images_per_second(build_resnet18_28(), images, labels, batch, args.steps, device)
        ratios.append(ours / reference)
        peak_text = f"{peak:.2f}" if peak is not None else "-"
        print(
            f"hnag-{index:<5} {count_params(arch):>10,} {arch.node_count:>6} {batch:>6} {ours:>8.1f}"
            f" {reference:>15.1f} {ours / reference:>6.2f} {peak_text}"
        )
    print(f"median ratio (HNAG / ResNet-18): {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
