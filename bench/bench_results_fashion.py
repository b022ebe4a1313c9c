"""The results study on Fashion-MNIST: NAGO against random HNAG, RNAG and a ResNet (docs/results.md).

Four arms at one parameter budget, every network trained by `nago train` with the same final
protocol and the same seeds (network k of every arm uses `--seed k`: the same initialisation seed and
data order), tested on the 10,000 test images:

- **nago**: a GP-BO + hard-LP search (`nago search`, appendix G's Algorithm 1) over HNAG, then k
  networks sampled from the best Θ* found (`nago sample --theta-file`);
- **random-hnag**: k networks, each from its own uniformly drawn HNAG Θ (`--random --theta-seed k`),
  over the same ranges as the search;
- **rnag**: k networks from uniformly drawn RNAG Θ (RandWire, appendix E), its own ranges;
- **resnet**: the ResNet-20-style network of `nago.generator.reference`, fitted to the same budget.

The study lives in one state folder and is resumable: stop it at any time (Ctrl-C, kill, reboot) and
run the same command again; finished units are kept, `nago search` resumes its own state, and a final
training resumes from its last epoch's checkpoint. CPU seconds are measured per unit from the
operating system (the whole process tree of each run; a run that is killed loses its share).

    .venv/bin/python bench/bench_results_fashion.py                 # run or continue, then print the table
    .venv/bin/python bench/bench_results_fashion.py --table-only    # print the table of what is done
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from nago.atomic import write_text_atomically
from nago.generator.architecture import InputSpec
from nago.generator.reference import build_resnet_architecture
from nago.search.local_runner import die_with_parent
from nago.search.spec import load_search
from nago.trial.records import FinalRecord, split_records

ARMS = ("nago", "random-hnag", "rnag", "resnet")
STUDY_FILE = "study.json"
USAGE_FILE = "usage.json"
RUNS_FILE = "runs.jsonl"
# Tracked in the repository: the study outlasts any one machine, so its state is committed as it goes.
DEFAULT_STATE_DIR = Path(__file__).resolve().parent / "results" / "results-fashion"
QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "fashion-mnist-quickstart.yaml"
QUICKSTART_RANGES = {  # the quickstart's HNAG ranges, read from its manifest
    name: (int(low), int(high)) for name, (low, high) in load_search(QUICKSTART).spec.space.ranges.items()
}


class StudyConfig(BaseModel):
    """Everything that decides the study's figures; stored in the state folder and checked on resume."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    param_budget: float = 2e5
    head_channels: int = 128
    hnag_ranges: dict[str, tuple[int, int]] = Field(default_factory=lambda: dict(QUICKSTART_RANGES))
    search_trials: int = 32
    initial_points: int = 8
    search_epochs: int = 3
    search_train_limit: int = 8000
    validation_limit: int = 2000
    search_batch_size: int = 32
    search_learning_rate: float = 0.03
    networks: int = 4
    final_epochs: int = 10
    final_train_limit: int | None = None
    final_validation_fraction: float = 0.02
    final_batch_size: int = 64
    final_learning_rate: float = 0.05
    resnet_blocks_per_stage: int = 3
    parallelism: int = 2


CONFIGS = {
    "full": StudyConfig(name="results-fashion"),
    "tiny": StudyConfig(
        name="results-tiny", param_budget=2e4, head_channels=32, search_trials=3, initial_points=2, search_epochs=1,
        search_train_limit=300, validation_limit=200, networks=1, final_epochs=1, final_train_limit=2000,
        final_validation_fraction=0.1, final_batch_size=32, final_learning_rate=0.03, resnet_blocks_per_stage=1,
    ),
}  # fmt: skip


