"""Which proposer a strategy kind names, imported only when a search uses it.

The GP and BNN proposers load torch, BoTorch and GPyTorch (hundreds of MB); random, Sobol and BOHB
need NumPy and SciPy only. Building through this registry keeps `nago search` with a light strategy,
`nago ranges` and an idle operator free of torch (docs/design.md §2.2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from nago.bo.proposer import Proposer
from nago.errors import InvalidInputError
from nago.generator.spaces import SearchSpace


@dataclass(frozen=True)
class ProposerSettings:
    """What a search's strategy section sets: the seed, the initial design, BOHB's budgets and η, MOBO's
    surrogate."""

    seed: int
    initial_points: int | None = None
    budgets: Sequence[float] = field(default_factory=tuple)
    eta: int = 2
    surrogate: str = "bnn"  # MOBO's: bnn or gp


def _gp_lp(space: SearchSpace, settings: ProposerSettings) -> Proposer:
    from nago.bo.gp_lp import LocalPenalisationProposer

    return LocalPenalisationProposer(space, settings.seed, initial_points=settings.initial_points)


def _thompson(space: SearchSpace, settings: ProposerSettings) -> Proposer:
    from nago.bo.thompson import ThompsonProposer

    return ThompsonProposer(space, settings.seed, initial_points=settings.initial_points)


def _mobo(space: SearchSpace, settings: ProposerSettings) -> Proposer:
    from nago.bo.mobo import MoboProposer

    return MoboProposer(space, settings.seed, initial_points=settings.initial_points, surrogate=settings.surrogate)


def _bohb(space: SearchSpace, settings: ProposerSettings) -> Proposer:
    from nago.bo.bohb import BohbScheduler

    return BohbScheduler(space, settings.seed, settings.budgets, settings.eta)


def _random(space: SearchSpace, settings: ProposerSettings) -> Proposer:
    from nago.bo.baselines import RandomProposer

    return RandomProposer(space, settings.seed)


def _sobol(space: SearchSpace, settings: ProposerSettings) -> Proposer:
    from nago.bo.baselines import SobolProposer

    return SobolProposer(space, settings.seed)


# The search spec's strategy kinds; "thompson" is the batch baseline of the regret benchmark.
PROPOSERS: dict[str, Callable[[SearchSpace, ProposerSettings], Proposer]] = {
    "bo": _gp_lp,
    "thompson": _thompson,
    "mobo": _mobo,
    "bohb": _bohb,
    "random": _random,
    "sobol": _sobol,
}
TORCH_FREE_KINDS = ("bohb", "random", "sobol")


def build_proposer(kind: str, space: SearchSpace, settings: ProposerSettings) -> Proposer:
    """A new proposer of `kind` over `space`, its module imported now."""
    maker = PROPOSERS.get(kind)
    if maker is None:
        raise InvalidInputError("strategy.kind", f"must be one of {', '.join(PROPOSERS)}, got {kind!r}")
    return maker(space, settings)
