"""Helpers shared by every test tier (importable, unlike conftest.py)."""

from __future__ import annotations

import numpy as np

from nago.architecture import Architecture, InputSpec
from nago.sampling import sample_architecture
from nago.spaces import SpaceName, get_space

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