class StudyError(Exception):
    """The study cannot go on; the message says why and what to do, `exit_code` how the command ends."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Unit:
    """One `nago search` or one final training: a folder, a command, its finished-ness and CPU seconds."""

    arm: str
    index: int
    folder: Path
    prepare: list[list[str]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.arm if self.index < 0 else f"{self.arm}-{self.index}"

    @property
    def records(self) -> Path:
        return self.folder / "records.jsonl"

    def final_record(self) -> FinalRecord | None:
        """The succeeded final record, if the training has finished."""
        if not self.records.exists():
            return None
        _, final = split_records(self.records.read_text())
        return final if final is not None and final.status == "succeeded" else None

    def cpu_seconds(self) -> float:
        path = self.folder / USAGE_FILE
        return float(json.loads(path.read_text())["cpu_seconds"]) if path.exists() else 0.0

    def write_cpu_seconds(self, seconds: float) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text_atomically(self.folder / USAGE_FILE, json.dumps({"cpu_seconds": seconds}))


def nago_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "nago.cli", *args]


def build_search_manifest(config: StudyConfig) -> dict[str, Any]:
    """The NAGO arm's GeneratorSearch: GP-BO with hard LP, asynchronous, no final step (the study trains it)."""
    return {
        "apiVersion": "nago.dev/v1alpha1",
        "kind": "GeneratorSearch",
        "metadata": {"name": f"{config.name}-search"},
        "spec": {
            "space": {"name": "hnag", "ranges": {k: list(v) for k, v in config.hnag_ranges.items()}},
            "dataset": {
                "kind": "fashion-mnist",
                "trainLimit": config.search_train_limit,
                "validationLimit": config.validation_limit,
            },
            "objectives": ["accuracy"],
            "strategy": {"kind": "bo", "mode": "async", "batchSize": 2, "seed": 0,
                         "initialPoints": config.initial_points},
            "budget": {"maxTrials": config.search_trials, "parallelism": config.parallelism, "maxFailedTrials": 4,
                       "epochs": config.search_epochs},
            "training": {
                "paramBudget": config.param_budget, "headChannels": config.head_channels, "device": "cpu",
                "protocol": {"batchSize": config.search_batch_size, "learningRate": config.search_learning_rate,
                             "augment": False},
            },
            "final": {"architectures": 0},
        },
    }  # fmt: skip


def sample_command(config: StudyConfig, arm: str, index: int, output: Path, theta_file: Path) -> list[str]:
    """`nago sample` for one network of a generator arm."""
    common = ["--seed", str(index), "--input", "28x28x1", "--param-budget", str(config.param_budget),
              "--head-channels", str(config.head_channels), "-o", str(output)]  # fmt: skip
    if arm == "nago":
        return nago_command("sample", "--space", "hnag", "--theta-file", str(theta_file), *common)
    if arm == "random-hnag":
        ranges = [f"--range={k}={low}:{high}" for k, (low, high) in config.hnag_ranges.items()]
        return nago_command("sample", "--space", "hnag", *ranges, "--random", "--theta-seed", str(index), *common)
    return nago_command("sample", "--space", "rnag", "--random", "--theta-seed", str(index), *common)


def train_command(config: StudyConfig, unit: Unit) -> list[str]:
    """The one final protocol every arm's networks are trained with."""
    limit = ["--train-limit", str(config.final_train_limit)] if config.final_train_limit else []
    return nago_command(
        "train", "--arch", str(unit.folder / "architecture.json"), "--seed", str(unit.index),
        "--search", config.name, "--trial-id", unit.label, "--dataset", "fashion-mnist", *limit,
        "--validation-fraction", str(config.final_validation_fraction), "--protocol", "final",
        "--epochs", str(config.final_epochs), "--batch-size", str(config.final_batch_size),
        "--lr", str(config.final_learning_rate), "--device", "cpu",
        "--checkpoint", str(unit.folder / "checkpoint.pt"), "--jsonl", str(unit.records),
    )  # fmt: skip


