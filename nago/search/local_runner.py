"""`nago search FILE` on one machine: trials as `nago train` subprocesses around the pure engine.

State directory (everything needed to resume after Ctrl-C, `kill -9` or a reboot):

    ledger.json                      the engine's ledger, written atomically after every step
    status.json                      the search's status, as the operator shows it
    trials/<trial id>/attempt-N.json the TrialSpec of each attempt
    trials/<trial id>/records.jsonl  the trial's metric records (the trainer appends them once each)
    trials/<trial id>/checkpoint.pt  the trial's checkpoint, so a relaunched attempt resumes
    trials/<trial id>/log.txt        the trainer's output

The ledger is saved before a child is started, so a runner killed at any moment finds on restart
each running trial either with its final record (its result is taken) or without one (the attempt
is relaunched as lost, not counted as a retry). Children die with the runner (PR_SET_PDEATHSIG),
so no orphan keeps training a trial that is relaunched.

Metrics come from each trial's `records.jsonl`, or, with `--redis-url`, from the search's Redis
stream read with a consumer group, each record acknowledged only after the ledger that holds its
effect is saved (`nago.trial.metrics_stream`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TextIO

from nago.atomic import write_text_atomically
from nago.errors import InvalidInputError
from nago.search.engine import (
    CancelTrial,
    Event,
    LaunchTrial,
    RecordReceived,
    SearchFinished,
    TrialExited,
    TrialLost,
    TrialStarted,
    reconcile,
)
from nago.search.inbox import FileInbox, RecordInbox, StreamInbox
from nago.search.ledger import Ledger, SearchPhase, TrialEntry, TrialPurpose, TrialState
from nago.search.spec import GeneratorSearch
from nago.search.state_folder import LEDGER_FILE, read_ledger
from nago.search.status import build_status
from nago.search.trials import build_trial_spec

STOP_GRACE_SECONDS = 10.0
INTERRUPTED_EXIT = 130


def die_with_parent() -> None:
    """In the child, before exec: receive SIGKILL when the runner dies (Linux prctl PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):  # elsewhere a killed runner's children run on
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def load_ledger(state_dir: Path, search: str) -> Ledger:
    """The folder's ledger of `search`, or a new one."""
    return read_ledger(state_dir, search) or Ledger(search=search)


def save_ledger(state_dir: Path, ledger: Ledger) -> None:
    write_text_atomically(state_dir / LEDGER_FILE, ledger.model_dump_json(indent=1))


def open_stream_inbox(url: str, password: str, search: str, output: TextIO) -> StreamInbox:
    """The search's Redis stream as an inbox; a bad URL or an unreachable server is bad input (exit 2)."""
    import redis

    from nago.trial.metrics_stream import MetricsStreamReader

    client = redis.Redis.from_url(url, password=password, socket_timeout=5.0, socket_connect_timeout=5.0)

    def warn(message_id: str, reason: str) -> None:
        output.write(f"metrics: dropped record {message_id} that does not parse: {reason}\n")

    try:
        return StreamInbox(MetricsStreamReader(client, search, on_bad_record=warn))
    except redis.RedisError as error:
        raise InvalidInputError("--redis-url", f"cannot read the metrics stream at {url}: {error}") from None


@dataclass(frozen=True)
class TrialLaunch:
    """What a launcher gets to start one attempt: its TrialSpec file, where its records go, its log and
    environment (the trainer's thread count and, with Redis, the stream's address and password)."""

    trial: TrialEntry
    trial_file: Path
    records: Path
    log: IO[bytes]
    env: dict[str, str]


TrialLauncher = Callable[[TrialLaunch], "subprocess.Popen[bytes]"]


def start_child(command: Sequence[str], launch: TrialLaunch) -> subprocess.Popen[bytes]:
    """A child process in its own session that dies with the runner, its output in the trial's log."""
    return subprocess.Popen(
        list(command), stdout=launch.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=launch.env,
        preexec_fn=die_with_parent, start_new_session=True,
    )  # fmt: skip


def launch_trainer(launch: TrialLaunch) -> subprocess.Popen[bytes]:
    """The default launcher: `nago train --trial FILE --jsonl RECORDS` with this Python."""
    command = [sys.executable, "-m", "nago.cli", "train", "--trial", str(launch.trial_file),
               "--jsonl", str(launch.records)]  # fmt: skip
    return start_child(command, launch)


@dataclass
class _Child:
    trial: TrialEntry
    process: subprocess.Popen[bytes]
    log: IO[bytes]


