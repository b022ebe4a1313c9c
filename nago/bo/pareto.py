"""Pareto fronts and hypervolume, for maximised objectives (appendix C.2: MOBO returns the Pareto set)."""

from __future__ import annotations

import numpy as np

from nago.errors import InvalidInputError


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """True for rows that no other row dominates (≥ in every objective, > in one); maximisation.

    Args:
        values: `n x m` objective values, one row per point.

    Returns:
        An `n`-dim boolean array, True for the non-dominated rows.
    """
    y = np.asarray(values, dtype=float)
    if y.ndim != 2:
        raise InvalidInputError("values", f"must be an n×m array, got shape {y.shape}")
    ge = (y[:, None, :] >= y[None, :, :]).all(-1)
    gt = (y[:, None, :] > y[None, :, :]).any(-1)
    dominated = (ge & gt).any(axis=0)
    return np.asarray(~dominated)


def hypervolume(values: np.ndarray, reference: np.ndarray) -> float:
    """Volume dominated by `values` and bounded below by `reference` (maximisation).

    Exact: a sweep for two objectives; for more, recursion on the last objective (slicing).

    Args:
        values: `n x m` objective values; rows not above `reference` in every objective add nothing.
        reference: The `m`-dim reference point.

    Returns:
        The dominated hypervolume (a scalar; 0 when no row dominates `reference`).
    """
    y = np.asarray(values, dtype=float)
    ref = np.asarray(reference, dtype=float)
    if y.size == 0:
        return 0.0
    y = y[(y > ref).all(axis=1)]
    if len(y) == 0:
        return 0.0
    y = y[pareto_mask(y)]
    if y.shape[1] == 1:
        return float(y[:, 0].max() - ref[0])
    if y.shape[1] == 2:
        order = np.argsort(-y[:, 0])
        volume, best_second = 0.0, ref[1]
        for x0, x1 in y[order]:
            if x1 > best_second:
                volume += (x0 - ref[0]) * (x1 - best_second)
                best_second = x1
        return float(volume)
    levels = np.sort(np.unique(y[:, -1]))[::-1]
    volume = 0.0
    for i, level in enumerate(levels):
        lower = levels[i + 1] if i + 1 < len(levels) else ref[-1]
        slice_points = y[y[:, -1] >= level][:, :-1]
        volume += hypervolume(slice_points, ref[:-1]) * (level - lower)
    return float(volume)
