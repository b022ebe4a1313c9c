"""The broader regret suite's functions (bench/regret_functions.py): each optimum is what its space reaches —
attained at a known point of the space, and no local search from many starts over the space finds less."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from regret_functions import SUITE, SuiteFunction

# A Θ (grid level for integer dimensions, unit coordinate for continuous ones) at each function's optimum.
KNOWN_BEST = {
    "rosenbrock6-int3": [3, 3, 3, 0.75, 0.75, 0.75],
    "styblinski-tang8-int4-noisy": [2, 2, 2, 2] + [(5 - 2.903534) / 10] * 4,
    "shekel4-int2": [4, 4, 0.4, 0.4],
    "rastrigin6-int3": [5, 5, 5, 0.5, 0.5, 0.5],
    "zakharov12-int6": [5] * 6 + [1 / 3] * 6,
    "goldstein-price2-int1": [4, 0.25],
    "powell8-int4": [4, 4 / 9] * 4,
    "michalewicz5": [2.202906 / np.pi, 1.570796 / np.pi, 1.284992 / np.pi, 1.923058 / np.pi, 1.720470 / np.pi],
    "six-hump-camel2": [(0.0898 + 3) / 6, (-0.7126 + 2) / 4],
    "hartmann3-noisy": [0.114614, 0.555649, 0.852547],
    "cosine8-noisy": [0.5] * 8,
    "dixon-price10": [(2 ** (-(2**i - 2) / 2**i) + 10) / 20 for i in range(1, 11)],
}


def _theta(function: SuiteFunction, values: list[float]) -> dict[str, float]:
    return {f"x{i}": (int(v) if k else float(v)) for i, (v, k) in enumerate(zip(values, function.levels, strict=True))}


def test_the_suite_is_what_docs_bo_lists() -> None:
    assert len(SUITE) == 12 and set(KNOWN_BEST) == set(SUITE)
    assert {f.dims for f in SUITE.values()} >= {2, 12} and all(2 <= f.dims <= 12 for f in SUITE.values())
    assert sum(any(f.levels) for f in SUITE.values()) >= 6
    assert sum(f.noise_sd > 0 for f in SUITE.values()) >= 2


@pytest.mark.parametrize("name", sorted(SUITE))
def test_the_optimum_is_attained_and_nothing_in_the_space_is_lower(name: str) -> None:
    function = SUITE[name]
    attained = -function.evaluate(_theta(function, KNOWN_BEST[name]))
    assert attained == pytest.approx(function.optimum, abs=2e-4 * max(1.0, abs(function.optimum)))
    rng = np.random.default_rng(0)
    continuous = [i for i, k in enumerate(function.levels) if not k]
    for _ in range(40):  # random grid levels, continuous coordinates polished by L-BFGS-B
        start = [rng.integers(k) if k else rng.random() for k in function.levels]

        def value(u: np.ndarray, fixed: list[float] = start) -> float:
            point = list(fixed)
            for i, x in zip(continuous, u, strict=True):
                point[i] = float(x)
            return -function.evaluate(_theta(function, point))

        found = (
            minimize(value, [start[i] for i in continuous], bounds=[(0, 1)] * len(continuous)).fun
            if continuous
            else value(np.array([]))
        )
        assert found >= function.optimum - 1e-4 * max(1.0, abs(function.optimum))
