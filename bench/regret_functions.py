"""Test functions of the broader regret suite (issue 23; docs/bo.md, "The broader regret suite").

Chosen 2026-12-02 before any run on them, from the standard BO literature, none of them one of benchmark 2's
four: twelve functions in 2–12 dimensions, seven with integer dimensions mapped the way HNAG's are (an
integer parameter 0…k−1 that the encoding scales to the unit interval and snaps to its grid, read by the
function as k evenly spaced levels of its domain), three with Gaussian observation noise. Every function is
minimised in its own domain and maximised by the proposers as −f. `optimum` is the best value the space can
reach: the continuous optimum where the integer grid contains it, and the optimum over grid × continuous
coordinates otherwise (worked out below, per function). Regret is measured on noise-free values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nago.generator.spaces import ParamKind, ParamRange, SearchSpace, SpaceName


@dataclass(frozen=True)
class SuiteFunction:
    """One test function on a mixed space.

    `bounds[i]` is dimension i's domain; `levels[i]` is 0 for a continuous dimension, else its number of
    grid levels. `minimise(z)` takes a `d`-dim point of the domain; `optimum` is the reachable minimum;
    `noise_sd` the standard deviation of the Gaussian noise added to each observation.
    """

    name: str
    bounds: tuple[tuple[float, float], ...]
    levels: tuple[int, ...]
    minimise: Callable[[np.ndarray], float]
    optimum: float
    noise_sd: float = 0.0

    @property
    def dims(self) -> int:
        return len(self.bounds)

    @property
    def space(self) -> SearchSpace:
        params = tuple(
            ParamRange(f"x{i}", ParamKind.INT, 0, k - 1, 0, k - 1, f"grid level {i}")
            if k
            else ParamRange(f"x{i}", ParamKind.FLOAT, 0.0, 1.0, 0.0, 1.0, f"coordinate {i}")
            for i, k in enumerate(self.levels)
        )
        return SearchSpace(SpaceName.HNAG, params)

    def to_domain(self, theta: dict[str, float]) -> np.ndarray:
        """The domain point of a Θ: a grid level i of k maps to low + (high − low)·i/(k − 1)."""
        unit = np.array([theta[f"x{i}"] / (k - 1) if k else theta[f"x{i}"] for i, k in enumerate(self.levels)])
        low, high = np.array(self.bounds).T
        return np.asarray(low + (high - low) * unit, dtype=float)

    def evaluate(self, theta: dict[str, float]) -> float:
        """The noise-free objective the proposers maximise: −f."""
        return -float(self.minimise(self.to_domain(theta)))


def _grid(low: float, high: float, levels: int) -> np.ndarray:
    return np.linspace(low, high, levels)


def rosenbrock(z: np.ndarray) -> float:
    return float(np.sum(100 * (z[1:] - z[:-1] ** 2) ** 2 + (1 - z[:-1]) ** 2))


def styblinski_tang(z: np.ndarray) -> float:
    return float(np.sum(z**4 - 16 * z**2 + 5 * z) / 2)


def michalewicz(z: np.ndarray) -> float:
    i = np.arange(1, len(z) + 1)
    return -float(np.sum(np.sin(z) * np.sin(i * z**2 / math.pi) ** 20))


def six_hump_camel(z: np.ndarray) -> float:
    x, y = z
    return float((4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (-4 + 4 * y**2) * y**2)


SHEKEL_C = np.array([0.1, 0.2, 0.2, 0.4, 0.4, 0.6, 0.3, 0.7, 0.5, 0.5])
SHEKEL_A = np.array(
    [[4, 4, 4, 4], [1, 1, 1, 1], [8, 8, 8, 8], [6, 6, 6, 6], [3, 7, 3, 7],
     [2, 9, 2, 9], [5, 5, 3, 3], [8, 1, 8, 1], [6, 2, 6, 2], [7, 3.6, 7, 3.6]],
    dtype=float,
)  # fmt: skip


def shekel(z: np.ndarray) -> float:
    return -float(np.sum(1 / (np.sum((z - SHEKEL_A) ** 2, axis=1) + SHEKEL_C)))


HARTMANN3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
HARTMANN3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]])
HARTMANN3_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann3(z: np.ndarray) -> float:
    return -float(np.sum(HARTMANN3_ALPHA * np.exp(-np.sum(HARTMANN3_A * (z - HARTMANN3_P) ** 2, axis=1))))


def rastrigin(z: np.ndarray) -> float:
    return float(10 * len(z) + np.sum(z**2 - 10 * np.cos(2 * math.pi * z)))


def zakharov(z: np.ndarray) -> float:
    s = float(np.sum(0.5 * np.arange(1, len(z) + 1) * z))
    return float(np.sum(z**2)) + s**2 + s**4


def goldstein_price(z: np.ndarray) -> float:
    x, y = z
    a = 1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x**2 - 14 * y + 6 * x * y + 3 * y**2)
    b = 30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x**2 + 48 * y - 36 * x * y + 27 * y**2)
    return float(a * b)


def powell(z: np.ndarray) -> float:
    a, b, c, d = z[0::4], z[1::4], z[2::4], z[3::4]
    return float(np.sum((a + 10 * b) ** 2 + 5 * (c - d) ** 2 + (b - 2 * c) ** 4 + 10 * (a - d) ** 4))


def cosine_mixture(z: np.ndarray) -> float:
    """BoTorch's Cosine8 negated: minimised, optimum −0.8 at the origin."""
    return -float(0.1 * np.sum(np.cos(5 * math.pi * z)) - np.sum(z**2))


