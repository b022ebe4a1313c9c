"""The results of a search: ledger, best generator, Pareto front, final evaluation and a report.

Written by `nago search` when a search ends and rebuilt by `nago report DIR` from the state
directory (its `search.json` and `ledger.json`). Files:

    ledger.json          every trial once, as the engine kept it
    best-generator.json  Θ* with its space, ranges and result, and the final evaluation (Algorithm 1,
                         line 10: mean ± std of test accuracy, params and memory over K networks)
    pareto.json          the non-dominated search trials in (accuracy ↑, memory per image ↓)
    report.md            a summary with the plots below
    best-so-far.png, pareto.png, memory.png, best-architecture.png
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from nago.atomic import write_text_atomically
from nago.generator.architecture import InputSpec
from nago.search.ledger import Ledger, TrialEntry, TrialPurpose, TrialState
from nago.search.selection import find_best_final, find_pareto_front, summarise_final
from nago.search.spec import GeneratorSearch
from nago.trial.dataset import DatasetKind

KNOWN_INPUTS = {
    DatasetKind.FASHION_MNIST: InputSpec(channels=1, size=28, num_classes=10),
    DatasetKind.CIFAR10: InputSpec(channels=3, size=32, num_classes=10),
    DatasetKind.CIFAR100: InputSpec(channels=3, size=32, num_classes=100),
}


def _succeeded(ledger: Ledger, purpose: TrialPurpose) -> list[TrialEntry]:
    return [t for t in ledger.of(purpose) if t.state is TrialState.SUCCEEDED and t.result is not None]


def _trial_row(trial: TrialEntry) -> dict[str, Any]:
    result = trial.result.model_dump() if trial.result else None
    return {"trial_id": trial.trial_id, "theta": trial.theta, "budget": trial.budget, "result": result}


def write_results(search: GeneratorSearch, ledger: Ledger, folder: Path) -> Path:
    """Write every results file into `folder`; returns the report's path."""
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomically(folder / "ledger.json", ledger.model_dump_json(indent=1))
    best = ledger.best()
    best_doc = {
        "search": search.metadata.name,
        "space": search.spec.space.name.value,
        "ranges": search.spec.space.ranges,
        "phase": ledger.phase.value,
        "best": _trial_row(best) if best else None,
        "final": summarise_final(ledger),
    }
    write_text_atomically(folder / "best-generator.json", json.dumps(best_doc, indent=1))
    front = find_pareto_front(ledger)
    write_text_atomically(folder / "pareto.json", json.dumps([_trial_row(t) for t in front], indent=1))
    plots = _plot(search, ledger, front, folder)
    report = folder / "report.md"
    write_text_atomically(report, _markdown(search, ledger, best_doc, front, plots))
    return report


