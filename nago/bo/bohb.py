"""BOHB: Hyperband brackets with a model-based proposer per budget (appendix C.1, I; Falkner et al. 2018).

Schedule (docs/design.md §5.14, the NAGO code's brackets): with budgets b_0 < … < b_s and η, bracket k
(k = s … 0) starts η^k new configurations at budget b_{s−k} and keeps the best 1/η of each rung for
the next budget. For η = 2 on 30/60/120 epochs: 4@30 → 2@60 → 1@120, then 2@60 → 1@120, then 1@120.
Brackets repeat for as many iterations as asked.

Proposals for a new configuration follow HpBandSter's defaults: a third at random; otherwise a
Parzen model (TPE) fitted on the largest budget with enough results (at least d + 1 good and d + 1
bad points; good = the top 15%), 64 samples from the good density widened 3×, keep the best l/g.
Parallel and asynchronous: `next_jobs(n)` hands out whatever can run now — promotions of finished
rungs first, then new configurations of the open bracket, then the next bracket — so workers never
wait for a rung to fill unless the run is over.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nago.bo.encoding import SpaceEncoding
from nago.bo.proposer import Outcome, Proposal, check_state
from nago.errors import InvalidInputError
from nago.generator.spaces import SearchSpace, Theta

TOP_N_PERCENT = 15
NUM_SAMPLES = 64
RANDOM_FRACTION = 1 / 3
FAILED_VALUE = 0.0  # a crashed rung member ranks last (accuracy 0), so promotions still happen
BANDWIDTH_FACTOR = 3.0
MIN_BANDWIDTH = 1e-3


@dataclass(frozen=True)
class Rung:
    budget: float
    configs: int


def plan_brackets(budgets: Sequence[float], eta: int) -> list[list[Rung]]:
    """The brackets of one Hyperband iteration, most aggressive first (docs/design.md §5.14).

    Args:
        budgets: `s + 1` positive budgets b_0 < … < b_s, strictly increasing.
        eta: The reduction factor η (an int, at least 2).

    Returns:
        `s + 1` brackets, k = s first, each a list of its `k + 1` rungs (budget, configurations).
    """
    if eta < 2:
        raise InvalidInputError("eta", f"must be at least 2, got {eta}")
    if not budgets or list(budgets) != sorted(set(budgets)) or budgets[0] <= 0:
        raise InvalidInputError("budgets", f"must be positive and strictly increasing, got {list(budgets)}")
    top = len(budgets) - 1
    brackets = []
    for k in range(top, -1, -1):
        brackets.append([Rung(float(budgets[top - k + i]), eta ** (k - i)) for i in range(k + 1)])
    return brackets


@dataclass
class Job:
    """One training run: a configuration at a budget, in a bracket's rung."""

    job_id: int
    theta: Theta
    budget: float
    bracket: int
    rung: int
    value: float | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _BracketState:
    index: int
    plan: list[Rung]
    rungs: list[list[int]] = field(default_factory=list)  # job ids per rung

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "rungs": self.rungs}


def _parzen_log_density(points: np.ndarray, data: np.ndarray, bandwidth: np.ndarray) -> np.ndarray:
    """log of a product-Gaussian kernel density of `data` at `points`."""
    z = (points[:, None, :] - data[None, :, :]) / bandwidth
    log_kernel = -0.5 * (z**2).sum(-1) - np.log(bandwidth).sum() - 0.5 * data.shape[1] * math.log(2 * math.pi)
    peak = log_kernel.max(axis=1, keepdims=True)
    return np.asarray(peak[:, 0] + np.log(np.exp(log_kernel - peak).mean(axis=1)))


def _bandwidth(data: np.ndarray) -> np.ndarray:
    """Scott's normal-reference rule per dimension, floored at 1e-3 (HpBandSter's KDE)."""
    spread = data.std(axis=0, ddof=1) if len(data) > 1 else np.ones(data.shape[1])
    return np.asarray(np.maximum(1.06 * spread * len(data) ** (-1 / (4 + data.shape[1])), MIN_BANDWIDTH))


