"""Statistics of a space: memory per image, parameters and node counts of many samples (appendix F).

Appendix F (Figure 3) draws 300 architectures from each space at 32×32×3 and 224×224×3 and
histograms their memory per image; we do the same with the analytic activation memory
(`nago.generator.complexity`), and add parameter and node counts.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from pydantic import BaseModel, ConfigDict

from nago.generator.architecture import InputSpec
from nago.generator.complexity import measure_complexity
from nago.generator.sampling import DEFAULT_PARAM_BUDGET, sample_architecture
from nago.generator.spaces import SearchSpace

METRICS = ("memory_mb", "params_m", "nodes")
METRIC_LABELS = {
    "memory_mb": "activation memory per image (MB)",
    "params_m": "parameters (millions)",
    "nodes": "operation nodes",
}


class SpaceSample(BaseModel):
    """The sizes of one sampled architecture."""

    model_config = ConfigDict(frozen=True)

    space: str
    input: str
    seed: int
    memory_mb: float
    params_m: float
    nodes: int


def collect_space_samples(
    space: SearchSpace, spec: InputSpec, count: int, seed: int, param_budget: float = DEFAULT_PARAM_BUDGET
) -> list[SpaceSample]:
    """Draw `count` (Θ, seed) pairs uniformly from `space` and measure each architecture."""
    rng = np.random.default_rng(seed)
    samples: list[SpaceSample] = []
    for _ in range(count):
        theta = space.sample_theta(rng)
        arch_seed = int(rng.integers(2**31))
        arch = sample_architecture(space, theta, arch_seed, spec, param_budget)
        size = measure_complexity(arch)
        samples.append(
            SpaceSample(
                space=space.name.value,
                input=spec.label(),
                seed=arch_seed,
                memory_mb=size.activation_bytes_per_image / 1e6,
                params_m=size.params / 1e6,
                nodes=size.nodes,
            )
        )
    return samples


def summarise(samples: Sequence[SpaceSample]) -> dict[str, dict[str, dict[str, float]]]:
    """Min, median and max of each metric, keyed by 'space@input'."""
    groups: dict[str, list[SpaceSample]] = {}
    for s in samples:
        groups.setdefault(f"{s.space}@{s.input}", []).append(s)
    return {
        key: {
            metric: {
                "min": float(min(getattr(s, metric) for s in members)),
                "median": float(statistics.median(getattr(s, metric) for s in members)),
                "max": float(max(getattr(s, metric) for s in members)),
            }
            for metric in METRICS
        }
        for key, members in groups.items()
    }


def plot_space_histograms(samples: Sequence[SpaceSample], path: Path) -> Path:
    """One row per input size, one column per metric, one histogram per space."""
    inputs = sorted({s.input for s in samples}, key=lambda label: int(label.split("x")[0]))
    spaces = sorted({s.space for s in samples})
    fig = Figure(figsize=(5 * len(METRICS), 3.6 * len(inputs)))
    axes = fig.subplots(len(inputs), len(METRICS), squeeze=False)
    for row, label in enumerate(inputs):
        for col, metric in enumerate(METRICS):
            ax = axes[row][col]
            values = {
                space: [float(getattr(s, metric)) for s in samples if s.input == label and s.space == space]
                for space in spaces
            }
            bins = np.histogram_bin_edges([v for vs in values.values() for v in vs], bins=40)
            for space, space_values in values.items():
                ax.hist(space_values, bins=bins, alpha=0.6, label=f"{space} (n={len(space_values)})")
            ax.set_title(f"{label}: {METRIC_LABELS[metric]}", fontsize=9)
            ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def write_space_stats(samples: Sequence[SpaceSample], directory: Path) -> tuple[Path, Path, Path]:
    """Histograms (PNG), every sample (JSON lines) and the summary (JSON) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    plot = plot_space_histograms(samples, directory / "space_stats.png")
    rows = directory / "space_samples.jsonl"
    rows.write_text("".join(s.model_dump_json() + "\n" for s in samples))
    summary = directory / "space_stats.json"
    summary.write_text(json.dumps(summarise(samples), indent=2, sort_keys=True) + "\n")
    return plot, rows, summary
