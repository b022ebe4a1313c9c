"""The generator search spaces: HNAG, RNAG and the two augmented HNAG spaces.

A space is an ordered tuple of named parameters, each an integer or a float with a range. The
defaults are the appendix's ranges (appendix E for HNAG and RNAG, appendix H for the augmented
spaces); every range can be overridden, within hard limits that keep sampling well defined.
A Θ is a plain mapping from parameter name to value; `validate_theta` checks it and names the
field at fault.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np

from nago.errors import InvalidInputError

Theta = dict[str, int | float]


class SpaceName(StrEnum):
    """The spaces we know how to sample from."""

    HNAG = "hnag"
    RNAG = "rnag"
    HNAG_AUGV1 = "hnag-augv1"
    HNAG_AUGV2 = "hnag-augv2"


class ParamKind(StrEnum):
    INT = "int"
    FLOAT = "float"


@dataclass(frozen=True)
class ParamRange:
    """One generator hyperparameter: its searched range and the hard limits a range may take."""

    name: str
    kind: ParamKind
    low: float
    high: float
    hard_low: float
    hard_high: float
    description: str

    def check(self, value: object, field: str) -> int | float:
        """Return `value` as this parameter's type, or raise naming `field` and the range."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInputError(
                field, f"must be a {self.kind.value} in [{_fmt(self.low)}, {_fmt(self.high)}], got {value!r}"
            )
        if not math.isfinite(value):
            raise InvalidInputError(field, f"must be finite, got {value!r}")
        checked: int | float
        if self.kind is ParamKind.INT:
            if float(value) != int(value):
                raise InvalidInputError(
                    field,
                    f"must be an integer in [{_fmt(self.low)}, {_fmt(self.high)}], got {value!r}",
                )
            checked = int(value)
        else:
            checked = float(value)
        if not self.low <= checked <= self.high:
            raise InvalidInputError(field, f"{_fmt(checked)} is out of range [{_fmt(self.low)}, {_fmt(self.high)}]")
        return checked


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _int(name: str, low: int, high: int, hard: tuple[int, int], description: str) -> ParamRange:
    return ParamRange(name, ParamKind.INT, low, high, hard[0], hard[1], description)


def _float(name: str, low: float, high: float, hard: tuple[float, float], description: str) -> ParamRange:
    return ParamRange(name, ParamKind.FLOAT, low, high, hard[0], hard[1], description)


# Hard limits: a Watts–Strogatz graph needs N >= 3 and K >= 2 to be connected at all; an
# Erdős–Rényi graph with N >= 2 needs P > 0. Upper limits keep one architecture buildable.
_WS_NODES = (3, 256)
_WS_K = (2, 64)
_PROB = (0.0, 1.0)
_ER_NODES = (1, 256)
_ER_PROB = (0.01, 1.0)
_WEIGHT = (0.0, 1.0)


def _hnag_params() -> tuple[ParamRange, ...]:
    """Appendix E: top and bottom WS with N in [3,10], K in [2,5], P in [0.1,0.9]; mid ER N in [1,10]."""
    return (
        _int("top_nodes", 3, 10, _WS_NODES, "N_t: cells in the top-level Watts–Strogatz graph"),
        _int("top_k", 2, 5, _WS_K, "K_t: ring-lattice degree of the top-level graph"),
        _float("top_p", 0.1, 0.9, _PROB, "P_t: rewiring probability of the top-level graph"),
        _int("mid_nodes", 1, 10, _ER_NODES, "N_m: nodes in each cell's Erdős–Rényi graph"),
        _float("mid_p", 0.1, 0.9, _ER_PROB, "P_m: edge probability of each cell's graph"),
        _int("bottom_nodes", 3, 10, _WS_NODES, "N_b: operations in each mid node's Watts–Strogatz graph"),
        _int("bottom_k", 2, 5, _WS_K, "K_b: ring-lattice degree of the bottom-level graphs"),
        _float("bottom_p", 0.1, 0.9, _PROB, "P_b: rewiring probability of the bottom-level graphs"),
    )


