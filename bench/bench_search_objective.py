"""BO with hard local penalisation against random generator hyperparameters on the real objective.

Issue 5. The quickstart's Fashion-MNIST objective (`examples/fashion-mnist-quickstart.yaml`: HNAG,
50k-parameter networks, 3 000 training images, one epoch, validation accuracy on 2 000 held-out
images), the same budget for both (`--trials`, parallelism 2, asynchronous), several seeds, no
final evaluation. Each run is a real `nago search` in its own state folder, so the benchmark is
resumable (finished runs are skipped). Reported per method: best validation accuracy after
`--trials` trials, median and quartiles over seeds, and the mean of the per-seed differences.

    .venv/bin/python bench/bench_search_objective.py --seeds 0 1 2 --trials 12 \
        --out bench/results/search-objective.jsonl
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from bench_common import build_parser, format_quartiles, read_results, run_missing
from nago.search.ledger import Ledger, TrialPurpose, TrialState

QUICKSTART = Path(__file__).resolve().parent.parent / "examples" / "fashion-mnist-quickstart.yaml"
METHODS = ("bo", "random")


def run(method: str, seed: int, trials: int, work: Path) -> dict[str, Any]:
    manifest = yaml.safe_load(QUICKSTART.read_text())
    manifest["metadata"]["name"] = f"objective-{method}-{seed}"
    manifest["spec"]["strategy"].update({"kind": method, "seed": seed})
    manifest["spec"]["budget"]["maxTrials"] = trials
    manifest["spec"]["final"]["architectures"] = 0
    folder = work / f"{method}-{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "search.yaml").write_text(yaml.safe_dump(manifest))
    command = [sys.executable, "-m", "nago.cli", "search", str(folder / "search.yaml"), "--state-dir", str(folder)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    ledger = Ledger.model_validate_json((folder / "ledger.json").read_text())
    done = sorted(
        (t for t in ledger.of(TrialPurpose.SEARCH) if t.state is TrialState.SUCCEEDED and t.result),
        key=lambda t: t.index,
    )
    curve, best = [], 0.0
    for trial in done:
        best = max(best, trial.result.accuracy if trial.result else 0.0)
        curve.append(best)
    seconds = (ledger.completed_at or 0.0) - (ledger.started_at or 0.0)
    return {"method": method, "seed": seed, "trials": trials, "best_curve": curve, "seconds": seconds}


def summarise(paths: list[Path]) -> None:
    rows = read_results(paths)
    best = {(r["method"], r["seed"]): r["best_curve"][-1] for r in rows if r["best_curve"]}
    for method in METHODS:
        values = [v for (m, _), v in best.items() if m == method]
        if values:
            print(f"{method:<8} seeds {len(values):>2}  best accuracy q1/median/q3 {format_quartiles(values)}")
    paired = [best[("bo", s)] - best[("random", s)] for (m, s) in best if m == "bo" and ("random", s) in best]
    if paired:
        print(f"BO − random per seed: mean {statistics.fmean(paired):+.4f} over {len(paired)} seeds: {paired}")


def main() -> None:
    parser = build_parser(__doc__, "out/search-objective.jsonl", default_seeds=3)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--work", type=Path, default=Path("out/search-objective"), help="state folders of the runs")
    args = parser.parse_args()
    if args.summarise:
        summarise(args.summarise)
        return
    keys = [{"method": m, "seed": s} for s in args.seeds for m in METHODS]
    run_missing(
        args.out, keys, lambda **key: run(**key, trials=args.trials, work=args.work),
        lambda result: f"best {result['best_curve'][-1]:.4f} in {result['seconds']:.0f} s",
    )  # fmt: skip
    summarise([args.out])


if __name__ == "__main__":
    main()
