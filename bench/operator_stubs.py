"""The processes `bench_operator.py` starts: a stub trainer, the local runner driving it, and the operator
with its reconciles timed. Not a benchmark on its own.

- `train`: stands in for `nago train`. It sleeps `--sleep` seconds plus a share of `--jitter` drawn from the
  trial's seed (the same trial sleeps as long under both runtimes), then sends one valid final record
  (status succeeded, the trial's search/trialId/attempt from `--trial-json` or `--trial`) through
  `RedisStreamSink` with NAGO_REDIS_URL/NAGO_REDIS_PASSWORD (or to `--jsonl` without them) and exits 0.
  Training is stubbed because the benchmark measures the control loop, not training. It appends its own
  start, record-sent and exit times to `--times` (wall clock; every process runs on this machine).
- `local-search`: `nago.search.local_runner.LocalRunner` on a search document, launching the stub instead of
  `nago train` (its `launch` parameter); it logs when each trial's process is started and when each saved
  ledger first shows a trial done (its `on_saved` parameter).
- `operator`: `python -m nago_operator` with `SearchReconciler.reconcile` wrapped to log each call's start and
  duration to NAGO_BENCH_RECONCILE_LOG (the Prometheus histogram only keeps buckets), and each Kubernetes API
  request (`KubeApi.send_raw`; each watch opened by `KubeApi.stream_lines`) with its method and resource.

    python bench/operator_stubs.py train --sleep 2 --times times.jsonl --trial-json '{"search": ...}'
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STUB = Path(__file__).resolve()


def log_event(path: Path, row: dict[str, Any]) -> None:
    """One JSON line appended with a single write, so processes writing the same file never interleave."""
    with path.open("a") as handle:
        handle.write(json.dumps(row) + "\n")


LIGHT_STUB = STUB.with_name("stub_trainer_light.py")


def build_stub_command(sleep: float, jitter: float, times: Path, niceness: int = 0, light: bool = False) -> list[str]:
    """The trainer command for a trial template or the local runner (the trial is appended to it). With
    `niceness` the stub runs under `nice`: its Python start then takes CPU only when the control plane and the
    operator leave some, which is what trainers on other nodes would do (the figures start from the stub's own
    clock, after that start). With `light`, the standard-library stub (stub_trainer_light.py) runs instead."""
    start = [sys.executable, "-S", str(LIGHT_STUB)] if light else [sys.executable, str(STUB), "train"]
    stub = [*start, "--sleep", str(sleep), "--jitter", str(jitter), "--times", str(times)]
    return ["nice", "-n", str(niceness), *stub] if niceness else stub


def run_stub_trainer(args: argparse.Namespace, started: float) -> int:
    """Sleep, then report a made-up successful result for the trial; exit 0 once the record is delivered."""
    document = json.loads(args.trial_json if args.trial_json is not None else Path(args.trial).read_text())
    search = str(document["search"])
    trial_id = str(document.get("trial_id", document.get("trialId")))
    attempt = int(document.get("attempt", 0))
    epochs = int((document.get("protocol") or {}).get("epochs", 1))
    theta = document.get("theta") or {}
    slept = args.sleep + args.jitter * random.Random(int(document.get("seed", 0))).random()
    time.sleep(slept)

    from nago.trial.records import FinalRecord, compute_trial_digest
    from nago.trial.sinks import JsonlFileSink, RecordSink, RedisStreamSink

    accuracy = 0.5 + 0.4 * (sum(float(v) for v in theta.values()) % 1.0)
    record = FinalRecord(
        search=search, trial_id=trial_id, attempt=attempt, epoch=epochs, time=time.time(), status="succeeded",
        exit_code=0, best_val_accuracy=accuracy, final_val_accuracy=accuracy, params=50_000,
        activation_bytes_per_image=1_000_000, device="cpu", train_seconds=slept,
        trial_digest=compute_trial_digest(trial_id, theta, int(document.get("seed", 0)), epochs),
    )  # fmt: skip
    url, password = os.environ.get("NAGO_REDIS_URL"), os.environ.get("NAGO_REDIS_PASSWORD")
    sink: RecordSink
    if url and password:
        sink = RedisStreamSink(url, password, search)
    elif args.jsonl is not None:
        sink = JsonlFileSink(Path(args.jsonl))
    else:
        print("stub trainer: neither NAGO_REDIS_URL/NAGO_REDIS_PASSWORD nor --jsonl", file=sys.stderr)
        return 2
    sink.emit(record)
    delivered = sink.close(10.0)
    sent = time.time()
    row = {"event": "trial", "search": search, "trial": trial_id, "attempt": attempt, "start": started, "sent": sent}
    log_event(Path(args.times), {**row, "exit": time.time()})
    return 0 if delivered else 3


def run_local_search(args: argparse.Namespace) -> int:
    """The local runner on `--manifest`, trials as stub processes; launch and done times go to `--times`."""
    from nago.search.ledger import Ledger, TrialState
    from nago.search.local_runner import LocalRunner, TrialLaunch, start_child
    from nago.search.spec import parse_search

    times = Path(args.times)
    search = parse_search(json.loads(Path(args.manifest).read_text()))
    command = build_stub_command(args.sleep, args.jitter, times)
    done: set[str] = set()

    def log_done(ledger: Ledger) -> None:
        saved = time.time()
        for trial in ledger.trials:
            if trial.state is TrialState.SUCCEEDED and trial.trial_id not in done:
                done.add(trial.trial_id)
                log_event(times, {"event": "done", "search": ledger.search, "trial": trial.trial_id, "time": saved})

    def launch_stub(launch: TrialLaunch) -> Any:
        """The local runner's own launch, with the stub trainer instead of `nago train`."""
        process = start_child([*command, "--trial", str(launch.trial_file), "--jsonl", str(launch.records)], launch)
        log_event(times, {"event": "launch", "search": search.metadata.name, "trial": launch.trial.trial_id,
                          "time": time.time()})  # fmt: skip
        return process

    runner = LocalRunner(search, Path(args.state_dir), poll_seconds=args.poll, output=sys.stderr,
                         redis_url=args.redis_url, launch=launch_stub, on_saved=log_done)  # fmt: skip
    log_event(times, {"event": "run", "search": search.metadata.name, "time": time.time()})
    ledger = runner.run()
    return 0 if ledger.phase.value == "Succeeded" else 1