def _rnag_params() -> tuple[ParamRange, ...]:
    """Appendix E: three WS stages with N in [10,40], K in [2,9], P in [0.1,0.9]."""
    params: list[ParamRange] = []
    for stage in (1, 2, 3):
        params += [
            _int(f"stage{stage}_nodes", 10, 40, _WS_NODES, f"N_{stage}: nodes in stage {stage}'s WS graph"),
            _int(f"stage{stage}_k", 2, 9, _WS_K, f"K_{stage}: ring-lattice degree of stage {stage}"),
            _float(f"stage{stage}_p", 0.1, 0.9, _PROB, f"P_{stage}: rewiring probability of stage {stage}"),
        ]
    return tuple(params)


MERGE_OPTIONS = ("sum", "concat")
OP_OPTIONS = ("conv1x1", "conv3x3", "conv5x5", "avgpool3x3", "avgpool5x5")


def _augv1_params() -> tuple[ParamRange, ...]:
    """Appendix H.1: θM (weights of weighted sum vs concatenation) and θop (weights of 5 ops)."""
    merge = tuple(
        _float(f"merge_{m}", 0.0, 1.0, _WEIGHT, f"θM: relative weight of '{m}' when a node merges inputs")
        for m in MERGE_OPTIONS
    )
    ops = tuple(
        _float(f"op_{op}", 0.0, 1.0, _WEIGHT, f"θop: relative weight of '{op}' for a bottom-level node")
        for op in OP_OPTIONS
    )
    return _hnag_params() + merge + ops


def _augv2_params() -> tuple[ParamRange, ...]:
    """Appendix H.2: θS (3 stage ratios) and θC (3 channel ratios) searched as well."""
    stages = tuple(
        _float(f"stage{s}_ratio", 0.1, 1.0, (0.01, 1.0), f"θS: relative share of top-level cells in stage {s}")
        for s in (1, 2, 3)
    )
    channels = tuple(
        _float(f"channel{s}_ratio", 1.0, 8.0, (0.25, 64.0), f"θC: relative channel width of stage {s}")
        for s in (1, 2, 3)
    )
    return _hnag_params() + stages + channels


_DEFAULT_PARAMS: dict[SpaceName, tuple[ParamRange, ...]] = {
    SpaceName.HNAG: _hnag_params(),
    SpaceName.RNAG: _rnag_params(),
    SpaceName.HNAG_AUGV1: _augv1_params(),
    SpaceName.HNAG_AUGV2: _augv2_params(),
}

# Groups of weights that are normalised to probabilities; each group must not sum to zero.
WEIGHT_GROUPS: dict[str, tuple[str, ...]] = {
    "merge": tuple(f"merge_{m}" for m in MERGE_OPTIONS),
    "op": tuple(f"op_{op}" for op in OP_OPTIONS),
}


