"""The kopf handlers: thin. One daemon per GeneratorSearch runs its reconcile in a worker thread whenever
something of the search changes (docs/design.md §7.2: level-triggered, one place that compares desired and
actual); one delete handler cleans what owner references cannot (Redis keys), within a bounded time
(docs/design.md §7.6).

What wakes a search's reconcile: a change to one of its trial Jobs or pods (one list-and-watch per resource for
all searches, `informer.py`), a new entry in its Redis stream (one blocking read for all searches,
`record_watcher.py`), and a change of its spec (kopf's watch of GeneratorSearches). A timer of
`NAGO_RECONCILE_SECONDS` (30 s by default) remains as a safety net for what nothing announces (the engine's
clocks, a Redis that came back). Reconciles of model-based strategies run on the proposal threads, each with a
worker process of its own (`proposal_pool.py`), so a GP fit never delays another search's next Job.

Handlers return None: kopf would write a return value into the status, which has exactly one writer, the
reconcile (docs/design.md §7.4). Watches and API calls have timeouts (docs/design.md §7.5); kopf's own
progress and diff-base annotations are under nago.dev; its handler Events are posted only for warnings (ours
say more).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import kopf

from nago_operator import operator_metrics as metrics
from nago_operator.informer import TrialObjects
from nago_operator.kube_api import KubeApi, connect
from nago_operator.proposal_pool import ProposalPool, is_model_based, read_strategy_kind
from nago_operator.record_watcher import RecordWatcher
from nago_operator.search_events import WARNING, SearchEvent
from nago_operator.search_reconciler import SearchReconciler
from nago_operator.settings import OperatorSettings
from nago_operator.trial_jobs import GROUP, PLURAL, VERSION

SETTLED_PHASES = ("Succeeded", "Failed")
ERROR_BACKOFF_SECONDS = (1.0, 60.0)  # first and largest wait after a reconcile that raised
log = logging.getLogger("nago_operator")

SearchKey = tuple[str, str]  # (namespace, name)


@dataclass
class Runtime:
    """What every handler shares: settings, clients, watches, the threads and one reconciler per search."""

    settings: OperatorSettings
    kube: KubeApi
    redis: Any
    loop: asyncio.AbstractEventLoop
    workers: ThreadPoolExecutor
    proposal_threads: ThreadPoolExecutor
    pool: ProposalPool
    objects: TrialObjects
    records: RecordWatcher
    reconcilers: dict[str, SearchReconciler] = field(default_factory=dict)
    wakers: dict[SearchKey, asyncio.Event] = field(default_factory=dict)

    def reconciler(self, namespace: str, name: str, uid: str) -> SearchReconciler:
        if uid not in self.reconcilers:
            self.reconcilers[uid] = SearchReconciler(
                self.kube, self.redis, self.settings, namespace, name, uid, self.objects, self.records
            )
            metrics.SEARCHES.set(len(self.reconcilers))
        return self.reconcilers[uid]

    def wake(self, namespace: str, name: str) -> None:
        """Run the search's reconcile soon; callable from any thread."""
        with contextlib.suppress(RuntimeError):  # the loop has closed: the operator is stopping
            self.loop.call_soon_threadsafe(self._set, (namespace, name))

    def _set(self, key: SearchKey) -> None:
        waker = self.wakers.get(key)
        if waker is not None:
            waker.set()

    def close(self) -> None:
        self.objects.stop()
        self.records.stop()
        self.workers.shutdown(wait=False, cancel_futures=True)
        self.proposal_threads.shutdown(wait=False, cancel_futures=True)
        self.pool.close()


def _runtime(memo: kopf.Memo) -> Runtime:
    runtime: Runtime = memo["runtime"]
    return runtime


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    import redis

    operator_settings: OperatorSettings = memo["settings"]
    settings.watching.server_timeout = 120
    settings.watching.client_timeout = 150
    settings.watching.connect_timeout = 10
    settings.networking.request_timeout = 30
    settings.networking.connect_timeout = 10
    settings.persistence.finalizer = "nago.dev/cleanup"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="nago.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="nago.dev")
    settings.posting.level = logging.WARNING

    def connect_redis(timeout: float) -> Any:
        return redis.Redis.from_url(
            operator_settings.redis_url, password=operator_settings.redis_password,
            socket_timeout=timeout, socket_connect_timeout=5.0, health_check_interval=30,
        )  # fmt: skip

    kube = connect(pool_size=operator_settings.workers + operator_settings.proposal_processes + 8)
    runtime_box: list[Runtime] = []

    def wake(namespace: str, name: str) -> None:
        runtime_box[0].wake(namespace, name)

    runtime = Runtime(
        operator_settings, kube, connect_redis(5.0), asyncio.get_running_loop(),
        ThreadPoolExecutor(operator_settings.workers, thread_name_prefix="reconcile"),
        ThreadPoolExecutor(operator_settings.proposal_processes, thread_name_prefix="proposal"),
        ProposalPool(operator_settings.proposal_timeout_seconds),
        TrialObjects(kube, operator_settings.namespaces, wake),
        RecordWatcher(connect_redis(10.0), wake),
    )  # fmt: skip
    runtime_box.append(runtime)
    memo["runtime"] = runtime
    runtime.objects.start()
    runtime.records.start()
    metrics.serve_metrics(operator_settings.metrics_port)


