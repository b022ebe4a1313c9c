"""On CUDA: networks train, and the measured memory per image tracks the analytic estimate."""

from __future__ import annotations

import pytest
import torch

from helpers import sample_random
from nago.generator.architecture import InputSpec
from nago.generator.complexity import measure_complexity
from nago.training.memory import measure_memory_per_image
from nago.training.network import build_network

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("space_name", ["hnag", "rnag"])
def test_measured_memory_per_image_is_near_the_estimate(space_name: str) -> None:
    spec = InputSpec(channels=3, size=32)
    for theta_seed in range(3):
        arch = sample_random(space_name, theta_seed, seed=theta_seed, spec=spec, budget=4e6, head=1280)
        estimate = measure_complexity(arch).activation_bytes_per_image
        measured = measure_memory_per_image(build_network(arch), spec)
        print(f"{space_name} seed {theta_seed}: measured {measured / 1e6:.2f} MB, estimate {estimate / 1e6:.2f} MB")
        assert 0.2 * estimate < measured < 5 * estimate


def test_forward_backward_under_bf16_autocast() -> None:
    arch = sample_random("hnag-augv1", 3, seed=3, budget=4e6, head=1280)
    net = build_network(arch).cuda().to(memory_format=torch.channels_last)
    x = torch.randn(16, 3, 32, 32, device="cuda").to(memory_format=torch.channels_last)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = net(x).float().logsumexp(dim=1).mean()
    loss.backward()
    assert torch.isfinite(loss)