@dataclass(frozen=True)
class SearchSpace:
    """A named space with its (possibly overridden) parameter ranges."""

    name: SpaceName
    params: tuple[ParamRange, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def dims(self) -> int:
        return len(self.params)

    def param(self, name: str) -> ParamRange:
        for p in self.params:
            if p.name == name:
                return p
        raise InvalidInputError(f"theta.{name}", f"unknown parameter; {self.name.value} has {list(self.names)}")

    def validate_theta(self, theta: Mapping[str, object]) -> Theta:
        """Check a Θ against this space: no unknown or missing keys, right types, inside the ranges."""
        if not isinstance(theta, Mapping):
            raise InvalidInputError("theta", f"must be a mapping of parameter names to numbers, got {theta!r}")
        unknown = sorted(set(theta) - set(self.names))
        if unknown:
            raise InvalidInputError(
                f"theta.{unknown[0]}",
                f"unknown parameter for space {self.name.value}; allowed: {list(self.names)}",
            )
        checked: Theta = {}
        for p in self.params:
            if p.name not in theta:
                raise InvalidInputError(f"theta.{p.name}", f"missing; space {self.name.value} needs {list(self.names)}")
            checked[p.name] = p.check(theta[p.name], f"theta.{p.name}")
        for group, members in WEIGHT_GROUPS.items():
            if all(m in checked for m in members) and sum(checked[m] for m in members) <= 0:
                raise InvalidInputError(f"theta.{members[0]}", f"the {group} weights {list(members)} must not all be 0")
        return checked

    def sample_theta(self, rng: np.random.Generator) -> Theta:
        """Draw Θ uniformly from the box (integers uniformly over their range)."""
        theta: Theta = {}
        for p in self.params:
            if p.kind is ParamKind.INT:
                theta[p.name] = int(rng.integers(int(p.low), int(p.high) + 1))
            else:
                theta[p.name] = float(rng.uniform(p.low, p.high))
        return self.validate_theta(theta)

    def with_ranges(self, ranges: Mapping[str, tuple[float, float]]) -> SearchSpace:
        """Return this space with some ranges replaced; each must lie inside the parameter's hard limits."""
        params = list(self.params)
        for name, (low, high) in ranges.items():
            index = self.names.index(name) if name in self.names else -1
            if index < 0:
                raise InvalidInputError(
                    f"ranges.{name}",
                    f"unknown parameter for space {self.name.value}; allowed: {list(self.names)}",
                )
            p = params[index]
            field = f"ranges.{name}"
            if p.kind is ParamKind.INT and (float(low) != int(low) or float(high) != int(high)):
                raise InvalidInputError(field, f"bounds of an integer parameter must be integers, got [{low}, {high}]")
            if not low <= high:
                raise InvalidInputError(field, f"low {_fmt(low)} must not exceed high {_fmt(high)}")
            if low < p.hard_low or high > p.hard_high:
                raise InvalidInputError(
                    field,
                    f"[{_fmt(low)}, {_fmt(high)}] must lie inside [{_fmt(p.hard_low)}, {_fmt(p.hard_high)}]",
                )
            params[index] = replace(p, low=low, high=high)
        return SearchSpace(self.name, tuple(params))


def list_ranges_that_cannot_matter(space: SearchSpace) -> list[tuple[str, str]]:
    """(parameter, why) for each ring degree K whose whole range gives one graph for every node count
    N of its range: a Watts–Strogatz K is clamped to N−1 and joins K//2 neighbours on each side
    (`effective_ws_k`), so e.g. K in [10, 20] with N ≤ 4 always gives K = 2."""
    from nago.generator.graphs import effective_ws_k

    found = []
    for param in space.params:
        if not param.name.endswith("_k"):
            continue
        nodes = next((p for p in space.params if p.name == f"{param.name[:-2]}_nodes"), None)
        if nodes is None:
            continue
        counts = range(int(nodes.low), int(nodes.high) + 1)
        degrees = range(int(param.low), int(param.high) + 1)
        if len(degrees) > 1 and all(len({effective_ws_k(n, k) for k in degrees}) == 1 for n in counts):
            found.append((param.name, (
                f"[{_fmt(param.low)}, {_fmt(param.high)}] cannot matter: with {nodes.name} in "
                f"[{_fmt(nodes.low)}, {_fmt(nodes.high)}], K is clamped to N−1 and rounded down to even, so every "
                "value gives the same graphs; set it to one value, or widen it"
            )))  # fmt: skip
    return found


def get_space(name: str | SpaceName, ranges: Mapping[str, tuple[float, float]] | None = None) -> SearchSpace:
    """Return a space by name, with the appendix's ranges unless `ranges` overrides some."""
    try:
        space_name = SpaceName(name)
    except ValueError:
        raise InvalidInputError("space", f"unknown space {name!r}; allowed: {[s.value for s in SpaceName]}") from None
    space = SearchSpace(space_name, _DEFAULT_PARAMS[space_name])
    return space.with_ranges(ranges) if ranges else space