def run_timed_operator() -> None:
    """The operator, each `SearchReconciler.reconcile` call logged as {search, start, seconds} and each API
    request as {api: method resource, start, seconds}; a watch the operator opens is one request too ("WATCH
    resource"). Works on the operator of any checkout on PYTHONPATH: the official-client one (`KubeApi`) and
    the earlier one with its own urllib client (`KubeClient`), so both can be measured in the same run."""
    import importlib

    import nago_operator
    from nago_operator import search_reconciler
    from nago_operator.__main__ import main

    # By the files of the checkout on PYTHONPATH: an editable install would resolve a module missing there from
    # the installed checkout instead.
    client_class: Any
    if (Path(nago_operator.__path__[0]) / "kube_api.py").exists():
        client_class = importlib.import_module("nago_operator.kube_api").KubeApi
    else:  # an operator from before the official client
        client_class = importlib.import_module("nago_operator.kube_client").KubeClient

    path = Path(os.environ["NAGO_BENCH_RECONCILE_LOG"])
    reconcile: Callable[..., None] = search_reconciler.SearchReconciler.reconcile
    send_raw: Callable[..., bytes] = client_class.send_raw
    stream_lines: Callable[..., Any] | None = getattr(client_class, "stream_lines", None)
    lock = threading.Lock()
    handle = path.open("a", buffering=1)

    def write(row: dict[str, Any]) -> None:
        with lock:
            handle.write(json.dumps(row) + "\n")

    def name_resource(path: str) -> str:
        parts = path.strip("/").split("/")
        at = parts.index("namespaces") + 2 if "namespaces" in parts else len(parts) - 1
        return parts[min(at, len(parts) - 1)] + ("/status" if parts[-1] == "status" else "")

    def timed_reconcile(self: Any, body: Any, *rest: Any) -> None:
        wall, started = time.time(), time.perf_counter()
        try:
            reconcile(self, body, *rest)
        finally:
            write({"search": self.name, "start": wall, "seconds": time.perf_counter() - started})

    def timed_send_raw(self: Any, method: str, path: str, *args: Any, **options: Any) -> bytes:
        wall, started = time.time(), time.perf_counter()
        try:
            return send_raw(self, method, path, *args, **options)
        finally:
            write({"api": f"{method} {name_resource(path)}", "start": wall, "seconds": time.perf_counter() - started})

    def counted_stream_lines(self: Any, path: str, *args: Any, **options: Any) -> Any:
        write({"api": f"WATCH {name_resource(path)}", "start": time.time(), "seconds": 0.0})
        assert stream_lines is not None
        return stream_lines(self, path, *args, **options)

    search_reconciler.SearchReconciler.reconcile = timed_reconcile  # type: ignore[method-assign]
    client_class.send_raw = timed_send_raw
    if stream_lines is not None:
        client_class.stream_lines = counted_stream_lines
    main([])


def main() -> None:
    started = time.time()  # before any import of nago: the moment the trainer process runs
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="the stub trainer")
    train.add_argument("--sleep", type=float, required=True, help="seconds standing in for training")
    train.add_argument("--jitter", type=float, default=0.0, help="plus up to this many seconds, from the seed")
    train.add_argument("--times", required=True, help="JSON-lines file the stub appends its times to")
    train.add_argument("--trial-json", help="the trial (as the operator passes it)")
    train.add_argument("--trial", help="a trial file (as the local runner passes it)")
    train.add_argument("--jsonl", help="records file, used when no Redis is configured")
    local = commands.add_parser("local-search", help="the local runner with the stub trainer")
    local.add_argument("--manifest", required=True, help="a GeneratorSearch document (JSON)")
    local.add_argument("--state-dir", required=True)
    local.add_argument("--poll", type=float, required=True, help="the runner's poll_seconds")
    local.add_argument("--redis-url", help="metrics through Redis (password in NAGO_REDIS_PASSWORD)")
    local.add_argument("--sleep", type=float, required=True)
    local.add_argument("--jitter", type=float, default=0.0)
    local.add_argument("--times", required=True)
    commands.add_parser("operator", help="python -m nago_operator with timed reconciles")
    args = parser.parse_args()
    if args.command == "train":
        raise SystemExit(run_stub_trainer(args, started))
    if args.command == "local-search":
        raise SystemExit(run_local_search(args))
    run_timed_operator()


if __name__ == "__main__":
    main()
