"""The hand-wired ResNet-style reference network (nago.generator.reference) and the identity operation it uses."""

from __future__ import annotations

import pytest
import torch
from test_network import _hooked_counts
from torch import nn

from nago.errors import InvalidInputError
from nago.generator.architecture import InputSpec, OpKind, channels_for, load_architecture
from nago.generator.complexity import BYTES_PER_VALUE, measure_complexity
from nago.generator.reference import build_resnet_architecture
from nago.training.network import build_network

FASHION = InputSpec(channels=1, size=28, num_classes=10)


@pytest.mark.parametrize(
    ("spec", "budget", "blocks"),
    [(FASHION, 2e5, 3), (FASHION, 2e4, 1), (InputSpec(channels=3, size=32), 1e6, 2), (InputSpec(size=224), 4e6, 1)],
)
def test_counts_equal_the_built_network_and_meet_the_budget(spec: InputSpec, budget: float, blocks: int) -> None:
    arch = build_resnet_architecture(spec, budget, 64, blocks)
    net = build_network(arch)
    size = measure_complexity(arch)
    assert size.params == sum(p.numel() for p in net.parameters())
    assert abs(size.params - budget) <= 0.1 * budget
    activations, macs = _hooked_counts(net, spec)
    assert size.macs == macs
    assert size.activation_bytes_per_image == activations * BYTES_PER_VALUE
    assert len(arch.cells) == 3 * blocks and arch.theta == {}


def test_block_output_is_the_mean_of_shortcut_and_two_convolutions() -> None:
    """Inside a stage the shortcut is the identity: the block returns (x + f(x)) / 2 exactly."""
    arch = build_resnet_architecture(FASHION, 2e4, 16, blocks_per_stage=2)
    net = build_network(arch).eval()
    second_block = net.cells[1]  # stage 0, same width and resolution as its input
    mid = second_block.node.body.nodes[0].body  # the bottom graph of the only mid node
    x = torch.randn(2, channels_for(arch.cells[1].channel_ratio, arch.width), 28, 28)
    with torch.no_grad():
        branch = mid.nodes[2].body(mid.nodes[1].body(x))
        assert torch.allclose(mid(x), (x + branch) / 2, atol=1e-6)


def test_stage_entry_projects_with_a_1x1_convolution() -> None:
    arch = build_resnet_architecture(FASHION, 2e4, 16, blocks_per_stage=1)
    net = build_network(arch)
    entry = net.cells[1].node.body.nodes[0].body.nodes[0].body  # node 0 of stage 1's block
    assert isinstance(entry, nn.Sequential) and isinstance(entry[0], nn.Conv2d) and entry[0].kernel_size == (1, 1)
    same_width = net.cells[0].node.body.nodes[0].body.nodes[3].body
    assert isinstance(same_width, nn.Identity)
    assert {op.op for op in arch.cells[0].nodes[0].ops} == {OpKind.IDENTITY, OpKind.CONV3X3}


def test_record_round_trips_and_trains_a_step() -> None:
    arch = build_resnet_architecture(FASHION, 2e4, 16, blocks_per_stage=1)
    again = load_architecture(arch.to_json())
    assert again == arch
    net = build_network(again)
    loss = nn.functional.cross_entropy(net(torch.randn(4, 1, 28, 28)), torch.tensor([0, 1, 2, 3]))
    loss.backward()  # type: ignore[no-untyped-call]
    assert all(p.grad is not None for p in net.parameters())


@pytest.mark.parametrize(("blocks", "budget", "field"), [(0, 2e5, "blocks_per_stage"), (3, 0.0, "param_budget")])
def test_bad_settings_name_the_field(blocks: int, budget: float, field: str) -> None:
    with pytest.raises(InvalidInputError, match=field):
        build_resnet_architecture(FASHION, budget, 64, blocks)
