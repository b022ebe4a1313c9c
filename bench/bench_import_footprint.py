"""What the core costs before it does anything: `nago ranges` wall time and the operator's idle memory.

Measures two checkouts side by side in one run, the current one and a reference (`--reference TREE`, e.g. a
`git worktree` of the commit before the import rules of docs/design.md §2.2), with the same Python:

- `nago ranges --space hnag`: wall time of the whole process, `--repeats` runs each, the trees alternating;
  median and the reference/current ratio; whether torch was imported (`python -X importtime`).
- the operator, idle: `python -m nago_operator` against the real test control plane (tests/support) with the
  GeneratorSearch CRD installed, a real redis-server and no search; once /healthz answers it waits
  `--settle` seconds, then reads VmRSS and VmHWM from /proc and whether libtorch is mapped.

    .venv/bin/python bench/bench_import_footprint.py --reference /work/ref-tree

Prints a Markdown table for docs/benchmarks.md and appends a JSON row to bench/results/import-footprint.jsonl.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "support"), str(ROOT / "operator")]

from bench_common import append_result  # noqa: E402
from control_plane import start_control_plane  # noqa: E402
from crd_install import install_crd  # noqa: E402
from nago_operator.crd import build_crd  # noqa: E402
from redis_server import PASSWORD, RedisServer, free_port  # noqa: E402

HEAVY = ("torch", "botorch", "gpytorch")


def tree_environment(tree: Path) -> dict[str, str]:
    """This Python with `tree`'s nago and nago_operator first on the path (ahead of the editable install)."""
    return {**os.environ, "PYTHONPATH": f"{tree}:{tree / 'operator'}"}


def time_ranges(tree: Path) -> tuple[float, bool]:
    """Seconds for one `nago ranges --space hnag`, and whether it imported torch."""
    command = [sys.executable, "-X", "importtime", "-m", "nago.cli", "ranges", "--space", "hnag"]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=tree, env=tree_environment(tree), capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    imported = {
        line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time")
    }
    return seconds, any(name.split(".")[0] in HEAVY for name in imported)


def read_memory(pid: int) -> dict[str, Any]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = {line.split(":")[0]: line.split(":")[1].strip() for line in status.splitlines() if ":" in line}
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {
        "rss_mib": int(fields["VmRSS"].split()[0]) / 1024,
        "peak_rss_mib": int(fields["VmHWM"].split()[0]) / 1024,
        "torch_loaded": "libtorch" in maps,
    }


def measure_idle_operator(tree: Path, kubeconfig: Path, redis_url: str, settle: float, log: Path) -> dict[str, Any]:
    health = free_port()
    env = {
        **tree_environment(tree), "KUBECONFIG": str(kubeconfig), "NAGO_REDIS_URL": redis_url,
        "NAGO_REDIS_PASSWORD": PASSWORD, "NAGO_NAMESPACES": "default", "NAGO_METRICS_PORT": str(free_port()),
        "NAGO_HEALTH_PORT": str(health), "NAGO_LOG_LEVEL": "WARNING",
    }  # fmt: skip
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, "-m", "nago_operator"], cwd=tree, env=env, stdout=output,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the operator of {tree} exited {process.returncode}: {log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{health}/healthz", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the operator of {tree} never answered /healthz") from None
                time.sleep(0.5)
        time.sleep(settle)
        return read_memory(process.pid)
    finally:
        process.terminate()
        process.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", type=Path, required=True, help="a checkout to compare against")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--settle", type=float, default=15.0, help="seconds idle after /healthz answers")
    args = parser.parse_args()
    trees = {"reference": args.reference.resolve(), "current": ROOT}
    ranges: dict[str, list[float]] = {name: [] for name in trees}
    torch_in_ranges: dict[str, bool] = {}
    for _ in range(args.repeats):
        for name, tree in trees.items():
            seconds, loaded = time_ranges(tree)
            ranges[name].append(seconds)
            torch_in_ranges[name] = loaded
    operator: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="nago-footprint-") as folder:
        plane = start_control_plane(log_directory=Path(folder) / "control-plane")
        redis = RedisServer(Path(folder) / "redis")
        redis.directory.mkdir()
        redis.start()
        try:
            install_crd(plane.admin_client(), build_crd())
            for name, tree in trees.items():
                operator[name] = measure_idle_operator(tree, plane.kubeconfig, redis.url, args.settle,
                                                       Path(folder) / f"operator-{name}.log")  # fmt: skip
        finally:
            redis.stop(save=False)
            plane.stop()
    row = {
        "date": time.strftime("%Y-%m-%d"), "reference": str(trees["reference"]), "repeats": args.repeats,
        "ranges_seconds": {name: statistics.median(values) for name, values in ranges.items()},
        "ranges_imports_torch": torch_in_ranges, "operator_idle": operator,
    }  # fmt: skip
    append_result(ROOT / "bench" / "results" / "import-footprint.jsonl", row)
    median = row["ranges_seconds"]
    print("| | reference | current | reference / current |\n|---|---|---|---|")
    print(f"| `nago ranges` wall time (median of {args.repeats}) | {median['reference']:.2f} s | "
          f"{median['current']:.2f} s | {median['reference'] / median['current']:.1f}× |")  # fmt: skip
    print(f"| `nago ranges` imports torch | {torch_in_ranges['reference']} | {torch_in_ranges['current']} | |")
    ref, cur = operator["reference"], operator["current"]
    print(f"| operator idle RSS | {ref['rss_mib']:.0f} MiB | {cur['rss_mib']:.0f} MiB | "
          f"{ref['rss_mib'] / cur['rss_mib']:.1f}× |")  # fmt: skip
    print(f"| operator peak RSS at idle | {ref['peak_rss_mib']:.0f} MiB | {cur['peak_rss_mib']:.0f} MiB | "
          f"{ref['peak_rss_mib'] / cur['peak_rss_mib']:.1f}× |")  # fmt: skip
    print(f"| operator has libtorch mapped | {ref['torch_loaded']} | {cur['torch_loaded']} | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
