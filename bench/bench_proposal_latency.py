"""Proposal latency: a batch of 8 in 8 dimensions at 30, 100 and 300 observations.

Side by side in one run, on the same observations (Ackley-8 on the unit box, values negated so
larger is better; for MOBO a memory of exp(2 Σx) per image as the second objective): every strategy's
`ask(8)` (surrogate fit included) — GP-BO with hard local penalisation (`lp`, `lp-local` with each
ball's own Lipschitz constant, `lp-warp` with output warping), batch Thompson sampling, MOBO with BNNs
and with GPs, and the light ones (random, Sobol, BOHB) — against BoTorch's `optimize_acqf` with
qLogNoisyExpectedImprovement (q = 8, sequential greedy, 10 restarts, 512 raw samples; GP fit included).
Median seconds over `--repeats` runs; the ratio lp / BoTorch is the figure that carries across machines.

    .venv/bin/python bench/bench_proposal_latency.py --repeats 3
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from bench_common import make_unit_box
from nago.bo.baselines import RandomProposer, SobolProposer
from nago.bo.bohb import BohbScheduler
from nago.bo.gp_lp import LocalPenalisationProposer
from nago.bo.mobo import MoboProposer
from nago.bo.proposer import Outcome, Proposer, list_thetas
from nago.bo.thompson import ThompsonProposer

DIMS = 8
BOX = make_unit_box(DIMS)


def ackley(x: np.ndarray) -> float:
    z = 4 * x - 2
    return float(
        -20 * math.exp(-0.2 * math.sqrt((z**2).mean())) - math.exp(np.cos(2 * math.pi * z).mean()) + 20 + math.e
    )


STRATEGIES: dict[str, Callable[[int], Proposer]] = {
    "lp": lambda seed: LocalPenalisationProposer(BOX, seed),
    "lp-local": lambda seed: LocalPenalisationProposer(BOX, seed, radius_rule="local"),
    "lp-warp": lambda seed: LocalPenalisationProposer(BOX, seed, output_warping="yeo-johnson"),
    "thompson": lambda seed: ThompsonProposer(BOX, seed),
    "mobo-bnn": lambda seed: MoboProposer(BOX, seed, surrogate="bnn"),
    "mobo-gp": lambda seed: MoboProposer(BOX, seed, surrogate="gp"),
    "random": lambda seed: RandomProposer(BOX, seed),
    "sobol": lambda seed: SobolProposer(BOX, seed),
    "bohb": lambda seed: BohbScheduler(BOX, seed, (30, 60, 120), 2),
}


def time_ours(strategy: str, x: np.ndarray, y: np.ndarray, seed: int) -> float:
    proposer = STRATEGIES[strategy](seed)
    if isinstance(proposer, BohbScheduler):  # BOHB takes results of its own jobs only: as many, proposed by it
        told = 0
        while told < len(x):
            for proposal in proposer.ask(8):
                told += 1
                row = np.array([float(proposal.theta[f"x{i}"]) for i in range(DIMS)])  # type: ignore[arg-type]
                proposer.tell(Outcome(proposal.theta, -ackley(row), budget=proposal.budget, job=proposal.job))
    for row, value in zip(x, y, strict=True) if not isinstance(proposer, BohbScheduler) else ():
        theta = {f"x{i}": float(v) for i, v in enumerate(row)}
        proposer.tell(Outcome(theta, float(value), memory=math.exp(2 * float(row.sum())), budget=120.0))
    start = time.perf_counter()
    list_thetas(proposer.ask(8))
    return time.perf_counter() - start


def time_botorch(x: np.ndarray, y: np.ndarray, seed: int) -> float:
    from botorch.acquisition.logei import qLogNoisyExpectedImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from botorch.optim import optimize_acqf
    from gpytorch.mlls import ExactMarginalLogLikelihood

    torch.manual_seed(seed)
    train_x = torch.tensor(x, dtype=torch.float64)
    train_y = torch.tensor(y, dtype=torch.float64).unsqueeze(-1)
    start = time.perf_counter()
    model = SingleTaskGP(train_x, train_y, outcome_transform=Standardize(m=1))
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    acquisition = qLogNoisyExpectedImprovement(model, train_x)
    bounds = torch.stack([torch.zeros(DIMS), torch.ones(DIMS)]).to(torch.float64)
    optimize_acqf(acquisition, bounds, q=8, num_restarts=10, raw_samples=512, sequential=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 100, 300])
    parser.add_argument("--strategies", nargs="+", choices=list(STRATEGIES), default=list(STRATEGIES))
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    columns = [*args.strategies, "botorch"]
    print(f"{'observations':>12} " + " ".join(f"{c + ' s':>11}" for c in columns) + f" {'lp/botorch':>10}")
    for size in args.sizes:
        seconds: dict[str, list[float]] = {c: [] for c in columns}
        for repeat in range(args.repeats):
            rng = np.random.default_rng(repeat)
            x = rng.random((size, DIMS))
            y = np.array([-ackley(row) for row in x])
            for strategy in args.strategies:
                seconds[strategy].append(time_ours(strategy, x, y, repeat))
            seconds["botorch"].append(time_botorch(x, y, repeat))
        medians = {c: statistics.median(v) for c, v in seconds.items()}
        ratio = f"{medians['lp'] / medians['botorch']:>10.2f}" if "lp" in medians else ""
        print(f"{size:>12} " + " ".join(f"{medians[c]:>11.2f}" for c in columns) + f" {ratio}")


if __name__ == "__main__":
    main()
