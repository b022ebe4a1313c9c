"""One adapter over every proposer, so the engine does not care which strategy a search uses.

The adapter is rebuilt from its saved JSON state on every engine step (DESIGN §3.6): results are
told once (the engine keeps the ids it has told), proposals are asked with the running and failed
configurations as busy points, and the state is saved back. BOHB hands out (Θ, budget) jobs; the
others propose Θ at the search's fixed epoch budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nago.bo.baselines import RandomProposer, SobolProposer
from nago.bo.bohb import BohbScheduler
from nago.bo.gp_lp import LocalPenalisationProposer
from nago.bo.mobo import MoboProposer
from nago.bo.proposer import Proposer
from nago.search_spec import GeneratorSearchSpec, StrategyKind
from nago.spaces import Theta

FAILED_BOHB_VALUE = 0.0  # a crashed rung member ranks last (accuracy 0), so promotions still happen


@dataclass(frozen=True)
class Proposal:
    theta: Theta
    budget: int
    job: int | None = None  # BOHB's job id


class SearchStrategy:
    """ask/tell/state over GP-LP, MOBO, BOHB, random and Sobol, configured by the spec."""

    def __init__(self, spec: GeneratorSearchSpec, state: Mapping[str, Any] | None) -> None:
        self.spec = spec
        space = spec.space.build()
        settings = spec.strategy
        self.proposer: Proposer | MoboProposer | BohbScheduler
        if settings.kind is StrategyKind.BOHB:
            self.proposer = BohbScheduler(space, settings.seed, settings.bohb.budgets, settings.bohb.eta)
        elif settings.kind is StrategyKind.MOBO:
            self.proposer = MoboProposer(space, settings.seed, initial_points=settings.initial_points)
        elif settings.kind is StrategyKind.BO:
            self.proposer = LocalPenalisationProposer(space, settings.seed, initial_points=settings.initial_points)
        elif settings.kind is StrategyKind.SOBOL:
            self.proposer = SobolProposer(space, settings.seed)
        else:
            self.proposer = RandomProposer(space, settings.seed)
        if state is not None:
            self.proposer.restore(state)

    def tell(
        self, theta: Mapping[str, object], budget: int, job: int | None, accuracy: float, memory: float | None
    ) -> None:
        """A finished trial's result; accuracy is maximised, memory (bytes per image) minimised."""
        if isinstance(self.proposer, BohbScheduler):
            if job is not None:
                self.proposer.report(job, accuracy)
        elif isinstance(self.proposer, MoboProposer):
            if memory is None:
                raise ValueError("memory: MOBO needs the memory per image of every trial")
            self.proposer.tell(theta, accuracy, memory)
        else:
            self.proposer.tell(theta, accuracy, float(budget))

    def tell_failure(self, job: int | None) -> None:
        """A failed trial: BOHB ranks it last so its rung can finish; model-based proposers learn nothing."""
        if isinstance(self.proposer, BohbScheduler) and job is not None:
            self.proposer.report(job, FAILED_BOHB_VALUE)

    def ask(self, n: int, busy: Sequence[Mapping[str, object]]) -> list[Proposal]:
        if isinstance(self.proposer, BohbScheduler):
            return [Proposal(j.theta, int(j.budget), j.job_id) for j in self.proposer.next_jobs(n)]
        thetas = self.proposer.ask(n, pending=busy)
        return [Proposal(theta, self.spec.budget.epochs) for theta in thetas]

    def state(self) -> dict[str, Any]:
        return self.proposer.state()
