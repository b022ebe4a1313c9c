"""Operator overhead on the real test control plane (issue 7), against the local runner on the same search.

Training is stubbed: every trial runs `bench/operator_stubs.py train`, which sleeps `--trial-seconds` (plus a
share of the reconcile interval drawn from the trial's seed, so trials end at any phase of the loop's cycle, the
same in both runtimes) and sends one valid final record through `RedisStreamSink` (so the operator reads it from
Redis exactly as from `nago train`), because this benchmark measures the control loop, not training. The control
plane is the test tiers' (etcd, kube-apiserver, kube-controller-manager, the process kubelet), in its own
process, with a real redis-server; the trial processes run on the same machine. NAGO_RECONCILE_SECONDS (and the
local runner's poll interval, set equal) is given per run and reported; NAGO_WORKERS is `--workers` (4).

1. First batch: from the create call of a GeneratorSearch (random, `--trials` 8, parallelism 4, asynchronous)
   to its 4th Job appearing in a watch; median over `--repeats` searches on a warm operator. The local runner's
   figure (from `LocalRunner.run()` to its 4th trial process) is the reference.
2. Idle slot per trial: from a trial's process exiting (the stub's own clock; pod `finishedAt` has whole
   seconds only) to the next trial's Job appearing (local runner: its process being started), and to the next
   trainer process running; and from the final record reaching Redis to the ledger ConfigMap (local runner:
   ledger.json) and the status showing the trial done. Operator and local runner runs alternate, same search.
3. `--many-searches` 20 searches of `--many-trials` 4 trials created at once on one operator: every reconcile
   timed (the operator runs with `SearchReconciler.reconcile` wrapped; the Prometheus histogram is scraped as a
   cross-check), time between two reconciles of a search, operator RSS (peak VmHWM), CPU, wall time, phases.

Results are appended to `--out` as JSON lines; a summary table is printed. No duration is asserted.

    nice -n 10 .venv/bin/python bench/bench_operator.py --reconcile-seconds 0.5 2 --repeats 8 \\
        --many-reconcile-seconds 0.5 2
    .venv/bin/python bench/bench_operator.py --summarise bench/results/operator.jsonl
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from operator_stubs import STUB, build_stub_command

from bench_common import append_result, read_results

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "support")]

from crd_install import install_crd  # noqa: E402
from nago.search.ledger import Ledger, TrialState  # noqa: E402
from nago_operator.crd import build_crd  # noqa: E402
from nago_operator.kube_api import KubeApi, KubeError, connect  # noqa: E402
from operator_harness import build_search  # noqa: E402
from redis_server import PASSWORD, RedisServer, free_port  # noqa: E402

JSON = dict[str, Any]
SEARCHES = "/apis/nago.dev/v1alpha1/namespaces/{namespace}/generatorsearches"
SETTLED = ("Succeeded", "Failed")


# ---- the cluster: control plane process, Redis, CRD ------------------------------------------------------------


@dataclass
class Cluster:
    """The test control plane in its own process (its process kubelet runs the trial pods), and Redis."""

    folder: Path
    process: subprocess.Popen[str]
    kubeconfig: Path
    kube: KubeApi
    redis: RedisServer

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.redis.stop(save=False)


def start_cluster(folder: Path) -> Cluster:
    """`python -m control_plane` (until it prints that it is ready), redis-server, the GeneratorSearch CRD."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "tests" / "support")}
    with (folder / "control-plane.err").open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "control_plane", "--log-dir", str(folder / "control-plane")], cwd=ROOT,
            env=environment, stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL, text=True,
        )  # fmt: skip
    assert process.stdout is not None
    kubeconfig: Path | None = None
    for line in process.stdout:
        if line.startswith("kubeconfig:"):
            kubeconfig = Path(line.split(":", 1)[1].strip())
        if line.startswith("Ctrl-C") and kubeconfig is not None:
            break
    else:
        raise RuntimeError(f"the control plane did not start; see {folder / 'control-plane.err'}")
    kube = connect(kubeconfig)
    install_crd(kube, build_crd())
    redis = RedisServer(folder / "redis")
    redis.directory.mkdir()
    redis.start()
    return Cluster(folder, process, kubeconfig, kube, redis)


def create_namespace(kube: KubeApi, name: str) -> str:
    """A namespace with its `default` ServiceAccount (pods need it to be admitted)."""
    kube.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    wait_until(
        f"ServiceAccount {name}/default", lambda: kube.exists(f"/api/v1/namespaces/{name}/serviceaccounts/default")
    )
    return name


