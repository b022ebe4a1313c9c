"""Engine and proposer overhead per trial, against the training time of the quickstart's trials.

Issue 5. A search of `--trials` trials is driven through `nago.search.engine.reconcile` with results made
up on the spot (a smooth function of Θ, so the proposers have something to model), parallelism 2,
asynchronous, for each strategy. Reported: the engine's seconds per trial (every reconcile call,
the proposer's ask/tell and the ledger's JSON round trip included) and that as a share of the
median training time of the trials in a finished quickstart ledger (`--ledger`).

    .venv/bin/nago search examples/fashion-mnist-quickstart.yaml --state-dir out/quickstart
    .venv/bin/python bench/bench_engine_overhead.py --ledger out/quickstart/ledger.json
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

from nago.search.engine import LaunchTrial, RecordReceived, reconcile
from nago.search.ledger import Ledger, TrialPurpose
from nago.search.spec import parse_search
from nago.trial.records import FinalRecord


def made_up_accuracy(theta: dict[str, int | float]) -> float:
    return 0.9 - 0.1 * math.cos(sum(float(v) for v in theta.values()))


def measure(kind: str, trials: int) -> float:
    """Seconds of engine time per trial for one strategy."""
    spec_doc = {
        "strategy": {"kind": kind, "mode": "async", "batchSize": 2, "bohb": {"budgets": [1, 2, 4]}},
        "budget": {"maxTrials": trials, "parallelism": 2, "epochs": 1},
        "final": {"architectures": 0},
    }
    if kind == "mobo":
        spec_doc["objectives"] = ["accuracy", "memory"]
    manifest = {"apiVersion": "nago.dev/v1alpha1", "kind": "GeneratorSearch", "metadata": {"name": "b"}}
    spec = parse_search({**manifest, "spec": spec_doc}).spec
    ledger, events, spent = Ledger(search="b"), [], 0.0
    for now in range(10 * trials):
        started = time.perf_counter()
        step = reconcile(spec, Ledger.model_validate_json(ledger.model_dump_json()), events, float(now))
        spent += time.perf_counter() - started
        ledger = step.ledger
        if ledger.phase.value in ("Succeeded", "Failed"):
            break
        events = []
        for action in step.actions:
            if isinstance(action, LaunchTrial):
                trial = action.trial
                record = FinalRecord(
                    search="b", trial_id=trial.trial_id, attempt=trial.attempt, epoch=trial.budget, time=0.0,
                    status="succeeded", exit_code=0, best_val_accuracy=made_up_accuracy(trial.theta),
                    activation_bytes_per_image=int(1e6 * (1 + trial.index % 7)), trial_digest=trial.digest(),
                )  # fmt: skip
                events.append(RecordReceived(record, float(now)))
    return spent / len(ledger.of(TrialPurpose.SEARCH))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--strategies", nargs="+", default=["random", "bo", "bohb", "mobo"])
    parser.add_argument("--ledger", type=Path, help="a finished quickstart ledger, for its trials' training time")
    args = parser.parse_args()
    training = None
    if args.ledger is not None:
        finished = Ledger.model_validate_json(args.ledger.read_text()).of(TrialPurpose.SEARCH)
        durations = [t.finished_at - t.launched_at for t in finished if t.finished_at and t.launched_at]
        training = statistics.median(durations)
        print(f"quickstart trials: median {training:.1f} s from launch to result ({len(durations)} trials)")
    for kind in args.strategies:
        per_trial = measure(kind, args.trials)
        share = f", {100 * per_trial / training:.2f}% of a quickstart trial" if training else ""
        print(f"{kind:<8} engine + proposer {per_trial * 1000:8.1f} ms per trial over {args.trials} trials{share}")


if __name__ == "__main__":
    main()
