"""Helpers shared by every test tier (importable, unlike conftest.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nago.generator.architecture import Architecture, InputSpec
from nago.generator.sampling import sample_architecture
from nago.generator.spaces import SpaceName, get_space

ALL_SPACES = [s.value for s in SpaceName]
SMALL_BUDGET = 3e4  # keeps sweeps fast: a few channels per tensor
SMALL_HEAD = 32

HNAG_MID = {
    "top_nodes": 6,
    "top_k": 4,
    "top_p": 0.5,
    "mid_nodes": 3,
    "mid_p": 0.5,
    "bottom_nodes": 5,
    "bottom_k": 2,
    "bottom_p": 0.5,
}


def sample_random(
    space_name: str,
    theta_seed: int,
    seed: int = 0,
    spec: InputSpec | None = None,
    budget: float = SMALL_BUDGET,
    head: int = SMALL_HEAD,
) -> Architecture:
    """An architecture from a Θ drawn uniformly from `space_name` with `theta_seed`."""
    space = get_space(space_name)
    theta = space.sample_theta(np.random.default_rng(theta_seed))
    return sample_architecture(space, theta, seed, spec, budget, head)


SMALL_RANGES = {"top_nodes": [3, 4], "mid_nodes": [1, 2], "bottom_nodes": [3, 4]}


def build_small_search(name: str, strategy: dict[str, Any], max_trials: int, **spec: Any) -> dict[str, Any]:
    """A GeneratorSearch whose trials train a ~20k-parameter network for one epoch on 300 Fashion-MNIST images
    (seconds each) and skip the final evaluation; `spec` sections update the defaults (dicts are merged)."""
    document: dict[str, Any] = {
        "apiVersion": "nago.dev/v1alpha1",
        "kind": "GeneratorSearch",
        "metadata": {"name": name},
        "spec": {
            "space": {"name": "hnag", "ranges": SMALL_RANGES},
            "dataset": {"kind": "fashion-mnist", "trainLimit": 300, "validationLimit": 200},
            "strategy": strategy,
            "budget": {"maxTrials": max_trials, "parallelism": 2, "maxFailedTrials": 0, "epochs": 1},
            "training": {"paramBudget": 20000, "headChannels": 32, "device": "cpu", "protocol": {"batchSize": 32}},
            "final": {"architectures": 0, "epochs": 1, "protocol": {"mode": "final", "batchSize": 32}},
        },
    }
    for key, value in spec.items():
        section = document["spec"].get(key)
        if isinstance(value, dict) and isinstance(section, dict):
            section.update(value)
        else:
            document["spec"][key] = value
    return document
