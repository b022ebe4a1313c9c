"""BOHB against Hyperband with random sampling on a multi-fidelity test function.

Issue 4, benchmark 4. The function is BoTorch's augmented Hartmann-6 (its fidelity s scales the
first term's weight, 1 − 0.1(1 − s)), maximised as −H, with the budget b ∈ {30, 60, 120} epochs
mapped to s = b / 120, plus Gaussian noise of standard deviation 0.05·(120 / b) seeded per job
(short runs are noisier, as short trainings are). Both schedulers are `nago.bo.bohb.BohbScheduler`
with η = 2 on 30/60/120 (brackets 4→2→1, 2→1, 1); Hyperband draws every new configuration
uniformly (`random_fraction = 1`), BOHB uses its Parzen model with HpBandSter's defaults.

Four asynchronous workers are simulated: a job of budget b runs b time units (±10 %), and a worker
takes the next job the moment it is free. The incumbent is the configuration with the best observed
value on the largest budget; its regret is measured on the noiseless function (optimum 3.32237).
Reported after 25, 50 and 100 full-budget equivalents of compute (sum of budgets / 120), as
quartiles over seeds.

    .venv/bin/python bench/bench_bohb.py --seeds 0 1 2 --out out/bohb.jsonl
    .venv/bin/python bench/bench_bohb.py --summarise out/bohb.jsonl
"""

from __future__ import annotations

import heapq
import time
from pathlib import Path

import numpy as np
import torch
from botorch.test_functions.multi_fidelity import AugmentedHartmann

from bench_common import build_parser, format_quartiles, make_unit_box, read_results, run_missing
from nago.bo.bohb import BohbScheduler, Job

BUDGETS = (30.0, 60.0, 120.0)
WORKERS = 4
OPTIMUM = 3.32237
NOISE = 0.05
REPORT_AT = (25, 50, 100, 200)
HARTMANN = AugmentedHartmann()
METHODS = {"bohb": 1 / 3, "hyperband": 1.0}


def true_value(theta: dict[str, float], budget: float) -> float:
    x = [float(theta[f"x{i}"]) for i in range(6)] + [budget / BUDGETS[-1]]
    with torch.no_grad():
        return -float(HARTMANN.evaluate_true(torch.tensor([x], dtype=torch.float64))[0])


def observe(job: Job, seed: int) -> float:
    noise = np.random.default_rng([seed, job.job_id]).normal() * NOISE * BUDGETS[-1] / job.budget
    return true_value(job.theta, job.budget) + float(noise)  # type: ignore[arg-type]


def run(method: str, seed: int, full_budgets: float) -> dict[str, object]:
    """Simulated asynchronous run; returns the incumbent's true regret after each finished job."""
    scheduler = BohbScheduler(make_unit_box(6), seed, BUDGETS, eta=2, random_fraction=METHODS[method])
    rng = np.random.default_rng([seed, 10**6])
    started = time.perf_counter()
    clock, spent, best = 0.0, 0.0, (-np.inf, np.inf)  # (observed value at the top budget, its true regret)
    running: list[tuple[float, int]] = []
    for job in scheduler.next_jobs(WORKERS):
        heapq.heappush(running, (clock + job.budget * rng.uniform(0.9, 1.1), job.job_id))
    trace: list[tuple[float, float]] = []
    while spent < full_budgets * BUDGETS[-1]:
        clock, job_id = heapq.heappop(running)
        job = scheduler.jobs[job_id]
        value = observe(job, seed)
        scheduler.report(job_id, value)
        spent += job.budget
        if job.budget == BUDGETS[-1] and value > best[0]:
            best = (value, OPTIMUM - true_value(job.theta, job.budget))  # type: ignore[arg-type]
        trace.append((spent / BUDGETS[-1], best[1]))
        (next_job,) = scheduler.next_jobs(1)
        heapq.heappush(running, (clock + next_job.budget * rng.uniform(0.9, 1.1), next_job.job_id))
    return {"method": method, "seed": seed, "trace": trace, "seconds": time.perf_counter() - started}


def regret_at(trace: list[list[float]], full_budgets: float) -> float:
    """The incumbent's regret once `full_budgets` of compute are spent."""
    return next(regret for spent, regret in trace if spent >= full_budgets)


def summarise(paths: list[Path]) -> None:
    rows = read_results(paths)
    header = "".join(f"{f'regret @ {b} full budgets':>28}" for b in REPORT_AT)
    print(f"{'method':<10} {'seeds':>5} {header}")
    for method in METHODS:
        runs = [r["trace"] for r in rows if r["method"] == method]
        if runs:
            cells = "".join(f"{format_quartiles([regret_at(t, b) for t in runs]):>28}" for b in REPORT_AT)
            print(f"{method:<10} {len(runs):>5} {cells}")


def main() -> None:
    parser = build_parser(__doc__, "out/bohb.jsonl", default_seeds=20)
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    args = parser.parse_args()
    if args.summarise:
        summarise(args.summarise)
        return
    keys = [{"method": m, "seed": s} for s in args.seeds for m in args.methods]
    run_missing(
        args.out,
        keys,
        lambda **key: run(**key, full_budgets=max(REPORT_AT)),
        lambda result: f"{result['seconds']:.1f} s",
    )
    summarise([args.out])


if __name__ == "__main__":
    main()
