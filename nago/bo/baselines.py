"""Random and Sobol proposers: the baselines of appendix G, in the common interface."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.stats import qmc

from nago.bo.proposer import MAX_DRAWS_PER_POINT, BaseProposer
from nago.generator.spaces import SearchSpace


class RandomProposer(BaseProposer):
    """Θ uniform over the box (integers uniform over their grid after snapping)."""

    kind = "random"

    def _propose(self, n: int, busy: list[np.ndarray], taken: set[tuple[float, ...]]) -> list[np.ndarray]:
        rng = self._rng()
        chosen: list[np.ndarray] = []
        while len(chosen) < n:
            if self._take_unique(rng.random((MAX_DRAWS_PER_POINT, self.encoding.dims)), taken, chosen) is None:
                break  # the grid is exhausted
        return chosen


class SobolProposer(BaseProposer):
    """A scrambled Sobol sequence over the box, continued across calls and restarts."""

    kind = "sobol"

    def __init__(self, space: SearchSpace, seed: int) -> None:
        super().__init__(space, seed)
        self.drawn = 0

    def _propose(self, n: int, busy: list[np.ndarray], taken: set[tuple[float, ...]]) -> list[np.ndarray]:
        sobol = qmc.Sobol(self.encoding.dims, scramble=True, seed=self.seed)
        if self.drawn:
            sobol.fast_forward(self.drawn)
        chosen: list[np.ndarray] = []
        for _ in range(n * MAX_DRAWS_PER_POINT):
            if len(chosen) == n:
                break
            self.drawn += 1
            self._take_unique(sobol.random(1), taken, chosen)
        return chosen

    def state(self) -> dict[str, Any]:
        return {**super().state(), "drawn": self.drawn}

    def restore(self, state: Mapping[str, Any]) -> None:
        super().restore(state)
        self.drawn = int(state["drawn"])
