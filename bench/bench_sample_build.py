"""Median CPU time to sample one architecture from G(Θ) and build its torch module.

Side by side in one run, interleaved sample by sample, with a reference: building a ResNet-18
(BasicBlock, 11.2M parameters, written here in plain torch) on the same machine. The ratio
(ours / reference) is the figure to compare across machines; seconds alone are noise.

    .venv/bin/python bench/bench_sample_build.py --samples 300
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from nago.generator.sampling import sample_architecture
from nago.generator.spaces import get_space
from nago.training.network import build_network


def _basic_block(cin: int, cout: int, stride: int) -> nn.Module:
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(),
                nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
                nn.BatchNorm2d(cout),
            )
            self.skip = (
                nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                if stride != 1 or cin != cout
                else nn.Identity()
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.body(x) + self.skip(x))

    return Block()


def build_resnet18(num_classes: int = 10) -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [_basic_block(cin, cout, stride), _basic_block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, num_classes)]
    return nn.Sequential(*layers)


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(space_name: str, samples: int, seed: int) -> dict[str, float]:
    space = get_space(space_name)
    rng = np.random.default_rng(seed)
    sample_s, build_s, reference_s, nodes = [], [], [], []
    for index in range(samples):
        theta = space.sample_theta(rng)
        start = time.perf_counter()
        arch = sample_architecture(space, theta, index)
        sample_s.append(time.perf_counter() - start)
        build_s.append(_timed(lambda arch=arch: build_network(arch)))  # type: ignore[misc]
        reference_s.append(_timed(build_resnet18))
        nodes.append(arch.node_count)
    total = [a + b for a, b in zip(sample_s, build_s, strict=True)]
    return {
        "sample_ms": 1e3 * statistics.median(sample_s),
        "build_ms": 1e3 * statistics.median(build_s),
        "total_ms": 1e3 * statistics.median(total),
        "reference_ms": 1e3 * statistics.median(reference_s),
        "ratio": statistics.median(total) / statistics.median(reference_s),
        "median_nodes": statistics.median(nodes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--spaces", nargs="+", default=["hnag", "rnag"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch thread, torch {torch.__version__}")
    print(f"{'space':<12} {'sample ms':>10} {'build ms':>9} {'total ms':>9} {'resnet18 ms':>12} {'ratio':>6} nodes")
    for name in args.spaces:
        r = run(name, args.samples, args.seed)
        print(
            f"{name:<12} {r['sample_ms']:>10.1f} {r['build_ms']:>9.1f} {r['total_ms']:>9.1f}"
            f" {r['reference_ms']:>12.1f} {r['ratio']:>6.2f} {r['median_nodes']:.0f}"
        )


if __name__ == "__main__":
    main()