class BohbScheduler:
    """Hands out jobs (Θ, budget) and takes their results; values are maximised."""

    kind = "bohb"

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        budgets: Sequence[float],
        eta: int = 2,
        random_fraction: float = RANDOM_FRACTION,
    ) -> None:
        """`random_fraction` = 1 gives Hyperband with random sampling (Li et al. 2018), the baseline of
        appendix C.1; the default third is HpBandSter's."""
        if not 0.0 <= random_fraction <= 1.0:
            raise InvalidInputError("random_fraction", f"must be in [0, 1], got {random_fraction!r}")
        self.random_fraction = float(random_fraction)
        self.space = space
        self.encoding = SpaceEncoding(space)
        self.seed = seed
        self.budgets = [float(b) for b in budgets]
        self.eta = eta
        self.plan = plan_brackets(self.budgets, eta)
        self.jobs: list[Job] = []
        self.brackets: list[_BracketState] = []
        self.queue: list[int] = []  # promoted jobs not handed out yet
        self.draws = 0

    # ---- model -------------------------------------------------------------------------------

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.draws])

    def _model_data(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Good and bad points on the largest budget with enough finished results."""
        minimum = self.encoding.dims + 1
        for budget in sorted(self.budgets, reverse=True):
            done = [j for j in self.jobs if j.budget == budget and j.value is not None]
            n_good = max(minimum, TOP_N_PERCENT * len(done) // 100)
            n_bad = max(minimum, (100 - TOP_N_PERCENT) * len(done) // 100)
            if len(done) < n_good + n_bad:
                continue
            ranked = sorted(done, key=lambda j: -(j.value or 0.0))
            x = np.array([self.encoding.snap(self.encoding.encode(j.theta)) for j in ranked])
            return x[:n_good], x[-n_bad:]
        return None

    def _new_config(self) -> Theta:
        rng = self._rng()
        self.draws += 1
        taken = {self.encoding.key(j.theta) for j in self.jobs}
        data = self._model_data()
        for _ in range(1000):
            if data is None or rng.random() < self.random_fraction:
                x = rng.random(self.encoding.dims)
            else:
                good, bad = data
                bw_good = _bandwidth(good)
                centres = good[rng.integers(len(good), size=NUM_SAMPLES)]
                samples = np.clip(centres + rng.normal(size=centres.shape) * bw_good * BANDWIDTH_FACTOR, 0, 1)
                score = _parzen_log_density(samples, good, bw_good) - _parzen_log_density(samples, bad, _bandwidth(bad))
                x = samples[int(np.argmax(score))]
            theta = self.encoding.decode(x)
            if self.encoding.key(theta) not in taken:
                return theta
        return self.encoding.decode(rng.random(self.encoding.dims))

    # ---- schedule ----------------------------------------------------------------------------

    def _add_job(self, theta: Theta, bracket: _BracketState, rung: int) -> Job:
        job = Job(len(self.jobs), theta, bracket.plan[rung].budget, bracket.index, rung)
        self.jobs.append(job)
        while len(bracket.rungs) <= rung:
            bracket.rungs.append([])
        bracket.rungs[rung].append(job.job_id)
        return job

    def _promotions(self, bracket: _BracketState) -> list[Job]:
        """Promote the best of every finished rung whose successor is not yet filled."""
        new: list[Job] = []
        for rung in range(len(bracket.plan) - 1):
            if rung >= len(bracket.rungs):
                break
            members = [self.jobs[i] for i in bracket.rungs[rung]]
            if len(members) < bracket.plan[rung].configs or any(j.value is None for j in members):
                break
            if len(bracket.rungs) > rung + 1:
                continue
            best = sorted(members, key=lambda j: -(j.value or 0.0))[: bracket.plan[rung + 1].configs]
            new += [self._add_job(j.theta, bracket, rung + 1) for j in best]
        return new

    def next_jobs(self, n: int) -> list[Job]:
        """Up to n jobs that can start now."""
        for bracket in self.brackets:
            self.queue += [job.job_id for job in self._promotions(bracket)]
        ready = [self.jobs[i] for i in self.queue[:n]]
        self.queue = self.queue[n:]
        while len(ready) < n:
            open_bracket = self.brackets[-1] if self.brackets else None
            if open_bracket is None or len(open_bracket.rungs[0]) >= open_bracket.plan[0].configs:
                index = len(self.brackets)
                open_bracket = _BracketState(index, self.plan[index % len(self.plan)], [[]])
                self.brackets.append(open_bracket)
            ready.append(self._add_job(self._new_config(), open_bracket, 0))
        return ready

    def report(self, job_id: int, value: float) -> None:
        if not 0 <= job_id < len(self.jobs):
            raise InvalidInputError("job_id", f"unknown job {job_id}")
        if not math.isfinite(value):
            raise InvalidInputError("value", f"must be finite, got {value!r}")
        self.jobs[job_id].value = float(value)

    # ---- the proposer interface (docs/design.md §2.4) ---------------------------------------------

    def ask(self, n: int, pending: Sequence[Mapping[str, object]] = ()) -> list[Proposal]:
        """Up to n jobs as proposals with their budgets; the running ones are BOHB's own (`pending` unused)."""
        if n < 1:
            raise InvalidInputError("n", f"must be at least 1, got {n}")
        return [Proposal(job.theta, float(job.budget), job.job_id) for job in self.next_jobs(n)]

    def tell(self, outcome: Outcome) -> None:
        """A finished job's accuracy; a failed job ranks last (accuracy 0) so its rung can still promote."""
        if outcome.job is None:
            raise InvalidInputError("job", "BOHB needs the job id of every result")
        self.report(outcome.job, FAILED_VALUE if outcome.accuracy is None else outcome.accuracy)

    def state(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "space": self.space.name.value,
            "seed": self.seed,
            "budgets": self.budgets,
            "eta": self.eta,
            "random_fraction": self.random_fraction,
            "draws": self.draws,
            "queue": self.queue,
            "jobs": [j.to_json() for j in self.jobs],
            "brackets": [b.to_json() for b in self.brackets],
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        check_state(state, self.kind, self.space)
        self.seed, self.eta, self.draws = int(state["seed"]), int(state["eta"]), int(state["draws"])
        self.random_fraction = float(state["random_fraction"])
        self.budgets = [float(b) for b in state["budgets"]]
        self.plan = plan_brackets(self.budgets, self.eta)
        self.jobs = [Job(**j) for j in state["jobs"]]
        self.queue = [int(i) for i in state["queue"]]
        self.brackets = [
            _BracketState(b["index"], self.plan[b["index"] % len(self.plan)], [list(r) for r in b["rungs"]])
            for b in state["brackets"]
        ]


def rank_correlations(jobs: Sequence[Job]) -> dict[tuple[float, float], float]:
    """Spearman's ρ between the results of configurations evaluated on two budgets (appendix I).

    Args:
        jobs: The jobs of a BOHB run (`BohbScheduler.jobs`); those without a value are skipped.

    Returns:
        ρ per pair of budgets (low, high), for the pairs with at least 3 configurations valued on both.
    """
    by_budget: dict[float, dict[tuple[float, ...], float]] = {}
    for job in jobs:
        if job.value is not None:
            key = tuple(round(float(job.theta[name]), 9) for name in sorted(job.theta))
            by_budget.setdefault(job.budget, {})[key] = job.value
    result: dict[tuple[float, float], float] = {}
    budgets = sorted(by_budget)
    for i, low in enumerate(budgets):
        for high in budgets[i + 1 :]:
            shared = sorted(set(by_budget[low]) & set(by_budget[high]))
            if len(shared) >= 3:
                result[(low, high)] = spearman(
                    [by_budget[low][k] for k in shared], [by_budget[high][k] for k in shared]
                )
    return result


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation with average ranks for ties.

    Args:
        a: `n` values.
        b: `n` values, paired with `a`.

    Returns:
        ρ in [−1, 1] (a scalar; 0 when either side is constant).
    """

    def ranks(values: Sequence[float]) -> np.ndarray:
        order = np.argsort(values, kind="stable")
        r = np.empty(len(values))
        sorted_values = np.asarray(values)[order]
        i = 0
        while i < len(values):
            j = i
            while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
                j += 1
            r[order[i : j + 1]] = (i + j) / 2
            i = j + 1
        return r

    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = math.sqrt(float((ra**2).sum() * (rb**2).sum()))
    return float((ra * rb).sum() / denominator) if denominator > 0 else 0.0
