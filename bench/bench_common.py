"""Pieces shared by the BO benchmarks: unit-box spaces and quartile summaries."""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from nago.generator.spaces import ParamKind, ParamRange, SearchSpace, SpaceName


def make_unit_box(dims: int) -> SearchSpace:
    """A space of `dims` float coordinates x0…x{dims−1} on [0, 1] (test functions, not networks)."""
    params = tuple(ParamRange(f"x{i}", ParamKind.FLOAT, 0.0, 1.0, 0.0, 1.0, f"coordinate {i}") for i in range(dims))
    return SearchSpace(SpaceName.HNAG, params)


def format_quartiles(values: Sequence[float]) -> str:
    """'q1/median/q3' to three significant digits; the value itself for one value, '-' for none.
    Inclusive quartiles: they stay inside the data (the default 'exclusive' method extrapolates past
    the extremes of few seeds)."""
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3g}"
    q = statistics.quantiles(values, n=4, method="inclusive")
    return f"{q[0]:.3g}/{statistics.median(values):.3g}/{q[2]:.3g}"


def build_parser(doc: str | None, default_out: str, default_seeds: int) -> argparse.ArgumentParser:
    """The options every resumable benchmark shares: seeds, the JSON-lines file, summary only."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(default_seeds)))
    parser.add_argument("--out", type=Path, default=Path(default_out), help="results are appended here")
    parser.add_argument("--summarise", type=Path, nargs="+", help="only print the summary of results files")
    return parser


def append_result(path: Path, row: Mapping[str, object]) -> None:
    """One run as one JSON line, appended, so an interrupted benchmark keeps what it finished."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(json.dumps(row) + "\n")


def read_results(paths: Sequence[Path]) -> list[dict[str, Any]]:
    return [json.loads(line) for path in paths for line in path.read_text().splitlines() if line.strip()]


def find_done(path: Path, *fields: str) -> set[tuple[Any, ...]]:
    """Keys (the values of `fields`) of the runs already in a results file, so a rerun skips them."""
    if not path.exists():
        return set()
    return {tuple(row[f] for f in fields) for row in read_results([path])}


def run_missing(
    path: Path,
    keys: Sequence[Mapping[str, Any]],
    run_one: Callable[..., dict[str, Any]],
    describe: Callable[[dict[str, Any]], str],
) -> None:
    """Run `run_one(**key)` for every key whose run is not in the results file yet, appending each
    result as soon as it finishes and printing `describe(result)` after the key."""
    if not keys:
        return
    fields = tuple(keys[0])
    done = find_done(path, *fields)
    for key in keys:
        if tuple(key[f] for f in fields) in done:
            continue
        result = run_one(**key)
        append_result(path, result)
        print(" ".join(str(key[f]) for f in fields) + ": " + describe(result), flush=True)


def use_one_core() -> None:
    """One thread for torch, OpenMP and OpenBLAS: two runs then share a 2-core machine side by side instead
    of spinning four threads on it (several times slower each)."""
    import threadpoolctl  # a dependency of botorch
    import torch

    torch.set_num_threads(1)
    threadpoolctl.threadpool_limits(1)