def _plot(search: GeneratorSearch, ledger: Ledger, front: list[TrialEntry], folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[str] = []
    done = sorted(_succeeded(ledger, TrialPurpose.SEARCH), key=lambda t: t.finished_at or 0.0)
    if done:
        accuracy = np.array([t.result.accuracy for t in done if t.result])
        figure, (by_trial, by_time) = plt.subplots(1, 2, figsize=(10, 3.5))
        by_trial.plot(np.arange(1, len(done) + 1), np.maximum.accumulate(accuracy), drawstyle="steps-post")
        by_trial.scatter(np.arange(1, len(done) + 1), accuracy, s=10, alpha=0.5)
        by_trial.set(xlabel="trials finished", ylabel="validation accuracy", title="best so far")
        minutes = np.array([((t.finished_at or 0.0) - (ledger.started_at or 0.0)) / 60 for t in done])
        by_time.plot(minutes, np.maximum.accumulate(accuracy), drawstyle="steps-post")
        by_time.set(xlabel="minutes since start", ylabel="validation accuracy", title="best so far")
        figure.tight_layout()
        figure.savefig(folder / "best-so-far.png", dpi=110)
        plt.close(figure)
        written.append("best-so-far.png")
        memory_mb = [t.result.memory / 1e6 for t in done if t.result and t.result.memory is not None]
        if memory_mb:
            figure, ax = plt.subplots(figsize=(5, 3.5))
            ax.hist(memory_mb, bins=min(20, max(5, len(memory_mb))))
            ax.set(xlabel="memory per image (MB)", ylabel="architectures", title="evaluated architectures")
            figure.tight_layout()
            figure.savefig(folder / "memory.png", dpi=110)
            plt.close(figure)
            written.append("memory.png")
            figure, ax = plt.subplots(figsize=(5, 3.5))
            ax.scatter(memory_mb, [t.result.accuracy for t in done if t.result and t.result.memory is not None],
                       s=12, alpha=0.5, label="trials")  # fmt: skip
            ax.plot([t.result.memory / 1e6 for t in front if t.result and t.result.memory],
                    [t.result.accuracy for t in front if t.result], "r.-", label="Pareto front")  # fmt: skip
            ax.set(xlabel="memory per image (MB)", ylabel="validation accuracy", title="accuracy against memory")
            ax.legend()
            figure.tight_layout()
            figure.savefig(folder / "pareto.png", dpi=110)
            plt.close(figure)
            written.append("pareto.png")
    best = ledger.best()
    input_spec = KNOWN_INPUTS.get(search.spec.dataset.kind)
    if best is not None and input_spec is not None:
        from nago.generator.drawing import draw_architecture
        from nago.generator.sampling import sample_architecture

        architecture = sample_architecture(
            search.spec.space.build(), best.theta, best.seed, input_spec,
            search.spec.training.param_budget, search.spec.training.head_channels,
        )  # fmt: skip
        draw_architecture(architecture, folder / "best-architecture.png")
        written.append("best-architecture.png")
    return written


def describe_final(ledger: Ledger) -> str | None:
    """One line on the networks a search returns: their test accuracy, parameters and memory per image."""
    best = find_best_final(summarise_final(ledger))
    if best is None:
        return None
    memory = best["memory_per_image"]
    memory_text = f", {_fmt(memory, 1e6, 3)} MB of memory per image" if memory is not None else ""
    return (
        f"final networks from Θ*: test accuracy {_fmt(best['test_accuracy'])} ({best['succeeded']} networks), "
        f"{_fmt(best['params'], 1, 6)} parameters{memory_text}"
    )


def _fmt(stat: dict[str, float] | None, scale: float = 1.0, digits: int = 4) -> str:
    if stat is None:
        return "-"
    return f"{stat['mean'] / scale:.{digits}g} ± {stat['std'] / scale:.2g}"


def _markdown(
    search: GeneratorSearch, ledger: Ledger, best: dict[str, Any], front: list[TrialEntry], plots: list[str]
) -> str:
    spec = search.spec
    trials = ledger.of(TrialPurpose.SEARCH)
    failed = [t for t in trials if t.state is TrialState.FAILED]
    lines = [
        f"# Search `{search.metadata.name}`: {ledger.phase.value}",
        "",
    ]
    if (final := describe_final(ledger)) is not None:
        lines += [f"**{final}**", ""]
    lines += [
        f"- space {spec.space.name.value}, strategy {spec.strategy.kind.value} ({spec.strategy.mode.value}, "
        f"batch {spec.strategy.batch_size}), dataset {spec.dataset.kind.value}",
        f"- trials: {len(trials)} of {spec.budget.max_trials}, {len(failed)} failed"
        + (f"; reason: {ledger.reason} ({ledger.message})" if ledger.reason else ""),
    ]
    if best["best"]:
        row = best["best"]
        lines += ["", "## Best generator Θ*", "", f"trial `{row['trial_id']}`, validation accuracy "
                  f"{row['result']['accuracy']:.4f}", "", "| hyperparameter | value |", "|---|---|"]  # fmt: skip
        lines += [f"| {name} | {value:g} |" for name, value in row["theta"].items()]
    if best["final"]:
        header = "| Θ | networks | test accuracy | params (M) | memory/image (MB) |"
        lines += ["", "## Final evaluation (Algorithm 1, line 10)", "", header, "|---|---|---|---|---|"]
        for group in best["final"]:
            lines.append(
                f"| {group['group']} | {group['succeeded']}/{group['architectures']} | {_fmt(group['test_accuracy'])} "
                f"| {_fmt(group['params'], 1e6)} | {_fmt(group['memory_per_image'], 1e6)} |"
            )
    if front:
        lines += ["", "## Pareto front (accuracy ↑, memory ↓)", "", "| trial | accuracy | memory/image (MB) |",
                  "|---|---|---|"]  # fmt: skip
        lines += [f"| {t.trial_id} | {t.result.accuracy:.4f} | {(t.result.memory or 0) / 1e6:.2f} |"
                  for t in front if t.result]  # fmt: skip
    if failed:
        lines += ["", "## Failed trials", ""] + [f"- `{t.trial_id}`: {t.reason}: {t.message}" for t in failed]
    lines += [""] + [f"![{name}]({name})" for name in plots] + [""]
    return "\n".join(lines)
