"""Engine steps of model-based strategies in worker processes, so a GP fit or a BNN's sampling never holds up
another search (docs/design.md §7.3).

The engine's step is a pure function of the spec, the stored ledger (which carries the proposer's JSON state),
the observed events and the time (docs/design.md §2.4), so it can run anywhere: here, in one worker process per
proposal thread. A search's reconcile runs on one of those threads when its strategy fits a model (GP-BO,
Thompson, MOBO); strategies that cost microseconds (random, Sobol, BOHB's KDE) step in the reconcile thread
itself. The limits: one step per search at a time (the reconcile holds the search's lock), `processes` steps at
once in all, and `timeout` seconds per step — a step past it has its process killed and replaced, and the
search's reconcile fails with `ProposalTimeoutError` (reported as an Event, retried with back-off).

Worker processes are started with `spawn` (the operator has threads; forking them is unsafe) on first use, and
stay: a worker that has imported torch and BoTorch answers the next ask without paying for the import again.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from nago.bo.registry import TORCH_FREE_KINDS
from nago.search.engine import Event, Step, reconcile
from nago.search.ledger import Ledger
from nago.search.spec import GeneratorSearchSpec


class ProposalTimeoutError(Exception):
    """A step took longer than the proposal timeout; its process was replaced."""


def is_model_based(kind: str) -> bool:
    """Whether a strategy kind's steps go to a worker process (they fit a model) or run inline."""
    return kind not in TORCH_FREE_KINDS


def _serve(connection: Connection) -> None:
    """The worker process: runs each (function, arguments) it receives until the pipe closes."""
    while True:
        try:
            function, arguments = connection.recv()
        except EOFError:
            return
        try:
            connection.send(("ok", function(*arguments)))
        except Exception as error:  # the caller raises it in the reconcile thread
            try:
                connection.send(("error", error))
            except Exception:  # an exception that does not pickle: its text
                connection.send(("error", RuntimeError(f"{type(error).__name__}: {error}")))


class _Worker:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process: BaseProcess = context.Process(target=_serve, args=(child,), name="nago-proposer", daemon=True)
        self.process.start()
        child.close()

    def close(self) -> None:
        self.connection.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)


class ProposalPool:
    """One worker process per calling thread (the proposal threads), started on first use."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.local = threading.local()
        self.lock = threading.Lock()
        self.workers: list[_Worker] = []
        self.replaced = 0  # workers killed at the timeout (or found dead) and started again

    def run_step(self, spec: GeneratorSearchSpec, ledger: Ledger, events: list[Event], now: float) -> Step:
        """`nago.search.engine.reconcile(spec, ledger, events, now)` in this thread's worker process."""
        step: Step = self.call(reconcile, spec, ledger, events, now)
        return step

    def call(self, function: Callable[..., Any], *arguments: Any) -> Any:
        """`function(*arguments)` in this thread's worker process (both must pickle); its exception is raised
        here; `ProposalTimeoutError` after `timeout` seconds, the process then replaced."""
        worker = self._worker()
        try:
            worker.connection.send((function, arguments))
            if not worker.connection.poll(self.timeout):
                self._replace(worker)
                raise ProposalTimeoutError(f"the proposer took longer than {self.timeout:g} s; its process was "
                                           "restarted")  # fmt: skip
            status, value = worker.connection.recv()
        except (EOFError, OSError, BrokenPipeError) as error:  # the process died (e.g. killed for memory)
            self._replace(worker)
            raise RuntimeError(f"the proposer's process ended: {error or type(error).__name__}") from None
        if status == "error":
            raise value
        return value

    def _worker(self) -> _Worker:
        worker: _Worker | None = getattr(self.local, "worker", None)
        if worker is None or not worker.process.is_alive():
            if worker is not None:
                self._replace(worker)
            worker = _Worker()
            self.local.worker = worker
            with self.lock:
                self.workers.append(worker)
        return worker

    def _replace(self, worker: _Worker) -> None:
        worker.close()
        with self.lock:
            if worker in self.workers:
                self.workers.remove(worker)
            self.replaced += 1
        self.local.worker = None

    def close(self) -> None:
        with self.lock:
            workers, self.workers = self.workers, []
        for worker in workers:
            worker.close()


def read_strategy_kind(body: dict[str, Any]) -> str:
    """The strategy kind a GeneratorSearch body names (the schema's default when it names none)."""
    strategy = (body.get("spec") or {}).get("strategy") or {}
    return str(strategy.get("kind", "bo"))