@kopf.on.cleanup()
def shut_down(memo: kopf.Memo, **_: Any) -> None:
    if "runtime" in memo:
        _runtime(memo).close()


@kopf.on.probe(id="searches")
def count_searches(memo: kopf.Memo, **_: Any) -> int:
    return len(_runtime(memo).reconcilers) if "runtime" in memo else 0


def _is_settled(body: dict[str, Any]) -> bool:
    """Finished and unchanged since: nothing to do until the spec changes (e.g. maxTrials is raised)."""
    status = body.get("status") or {}
    return status.get("phase") in SETTLED_PHASES and status.get("observedGeneration") == body["metadata"].get(
        "generation"
    )


@kopf.on.event(GROUP, VERSION, PLURAL, id="spec-changed")
def notice_spec_change(*, body: kopf.Body, namespace: str | None, name: str, memo: Any, **_: Any) -> None:
    """A spec the reconcile has not seen yet (its generation is ahead of the status's) wakes it."""
    observed = (body.get("status") or {}).get("observedGeneration")
    if namespace is not None and "runtime" in memo and observed != body.get("metadata", {}).get("generation"):
        _runtime(memo).wake(namespace, name)


async def _sleep(waker: asyncio.Event, stopped: kopf.DaemonStopped, seconds: float) -> None:
    """Until the search is woken, the daemon is stopped, or `seconds` pass."""

    async def until_stopped() -> None:
        await stopped.wait()

    waits = [asyncio.ensure_future(waker.wait()), asyncio.ensure_future(until_stopped())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await wait


@kopf.daemon(GROUP, VERSION, PLURAL, id="reconcile", cancellation_timeout=60.0, initial_delay=0.0)
async def run_search(
    *, stopped: kopf.DaemonStopped, body: kopf.Body, namespace: str | None, name: str, uid: str, memo: Any, **_: Any
) -> None:
    assert namespace is not None  # the resource is namespaced
    runtime = _runtime(memo)
    reconciler = runtime.reconciler(namespace, name, uid)
    waker = runtime.wakers.setdefault((namespace, name), asyncio.Event())
    loop = asyncio.get_running_loop()
    backoff = 0.0
    try:
        while not stopped:
            waker.clear()  # a change during the reconcile below wakes the next one
            snapshot = copy.deepcopy(dict(body))
            if not _is_settled(snapshot):
                model_based = is_model_based(read_strategy_kind(snapshot))
                threads = runtime.proposal_threads if model_based else runtime.workers
                step = runtime.pool.run_step if model_based else None
                try:
                    await loop.run_in_executor(threads, reconciler.reconcile, snapshot, step)
                    backoff = 0.0
                except Exception as error:  # keep the search alive: report, back off, try again
                    reason = type(error).__name__
                    metrics.RECONCILE_ERRORS.labels(namespace, reason).inc()
                    log.exception("search %s/%s: reconcile failed", namespace, name)
                    backoff = min(max(backoff * 2, ERROR_BACKOFF_SECONDS[0]), ERROR_BACKOFF_SECONDS[1])
                    await loop.run_in_executor(
                        runtime.workers, reconciler.post_event,
                        SearchEvent(WARNING, "ReconcileError", f"{reason}: {error}"),
                    )  # fmt: skip
                    await stopped.wait(backoff)
                    continue
            await _sleep(waker, stopped, runtime.settings.reconcile_seconds)
    finally:
        if runtime.wakers.get((namespace, name)) is waker:
            del runtime.wakers[(namespace, name)]


@kopf.on.delete(GROUP, VERSION, PLURAL, id="cleanup", retries=3, backoff=2.0, timeout=600.0)
async def clean_up_search(*, namespace: str | None, name: str, uid: str, memo: Any, **_: Any) -> None:
    assert namespace is not None  # the resource is namespaced
    runtime = _runtime(memo)
    reconciler = runtime.reconciler(namespace, name, uid)  # created when the search went before a reconcile
    del runtime.reconcilers[uid]
    metrics.SEARCHES.set(len(runtime.reconcilers))
    deadline = time.monotonic() + runtime.settings.cleanup_timeout_seconds
    problems = await asyncio.get_running_loop().run_in_executor(runtime.workers, reconciler.clean_up, deadline)
    for problem in problems:  # bounded: deletion never waits on an unreachable Redis
        log.warning("search %s/%s deleted; %s", namespace, name, problem)
