"""A blocking read on every search's Redis stream at once, one per operator: a new record wakes its search.

The reconcile reads and acknowledges records through its consumer group as before (docs/design.md §3.2); this
thread only notices that something arrived. It holds one connection of its own and blocks in `XREAD` on all
registered streams (never `XREADGROUP`: it must not take records from the group), from the last entry it has
seen of each. A stream registered between two reads is included in the next one, at most `BLOCK_MS` later;
whatever arrived before its registration is read by the reconcile that registration comes with. Redis being
away only delays the wake-up: the safety-net timer reconciles anyway and the records wait in Redis.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from nago.trial.sinks import metrics_stream_key
from nago_operator.trial_jobs import format_stream_scope

BLOCK_MS = 1000  # the longest a newly registered stream waits to be included in the blocking read
RETRY_SECONDS = 2.0
log = logging.getLogger("nago_operator")


class RecordWatcher:
    """Calls `on_record(namespace, search)` when the search's stream gets an entry."""

    def __init__(self, client: Any, on_record: Callable[[str, str], None]) -> None:
        self.client = client  # its own connection: a blocking read holds it
        self.on_record = on_record
        self.lock = threading.Lock()
        self.searches: dict[str, tuple[str, str]] = {}  # stream key -> (namespace, search)
        self.positions: dict[str, str] = {}  # stream key -> last entry id seen
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="record-watcher", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()

    def register(self, namespace: str, search: str) -> None:
        """Watch the search's stream from its last entry now (call it before the reconcile reads the stream,
        so nothing falls between the two); from the start when Redis cannot say."""
        import redis

        key = metrics_stream_key(format_stream_scope(namespace, search))
        with self.lock:
            if key in self.searches:
                return
        try:
            newest = self.client.xrevrange(key, count=1)
            position = _text(newest[0][0]) if newest else "0-0"
        except redis.RedisError:
            position = "0-0"  # wakes the search once for what is there already: harmless
        with self.lock:
            self.searches.setdefault(key, (namespace, search))
            self.positions.setdefault(key, position)

    def unregister(self, namespace: str, search: str) -> None:
        key = metrics_stream_key(format_stream_scope(namespace, search))
        with self.lock:
            self.searches.pop(key, None)
            self.positions.pop(key, None)

    def _run(self) -> None:
        import redis

        failing = False
        while not self.stopped.is_set():
            with self.lock:
                positions = dict(self.positions)
            if not positions:
                self.stopped.wait(BLOCK_MS / 1000)
                continue
            try:
                replies = self.client.xread(positions, block=BLOCK_MS)
            except redis.RedisError as error:
                if not failing:
                    log.warning("watching the record streams: %s; retrying", error)
                failing = True
                self.stopped.wait(RETRY_SECONDS)
                continue
            failing = False
            for stream, entries in replies or []:
                key = _text(stream)
                with self.lock:
                    if key not in self.searches:
                        continue
                    self.positions[key] = _text(entries[-1][0])
                    namespace, search = self.searches[key]
                self.on_record(namespace, search)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
