"""The one interface every search strategy implements, and the base of those that propose Θ alone.

`Proposer` is the protocol the search engine calls (docs/design.md §2.4): `ask(n, pending)` proposes up
to n `Proposal`s given the configurations still running (each with the epoch budget it should train
for where the strategy chooses budgets, as BOHB does); `tell(outcome)` records one finished trial
(accuracy maximised, memory per image minimised, accuracy None when the trial failed); `state()` and
`restore(state)` round-trip the proposer through JSON so a restarted operator continues the same
search and proposes the same next batch. Proposals are valid Θ and never repeat an observed, pending or
already proposed configuration.

`BaseProposer` keeps the observations, the duplicate bookkeeping and the random streams for the
proposers that choose Θ only (GP-LP, Thompson, MOBO, random, Sobol); they implement `_propose`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from nago.bo.encoding import SpaceEncoding
from nago.errors import InvalidInputError
from nago.generator.spaces import SearchSpace, Theta

MAX_DRAWS_PER_POINT = 1000


def point_key(snapped: np.ndarray) -> tuple[float, ...]:
    """Identity of a snapped point: its coordinates to 1e-9.

    Args:
        snapped: A `d`-dim snapped point in the unit box.

    Returns:
        A hashable `d`-tuple of the coordinates rounded to 9 decimals.
    """
    return tuple(round(float(v), 9) for v in snapped)


def take_unique(
    encoding: SpaceEncoding, candidates: np.ndarray, taken: set[tuple[float, ...]], limit: int
) -> list[np.ndarray]:
    """Up to `limit` candidates, in order, whose snapped points are not taken; marks them taken.

    Args:
        encoding: The `SpaceEncoding` that snaps candidates onto the space's grid.
        candidates: `q x d` candidate points in the unit box, in order of preference.
        taken: The keys (`point_key`) of points observed, pending or already chosen; updated in place.
        limit: The most points to return (an int).

    Returns:
        A list of at most `limit` snapped `d`-dim points, in the candidates' order.
    """
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
    """Up to n new points of a scrambled Sobol sequence seeded from `rng` (initial designs, fallbacks).

    Args:
        encoding: The `SpaceEncoding` of the space; its `dims` is `d`.
        rng: An `np.random.Generator`; one integer drawn from it seeds the scrambling.
        n: The number of points wanted (an int).
        taken: The keys (`point_key`) of points observed, pending or already chosen; updated in place.

    Returns:
        A list of at most `n` snapped `d`-dim points (fewer only when the grid is exhausted).
    """
    from scipy.stats import qmc

    sobol = qmc.Sobol(encoding.dims, scramble=True, seed=int(rng.integers(2**31)))
    chosen: list[np.ndarray] = []
    while len(chosen) < n:
        fresh = take_unique(encoding, sobol.random(1024), taken, n - len(chosen))
        if not fresh:
            break  # the grid is exhausted
        chosen += fresh
    return chosen


def check_one_of(name: str, value: object, allowed: Sequence[str]) -> None:
    """A proposer setting must be one of the names `allowed`."""
    if value not in allowed:
        raise InvalidInputError(name, f"must be one of {', '.join(allowed)}, got {value!r}")


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
class Proposal:
    """One configuration to train: Θ, its epoch budget (None: the search's fixed budget) and BOHB's job id."""

    theta: Theta
    budget: float | None = None
    job: int | None = None


@dataclass(frozen=True)
class Outcome:
    """One finished trial: Θ, validation accuracy (None when it failed), memory per image in bytes (None when
    not measured), and the budget and job id it was proposed with."""

    theta: Mapping[str, object]
    accuracy: float | None
    memory: float | None = None
    budget: float | None = None
    job: int | None = None


@runtime_checkable
class Proposer(Protocol):
    """What the search engine calls; every strategy implements it (docs/design.md §2.4)."""

    kind: str

    def ask(self, n: int, pending: Sequence[Mapping[str, object]] = ()) -> list[Proposal]:
        """Up to n new proposals; none repeats an observed, pending or earlier proposed configuration."""
        ...

    def tell(self, outcome: Outcome) -> None:
        """Record one finished trial (a failed one too: accuracy None)."""
        ...

    def state(self) -> dict[str, Any]:
        """Everything needed to continue, as JSON."""
        ...

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue from a saved `state()`."""
        ...


@dataclass(frozen=True)
class Observation:
    """A succeeded configuration: its accuracy (maximised), budget and memory per image."""

    theta: Theta
    accuracy: float
    budget: float | None = None
    memory: float | None = None

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"theta": self.theta, "accuracy": self.accuracy, "budget": self.budget}
        if self.memory is not None:
            document["memory"] = self.memory
        return document

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Observation:
        value = doc["accuracy"] if "accuracy" in doc else doc["value"]  # states saved before one interface
        budget, memory = doc.get("budget"), doc.get("memory")
        return cls(
            dict(doc["theta"]), float(value), None if budget is None else float(budget),
            None if memory is None else float(memory),
        )  # fmt: skip


class BaseProposer:
    """Observations, duplicates and random streams for proposers of Θ; subclasses implement `_propose`.

    A failed trial teaches these proposers nothing: `tell` drops it (its Θ stays out of later batches
    while the engine passes it as pending)."""

    kind = "base"

    def __init__(self, space: SearchSpace, seed: int) -> None:
        check_at_least("seed", seed, 0)
        self.space = space
        self.encoding = SpaceEncoding(space)
        self.seed = seed
        self.observations: list[Observation] = []
        self.proposed = 0  # proposals made so far; drives the random streams

    def tell(self, outcome: Outcome) -> None:
        """Record the result of one configuration (accuracy maximised); failed trials are dropped."""
        if outcome.accuracy is None:
            return
        if not math.isfinite(outcome.accuracy):
            raise InvalidInputError("accuracy", f"must be finite, got {outcome.accuracy!r}")
        self._check_outcome(outcome)
        self.observations.append(
            Observation(self.space.validate_theta(outcome.theta), float(outcome.accuracy), outcome.budget,
                        None if outcome.memory is None else float(outcome.memory))
        )  # fmt: skip

    def _check_outcome(self, outcome: Outcome) -> None:
        """Further checks a subclass needs (MOBO: the memory)."""

    def ask(self, n: int, pending: Sequence[Mapping[str, object]] = ()) -> list[Proposal]:
        """n new configurations, none equal to an observed, pending or earlier proposed one."""
        if n < 1:
            raise InvalidInputError("n", f"must be at least 1, got {n}")
        taken = {self.encoding.key(o.theta) for o in self.observations}
        taken |= {self.encoding.key(p) for p in pending}
        busy = [self._encode_busy(p) for p in pending]
        batch = self._propose(n, busy, taken)
        self.proposed += len(batch)
        return [Proposal(self.encoding.decode(x)) for x in batch]

    def _encode_busy(self, theta: Mapping[str, object]) -> np.ndarray:
        """A running configuration as a point of the unit box (where the penalisation centres it)."""
        return self.encoding.encode(theta)

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


def list_thetas(proposals: Sequence[Proposal]) -> list[Theta]:
    """The configurations of a batch of proposals, in order."""
    return [proposal.theta for proposal in proposals]
