"""Hypervolume of multi-objective BO: our MOBO (BNN and GP surrogates) against BoTorch's qLogNEHVI and random.

Issue 4, benchmark 3. BraninCurrin (2-D) and DTLZ2 (6-D, 2 objectives), both minimised, from
BoTorch's test functions. Every method starts from the same 2(d+1) scrambled Sobol points (seeded
per run), then proposes 20 batches of 8. Reported: the hypervolume of the observed points against
the problems' reference points (BraninCurrin [18, 6], max ≈ 59.36; DTLZ2 [1.1, 1.1], max ≈ 0.4246),
after the initial design and after batches 5, 10 and 20, as quartiles over seeds.

Our MOBO (`nago.bo.mobo`) maximises accuracy and −log(memory); we tell it accuracy = −f₀ and
memory = exp(f₁), so its second objective is exactly −f₁. qLogNEHVI: a ModelListGP of two
SingleTaskGPs (standardised outputs), 128 Sobol MC samples, pruned baseline, `optimize_acqf`
q = 8 sequential greedy, 10 restarts, 512 raw samples (BoTorch's MOBO tutorial settings). `mobo-gp` is
our MOBO with `surrogate="gp"` (issue 23): the same acquisition inside the proposer, with its own seeding,
fitting and snapping. The summary adds each method's median share of the largest hypervolume.

    .venv/bin/python bench/bench_mobo.py --seeds 0 1 2 --out out/mobo.jsonl
    .venv/bin/python bench/bench_mobo.py --summarise out/mobo.jsonl
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from botorch.test_functions.multi_objective import DTLZ2, BraninCurrin, MultiObjectiveTestProblem

from bench_common import build_parser, format_quartiles, make_unit_box, read_results, run_missing, use_one_core
from nago.bo.baselines import RandomProposer
from nago.bo.encoding import SpaceEncoding
from nago.bo.mobo import MoboProposer
from nago.bo.pareto import hypervolume
from nago.bo.proposer import Outcome, list_thetas, space_filling
from nago.generator.spaces import SearchSpace

BATCH = 8
BATCHES = 20
REPORT_AFTER = (0, 5, 10, 20)
PROBLEMS: dict[str, MultiObjectiveTestProblem] = {
    "branincurrin": BraninCurrin(),
    "dtlz2": DTLZ2(dim=6, num_objectives=2),
}


def evaluate(problem: MultiObjectiveTestProblem, x: np.ndarray) -> np.ndarray:
    """Objective values (minimised), n × 2."""
    with torch.no_grad():
        return problem.evaluate_true(torch.tensor(x, dtype=torch.float64)).numpy()


def initial_design(space: SearchSpace, seed: int) -> np.ndarray:
    """The same 2(d+1) Sobol points for every method of a seed (MoboProposer's first batch)."""
    encoding = SpaceEncoding(space)
    return np.array(space_filling(encoding, np.random.default_rng([seed, 0]), 2 * (encoding.dims + 1), set()))


MOBO_METHODS = ["mobo", "mobo-gp", "qlognehvi", "random"]
SURROGATE_OF = {"mobo": "bnn", "mobo-gp": "gp"}


def propose_qlognehvi(problem: MultiObjectiveTestProblem, x: np.ndarray, f: np.ndarray, seed: int) -> np.ndarray:
    from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import ModelListGP, SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from botorch.optim import optimize_acqf
    from botorch.sampling import SobolQMCNormalSampler
    from gpytorch.mlls import SumMarginalLogLikelihood

    torch.manual_seed(seed)
    train_x = torch.tensor(x, dtype=torch.float64)
    train_y = -torch.tensor(f, dtype=torch.float64)
    models = [SingleTaskGP(train_x, train_y[:, i : i + 1], outcome_transform=Standardize(m=1)) for i in range(2)]
    model = ModelListGP(*models)
    fit_gpytorch_mll(SumMarginalLogLikelihood(model.likelihood, model))
    acquisition = qLogNoisyExpectedHypervolumeImprovement(
        model=model, ref_point=(-problem.ref_point).tolist(), X_baseline=train_x, prune_baseline=True,
        sampler=SobolQMCNormalSampler(sample_shape=torch.Size([128])),
    )  # fmt: skip
    bounds = torch.stack([torch.zeros(x.shape[1]), torch.ones(x.shape[1])]).to(torch.float64)
    batch, _ = optimize_acqf(
        acquisition, bounds, q=BATCH, num_restarts=10, raw_samples=512, sequential=True,
        options={"batch_limit": 5, "maxiter": 200},
    )  # fmt: skip
    return batch.detach().numpy()


def run(problem_name: str, method: str, seed: int) -> dict[str, object]:
    problem = PROBLEMS[problem_name]
    space = make_unit_box(problem.dim)
    names = [f"x{i}" for i in range(problem.dim)]
    started = time.perf_counter()
    x = initial_design(space, seed)
    f = evaluate(problem, x)
    mobo = MoboProposer(space, seed, initial_points=len(x), surrogate=SURROGATE_OF.get(method, "bnn"))
    random = RandomProposer(space, seed)
    if method in SURROGATE_OF:
        assert np.allclose(np.array([[t[n] for n in names] for t in list_thetas(mobo.ask(len(x)))]), x)
    for row, values in zip(x, f, strict=True):
        mobo.tell(Outcome(dict(zip(names, row, strict=True)), accuracy=-values[0], memory=math.exp(values[1])))
        random.tell(Outcome(dict(zip(names, row, strict=True)), 0.0))
    reference = -problem.ref_point.numpy()
    volumes = [hypervolume(-f, reference)]
    for index in range(BATCHES):
        if method in SURROGATE_OF:
            new = np.array([[t[n] for n in names] for t in list_thetas(mobo.ask(BATCH))])
        elif method == "qlognehvi":
            new = propose_qlognehvi(problem, x, f, seed * 1000 + index)
        else:
            new = np.array([[t[n] for n in names] for t in list_thetas(random.ask(BATCH))])
        values = evaluate(problem, new)
        for row, value in zip(new, values, strict=True):
            mobo.tell(Outcome(dict(zip(names, row, strict=True)), accuracy=-value[0], memory=math.exp(value[1])))
            random.tell(Outcome(dict(zip(names, row, strict=True)), 0.0))
        x, f = np.vstack([x, new]), np.vstack([f, values])
        volumes.append(hypervolume(-f, reference))
    return {"problem": problem_name, "method": method, "seed": seed, "hypervolume": volumes,
            "max_hypervolume": float(problem.max_hv), "seconds": time.perf_counter() - started}  # fmt: skip


def summarise(paths: list[Path]) -> None:
    rows = read_results(paths)
    header = "".join(f"{f'HV after {b} batches':>26}" for b in REPORT_AFTER)
    print(f"{'problem':<14} {'method':<10} {'seeds':>5} {header} {'s/run':>7} {'% of max at 20':>15}")
    for problem in PROBLEMS:
        for method in MOBO_METHODS:
            runs = [r for r in rows if r["problem"] == problem and r["method"] == method]
            if runs:
                cells = "".join(f"{format_quartiles([r['hypervolume'][b] for r in runs]):>26}" for b in REPORT_AFTER)
                seconds = sorted(r["seconds"] for r in runs)[len(runs) // 2]
                share = float(np.median([r["hypervolume"][-1] / r["max_hypervolume"] for r in runs]))
                print(f"{problem:<14} {method:<10} {len(runs):>5} {cells} {seconds:>7.0f} {share:>15.1%}")


def main() -> None:
    use_one_core()
    parser = build_parser(__doc__, "out/mobo.jsonl", default_seeds=10)
    parser.add_argument("--problems", nargs="+", choices=list(PROBLEMS), default=list(PROBLEMS))
    parser.add_argument("--methods", nargs="+", choices=MOBO_METHODS, default=MOBO_METHODS)
    args = parser.parse_args()
    if args.summarise:
        summarise(args.summarise)
        return
    keys = [{"problem": p, "method": m, "seed": s} for p in args.problems for s in args.seeds for m in args.methods]
    run_missing(
        args.out,
        keys,
        lambda problem, method, seed: run(problem, method, seed),
        lambda result: f"HV {result['hypervolume'][-1]:.4g} in {result['seconds']:.0f} s",
    )
    summarise([args.out])


if __name__ == "__main__":
    main()
