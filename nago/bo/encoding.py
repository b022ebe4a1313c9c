"""Θ in the unit box: every dimension scaled to [0, 1], integer dimensions on their grid.

Distances, surrogates and penalties all work in these coordinates. Decoding rounds integer
dimensions to their nearest allowed value, so a proposal is always a valid Θ, and two proposals
are the same configuration exactly when their decoded Θ are equal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from nago.generator.spaces import ParamKind, SearchSpace, Theta


class SpaceEncoding:
    """Encode Θ to x ∈ [0,1]^d and back, for one space with its ranges."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.low = np.array([p.low for p in space.params], dtype=float)
        self.high = np.array([p.high for p in space.params], dtype=float)
        self.integer = np.array([p.kind is ParamKind.INT for p in space.params])

    @property
    def dims(self) -> int:
        return self.space.dims

    def encode(self, theta: Mapping[str, object]) -> np.ndarray:
        """Θ as a point of the unit box: each parameter scaled by its range (not snapped).

        Args:
            theta: A configuration Θ of the space, one value per parameter; validated first.

        Returns:
            A `d`-dim point in [0, 1]^d.
        """
        checked = self.space.validate_theta(theta)
        values = np.array([float(checked[name]) for name in self.space.names])
        span = np.where(self.high > self.low, self.high - self.low, 1.0)
        return np.asarray((values - self.low) / span, dtype=float)

    def snap(self, x: np.ndarray) -> np.ndarray:
        """Clip to the box and move integer dimensions onto their grid (still in unit coordinates).

        Args:
            x: A `d`-dim point (or `batch_shape x d` points) in unit coordinates; outside [0, 1] is clipped.

        Returns:
            The snapped point(s), the same shape as `x`.
        """
        x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
        span = self.high - self.low
        grid = np.where(span > 0, np.round(x * span) / np.where(span > 0, span, 1.0), 0.0)
        return np.asarray(np.where(self.integer, grid, x), dtype=float)

    def decode(self, x: Sequence[float] | np.ndarray) -> Theta:
        """The valid Θ nearest to x.

        Args:
            x: A `d`-dim point in unit coordinates (a sequence or an array); snapped first.

        Returns:
            The configuration Θ: integer parameters as ints, the others as floats within their ranges.
        """
        snapped = self.snap(np.asarray(x, dtype=float))
        values = self.low + snapped * (self.high - self.low)
        theta: Theta = {}
        for p, value, is_int in zip(self.space.params, values, self.integer, strict=True):
            theta[p.name] = round(float(value)) if is_int else float(min(max(value, p.low), p.high))
        return theta

    def key(self, theta: Mapping[str, object]) -> tuple[float, ...]:
        """A hashable identity of a configuration: its snapped coordinates, floats to 1e-9.

        Args:
            theta: A configuration Θ of the space.

        Returns:
            A `d`-tuple of the snapped coordinates rounded to 9 decimals (as `point_key`).
        """
        return tuple(round(float(v), 9) for v in self.snap(self.encode(theta)))