class Study:
    """The state folder: its config, the search, and the final units of every arm."""

    def __init__(self, state_dir: Path, config: StudyConfig) -> None:
        self.state_dir = state_dir
        self.config = config
        self.search_dir = state_dir / "nago" / "search"
        self.theta_file = state_dir / "nago" / "theta-star.json"

    def open(self) -> None:
        """Create the folder with its config, or check that an existing one holds the same study."""
        path = self.state_dir / STUDY_FILE
        if path.exists():
            stored = StudyConfig.model_validate_json(path.read_text())
            if stored != self.config:
                raise StudyError(
                    f"--state-dir: {self.state_dir} holds study {stored.name!r} with other settings; "
                    "use another folder",
                    exit_code=2,
                )
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomically(path, self.config.model_dump_json(indent=1))

    def final_units(self) -> list[Unit]:
        """Network-major order, so a partial study already shows every arm."""
        return [
            Unit(arm, index, self.state_dir / arm / f"net-{index}")
            for index in range(self.config.networks)
            for arm in ARMS
        ]

    def search_unit(self) -> Unit:
        return Unit("nago-search", -1, self.state_dir / "nago")

    def best_theta(self) -> dict[str, Any] | None:
        path = self.search_dir / "results" / "best-generator.json"
        if not path.exists():
            return None
        best = json.loads(path.read_text())
        return dict(best["best"]["theta"]) if best.get("phase") == "Succeeded" and best.get("best") else None

    def ensure_architecture(self, unit: Unit, env: dict[str, str]) -> None:
        """Write the unit's architecture.json once (a ResNet here; the others through `nago sample`)."""
        path = unit.folder / "architecture.json"
        if path.exists():
            return
        unit.folder.mkdir(parents=True, exist_ok=True)
        if unit.arm == "resnet":
            arch = build_resnet_architecture(
                InputSpec(channels=1, size=28, num_classes=10),
                self.config.param_budget,
                self.config.head_channels,
                self.config.resnet_blocks_per_stage,
            )
            write_text_atomically(path, arch.to_json())
            return
        command = sample_command(self.config, unit.arm, unit.index, path, self.theta_file)
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            raise StudyError(f"{unit.label}: nago sample failed: {result.stderr.strip().splitlines()[-1:]}")


def run_and_measure(command: list[str], unit: Unit, env: dict[str, str]) -> int:
    """Run `command` with its output in the unit's log; add its process tree's CPU seconds to the unit."""
    return wait_all([(command, unit)], env, parallelism=1)[unit.label]


def read_tree_cpu_seconds(root: int) -> float:
    """CPU seconds of the live process tree under `root`, including the children each member has reaped.

    Linux /proc: utime + stime + cutime + cstime of every live descendant (and `root`); a process's reaped
    children are in its own cutime/cstime, so a tree whose members wait for their children is counted whole.
    """
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; field 3 of proc(5) is fields[0]
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    members, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in members]
        members.update(children)
        frontier.extend(children)
    return sum(ticks.get(pid, 0) for pid in members) / os.sysconf("SC_CLK_TCK")


def wait_all(
    jobs: Sequence[tuple[list[str], Unit]], env: dict[str, str], parallelism: int, sample_seconds: float = 30.0
) -> dict[str, int]:
    """Run the jobs, `parallelism` at a time; each one's CPU seconds (whole process tree) go to its unit.

    A unit's usage.json is its CPU seconds so far: what earlier runs measured plus this run's, sampled from
    /proc every `sample_seconds` while it runs and taken from os.wait4 when it exits, so a run that is killed
    loses at most one sampling interval.
    """
    pending = list(jobs)
    running: dict[int, tuple[subprocess.Popen[bytes], Unit, float]] = {}
    codes: dict[str, int] = {}
    last_sample = time.monotonic()
    try:
        while pending or running:
            while pending and len(running) < parallelism:
                command, unit = pending.pop(0)
                unit.folder.mkdir(parents=True, exist_ok=True)
                with (unit.folder / "log.txt").open("ab") as log:
                    process = subprocess.Popen(
                        command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                        preexec_fn=die_with_parent,
                    )  # fmt: skip
                running[process.pid] = (process, unit, unit.cpu_seconds())
                print(f"started {unit.label}", file=sys.stderr, flush=True)
            pid, status, usage = os.wait4(-1, os.WNOHANG)
            if pid == 0:
                time.sleep(0.5)
                if time.monotonic() - last_sample >= sample_seconds:
                    last_sample = time.monotonic()
                    for running_pid, (_, unit, before) in running.items():
                        unit.write_cpu_seconds(before + read_tree_cpu_seconds(running_pid))
                continue
            if pid not in running:
                continue
            process, unit, before = running.pop(pid)
            process.returncode = code = os.waitstatus_to_exitcode(status)
            unit.write_cpu_seconds(before + usage.ru_utime + usage.ru_stime)
            codes[unit.label] = code
            print(f"finished {unit.label} (exit {code})", file=sys.stderr, flush=True)
    finally:
        for process, _, _ in running.values():
            process.kill()
    return codes


