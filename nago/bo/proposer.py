"""The interface every search strategy implements (DESIGN §3.6).

`ask(n, pending)` proposes n configurations given the configurations still running;
`tell(theta, value, budget)` records a result; `state()` and `restore(state)` round-trip the
proposer through JSON so a restarted operator continues the same search and proposes the same next
batch. Values are maximised. Proposals are valid Θ and never repeat an observed, pending or
already proposed configuration.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nago.bo.encoding import SpaceEncoding
from nago.errors import InvalidInputError
from nago.spaces import SearchSpace, Theta

MAX_DRAWS_PER_POINT = 1000


def point_key(snapped: np.ndarray) -> tuple[float, ...]:
    """Identity of a snapped point: its coordinates to 1e-9."""
    return tuple(round(float(v), 9) for v in snapped)


def take_unique(
    encoding: SpaceEncoding, candidates: np.ndarray, taken: set[tuple[float, ...]], limit: int
) -> list[np.ndarray]:
    """Up to `limit` candidates, in order, whose snapped points are not taken; marks them taken."""
    chosen: list[np.ndarray] = []
    for x in candidates:
        if len(chosen) == limit:
            break
        snapped = encoding.snap(x)
        key = point_key(snapped)
        if key not in taken:
            taken.add(key)
            chosen.append(snapped)
    return chosen


def space_filling(
    encoding: SpaceEncoding, rng: np.random.Generator, n: int, taken: set[tuple[float, ...]]
) -> list[np.ndarray]:
    """Up to n new points of a scrambled Sobol sequence seeded from `rng` (initial designs, fallbacks)."""
    from scipy.stats import qmc

    sobol = qmc.Sobol(encoding.dims, scramble=True, seed=int(rng.integers(2**31)))
    chosen: list[np.ndarray] = []
    while len(chosen) < n:
        fresh = take_unique(encoding, sobol.random(1024), taken, n - len(chosen))
        if not fresh:
            break  # the grid is exhausted
        chosen += fresh
    return chosen


def check_at_least(name: str, value: float, least: float) -> None:
    """A proposer setting must be a finite number (an integer where `least` is one) of at least `least`."""
    wants_int = isinstance(least, int)
    kind = "an integer" if wants_int else "a finite number"
    is_number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not is_number or (wants_int and not isinstance(value, int)) or value < least:
        raise InvalidInputError(name, f"must be {kind} of at least {least}, got {value!r}")


def check_state(state: Mapping[str, Any], kind: str, space: SearchSpace) -> None:
    """A saved state must come from the same kind of proposer on the same space."""
    if state.get("kind") != kind or state.get("space") != space.name.value:
        raise InvalidInputError(
            "proposer_state",
            f"is a {state.get('kind')} state for {state.get('space')}, not {kind} for {space.name.value}",
        )


@dataclass(frozen=True)
class Observation:
    theta: Theta
    value: float
    budget: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"theta": self.theta, "value": self.value, "budget": self.budget}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Observation:
        return cls(dict(doc["theta"]), float(doc["value"]), None if doc["budget"] is None else float(doc["budget"]))


class Proposer:
    """Base class: bookkeeping of observations and duplicates; subclasses implement `_propose`."""

    kind = "base"

    def __init__(self, space: SearchSpace, seed: int) -> None:
        check_at_least("seed", seed, 0)
        self.space = space
        self.encoding = SpaceEncoding(space)
        self.seed = seed
        self.observations: list[Observation] = []
        self.proposed = 0  # proposals made so far; drives the random streams

    def tell(self, theta: Mapping[str, object], value: float, budget: float | None = None) -> None:
        """Record the result of one configuration (values are maximised)."""
        if not math.isfinite(value):
            raise InvalidInputError("value", f"must be finite, got {value!r}")
        self.observations.append(Observation(self.space.validate_theta(theta), float(value), budget))

    def ask(self, n: int, pending: Sequence[Mapping[str, object]] = ()) -> list[Theta]:
        """n new configurations, none equal to an observed, pending or earlier proposed one."""
        if n < 1:
            raise InvalidInputError("n", f"must be at least 1, got {n}")
        taken = {self.encoding.key(o.theta) for o in self.observations}
        taken |= {self.encoding.key(p) for p in pending}
        busy = [self.encoding.encode(p) for p in pending]
        batch = self._propose(n, busy, taken)
        self.proposed += len(batch)
        return [self.encoding.decode(x) for x in batch]

    def _propose(self, n: int, busy: list[np.ndarray], taken: set[tuple[float, ...]]) -> list[np.ndarray]:
        raise NotImplementedError

    def _rng(self) -> np.random.Generator:
        """A stream fixed by (seed, proposals made), so a restored proposer draws the same numbers."""
        return np.random.default_rng([self.seed, self.proposed])

    def _take_unique(
        self, candidates: np.ndarray, taken: set[tuple[float, ...]], chosen: list[np.ndarray]
    ) -> np.ndarray | None:
        """The first candidate (in order) whose snapped point is not taken; marks it taken."""
        picked = take_unique(self.encoding, candidates, taken, 1)
        chosen += picked
        return picked[0] if picked else None

    def state(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "space": self.space.name.value,
            "seed": self.seed,
            "proposed": self.proposed,
            "observations": [o.to_json() for o in self.observations],
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        check_state(state, self.kind, self.space)
        check_at_least("seed", state["seed"], 0)
        self.seed = state["seed"]
        self.proposed = int(state["proposed"])
        self.observations = [Observation.from_json(o) for o in state["observations"]]
