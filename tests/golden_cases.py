"""The (space, Θ, seed, input, budget) cases pinned by tests/golden/architectures.json."""

from __future__ import annotations

from typing import Any

from helpers import HNAG_MID
from nago.generator.architecture import InputSpec
from nago.generator.complexity import count_params
from nago.generator.sampling import sample_architecture
from nago.generator.spaces import get_space

GOLDEN_CASES: list[dict[str, Any]] = [
    {
        "space": "hnag",
        "seed": 0,
        "input": [3, 32, 10],
        "param_budget": 4e6,
        "theta": dict(HNAG_MID),
    },
    {
        "space": "hnag",
        "seed": 12345,
        "input": [1, 28, 10],
        "param_budget": 1e6,
        "theta": {
            "top_nodes": 10,
            "top_k": 5,
            "top_p": 0.9,
            "mid_nodes": 1,
            "mid_p": 0.1,
            "bottom_nodes": 10,
            "bottom_k": 3,
            "bottom_p": 0.1,
        },
    },
    {
        "space": "hnag",
        "seed": 7,
        "input": [3, 224, 100],
        "param_budget": 4e6,
        "theta": {
            "top_nodes": 4,
            "top_k": 2,
            "top_p": 0.25,
            "mid_nodes": 7,
            "mid_p": 0.3,
            "bottom_nodes": 4,
            "bottom_k": 3,
            "bottom_p": 0.75,
        },
    },
    {
        "space": "rnag",
        "seed": 3,
        "input": [3, 32, 10],
        "param_budget": 4e6,
        "theta": {
            "stage1_nodes": 32,
            "stage1_k": 4,
            "stage1_p": 0.75,
            "stage2_nodes": 32,
            "stage2_k": 4,
            "stage2_p": 0.75,
            "stage3_nodes": 32,
            "stage3_k": 4,
            "stage3_p": 0.75,
        },
    },
    {
        "space": "hnag-augv1",
        "seed": 5,
        "input": [3, 32, 10],
        "param_budget": 2e6,
        "theta": {
            "top_nodes": 5,
            "top_k": 2,
            "top_p": 0.4,
            "mid_nodes": 2,
            "mid_p": 0.6,
            "bottom_nodes": 6,
            "bottom_k": 4,
            "bottom_p": 0.3,
            "merge_sum": 0.7,
            "merge_concat": 0.3,
            "op_conv1x1": 0.2,
            "op_conv3x3": 0.5,
            "op_conv5x5": 0.1,
            "op_avgpool3x3": 0.1,
            "op_avgpool5x5": 0.1,
        },
    },
    {
        "space": "hnag-augv2",
        "seed": 11,
        "input": [3, 32, 10],
        "param_budget": 4e6,
        "theta": {
            "top_nodes": 7,
            "top_k": 4,
            "top_p": 0.2,
            "mid_nodes": 2,
            "mid_p": 0.8,
            "bottom_nodes": 3,
            "bottom_k": 2,
            "bottom_p": 0.5,
            "stage1_ratio": 0.5,
            "stage2_ratio": 0.3,
            "stage3_ratio": 0.2,
            "channel1_ratio": 1.0,
            "channel2_ratio": 3.0,
            "channel3_ratio": 6.0,
        },
    },
]


def measure_case(case: dict[str, Any]) -> dict[str, Any]:
    """Sample the case's architecture and return what the golden file pins."""
    channels, size, classes = case["input"]
    arch = sample_architecture(
        get_space(case["space"]),
        case["theta"],
        case["seed"],
        InputSpec(channels=channels, size=size, num_classes=classes),
        case["param_budget"],
    )
    return {"fingerprint": arch.fingerprint(), "params": count_params(arch), "nodes": arch.node_count}