def wait_until(what: str, probe: Any, timeout: float = 120.0, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(KubeError):
            if result := probe():
                return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# ---- watching what the API server shows ------------------------------------------------------------------------


class Watch:
    """A watch on one collection in a background thread: each event with the wall-clock time it arrived."""

    def __init__(self, kube: KubeApi, path: str) -> None:
        self.events: list[tuple[float, str, JSON]] = []
        version = kube.get(path)["metadata"]["resourceVersion"]
        server = urllib.parse.urlsplit(kube.server)
        configuration = kube.api_client.configuration  # the client certificate of the bench's kubeconfig
        context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
        context.load_cert_chain(configuration.cert_file, configuration.key_file)
        self.connection = http.client.HTTPSConnection(server.hostname or "127.0.0.1", server.port, context=context)
        self.connection.request(
            "GET", f"{path}?watch=1&resourceVersion={version}", headers={"Accept": "application/json"}
        )
        self.socket = self.connection.sock
        self.response = self.connection.getresponse()
        self.thread = threading.Thread(target=self._read, daemon=True, name=f"watch {path}")
        self.thread.start()

    def _read(self) -> None:
        with contextlib.suppress(OSError, ValueError, http.client.HTTPException):
            while line := self.response.readline():
                arrived = time.time()
                event = json.loads(line)
                self.events.append((arrived, str(event["type"]), event["object"]))

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.socket.shutdown(socket.SHUT_RDWR)
        self.thread.join(5)
        self.connection.close()


@contextlib.contextmanager
def watch_namespace(kube: KubeApi, namespace: str) -> Iterator[dict[str, Watch]]:
    """Jobs, pods, ConfigMaps and GeneratorSearches of one namespace."""
    paths = {
        "jobs": f"/apis/batch/v1/namespaces/{namespace}/jobs",
        "pods": f"/api/v1/namespaces/{namespace}/pods",
        "configmaps": f"/api/v1/namespaces/{namespace}/configmaps",
        "searches": SEARCHES.format(namespace=namespace),
    }
    watches = {kind: Watch(kube, path) for kind, path in paths.items()}
    try:
        yield watches
    finally:
        for one in watches.values():
            one.stop()


def find_job_launches(watches: dict[str, Watch], search: str) -> dict[str, float]:
    """Trial id → when its first Job appeared."""
    launches: dict[str, float] = {}
    for arrived, kind, job in watches["jobs"].events:
        labels = job["metadata"].get("labels", {})
        if kind == "ADDED" and labels.get("nago.dev/search") == search:
            launches.setdefault(labels["nago.dev/trial"], arrived)
    return launches


def find_ledger_done(watches: dict[str, Watch], search: str) -> dict[str, float]:
    """Trial id → when the ledger ConfigMap first showed it succeeded."""
    done: dict[str, float] = {}
    for arrived, kind, config_map in watches["configmaps"].events:
        if kind == "DELETED" or config_map["metadata"]["name"] != f"{search}-ledger":
            continue
        encoded = (config_map.get("binaryData") or {}).get("ledger.json.gz")
        if encoded is None:
            continue
        ledger = Ledger.model_validate_json(gzip.decompress(base64.b64decode(encoded)))
        for trial in ledger.trials:
            if trial.state is TrialState.SUCCEEDED:
                done.setdefault(trial.trial_id, arrived)
    return done


def find_status_counts(watches: dict[str, Watch], search: str) -> list[float]:
    """When the status first counted 1, 2, ... succeeded trials."""
    times: list[float] = []
    for arrived, _, body in watches["searches"].events:
        if body["metadata"]["name"] != search:
            continue
        succeeded = int(((body.get("status") or {}).get("trials") or {}).get("succeeded", 0))
        while len(times) < succeeded:
            times.append(arrived)
    return times


def find_pod_reports(watches: dict[str, Watch], search: str) -> dict[str, float]:
    """Trial id → when the kubelet's status first showed its container terminated."""
    reports: dict[str, float] = {}
    for arrived, _, pod in watches["pods"].events:
        labels = pod["metadata"].get("labels", {})
        if labels.get("nago.dev/search") != search:
            continue
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            if (container.get("state") or {}).get("terminated"):
                reports.setdefault(labels["nago.dev/trial"], arrived)
    return reports


# ---- the operator process --------------------------------------------------------------------------------------


@dataclass
class OperatorProcess:
    """`python -m nago_operator` (through operator_stubs.py, which times each reconcile), one namespace."""

    process: subprocess.Popen[bytes]
    namespace: str
    metrics_port: int
    reconcile_log: Path
    log: Path
    rss_samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def read_status(self, key: str) -> int:
        """A kB figure of /proc/<pid>/status (VmRSS, VmHWM)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
        raise KeyError(key)

    def scrape(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as answer:
            return str(answer.read().decode())

    def sample_memory(self) -> None:
        while not self._stop.wait(0.25) and self.process.poll() is None:
            with contextlib.suppress(OSError, KeyError, ValueError):
                self.rss_samples.append((time.time(), self.read_status("VmRSS")))

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the operator exited {self.process.returncode}:\n{tail}")

    def stop(self) -> None:
        self._stop.set()
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def read_cpu_seconds(pid: int, children: bool = False) -> float:
    """User + system CPU of a process (with `children`: of its reaped children instead), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    first = 13 if children else 11
    return (int(fields[first]) + int(fields[first + 1])) / os.sysconf("SC_CLK_TCK")


def read_cluster_cpu(root: int) -> tuple[float, float]:
    """(control plane, trial pods) CPU seconds so far: the control-plane process and its live children (etcd,
    kube-apiserver, kube-controller-manager; the process kubelet is a thread of the root), and the reaped
    children of the root (the trial processes the kubelet ran)."""
    control_plane = read_cpu_seconds(root)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == root:
                control_plane += read_cpu_seconds(int(stat.parent.name))
    return control_plane, read_cpu_seconds(root, children=True)


def read_machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy (every process, other benchmarks too), summed over cores."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def start_operator(cluster: Cluster, namespace: str, reconcile_seconds: float, folder: Path,
                   tree: Path = ROOT, workers: int = 4) -> OperatorProcess:  # fmt: skip
    """The operator of the checkout `tree` (its nago and nago_operator first on PYTHONPATH), one namespace."""
    metrics_port = free_port()
    reconcile_log = folder / f"reconciles-{namespace}.jsonl"
    environment = {
        **os.environ, "KUBECONFIG": str(cluster.kubeconfig), "NAGO_REDIS_URL": cluster.redis.url,
        "NAGO_REDIS_PASSWORD": PASSWORD, "NAGO_NAMESPACES": namespace,
        "NAGO_RECONCILE_SECONDS": str(reconcile_seconds), "NAGO_WORKERS": str(workers),
        "NAGO_METRICS_PORT": str(metrics_port), "NAGO_HEALTH_PORT": str(free_port()), "NAGO_LOG_LEVEL": "INFO",
        "NAGO_BENCH_RECONCILE_LOG": str(reconcile_log),
        "PYTHONPATH": os.pathsep.join([str(tree), str(tree / "operator"), os.environ.get("PYTHONPATH", "")]),
    }  # fmt: skip
    log = folder / f"operator-{namespace}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, str(STUB), "operator"], env=environment, stdout=output, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    operator = OperatorProcess(process, namespace, metrics_port, reconcile_log, log)

    def serving() -> bool:
        operator.check_alive()
        with contextlib.suppress(OSError):
            return "nago_reconcile_seconds" in operator.scrape()
        return False

    wait_until("the operator's /metrics", serving, timeout=300, interval=0.5)
    threading.Thread(target=operator.sample_memory, daemon=True, name="rss").start()
    return operator


