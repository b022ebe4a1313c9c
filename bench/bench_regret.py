"""Simple regret of batch BO: hard local penalisation against qLogNEI, Thompson sampling and random.

Issue 4, benchmark 2, and issue 23's broader suite. Each run starts from the proposer's own initial
design and proposes batches of 8 until `--evaluations`; simple regret = optimum − the best noise-free
value among the points evaluated, reported at 100, 120 and 200 evaluations as median and quartiles over
seeds. Benchmark 2's functions (maximised as −f): Hartmann-6 embedded in 8 dimensions with 5 integer
dimensions (11 levels each; regret against the continuous optimum 3.32237), Ackley-8 on
[−32.768, 32.768]^8, Levy-8 on [−10, 10]^8, Branin on [−5, 10]×[0, 15]. The suite's twelve are in
`regret_functions.py` (`--functions suite` names them all); a noisy function's proposer is told noisy
values. LP runs record the share of penalisation radii the floor raised (`radii_at_floor`) and the median
over batches of the closest pair's distance in lengthscales (`closest_pair_median`). Results are
written as JSON lines so runs can be split across sessions:

    .venv/bin/python bench/bench_regret.py --seeds 0 1 2 --functions branin --out out/regret.jsonl
    .venv/bin/python bench/bench_regret.py --seeds 100 --functions suite --out out/suite.jsonl
    .venv/bin/python bench/bench_regret.py --summarise out/regret.jsonl [more.jsonl …]
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from regret_functions import SUITE

from bench_common import build_parser, format_quartiles, make_unit_box, read_results, run_missing, use_one_core
from nago.bo.baselines import RandomProposer
from nago.bo.gp_lp import DTYPE, LocalPenalisationProposer
from nago.bo.proposer import Outcome, Proposer, list_thetas
from nago.bo.thompson import ThompsonProposer
from nago.generator.spaces import ParamKind, ParamRange, SearchSpace, SpaceName

HARTMANN_A = np.array(
    [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
)
HARTMANN_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
HARTMANN_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def _hartmann_space() -> SearchSpace:
    ints = tuple(ParamRange(f"x{i}", ParamKind.INT, 0, 10, 0, 10, f"grid coordinate {i}") for i in range(5))
    floats = tuple(ParamRange(f"x{i}", ParamKind.FLOAT, 0.0, 1.0, 0.0, 1.0, f"coordinate {i}") for i in range(5, 8))
    return SearchSpace(SpaceName.HNAG, ints + floats)


def hartmann8(theta: dict[str, float]) -> float:
    x = np.array([theta[f"x{i}"] / 10 if i < 5 else theta[f"x{i}"] for i in range(6)])
    return float(np.sum(HARTMANN_ALPHA * np.exp(-np.sum(HARTMANN_A * (x - HARTMANN_P) ** 2, axis=1))))


def ackley8(theta: dict[str, float]) -> float:
    z = np.array([theta[f"x{i}"] for i in range(8)]) * 65.536 - 32.768
    value = -20 * math.exp(-0.2 * math.sqrt((z**2).mean())) - math.exp(np.cos(2 * math.pi * z).mean()) + 20 + math.e
    return -float(value)


def levy8(theta: dict[str, float]) -> float:
    z = np.array([theta[f"x{i}"] for i in range(8)]) * 20 - 10
    w = 1 + (z - 1) / 4
    value = (
        math.sin(math.pi * w[0]) ** 2
        + float(np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2)))
        + (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    )
    return -float(value)


def branin(theta: dict[str, float]) -> float:
    x1, x2 = theta["x0"] * 15 - 5, theta["x1"] * 15
    value = (
        (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1)
        + 10
    )
    return -value


FUNCTIONS: dict[str, tuple[SearchSpace, Callable[[dict[str, float]], float], float, float]] = {
    "hartmann6-in-8": (_hartmann_space(), hartmann8, 3.32237, 0.0),
    "ackley8": (make_unit_box(8), ackley8, 0.0, 0.0),
    "levy8": (make_unit_box(8), levy8, 0.0, 0.0),
    "branin": (make_unit_box(2), branin, -0.397887, 0.0),
    **{name: (f.space, f.evaluate, -f.optimum, f.noise_sd) for name, f in SUITE.items()},
}  # space, noise-free objective (maximised), its optimum, observation noise sd
NOISE_STREAM = 7  # the observation noise's random stream: (seed, NOISE_STREAM), the same for every method


class QLogNeiProposer(LocalPenalisationProposer):
    """BoTorch's qLogNoisyExpectedImprovement, sequential greedy, 10 restarts, 512 raw samples, at most
    200 L-BFGS-B iterations per start (the settings of BoTorch's tutorials)."""

    kind = "qlognei"

    def _penalised_batch(self, n: int, busy: list[np.ndarray], taken: set[tuple[float, ...]]) -> list[np.ndarray]:
        from botorch.acquisition.logei import qLogNoisyExpectedImprovement
        from botorch.optim import optimize_acqf

        model = self.fit_model()
        pending = torch.tensor(np.array(busy), dtype=DTYPE) if busy else None
        acquisition = qLogNoisyExpectedImprovement(model, model.train_inputs[0], X_pending=pending)
        bounds = torch.stack([torch.zeros(self.encoding.dims), torch.ones(self.encoding.dims)]).to(DTYPE)
        batch, _ = optimize_acqf(
            acquisition, bounds, q=n, num_restarts=10, raw_samples=512, sequential=True,
            options={"batch_limit": 5, "maxiter": 200},
        )  # fmt: skip
        chosen: list[np.ndarray] = []
        extra = self._rng().random((1000, self.encoding.dims))  # rounding can collide; fill with random points
        for row in batch.detach().numpy():
            self._take_unique(np.vstack([row[None, :], extra]), taken, chosen)
        return chosen


def build_local_radii_lp(min_radius: float) -> Callable[[SearchSpace, int], Proposer]:
    """LP whose radii use each ball's own Lipschitz constant (issue 23; docs/bo.md), with a radius floor."""

    def build(space: SearchSpace, seed: int) -> Proposer:
        return LocalPenalisationProposer(space, seed, radius_rule="local", min_radius=min_radius)

    return build


def build_warped_lp(space: SearchSpace, seed: int) -> Proposer:
    """LP whose GP sees Yeo-Johnson-warped values (issue 23; docs/bo.md, "Output warping")."""
    return LocalPenalisationProposer(space, seed, output_warping="yeo-johnson")


LOCAL_VARIANTS = {"lp-local": 0.5, "lp-local-floor-0.25": 0.25, "lp-local-floor-0": 0.0}
LP_VARIANTS = ("lp", *LOCAL_VARIANTS, "lp-warp")  # each compared with qLogNEI and random in the summary
METHODS: dict[str, Callable[[SearchSpace, int], Proposer]] = {
    "lp": LocalPenalisationProposer,
    "lp-warp": build_warped_lp,
    **{name: build_local_radii_lp(floor) for name, floor in LOCAL_VARIANTS.items()},
    "qlognei": QLogNeiProposer,
    "thompson": ThompsonProposer,
    "random": RandomProposer,
}


def run(function: str, method: str, seed: int, evaluations: int, batch: int) -> dict[str, object]:
    space, f, optimum, noise_sd = FUNCTIONS[function]
    proposer = METHODS[method](space, seed)
    noise = np.random.default_rng([seed, NOISE_STREAM])
    best, curve = -math.inf, []
    radii = at_floor = 0
    spreads: list[float] = []  # per model-based LP batch: the closest pair's distance in lengthscales
    started = time.perf_counter()
    while len(curve) < evaluations:
        thetas = list_thetas(proposer.ask(min(batch, evaluations - len(curve))))
        scale = getattr(getattr(proposer, "diagnostics", None), "scale", None)
        if scale and len(thetas) > 1:
            encoding = proposer.encoding  # type: ignore[attr-defined]
            points = np.array([encoding.snap(encoding.encode(t)) for t in thetas]) / np.array(scale)
            gaps = np.linalg.norm(points[:, None] - points[None], axis=-1)
            np.fill_diagonal(gaps, np.inf)
            spreads.append(float(gaps.min()))
        for theta in thetas:
            value = f(theta)  # type: ignore[arg-type]
            proposer.tell(Outcome(theta, value + noise_sd * float(noise.standard_normal()) if noise_sd else value))
            best = max(best, value)
            curve.append(optimum - best)
        if isinstance(proposer, LocalPenalisationProposer) and not isinstance(proposer, QLogNeiProposer):
            radii += len(proposer.diagnostics.rule_radii)
            at_floor += sum(r < proposer.min_radius for r in proposer.diagnostics.rule_radii)
    row: dict[str, object] = {
        "function": function,
        "method": method,
        "seed": seed,
        "regret": [float(f"{r:.5g}") for r in curve],
        "seconds": time.perf_counter() - started,
    }
    if radii:
        row["radii_at_floor"] = round(at_floor / radii, 4)
    if spreads:
        row["closest_pair_median"] = round(float(np.median(spreads)), 4)
    return row


CHECKPOINTS = (100, 120, 200)  # evaluations at which regret is reported


def summarise(paths: list[Path]) -> None:
    """Quartiles per function and method; LP against qLogNEI by a one-sided Wilcoxon signed-rank test
    on the seeds both ran (paired: a seed fixes the initial design); random's median over LP's; the
    share of LP's radii the floor raised."""
    rows = read_results(paths)
    cells_header = "".join(f"{f'regret@{at} (q1/median/q3)':>30}" for at in CHECKPOINTS)
    print(f"{'function':<28} {'method':<10} {'seeds':>5}{cells_header}")
    for function in FUNCTIONS:
        runs = {
            m: {r["seed"]: r["regret"] for r in rows if r["function"] == function and r["method"] == m} for m in METHODS
        }
        for method, by_seed in runs.items():
            if by_seed:
                cells = [format_quartiles([c[at - 1] for c in by_seed.values() if len(c) >= at]) for at in CHECKPOINTS]
                print(f"{function:<28} {method:<10} {len(by_seed):>5}" + "".join(f"{c:>30}" for c in cells))
        for variant in LP_VARIANTS:
            if runs[variant]:
                print_lp_verdicts(variant, runs, [r for r in rows if r["function"] == function])


def print_lp_verdicts(variant: str, runs: dict[str, dict[int, list[float]]], rows: list[dict[str, Any]]) -> None:
    """One LP variant against qLogNEI (paired one-sided Wilcoxon) and random (median ratio), and the share of
    its radii the floor raised."""
    from scipy.stats import wilcoxon

    floor_shares = [r["radii_at_floor"] for r in rows if r["method"] == variant and "radii_at_floor" in r]
    closest = [r["closest_pair_median"] for r in rows if r["method"] == variant and "closest_pair_median" in r]
    if floor_shares:
        spread = f"; closest pair in a batch: median {np.median(closest):.3g} lengthscales" if closest else ""
        print(f"  {variant}: radii raised by the floor: median {np.median(floor_shares):.0%} of a run's radii{spread}")
    for at in CHECKPOINTS[1:]:
        notes = []
        shared = sorted(
            s
            for s in set(runs[variant]) & set(runs["qlognei"])
            if min(len(runs[variant][s]), len(runs["qlognei"][s])) >= at
        )
        if len(shared) >= 5:
            lp = np.array([runs[variant][s][at - 1] for s in shared])
            other = np.array([runs["qlognei"][s][at - 1] for s in shared])
            p_worse = float(wilcoxon(lp, other, alternative="greater").pvalue) if np.any(lp != other) else 1.0
            verdict = "no worse" if p_worse >= 0.05 else "WORSE"
            notes.append(f"{variant} vs qLogNEI on {len(shared)} paired seeds: p(worse) = {p_worse:.3f}, {verdict}")
        lp_at = [c[at - 1] for c in runs[variant].values() if len(c) >= at]
        random_at = [c[at - 1] for c in runs["random"].values() if len(c) >= at]
        if lp_at and random_at:
            lp_median, random_median = float(np.median(lp_at)), float(np.median(random_at))
            verdict = "below random" if lp_median < random_median else "NOT below random"
            notes.append(f"random/{variant} median regret {random_median / max(lp_median, 1e-300):.1f}× ({verdict})")
        if notes:
            print(f"  @{at}: " + "; ".join(notes))


FUNCTION_SETS = {"benchmark2": ["hartmann6-in-8", "ackley8", "levy8", "branin"], "suite": list(SUITE)}


def main() -> None:
    use_one_core()
    parser = build_parser(__doc__, "out/regret.jsonl", default_seeds=20)
    parser.add_argument(
        "--functions", nargs="+", choices=[*FUNCTIONS, *FUNCTION_SETS], default=FUNCTION_SETS["benchmark2"],
        help="functions, or 'suite' / 'benchmark2' for a whole set",
    )  # fmt: skip
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=["lp", "qlognei", "thompson", "random"])
    parser.add_argument("--evaluations", type=int, default=200)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    if args.summarise:
        summarise(args.summarise)
        return
    functions = [name for f in args.functions for name in FUNCTION_SETS.get(f, [f])]
    keys = [{"function": f, "method": m, "seed": s} for f in functions for s in args.seeds for m in args.methods]
    run_missing(
        args.out, keys, lambda **key: run(**key, evaluations=args.evaluations, batch=args.batch),
        lambda result: f"regret {result['regret'][-1]:.4g} in {result['seconds']:.0f} s",
    )  # fmt: skip
    summarise([args.out])


if __name__ == "__main__":
    main()