def dixon_price(z: np.ndarray) -> float:
    i = np.arange(2, len(z) + 1)
    return float((z[0] - 1) ** 2 + np.sum(i * (2 * z[1:] ** 2 - z[:-1]) ** 2))


def _styblinski_tang_optimum(levels: tuple[int, ...], low: float, high: float) -> float:
    """Separable: each grid dimension takes its best level, each continuous one −2.903534."""
    per_dim = [
        min(styblinski_tang(np.array([v])) for v in _grid(low, high, k))
        if k
        else styblinski_tang(np.array([-2.903534]))
        for k in levels
    ]
    return float(sum(per_dim))


ST_LEVELS = (11, 11, 11, 11, 0, 0, 0, 0)

SUITE: dict[str, SuiteFunction] = {
    f.name: f
    for f in (
        # Integer dimensions mapped as HNAG's (7 functions); each grid contains the optimum's coordinates
        # except Styblinski-Tang's, whose optimum over the grid is computed.
        SuiteFunction("rosenbrock6-int3", ((-2.0, 2.0),) * 6, (5, 5, 5, 0, 0, 0), rosenbrock, 0.0),
        SuiteFunction(
            "styblinski-tang8-int4-noisy",
            ((-5.0, 5.0),) * 8,
            ST_LEVELS,
            styblinski_tang,
            _styblinski_tang_optimum(ST_LEVELS, -5.0, 5.0),
            noise_sd=2.0,
        ),
        SuiteFunction("shekel4-int2", ((0.0, 10.0),) * 4, (11, 11, 0, 0), shekel, -10.536284),
        SuiteFunction("rastrigin6-int3", ((-5.12, 5.12),) * 6, (11, 11, 11, 0, 0, 0), rastrigin, 0.0),
        SuiteFunction("zakharov12-int6", ((-5.0, 10.0),) * 12, (16,) * 6 + (0,) * 6, zakharov, 0.0),
        SuiteFunction("goldstein-price2-int1", ((-2.0, 2.0),) * 2, (9, 0), goldstein_price, 3.0),
        SuiteFunction("powell8-int4", ((-4.0, 5.0),) * 8, (10, 0, 10, 0, 10, 0, 10, 0), powell, 0.0),
        # Continuous (5 functions), two of them noisy.
        SuiteFunction("michalewicz5", ((0.0, math.pi),) * 5, (0,) * 5, michalewicz, -4.687658),
        SuiteFunction("six-hump-camel2", ((-3.0, 3.0), (-2.0, 2.0)), (0, 0), six_hump_camel, -1.0316285),
        SuiteFunction("hartmann3-noisy", ((0.0, 1.0),) * 3, (0,) * 3, hartmann3, -3.86278, noise_sd=0.1),
        SuiteFunction("cosine8-noisy", ((-1.0, 1.0),) * 8, (0,) * 8, cosine_mixture, -0.8, noise_sd=0.05),
        SuiteFunction("dixon-price10", ((-10.0, 10.0),) * 10, (0,) * 10, dixon_price, 0.0),
    )
}