def read_timings(operator: OperatorProcess, kind: str, since: float, until: float) -> list[JSON]:
    """The operator's timed reconciles (`kind` "search") or API requests ("api") that started in the window."""
    if not operator.reconcile_log.exists():
        return []
    rows = [json.loads(line) for line in operator.reconcile_log.read_text().splitlines() if line.strip()]
    return [row for row in rows if kind in row and since <= row["start"] <= until]


def summarise_api_calls(calls: Sequence[JSON], reconciles: int) -> JSON:
    """Per request kind: calls per reconcile, median and p95 seconds."""
    kinds: dict[str, list[float]] = {}
    for call in calls:
        kinds.setdefault(call["api"], []).append(call["seconds"])
    return {
        kind: {"per_reconcile": len(values) / max(reconciles, 1), **summarise(values)}
        for kind, values in sorted(kinds.items())
    }


def read_histogram(text: str, name: str) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of a Prometheus histogram in exposition text."""
    buckets = []
    for line in text.splitlines():
        if line.startswith(f"{name}_bucket{{"):
            bound = re.search(r'le="([^"]+)"', line)
            if bound is not None:
                buckets.append((float(bound.group(1)), float(line.rsplit(" ", 1)[1])))
    return sorted(buckets)


def estimate_histogram_quantile(buckets: Sequence[tuple[float, float]], q: float) -> float | None:
    """PromQL's histogram_quantile: linear inside the bucket that holds the q-th observation."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = bound, count
    return lower


