"""The builder agrees with the record and with the complexity counts, exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from helpers import ALL_SPACES, sample_random
from nago.errors import InvalidInputError
from nago.generator.architecture import Architecture, InputSpec, load_architecture
from nago.generator.complexity import BYTES_PER_VALUE, count_params, measure_complexity
from nago.generator.sampling import sample_architecture
from nago.generator.spaces import get_space
from nago.training.network import Dropout, build_network

SPECS = [InputSpec(channels=1, size=28), InputSpec(channels=3, size=32), InputSpec(channels=3, size=224)]
LAYER_TYPES = (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.AvgPool2d, nn.AdaptiveAvgPool2d, Dropout, nn.Linear)


def _hooked_counts(net: nn.Module, spec: InputSpec) -> tuple[int, int]:
    """Activation values and MACs for one image, measured with forward hooks on every layer."""
    totals = {"activations": 0, "macs": 0}

    def hook(module: nn.Module, _inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        totals["activations"] += output[0].numel()
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            totals["macs"] += output[0].numel() * (module.in_channels // module.groups) * k
        elif isinstance(module, nn.Linear):
            totals["macs"] += module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, LAYER_TYPES)]
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, spec.channels, spec.size, spec.size))
    for h in handles:
        h.remove()
    return totals["activations"], totals["macs"]


@pytest.mark.parametrize("space_name", ALL_SPACES)
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.label())
def test_counts_equal_the_built_network(space_name: str, spec: InputSpec) -> None:
    for theta_seed in range(4 if spec.size < 100 else 2):
        arch = sample_random(space_name, theta_seed, seed=theta_seed, spec=spec)
        net = build_network(arch)
        size = measure_complexity(arch)
        assert size.params == sum(p.numel() for p in net.parameters())
        activations, macs = _hooked_counts(net, spec)
        assert size.activation_bytes_per_image == activations * BYTES_PER_VALUE
        assert size.macs == macs
        assert size.nodes == arch.node_count


@pytest.mark.parametrize("space_name", ALL_SPACES)
def test_default_budget_is_met_within_ten_percent(space_name: str) -> None:
    """Appendix/issue acceptance: 50 samples per space at 4e6 parameters, real counts within ±10%."""
    for theta_seed in range(50):
        arch = sample_random(space_name, theta_seed, seed=theta_seed, budget=4e6, head=1280)
        real = sum(p.numel() for p in build_network(arch).parameters())
        assert abs(real - 4e6) <= 0.1 * 4e6, (theta_seed, real)


def test_randwire_corner_of_hnag_builds_with_a_widened_range() -> None:
    """N_t = 3, N_m = 1, bottom WS(32, 4, 0.75): RandWire's shape inside HNAG (docs/design.md §5.10)."""
    theta = {
        "top_nodes": 3,
        "top_k": 2,
        "top_p": 0.5,
        "mid_nodes": 1,
        "mid_p": 0.5,
        "bottom_nodes": 32,
        "bottom_k": 4,
        "bottom_p": 0.75,
    }
    with pytest.raises(InvalidInputError, match="bottom_nodes"):
        sample_architecture(get_space("hnag"), theta, 0)
    arch = sample_architecture(get_space("hnag", {"bottom_nodes": (3, 32)}), theta, 0)
    assert [len(c.nodes) for c in arch.cells] == [1, 1, 1]
    assert arch.node_count == 96
    net = build_network(arch)
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert abs(count_params(arch) - 4e6) <= 0.1 * 4e6


def test_json_round_trip_rebuilds_the_identical_network() -> None:
    arch = sample_random("hnag-augv1", 5, seed=9)
    again = load_architecture(arch.to_json())
    assert again == arch and again.fingerprint() == arch.fingerprint()
    torch.manual_seed(0)
    first = build_network(arch).eval()
    torch.manual_seed(0)
    second = build_network(again).eval()
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(first(x), second(x))


def test_fingerprint_follows_structure_not_labels() -> None:
    arch = sample_random("hnag", 2, seed=4)
    relabelled = arch.model_copy(update={"seed": 99, "theta": {}, "param_budget": 1.0})
    assert relabelled.fingerprint() == arch.fingerprint()
    wider = arch.model_copy(update={"width": arch.width * 2})
    assert wider.fingerprint() != arch.fingerprint()
    other_seed = sample_random("hnag", 2, seed=5)
    assert other_seed.fingerprint() != arch.fingerprint()


def _corrupt(arch: Architecture, edit: str) -> str:
    doc = json.loads(arch.to_json())
    cell = doc["cells"][0]
    if edit == "drop_op":
        cell["nodes"][0]["ops"].pop()
    elif edit == "disconnect":
        cell["nodes"][0]["graph"]["edges"] = []
    elif edit == "bad_op":
        cell["nodes"][0]["ops"][0]["op"] = "conv7x7"
    elif edit == "missing_width":
        del doc["width"]
    elif edit == "extra_field":
        doc["colour"] = "blue"
    elif edit == "cycle":
        cell["nodes"][0]["graph"]["edges"][0] = [1, 0]
    elif edit == "resolution":
        cell["resolution"] = 999
    elif edit == "stage_back":  # a later cell moved back to stage 0 (its resolution made to agree)
        v = next(v for u, v in doc["top"]["edges"] if doc["cells"][u]["stage"] > 0)
        doc["cells"][v].update(stage=0, resolution=doc["cells"][0]["resolution"])
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("drop_op", "ops for a bottom graph"),
        ("disconnect", "not connected"),
        ("bad_op", "cells.0.nodes.0.ops.0.op"),
        ("missing_width", "width"),
        ("extra_field", "colour"),
        ("cycle", "0 <= u < v"),
        ("resolution", r"cells\[0\].resolution: 999 contradicts stage 0 on a 32x32x3 input \(stem 32\): expected 32"),
        ("stage_back", r"cells\[\d+\].stage: 0 is below the stage \d of its input cell"),
    ],
)
def test_corrupt_architecture_json_is_a_clear_error(edit: str, message: str) -> None:
    arch = sample_random("hnag", 1, seed=1)
    with pytest.raises(InvalidInputError, match=message):
        load_architecture(_corrupt(arch, edit))


def test_not_json_is_a_clear_error() -> None:
    with pytest.raises(InvalidInputError, match="architecture"):
        load_architecture("{not json")


def test_too_small_budget_names_the_budget() -> None:
    space = get_space("hnag")
    theta = space.sample_theta(np.random.default_rng(0))
    with pytest.raises(InvalidInputError, match="param_budget"):
        sample_architecture(space, theta, 0, param_budget=100)


def test_rnag_downsamples_with_strided_entry_nodes() -> None:
    arch = sample_random("rnag", 3, seed=3)
    strides = [[op.stride for op in cell.nodes[0].ops] for cell in arch.cells]
    for cell, cell_strides in zip(arch.cells, strides, strict=True):
        sources = set(cell.nodes[0].graph.sources)
        expected = 1 if cell.stage == 0 else 2
        assert all(s == (expected if k in sources else 1) for k, s in enumerate(cell_strides))
    assert [c.resolution for c in arch.cells] == [32, 16, 8]
