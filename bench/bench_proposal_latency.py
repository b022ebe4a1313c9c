"""Proposal latency: a batch of 8 in 8 dimensions at 30, 100 and 300 observations.

Side by side in one run, on the same observations (Ackley-8 on the unit box, values negated so
larger is better): our GP-BO with hard local penalisation (`ask(8)`, GP fit included) against
BoTorch's `optimize_acqf` with qLogNoisyExpectedImprovement (q = 8, sequential greedy,
10 restarts, 512 raw samples; GP fit included). Median seconds over `--repeats` runs; the ratio
(ours / BoTorch) is the figure that carries across machines.

    .venv/bin/python bench/bench_proposal_latency.py --repeats 3
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import time

import numpy as np
import torch

from bench_common import make_unit_box
from nago.bo.gp_lp import LocalPenalisationProposer
from nago.bo.proposer import Outcome, list_thetas

DIMS = 8
BOX = make_unit_box(DIMS)


def ackley(x: np.ndarray) -> float:
    z = 4 * x - 2
    return float(
        -20 * math.exp(-0.2 * math.sqrt((z**2).mean())) - math.exp(np.cos(2 * math.pi * z).mean()) + 20 + math.e
    )


def time_ours(x: np.ndarray, y: np.ndarray, seed: int) -> float:
    proposer = LocalPenalisationProposer(BOX, seed=seed)
    for row, value in zip(x, y, strict=True):
        proposer.tell(Outcome({f"x{i}": float(v) for i, v in enumerate(row)}, float(value)))
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
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    print(f"{'observations':>12} {'ours s':>8} {'botorch s':>10} {'ratio':>6}")
    for size in args.sizes:
        ours, theirs = [], []
        for repeat in range(args.repeats):
            rng = np.random.default_rng(repeat)
            x = rng.random((size, DIMS))
            y = np.array([-ackley(row) for row in x])
            ours.append(time_ours(x, y, repeat))
            theirs.append(time_botorch(x, y, repeat))
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"{size:>12} {a:>8.2f} {b:>10.2f} {a / b:>6.2f}")


if __name__ == "__main__":
    main()