def subtract_histograms(
    after: Sequence[tuple[float, float]], before: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    earlier = dict(before)
    return [(bound, count - earlier.get(bound, 0.0)) for bound, count in after]


# ---- one search ------------------------------------------------------------------------------------------------


def build_bench_search(name: str, trials: int, parallelism: int, command: list[str], seed: int) -> JSON:
    """Random Θ, asynchronous, no final evaluation; the trial template runs the stub trainer. The seed also sets
    each trial's jitter, so an operator run and a local run of the same seed have the same trials."""
    strategy = {"kind": "random", "seed": seed, "mode": "async"}
    return build_search(name, strategy, trials, budget={"parallelism": parallelism}, trial={"command": command})


def wait_for_settled(kube: KubeApi, namespace: str, names: Sequence[str], operator: OperatorProcess,
                     timeout: float) -> dict[str, str]:  # fmt: skip
    """Poll until every search is Succeeded or Failed; their phases."""
    path = SEARCHES.format(namespace=namespace)

    def settled() -> dict[str, str] | None:
        operator.check_alive()
        phases = {s["metadata"]["name"]: (s.get("status") or {}).get("phase", "") for s in kube.get(path)["items"]}
        wanted = {name: phases.get(name, "") for name in names}
        return wanted if all(phase in SETTLED for phase in wanted.values()) else None

    result: dict[str, str] = wait_until(f"{len(names)} searches to settle", settled, timeout=timeout, interval=0.25)
    return result


def delete_searches(kube: KubeApi, namespace: str, names: Sequence[str]) -> None:
    """Delete and wait until gone, so the next measurement starts on an idle operator."""
    path = SEARCHES.format(namespace=namespace)
    for name in names:
        with contextlib.suppress(KubeError):
            kube.delete(f"{path}/{name}")
    for name in names:
        wait_until(f"search {name} to be deleted", lambda n=name: not kube.exists(f"{path}/{n}"), timeout=120)


def read_trial_times(path: Path, search: str) -> dict[str, JSON]:
    """The stub trainers' own times (start, sent, exit) by trial id."""
    if not path.exists():
        return {}
    rows = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return {row["trial"]: row for row in rows if row.get("event") == "trial" and row["search"] == search}


def measure_gaps(
    launches: dict[str, float], trials: dict[str, JSON], parallelism: int
) -> tuple[list[float], list[float]]:
    """Per freed slot: (next launch − exit, next trainer start − exit). In asynchronous mode the k-th trial to
    end frees the slot that the (parallelism + k)-th trial to be launched takes."""
    order = sorted(launches, key=launches.__getitem__)
    exits = sorted(row["exit"] for row in trials.values())
    to_launch, to_start = [], []
    for k, trial in enumerate(order[parallelism:]):
        if k < len(exits):
            to_launch.append(launches[trial] - exits[k])
            if trial in trials:
                to_start.append(trials[trial]["start"] - exits[k])
    return to_launch, to_start


def run_operator_search(cluster: Cluster, operator: OperatorProcess, namespace: str, document: JSON,
                        parallelism: int, times: Path) -> JSON:  # fmt: skip
    """One search on the operator; what the API server showed, when."""
    name = document["metadata"]["name"]
    with watch_namespace(cluster.kube, namespace) as watches:
        applied = time.time()
        cluster.kube.create(SEARCHES.format(namespace=namespace), document)
        phase = wait_for_settled(cluster.kube, namespace, [name], operator, timeout=600)[name]
        settled = time.time()
        time.sleep(0.5)  # events already written arrive
    delete_searches(cluster.kube, namespace, [name])
    launches = find_job_launches(watches, name)
    trials = read_trial_times(times, f"{namespace}.{name}")
    done = find_ledger_done(watches, name)
    reports = find_pod_reports(watches, name)
    sent = sorted(row["sent"] for row in trials.values())
    to_launch, to_start = measure_gaps(launches, trials, parallelism)
    first = sorted(launches.values())[:parallelism]
    reconciles = read_timings(operator, "search", applied, settled)
    return {
        "first_batch": first[-1] - applied if len(first) == parallelism else None,
        "exit_to_next_launch": to_launch,
        "exit_to_next_start": to_start,
        "record_to_ledger": [done[t] - row["sent"] for t, row in trials.items() if t in done],
        "record_to_status": [shown - s for shown, s in zip(find_status_counts(watches, name), sent, strict=False)],
        "exit_to_pod_report": [reports[t] - row["exit"] for t, row in trials.items() if t in reports],
        "wall": settled - applied,
        "phase": phase,
        "reconcile": [r["seconds"] for r in reconciles],
        "api_calls": summarise_api_calls(read_timings(operator, "api", applied, settled), len(reconciles)),
    }


def run_local_search(cluster: Cluster, folder: Path, document: JSON, args: argparse.Namespace, poll: float,
                     times: Path) -> JSON:  # fmt: skip
    """The same search with the local runner (metrics through the same Redis), trials as stub processes."""
    name = document["metadata"]["name"]
    manifest = folder / f"{name}.json"
    manifest.write_text(json.dumps(document))
    command = [
        sys.executable, str(STUB), "local-search", "--manifest", str(manifest), "--state-dir", str(folder / name),
        "--poll", str(poll), "--redis-url", cluster.redis.url, "--sleep", str(args.trial_seconds),
        "--jitter", str(poll), "--times", str(times),
    ]  # fmt: skip
    with (folder / f"{name}.log").open("wb") as log:
        started = time.time()
        code = subprocess.run(command, env={**os.environ, "NAGO_REDIS_PASSWORD": PASSWORD}, stdout=log,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=600).returncode  # fmt: skip
        ended = time.time()
    rows = [json.loads(line) for line in times.read_text().splitlines() if line.strip()]
    mine = [row for row in rows if row["search"] == name]
    run = next(row["time"] for row in mine if row["event"] == "run")
    launches = {row["trial"]: row["time"] for row in mine if row["event"] == "launch"}
    done = {row["trial"]: row["time"] for row in mine if row["event"] == "done"}
    trials = {row["trial"]: row for row in mine if row["event"] == "trial"}
    to_launch, to_start = measure_gaps(launches, trials, args.parallelism)
    first = sorted(launches.values())[: args.parallelism]
    return {
        "first_batch": first[-1] - run if len(first) == args.parallelism else None,
        "exit_to_next_launch": to_launch,
        "exit_to_next_start": to_start,
        "record_to_ledger": [done[t] - row["sent"] for t, row in trials.items() if t in done],
        "wall": ended - started,
        "wall_from_run": max(done.values(), default=run) - run,
        "phase": "Succeeded" if code == 0 else f"exit {code}",
    }


def start_warm_operator(cluster: Cluster, folder: Path, args: argparse.Namespace, reconcile_seconds: float,
                        namespace: str, times: Path, tree: Path = ROOT) -> OperatorProcess:  # fmt: skip
    """A fresh operator on a new namespace, warmed up by one search of the single-search shape (so no measured
    search pays for the first imports and connections)."""
    create_namespace(cluster.kube, namespace)
    operator = start_operator(cluster, namespace, reconcile_seconds, folder, tree, args.workers)
    try:
        command = build_stub_command(args.trial_seconds, jitter_of(args, reconcile_seconds), times)
        document = build_bench_search("warm", args.trials, args.parallelism, command, seed=0)
        warm = run_operator_search(cluster, operator, namespace, document, args.parallelism, times)
    except BaseException:
        operator.stop()
        raise
    print(f"{namespace}: operator (reconcile {reconcile_seconds:g} s) warmed up, {warm['phase']} in "
          f"{warm['wall']:.1f} s", flush=True)  # fmt: skip
    return operator


def jitter_of(args: argparse.Namespace, reconcile_seconds: float) -> float:
    """The stub's extra sleep range: `--jitter`, else the reconcile interval (trials end at any phase of it)."""
    return float(args.jitter) if args.jitter is not None else reconcile_seconds


def run_single(cluster: Cluster, folder: Path, args: argparse.Namespace, reconcile_seconds: float, run_id: str,
               label: str = "new", tree: Path = ROOT) -> None:  # fmt: skip
    """`--repeats` searches on one operator, each followed by the same search on the local runner."""
    tag = f"{label}{reconcile_seconds:g}".replace(".", "")
    times = folder / f"trials-r{tag}.jsonl"
    operator = start_warm_operator(cluster, folder, args, reconcile_seconds, f"bench-r{tag}-{run_id[-6:]}", times,
                                   tree)  # fmt: skip
    namespace = operator.namespace
    command = build_stub_command(args.trial_seconds, jitter_of(args, reconcile_seconds), times)
    try:
        for repeat in range(args.repeats):
            for runtime in ("operator", "local"):
                document = build_bench_search(f"{runtime[0]}{tag}-{repeat}", args.trials, args.parallelism,
                                              command, seed=repeat)  # fmt: skip
                if runtime == "operator":
                    figures = run_operator_search(cluster, operator, namespace, document, args.parallelism, times)
                elif args.local:
                    figures = run_local_search(cluster, folder, document, args, reconcile_seconds, times)
                else:
                    continue
                row = {
                    "run": run_id, "part": "single", "runtime": runtime, "reconcile_seconds": reconcile_seconds,
                    "operator": label,
                    "repeat": repeat, "trials": args.trials, "parallelism": args.parallelism,
                    "trial_seconds": args.trial_seconds, "workers": args.workers, **figures,
                }  # fmt: skip
                append_result(args.out, row)
                print(f"  {runtime:<8} repeat {repeat}: {describe_single(row)}", flush=True)
    finally:
        operator.stop()


def describe_single(row: JSON) -> str:
    first = f"{row['first_batch']:.2f}" if row["first_batch"] is not None else "-"
    return (
        f"{row['phase']}, first batch {first} s, exit→next launch {format_median(row['exit_to_next_launch'])} s, "
        f"record→ledger {format_median(row['record_to_ledger'])} s, wall {row['wall']:.1f} s"
    )


# ---- many searches at once -------------------------------------------------------------------------------------


def run_together(cluster: Cluster, namespace: str, documents: Sequence[JSON], operator: OperatorProcess
                 ) -> tuple[dict[str, Watch], float, float, dict[str, str]]:  # fmt: skip
    """Create the searches at once and wait until all settle: (what the watches saw, start, end, phases)."""
    names = [document["metadata"]["name"] for document in documents]
    with watch_namespace(cluster.kube, namespace) as watches:
        started = time.time()
        for document in documents:
            cluster.kube.create(SEARCHES.format(namespace=namespace), document)
        phases = wait_for_settled(cluster.kube, namespace, names, operator, timeout=1800)
        ended = time.time()
        time.sleep(0.5)  # events already written arrive
    return watches, started, ended, phases


def run_many(cluster: Cluster, folder: Path, args: argparse.Namespace, reconcile_seconds: float, run_id: str,
             repeat: int, label: str = "new", tree: Path = ROOT) -> None:  # fmt: skip
    """`--many-searches` searches created together on one fresh (warmed-up) operator."""
    tag = f"{label}{reconcile_seconds:g}".replace(".", "")
    times = folder / f"trials-many{tag}-{repeat}.jsonl"
    namespace = f"bench-many{tag}-{repeat}-{run_id[-6:]}"
    operator = start_warm_operator(cluster, folder, args, reconcile_seconds, namespace, times, tree)
    try:
        idle_rss = operator.read_status("VmRSS")
        before = read_histogram(operator.scrape(), "nago_reconcile_seconds")
        cpu_before = read_cpu_seconds(operator.process.pid)
        cluster_before, machine_before = read_cluster_cpu(cluster.process.pid), read_machine_busy_seconds()
        names = [f"m{tag}-{i:02d}" for i in range(args.many_searches)]
        command = build_stub_command(
            args.many_trial_seconds,
            jitter_of(args, reconcile_seconds),
            times,
            args.trainer_niceness,
            args.light_trainers,
        )
        documents = [build_bench_search(name, args.many_trials, args.many_parallelism, command, seed=index)
                     for index, name in enumerate(names)]  # fmt: skip
        watches, started, ended, phases = run_together(cluster, namespace, documents, operator)
        cpu = read_cpu_seconds(operator.process.pid) - cpu_before
        cluster_after, machine = read_cluster_cpu(cluster.process.pid), read_machine_busy_seconds() - machine_before
        peak_rss = operator.read_status("VmHWM")
        during = [kb for at, kb in operator.rss_samples if started <= at <= ended]
        histogram = subtract_histograms(read_histogram(operator.scrape(), "nago_reconcile_seconds"), before)
        reconciles = read_timings(operator, "search", started, ended)
        calls = read_timings(operator, "api", started, ended)
        starts: dict[str, list[float]] = {}
        for row in reconciles:
            starts.setdefault(row["search"], []).append(row["start"])
        periods = [b - a for s in starts.values() for a, b in zip(sorted(s), sorted(s)[1:], strict=False)]
        record_to_ledger, first_jobs, per_search_p95 = [], [], []
        for name in names:
            trials = read_trial_times(times, f"{namespace}.{name}")
            done = find_ledger_done(watches, name)
            lags = [done[t] - row["sent"] for t, row in trials.items() if t in done]
            record_to_ledger += lags
            if lags:
                per_search_p95.append(summarise(lags)["p95"])
            launches = sorted(find_job_launches(watches, name).values())
            if len(launches) >= args.many_parallelism:
                first_jobs.append(launches[args.many_parallelism - 1] - started)
        row = {
            "run": run_id, "part": "many", "repeat": repeat, "reconcile_seconds": reconcile_seconds,
            "operator": label, "searches": len(names),
            "record_to_ledger_search_p95": per_search_p95,
            "api_requests_per_trial": len(calls) / max(1, len(names) * args.many_trials),
            "trials": args.many_trials, "parallelism": args.many_parallelism,
            "trial_seconds": args.many_trial_seconds, "workers": args.workers,
            "trainer_niceness": args.trainer_niceness, "light_trainers": args.light_trainers,
            "succeeded": sum(phase == "Succeeded" for phase in phases.values()), "wall": ended - started,
            "reconcile": [r["seconds"] for r in reconciles], "reconcile_periods": periods,
            "histogram_p50": estimate_histogram_quantile(histogram, 0.5),
            "histogram_p95": estimate_histogram_quantile(histogram, 0.95),
            "histogram_count": histogram[-1][1] if histogram else 0,
            "rss_idle_mib": idle_rss / 1024, "rss_peak_mib": peak_rss / 1024,
            "rss_max_sampled_mib": max(during, default=0) / 1024, "cpu_seconds": cpu,
            "cpu_control_plane_seconds": cluster_after[0] - cluster_before[0],
            "cpu_trial_processes_seconds": cluster_after[1] - cluster_before[1],
            "cpu_machine_busy_seconds": machine, "cores": os.cpu_count(),
            "record_to_ledger": record_to_ledger, "all_first_jobs": max(first_jobs, default=None),
            "api_calls": summarise_api_calls(calls, len(reconciles)),
            "api_share": sum(c["seconds"] for c in calls) / max(sum(r["seconds"] for r in reconciles), 1e-9),
        }  # fmt: skip
        append_result(args.out, row)
        print(f"  {describe_many(row)}", flush=True)
        delete_searches(cluster.kube, namespace, names)
    finally:
        operator.stop()


def describe_many(row: JSON) -> str:
    reconcile = summarise(row["reconcile"])
    return (
        f"{row['succeeded']}/{row['searches']} Succeeded in {row['wall']:.1f} s, reconcile p50 "
        f"{1000 * reconcile['p50']:.0f} ms p95 {1000 * reconcile['p95']:.0f} ms, peak RSS {row['rss_peak_mib']:.0f} MiB"
    )


# ---- a model-based search beside light ones ---------------------------------------------------------------------


def run_mixed(cluster: Cluster, folder: Path, args: argparse.Namespace, reconcile_seconds: float, run_id: str,
              label: str = "new", tree: Path = ROOT) -> None:  # fmt: skip
    """`--mixed-random` random searches on one operator, alone and then beside one MOBO search (its asks fit a
    Bayesian network: seconds of CPU each): the random searches' "trial exit → next Job", without and with."""
    tag = f"{label}{reconcile_seconds:g}".replace(".", "")
    times = folder / f"trials-mixed{tag}.jsonl"
    namespace = f"bench-mixed{tag}-{run_id[-6:]}"
    operator = start_warm_operator(cluster, folder, args, reconcile_seconds, namespace, times, tree)
    command = build_stub_command(args.mixed_trial_seconds, jitter_of(args, reconcile_seconds), times)
    try:
        for with_mobo in (False, True):
            names = [f"x{int(with_mobo)}-{i:02d}" for i in range(args.mixed_random)]
            documents = [build_bench_search(n, args.mixed_trials, 2, command, seed=i) for i, n in enumerate(names)]
            if with_mobo:
                strategy = {"kind": "mobo", "seed": 1, "mode": "async", "batchSize": 2, "initialPoints": 2}
                mobo = build_search("mobo", strategy, args.mixed_mobo_trials, objectives=["accuracy", "memory"],
                                    budget={"parallelism": 2}, trial={"command": command})  # fmt: skip
                documents.insert(0, mobo)
            every = [d["metadata"]["name"] for d in documents]
            watches, started, ended, phases = run_together(cluster, namespace, documents, operator)
            gaps: list[float] = []
            for name in names:
                trials = read_trial_times(times, f"{namespace}.{name}")
                gaps += measure_gaps(find_job_launches(watches, name), trials, 2)[0]
            mobo = [r["seconds"] for r in read_timings(operator, "search", started, ended) if r["search"] == "mobo"]
            mobo_trials = read_trial_times(times, f"{namespace}.mobo")
            row = {
                "run": run_id, "part": "mixed", "operator": label, "reconcile_seconds": reconcile_seconds,
                "with_mobo": with_mobo, "random_searches": len(names), "trials": args.mixed_trials,
                "trial_seconds": args.mixed_trial_seconds, "wall": ended - started,
                "succeeded": sum(phases[n] == "Succeeded" for n in every), "searches": len(every),
                "random_exit_to_next_launch": gaps, "mobo_reconcile": mobo,
                "mobo_exit_to_next_launch": measure_gaps(find_job_launches(watches, "mobo"), mobo_trials, 2)[0],
            }  # fmt: skip
            append_result(args.out, row)
            print(f"  {describe_mixed(row)}", flush=True)
            delete_searches(cluster.kube, namespace, every)
    finally:
        operator.stop()


def describe_mixed(row: JSON) -> str:
    gaps, mobo = summarise(row["random_exit_to_next_launch"]), summarise(row["mobo_reconcile"])
    beside = f" beside MOBO (reconcile p50 {mobo['p50']:.2f} s, max {mobo['max']:.2f} s)" if row["with_mobo"] else ""
    return (
        f"[{row['operator']}] {row['succeeded']}/{row['searches']} Succeeded; random searches{beside}: exit→next Job "
        f"p50 {gaps['p50']:.3f} s p95 {gaps['p95']:.3f} s (n {gaps['n']}), wall {row['wall']:.1f} s"
    )


# ---- summaries -------------------------------------------------------------------------------------------------


def summarise(values: Sequence[float]) -> dict[str, float]:
    """p50, p95 and max (nan for none)."""
    if not values:
        return {"p50": math.nan, "p95": math.nan, "max": math.nan, "n": 0}
    ordered = sorted(values)
    p95 = statistics.quantiles(ordered, n=20, method="inclusive")[18] if len(ordered) > 1 else ordered[0]
    return {"p50": statistics.median(ordered), "p95": p95, "max": ordered[-1], "n": len(ordered)}


def format_median(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "-"


def format_ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}" if denominator > 0 and not math.isnan(numerator) else "-"


def print_summary(rows: Sequence[JSON]) -> None:
    """Per reconcile interval: medians over every trial of every repeat, operator against local runner."""
    single = [row for row in rows if row["part"] == "single"]
    for label, seconds in sorted({(row.get("operator", "new"), row["reconcile_seconds"]) for row in single}):
        pooled: dict[str, dict[str, list[float]]] = {}
        for row in single:
            if row["reconcile_seconds"] != seconds or row.get("operator", "new") != label:
                continue
            pool = pooled.setdefault(row["runtime"], {})
            for key in ("exit_to_next_launch", "exit_to_next_start", "record_to_ledger", "record_to_status",
                        "exit_to_pod_report", "reconcile"):  # fmt: skip
                pool.setdefault(key, []).extend(row.get(key) or [])
            if row["first_batch"] is not None:
                pool.setdefault("first_batch", []).append(row["first_batch"])
        operator, local = pooled.get("operator", {}), pooled.get("local", {})
        repeats = len(operator.get("first_batch", []))
        print(f"\n[{label}] reconcile / poll interval {seconds:g} s, {repeats} repeats "
              "(median, p95 over all trials; first batch: median over repeats)")  # fmt: skip
        print(f"{'figure':<34} {'operator':>16} {'local runner':>16} {'ratio':>7}")
        for key, label in (("first_batch", "create → first batch launched"),
                           ("exit_to_next_launch", "trial exit → next trial launched"),
                           ("exit_to_next_start", "trial exit → next trainer running"),
                           ("record_to_ledger", "record in Redis → ledger shows done"),
                           ("record_to_status", "record in Redis → status shows done"),
                           ("exit_to_pod_report", "trial exit → pod shows terminated"),
                           ("reconcile", "one reconcile")):  # fmt: skip
            a, b = summarise(operator.get(key, [])), summarise(local.get(key, []))
            cells = [f"{s['p50']:.3f} / {s['p95']:.3f}" if s["n"] else "-" for s in (a, b)]
            print(f"{label:<34} {cells[0]:>16} {cells[1]:>16} {format_ratio(a['p50'], b['p50']):>7}")
    for row in rows:
        if row["part"] == "mixed":
            print(f"\n{describe_mixed(row)}")
        if row["part"] != "many":
            continue
        reconcile, periods = summarise(row["reconcile"]), summarise(row["reconcile_periods"])
        lag = summarise(row["record_to_ledger"])
        search_p95 = summarise(row.get("record_to_ledger_search_p95") or [])
        print(
            f"\n[{row.get('operator', 'new')} {row['repeat']}] {row['searches']} searches × {row['trials']} trials "
            f"(parallelism "
            f"{row['parallelism']}, trials {row['trial_seconds']:g} s), reconcile {row['reconcile_seconds']:g} s, "
            f"{row['workers']} workers: "
            f"{row['succeeded']}/{row['searches']} Succeeded, wall {row['wall']:.1f} s\n"
            f"  reconcile p50/p95/max {1000 * reconcile['p50']:.0f}/{1000 * reconcile['p95']:.0f}/"
            f"{1000 * reconcile['max']:.0f} ms over {reconcile['n']} (histogram p50/p95 "
            f"{1000 * (row['histogram_p50'] or math.nan):.0f}/{1000 * (row['histogram_p95'] or math.nan):.0f} ms)\n"
            f"  time between two reconciles of a search p50/p95 {periods['p50']:.2f}/{periods['p95']:.2f} s; "
            f"record → ledger p50/p95 {lag['p50']:.2f}/{lag['p95']:.2f} s; all first Jobs after "
            f"{row['all_first_jobs'] or math.nan:.1f} s\n"
            f"  operator RSS idle {row['rss_idle_mib']:.0f} MiB, peak {row['rss_peak_mib']:.0f} MiB; "
            f"CPU {row['cpu_seconds']:.1f} s; meanwhile control plane {row['cpu_control_plane_seconds']:.0f} s, "
            f"trial processes {row['cpu_trial_processes_seconds']:.0f} s, whole machine busy "
            f"{row['cpu_machine_busy_seconds']:.0f} of {row['cores'] * row['wall']:.0f} CPU-s\n"
            f"  API requests take {100 * row['api_share']:.0f}% of reconcile time; per reconcile: {format_calls(row)}\n"
            f"  stub trainers at niceness {row.get('trainer_niceness', 0)}"
            f"{', standard library only' if row.get('light_trainers') else ''}; "
            f"API requests per finished trial {row.get('api_requests_per_trial', math.nan):.1f}; per-search "
            f"record → ledger p95: median {search_p95['p50']:.2f} s, worst {search_p95['max']:.2f} s"
        )


def format_calls(row: JSON) -> str:
    """The request kinds by total time: 'GET pods 1.0× 120 ms, ...' (count per reconcile, median)."""
    calls = sorted(row["api_calls"].items(), key=lambda item: -item[1]["per_reconcile"] * item[1]["p50"])
    return ", ".join(f"{kind} {c['per_reconcile']:.2f}× {1000 * c['p50']:.0f} ms" for kind, c in calls)


def parse_variant(text: str) -> tuple[str, Path, list[float]]:
    """`LABEL=TREE[@SECONDS]`: an operator checkout to measure, optionally at its own reconcile interval."""
    label, _, rest = text.partition("=")
    tree, _, seconds = rest.partition("@")
    return label, Path(tree).resolve(), [float(seconds)] if seconds else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reconcile-seconds", type=float, nargs="+", default=[0.5, 2.0])
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument("--trial-seconds", type=float, default=2.0, help="what the stub trainer sleeps")
    parser.add_argument("--many-searches", type=int, default=20)
    parser.add_argument("--many-trials", type=int, default=4)
    parser.add_argument("--many-parallelism", type=int, default=2)
    parser.add_argument("--many-trial-seconds", type=float, default=5.0)
    parser.add_argument("--many-reconcile-seconds", type=float, nargs="+", default=[0.5, 2.0])
    parser.add_argument("--many-repeats", type=int, default=2, help="each with a fresh operator")
    parser.add_argument("--workers", type=int, default=4, help="NAGO_WORKERS of every operator measured")
    parser.add_argument(
        "--light-trainers", action="store_true",
        help="the many-search part's trials run bench/stub_trainer_light.py (no pydantic, no redis-py)",
    )  # fmt: skip
    parser.add_argument(
        "--trainer-niceness", type=int, default=0,
        help="run the many-search part's stub trainers under `nice -n N` (trainers elsewhere, as on a cluster)",
    )  # fmt: skip
    parser.add_argument("--mixed-random", type=int, default=10, help="random searches beside the MOBO search")
    parser.add_argument("--mixed-trials", type=int, default=6)
    parser.add_argument("--mixed-mobo-trials", type=int, default=12)
    parser.add_argument("--mixed-trial-seconds", type=float, default=3.0)
    parser.add_argument("--jitter", type=float, help="the stub's extra sleep range (default: the reconcile interval)")
    parser.add_argument("--no-local", dest="local", action="store_false", help="skip the local-runner reference")
    parser.add_argument(
        "--operator", action="append", metavar="LABEL=TREE[@SECONDS]",
        help="measure the operator of this checkout (e.g. old=/work/old@2: a worktree of an earlier commit at its "
        "own reconcile interval); repeatable; default new=<this checkout>",
    )  # fmt: skip
    parser.add_argument("--parts", nargs="+", choices=["single", "many", "mixed"], default=["single", "many"])
    parser.add_argument("--out", type=Path, default=Path("bench/results/operator.jsonl"))
    parser.add_argument("--summarise", type=Path, nargs="+", help="only print the summary of results files")
    args = parser.parse_args()
    if args.summarise:
        rows = read_results(args.summarise)
        for run_id in sorted({row["run"] for row in rows}):
            print(f"==== run {run_id}")
            print_summary([row for row in rows if row["run"] == run_id])
        return
    run_id = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%S")
    folder = Path(tempfile.mkdtemp(prefix="nago-bench-operator-"))
    cluster = start_cluster(folder)
    try:
        variants = [parse_variant(item) for item in args.operator or [f"new={ROOT}"]]
        for label, tree, fixed in variants:
            for seconds in (fixed or args.reconcile_seconds) if "single" in args.parts else []:
                run_single(cluster, folder, args, seconds, run_id, label, tree)
        for repeat in range(args.many_repeats if "many" in args.parts else 0):
            for label, tree, fixed in variants:
                for seconds in fixed or args.many_reconcile_seconds:
                    run_many(cluster, folder, args, seconds, run_id, repeat, label, tree)
        for label, tree, fixed in variants:
            for seconds in (fixed or args.many_reconcile_seconds) if "mixed" in args.parts else []:
                run_mixed(cluster, folder, args, seconds, run_id, label, tree)
    except BaseException:
        print(f"logs kept in {folder}", file=sys.stderr)
        raise
    finally:
        cluster.stop()
    shutil.rmtree(folder, ignore_errors=True)
    print_summary([row for row in read_results([args.out]) if row["run"] == run_id])


if __name__ == "__main__":
    main()