@dataclass
class Progress:
    """What the display shows; also returned to callers and tests."""

    done: int = 0
    failed: int = 0
    running: int = 0
    total: int = 0
    best: float | None = None
    phase: SearchPhase = SearchPhase.PENDING
    durations: list[float] = field(default_factory=list)


class Display:
    """A live status line on a terminal; plain lines, only when something changed, otherwise."""

    def __init__(self, stream: TextIO, started: float) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self.started = started
        self.last = ""

    def show(self, progress: Progress, parallelism: int, now: float) -> None:
        elapsed = now - self.started
        remaining = max(progress.total - progress.done, 0)
        eta = ""
        if progress.durations and remaining:
            mean = sum(progress.durations) / len(progress.durations)
            eta = f" · ETA {_clock(mean * remaining / max(parallelism, 1))}"
        best = f"{progress.best:.4f}" if progress.best is not None else "-"
        text = (
            f"{progress.phase.value}: {progress.done}/{progress.total} done ({progress.failed} failed)"
            f" · {progress.running} running · best accuracy {best}"
        )
        if self.live:
            self.stream.write(f"\r\x1b[2K{text} · {_clock(elapsed)}{eta}")
            self.stream.flush()
        elif text != self.last:
            self.stream.write(f"[{_clock(elapsed)}] {text}{eta}\n")
            self.stream.flush()
        self.last = text

    def announce(self, trial: TrialEntry, best: float | None, now: float) -> None:
        """One lasting line for a trial that has just settled: its accuracy and the best so far."""
        result = trial.result
        if trial.state is TrialState.SUCCEEDED and result is not None:
            test = f", test accuracy {result.test_accuracy:.4f}" if result.test_accuracy is not None else ""
            params = f", {result.params:,} params" if result.params is not None else ""
            best_text = f" · best {best:.4f}" if best is not None else ""
            text = (
                f"{trial.trial_id} ({trial.purpose.value}): val accuracy {result.accuracy:.4f}{test}{params}{best_text}"
            )
        else:
            text = f"{trial.trial_id} ({trial.purpose.value}) failed: {trial.reason}: {trial.message}"
        clear = "\r\x1b[2K" if self.live else ""
        self.stream.write(f"{clear}[{_clock(now - self.started)}] {text}\n")
        self.stream.flush()
        self.last = ""

    def close(self) -> None:
        """End the live line (once)."""
        if self.live and self.last:
            self.stream.write("\n")
            self.stream.flush()
        self.last = ""


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class LocalRunner:
    """Runs one search to its end (or until interrupted) in `state_dir`."""

    def __init__(
        self,
        search: GeneratorSearch,
        state_dir: Path,
        poll_seconds: float = 0.5,
        output: TextIO | None = None,
        redis_url: str | None = None,
        launch: TrialLauncher = launch_trainer,
        on_saved: Callable[[Ledger], None] | None = None,
    ) -> None:
        """Metrics come from each trial's JSON-lines file, or from the search's Redis stream when
        `redis_url` is given (the password from NAGO_REDIS_PASSWORD, as for `nago train`). `launch` starts
        one attempt (default: `nago train`); `on_saved` sees every ledger once it is saved."""
        self.search = search
        self.spec = search.spec
        self.state_dir = state_dir
        self.poll_seconds = poll_seconds
        self.children: dict[str, _Child] = {}
        self.stop_requested = False
        self.output = output if output is not None else sys.stderr
        self.launch = launch
        self.on_saved = on_saved
        self.records: RecordInbox = FileInbox(state_dir)
        self.child_env: dict[str, str] = {}
        if redis_url is not None:
            password = os.environ.get("NAGO_REDIS_PASSWORD")
            if not password:
                raise InvalidInputError("NAGO_REDIS_PASSWORD", "must be set in the environment when Redis is used")
            self.records = open_stream_inbox(redis_url, password, search.metadata.name, self.output)
            self.child_env = {"NAGO_REDIS_URL": redis_url, "NAGO_REDIS_PASSWORD": password}

    def trial_dir(self, trial_id: str) -> Path:
        return self.state_dir / "trials" / trial_id

    def _request_stop(self, signum: int, frame: object) -> None:
        self.stop_requested = True

    def run(self) -> Ledger:
        """Run until the search succeeds or fails; on SIGINT/SIGTERM stop the children and exit 130."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        ledger = load_ledger(self.state_dir, self.search.metadata.name)
        previous = {s: signal.signal(s, self._request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        display = Display(self.output, time.time())
        announced = {t.trial_id for t in ledger.trials if t.done}
        try:
            events = self._poll(ledger, recovering=True)  # after a restart
            while True:
                now = time.time()
                step = reconcile(self.spec, ledger, events, now)
                ledger = step.ledger
                save_ledger(self.state_dir, ledger)  # before any child starts: a restart then knows it
                if self.on_saved is not None:
                    self.on_saved(ledger)
                self.records.acknowledge()  # only now that the ledger holds their effect
                status = build_status(self.spec, ledger)
                write_text_atomically(self.state_dir / "status.json", status.model_dump_json(by_alias=True, indent=1))
                for action in step.actions:
                    if isinstance(action, LaunchTrial):
                        self._launch(action.trial)
                    elif isinstance(action, CancelTrial):
                        self._stop(action.trial_id)
                best = ledger.best()
                for trial in ledger.trials:
                    if trial.done and trial.trial_id not in announced:
                        announced.add(trial.trial_id)
                        display.announce(trial, best.result.accuracy if best and best.result else None, now)
                display.show(self._progress(ledger), self.spec.budget.parallelism, now)
                if any(isinstance(a, SearchFinished) for a in step.actions) or ledger.phase in (
                    SearchPhase.SUCCEEDED, SearchPhase.FAILED,
                ):  # fmt: skip
                    return ledger
                if ledger.phase is SearchPhase.SUSPENDED and not self.children:
                    return ledger
                if self.stop_requested:
                    raise KeyboardInterrupt
                time.sleep(self.poll_seconds)
                events = self._poll(ledger)
        except KeyboardInterrupt:
            for trial_id in list(self.children):
                self._stop(trial_id)
            display.close()
            self.output.write(f"interrupted; run the same command again to resume from {self.state_dir}\n")
            raise SystemExit(INTERRUPTED_EXIT) from None
        finally:
            display.close()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _launch(self, trial: TrialEntry) -> None:
        folder = self.trial_dir(trial.trial_id)
        folder.mkdir(parents=True, exist_ok=True)
        spec = build_trial_spec(self.search, trial, folder / "checkpoint.pt")
        trial_file = folder / f"attempt-{trial.attempt}.json"
        write_text_atomically(trial_file, spec.model_dump_json(indent=1))
        log = (folder / "log.txt").open("ab")
        threads = str(max(1, (os.cpu_count() or 1) // self.spec.budget.parallelism))
        env = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, **os.environ, **self.child_env}
        process = self.launch(TrialLaunch(trial, trial_file, folder / "records.jsonl", log, env))
        self.children[trial.trial_id] = _Child(trial, process, log)

    def _stop(self, trial_id: str) -> None:
        child = self.children.pop(trial_id, None)
        if child is None:
            return
        if child.process.poll() is None:
            child.process.terminate()
            try:
                child.process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        child.log.close()

    def _poll(self, ledger: Ledger, recovering: bool = False) -> list[Event]:
        """Records and exits since the last step; a trial that exited 0 keeps being read for its record.
        When `recovering`, no trial has a process: a running trial yields its record or is lost."""
        events: list[Event] = []
        now = time.time()
        self.records.collect()
        for trial in ledger.trials:
            if trial.state is not TrialState.RUNNING:
                continue
            child = self.children.get(trial.trial_id)
            if child is not None and trial.started_at is None:
                events.append(TrialStarted(trial.trial_id, trial.attempt, now))
            record = self.records.final_record(trial)
            if record is not None:
                events.append(RecordReceived(record, now))
            elif recovering:
                events.append(TrialLost(trial.trial_id, trial.attempt, now))
            code = child.process.poll() if child is not None else None
            if child is not None and code is not None:
                events.append(TrialExited(trial.trial_id, trial.attempt, code, now))
                child.log.close()
                del self.children[trial.trial_id]
        return events

    def _progress(self, ledger: Ledger) -> Progress:
        search = ledger.of(TrialPurpose.SEARCH)
        finals = ledger.of(TrialPurpose.FINAL)
        in_final = ledger.phase is SearchPhase.FINAL_EVALUATION
        trials = finals if in_final else search
        best = ledger.best()
        return Progress(
            done=sum(t.done for t in trials), failed=sum(t.state is TrialState.FAILED for t in trials),
            running=sum(t.state is TrialState.RUNNING for t in ledger.trials),
            total=len(finals) if in_final else self.spec.budget.max_trials,
            best=best.result.accuracy if best and best.result else None, phase=ledger.phase,
            durations=[t.finished_at - t.launched_at for t in trials
                       if t.state is TrialState.SUCCEEDED and t.finished_at and t.launched_at],
        )  # fmt: skip
