"""Where metric records go: stdout (always), a JSON-lines file, a Redis stream.

The Redis sink keeps going when Redis is away: records wait in an in-memory queue, in order, and
are sent when it is back. Each record is added with a Lua script that sets a per-record key
first, so a record re-sent after a lost reply (or after a resumed trial repeats an epoch) is
added once. `close` returns whether everything was delivered; the trainer turns an undelivered
final record into its own exit code.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from pathlib import Path
from typing import Protocol, TextIO

from nago.trial.records import EpochRecord, FinalRecord, RecordParseError, dump_record, parse_record

AnyRecord = EpochRecord | FinalRecord

DEFAULT_STREAM_MAXLEN = 100_000
SEEN_TTL_SECONDS = 30 * 24 * 3600

# KEYS[1] stream, KEYS[2] per-record key; ARGV[1] record JSON, ARGV[2] maxlen, ARGV[3] ttl.
_ADD_ONCE = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[3])) then
  return redis.call('XADD', KEYS[1], 'MAXLEN', '~', tonumber(ARGV[2]), '*', 'record', ARGV[1])
end
return false
"""


def _warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def metrics_stream_key(search: str) -> str:
    """The Redis stream of one search's records."""
    return f"nago:{search}:metrics"


class RecordSink(Protocol):
    def emit(self, record: AnyRecord) -> None: ...

    def close(self, timeout: float) -> bool: ...


class StdoutSink:
    """JSON lines on a text stream (stdout by default)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def emit(self, record: AnyRecord) -> None:
        self.stream.write(dump_record(record) + "\n")
        self.stream.flush()

    def close(self, timeout: float) -> bool:
        return True


class JsonlFileSink:
    """Appends JSON lines to a file; a record already in the file (a resumed trial) is not repeated."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: set[str] = set()
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    self.seen.add(parse_record(line).identity)
                except RecordParseError:
                    continue  # not one of our records: leave it, never count it
        path.parent.mkdir(parents=True, exist_ok=True)

    def emit(self, record: AnyRecord) -> None:
        if record.identity in self.seen:
            return
        with self.path.open("a") as handle:
            handle.write(dump_record(record) + "\n")
        self.seen.add(record.identity)

    def close(self, timeout: float) -> bool:
        return True


class RedisStreamSink:
    """Adds records to the search's Redis stream, in order, exactly once, surviving Redis outages."""

    def __init__(
        self,
        url: str,
        password: str,
        search: str,
        maxlen: int = DEFAULT_STREAM_MAXLEN,
        socket_timeout: float = 2.0,
    ) -> None:
        import redis

        self._errors = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, OSError)
        self.client = redis.Redis.from_url(
            url, password=password, socket_connect_timeout=socket_timeout, socket_timeout=socket_timeout
        )
        self.stream = metrics_stream_key(search)
        self.search = search
        self.maxlen = maxlen
        self.pending: deque[AnyRecord] = deque()
        self.delivered = 0
        self.reachable = True
        self._script = self.client.register_script(_ADD_ONCE)

    def emit(self, record: AnyRecord) -> None:
        self.pending.append(record)
        self.flush()

    def flush(self) -> bool:
        """Send what waits, oldest first; stop at the first connection error. True when none waits."""
        while self.pending:
            record = self.pending[0]
            seen_key = f"nago:{self.search}:seen:{record.identity}"
            try:
                self._script(keys=[self.stream, seen_key], args=[dump_record(record), self.maxlen, SEEN_TTL_SECONDS])
            except self._errors as error:
                if self.reachable:
                    _warn(f"metrics: Redis unreachable ({error}); records wait in memory, in order")
                self.reachable = False
                return False
            self.pending.popleft()
            self.delivered += 1
            if not self.reachable:
                _warn(f"metrics: Redis reachable again; sending {len(self.pending) + 1} waiting records")
                self.reachable = True
        return True

    def close(self, timeout: float) -> bool:
        """Retry until everything is delivered or `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        delay = 0.2
        while not self.flush():
            if time.monotonic() + delay > deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
        self.client.close()
        return True
