"""Which results a search returns: the Pareto front of its search trials and the summary of its final networks.

Read by the engine (which Θ the final evaluation trains, appendix C.2), the status and the report, so all three
choose the same points.
"""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np

from nago.bo.pareto import pareto_mask
from nago.search.ledger import Ledger, TrialEntry, TrialPurpose


def _mean_std(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def summarise_final(ledger: Ledger) -> list[dict[str, Any]]:
    """Per chosen Θ: mean ± std of test accuracy (validation if no test split), params and memory."""
    groups: dict[int, list[TrialEntry]] = {}
    for trial in ledger.of(TrialPurpose.FINAL):
        groups.setdefault(trial.group or 0, []).append(trial)
    summary = []
    for group, trials in sorted(groups.items()):
        done = [t.result for t in trials if t.result is not None]
        summary.append({
            "theta": trials[0].theta,
            "architectures": len(trials),
            "succeeded": len(done),
            "test_accuracy": _mean_std([r.test_accuracy if r.test_accuracy is not None else r.accuracy for r in done]),
            "params": _mean_std([float(r.params) for r in done if r.params is not None]),
            "memory_per_image": _mean_std([r.memory for r in done if r.memory is not None]),
            "group": group,
        })  # fmt: skip
    return summary


def find_best_final(groups: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The final group with the highest mean test accuracy among those with a succeeded network."""
    tested = [g for g in groups if g["succeeded"] and g["test_accuracy"] is not None]
    return max(tested, key=lambda g: g["test_accuracy"]["mean"]) if tested else None


def find_pareto_front(ledger: Ledger) -> list[TrialEntry]:
    """Non-dominated succeeded search trials at one budget (the largest trained; BOHB's smaller
    budgets are not comparable), by memory ascending."""
    done = [t for t in ledger.succeeded_at_top_budget() if t.result and t.result.memory is not None]
    if not done:
        return []
    values = np.array([[t.result.accuracy, -float(t.result.memory or 0.0)] for t in done if t.result])
    front = [t for t, keep in zip(done, pareto_mask(values), strict=True) if keep]
    return sorted(front, key=lambda t: float(t.result.memory or 0.0) if t.result else 0.0)


def spread_over(front: list[TrialEntry], k: int) -> list[TrialEntry]:
    """At most k points of a front, evenly spaced along it, both ends kept."""
    if len(front) <= k:
        return front
    return [front[i] for i in sorted({round(i * (len(front) - 1) / max(k - 1, 1)) for i in range(k)})]