def child_env(config: StudyConfig) -> dict[str, str]:
    threads = str(max(1, (os.cpu_count() or 1) // config.parallelism))
    return {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}


def read_code_commit() -> str:
    """The commit of the code this run uses (with '+changes' when its tree differs), or 'unknown'."""
    here = Path(__file__).resolve().parent
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=False)
    if head.returncode != 0:
        return "unknown"
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "--", "nago", "bench"],
        cwd=here.parent, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def run_study(study: Study, max_units: int | None) -> list[str]:
    """Run what is left (at most `max_units` final trainings this time); returns the units that failed."""
    study.open()
    with (study.state_dir / RUNS_FILE).open("a") as runs:  # which code each part of the study ran on
        runs.write(json.dumps({"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                               "commit": read_code_commit()}) + "\n")  # fmt: skip
    env = child_env(study.config)
    if study.best_theta() is None:
        manifest = study.state_dir / "nago" / "manifest.yaml"
        manifest.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(manifest, yaml.safe_dump(build_search_manifest(study.config), sort_keys=False))
        search_env = {**os.environ}  # nago search sizes its own trials' threads
        code = run_and_measure(
            nago_command("search", str(manifest), "--state-dir", str(study.search_dir)), study.search_unit(), search_env
        )
        theta = study.best_theta()
        if code != 0 or theta is None:
            raise StudyError(
                f"nago search exited {code}; see {study.state_dir / 'nago' / 'log.txt'}; run again to resume"
            )
    if not study.theta_file.exists():
        write_text_atomically(study.theta_file, json.dumps(study.best_theta(), indent=1))
    todo = [unit for unit in study.final_units() if unit.final_record() is None]
    if max_units is not None:
        todo = todo[:max_units]
    for unit in todo:
        study.ensure_architecture(unit, env)
    codes = wait_all([(train_command(study.config, unit), unit) for unit in todo], env, study.config.parallelism)
    for unit in study.final_units():
        if unit.final_record() is not None:
            # A finished network's checkpoint is never read again; dropping it keeps the folder small enough
            # to carry between machines (docs/results.md, "Running it").
            (unit.folder / "checkpoint.pt").unlink(missing_ok=True)
    return [label for label, code in codes.items() if code != 0]


def _mean_std(values: list[float], digits: int) -> str:
    if not values:
        return "-"
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {spread:.{digits}f}"


def format_table(study: Study) -> str:
    """Markdown: one row per arm over its finished networks."""
    lines = [
        "| arm | networks | test accuracy | params | MMACs | memory MB/image | search CPU h | final CPU h |",
        "|---|---|---|---|---|---|---|---|",
    ]
    units = study.final_units()
    search_hours = study.search_unit().cpu_seconds() / 3600
    for arm in ARMS:
        mine = [u for u in units if u.arm == arm]
        records = [r for r in (u.final_record() for u in mine) if r is not None]
        accuracy = [r.test_accuracy for r in records if r.test_accuracy is not None]
        params = [float(r.params) for r in records if r.params is not None]
        macs = [r.macs / 1e6 for r in records if r.macs is not None]
        memory = [r.activation_bytes_per_image / 1e6 for r in records if r.activation_bytes_per_image is not None]
        final_hours = sum(u.cpu_seconds() for u in mine) / 3600
        search = f"{search_hours:.3g}" if arm == "nago" else "-"
        lines.append(
            f"| {arm} | {len(records)}/{len(mine)} | {_mean_std(accuracy, 4)} | {_mean_std(params, 0)} | "
            f"{_mean_std(macs, 1)} | {_mean_std(memory, 2)} | {search} | {final_hours:.3g} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.add_argument("--config", choices=sorted(CONFIGS), default="full", help="full: the study; tiny: a test")
    parser.add_argument("--max-units", type=int, default=None, help="train at most this many networks this time")
    parser.add_argument("--table-only", action="store_true", help="print the table of what is done; run nothing")
    args = parser.parse_args(argv)
    if args.max_units is not None and args.max_units < 0:
        print("bench_results_fashion: --max-units: must be at least 0", file=sys.stderr)
        return 2
    study = Study(args.state_dir, CONFIGS[args.config])
    failed: list[str] = []
    try:
        if not args.table_only:
            failed = run_study(study, args.max_units)
    except StudyError as error:
        print(f"bench_results_fashion: {error}", file=sys.stderr)
        return error.exit_code
    table = format_table(study)
    if study.state_dir.is_dir():
        write_text_atomically(study.state_dir / "table.md", table)
    print(table, end="")
    if failed:
        print(f"failed: {', '.join(failed)}; their logs are in their folders; run again to retry", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
