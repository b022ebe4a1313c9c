"""BOHB: the appendix's bracket schedule, asynchronous hand-out, the model, state, rank correlation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import spearmanr

from nago.bo.bohb import BohbScheduler, Job, Rung, plan_brackets, rank_correlations, spearman
from nago.errors import InvalidInputError
from nago.generator.spaces import get_space


def test_eta_2_on_30_60_120_matches_the_appendix() -> None:
    assert plan_brackets([30, 60, 120], 2) == [
        [Rung(30, 4), Rung(60, 2), Rung(120, 1)],
        [Rung(60, 2), Rung(120, 1)],
        [Rung(120, 1)],
    ]


@pytest.mark.parametrize(
    ("budgets", "eta", "field"), [([30, 60], 1, "eta"), ([60, 30], 2, "budgets"), ([0, 30], 2, "budgets")]
)
def test_bad_schedules_are_named(budgets: list[float], eta: int, field: str) -> None:
    with pytest.raises(InvalidInputError, match=field):
        plan_brackets(budgets, eta)


def _objective(job: Job) -> float:
    """Higher budget → higher value; a smooth preference in top_p, so the model has something to learn."""
    return float(job.budget) / 120 - (float(job.theta["top_p"]) - 0.7) ** 2


def _run(scheduler: BohbScheduler, workers: int, total: int) -> list[Job]:
    """Simulate `workers` asynchronous workers: each takes the next job as soon as it is free."""
    running = scheduler.next_jobs(workers)
    finished: list[Job] = []
    while len(finished) < total:
        job = running.pop(0)
        scheduler.report(job.job_id, _objective(job))
        finished.append(job)
        running += scheduler.next_jobs(1)
    return finished


def test_one_iteration_runs_the_brackets_with_successive_halving() -> None:
    scheduler = BohbScheduler(get_space("hnag"), seed=0, budgets=[30, 60, 120], eta=2)
    _run(scheduler, workers=1, total=10)
    first = [j for j in scheduler.jobs if j.bracket == 0]
    assert [j.budget for j in first] == [30, 30, 30, 30, 60, 60, 120]
    promoted = [j.theta for j in first if j.rung == 1]
    best_two = sorted((j for j in first if j.rung == 0), key=lambda j: -_objective(j))[:2]
    assert promoted == [j.theta for j in best_two]
    assert [j.budget for j in scheduler.jobs if j.bracket == 1] == [60, 60, 120]


def test_parallel_workers_never_wait() -> None:
    scheduler = BohbScheduler(get_space("hnag"), seed=1, budgets=[30, 60, 120], eta=2)
    jobs = scheduler.next_jobs(8)
    assert len(jobs) == 8 and len({j.bracket for j in jobs}) >= 2
    assert all(j.value is None for j in jobs)


def test_the_model_takes_over_and_prefers_good_regions() -> None:
    scheduler = BohbScheduler(get_space("hnag"), seed=2, budgets=[30, 60, 120], eta=2)
    finished = _run(scheduler, workers=4, total=160)
    early = [float(j.theta["top_p"]) for j in finished[:30] if j.rung == 0]
    late = [float(j.theta["top_p"]) for j in finished[-60:] if j.rung == 0]
    assert abs(np.median(late) - 0.7) < abs(np.median(early) - 0.7)


def test_random_fraction_one_is_hyperband_with_random_sampling() -> None:
    """The baseline of appendix C.1: the same schedule, every new configuration drawn uniformly."""
    hyperband = BohbScheduler(get_space("hnag"), seed=2, budgets=[30, 60, 120], eta=2, random_fraction=1.0)
    bohb = BohbScheduler(get_space("hnag"), seed=2, budgets=[30, 60, 120], eta=2)
    late_random, late_model = (
        [float(j.theta["top_p"]) for j in _run(scheduler, workers=4, total=160)[-60:] if j.rung == 0]
        for scheduler in (hyperband, bohb)
    )
    assert abs(np.median(late_model) - 0.7) < abs(np.median(late_random) - 0.7)
    assert [j.budget for j in hyperband.jobs if j.bracket == 0] == [30, 30, 30, 30, 60, 60, 120]


@pytest.mark.parametrize("fraction", [-0.1, 1.5, float("nan")])
def test_bad_random_fraction_is_named(fraction: float) -> None:
    with pytest.raises(InvalidInputError, match="random_fraction"):
        BohbScheduler(get_space("hnag"), seed=0, budgets=[30, 60, 120], random_fraction=fraction)


def test_state_round_trip_continues_identically() -> None:
    scheduler = BohbScheduler(get_space("hnag"), seed=3, budgets=[30, 60, 120])
    _run(scheduler, workers=3, total=40)
    clone = BohbScheduler(get_space("hnag"), seed=0, budgets=[1, 2])
    clone.restore(json.loads(json.dumps(scheduler.state())))
    assert [j.to_json() for j in clone.next_jobs(5)] == [j.to_json() for j in scheduler.next_jobs(5)]


def test_spearman_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, 30).astype(float)
    b = a + rng.normal(size=30)
    assert spearman(list(a), list(b)) == pytest.approx(spearmanr(a, b).statistic)


def test_rank_correlation_between_budgets() -> None:
    scheduler = BohbScheduler(get_space("hnag"), seed=4, budgets=[30, 60, 120])
    _run(scheduler, workers=2, total=60)
    correlations = rank_correlations(scheduler.jobs)
    assert (30.0, 60.0) in correlations and correlations[(30.0, 60.0)] == pytest.approx(1.0)
