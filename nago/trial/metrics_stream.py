"""Reading a search's metric records from its Redis stream with a consumer group (docs/design.md §3.2).

Redis is the transport, not the truth: a record is acknowledged only after the caller has saved
the ledger that holds its effect, so a reader that dies re-reads its unacknowledged records
(`read` first returns this consumer's pending entries, then new ones). A record that does not
parse, or that is larger than `MAX_RECORD_BYTES`, is reported through `on_bad_record`, acknowledged and
dropped; it never stops the reader. A Redis that restarted without its data has lost the group too: the
reader creates it again and goes on with what the trainers send from then on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nago.trial.records import EpochRecord, FinalRecord, RecordParseError, parse_record
from nago.trial.sinks import metrics_stream_key

GROUP = "nago-engine"
MAX_RECORD_BYTES = 64 * 1024  # a final record is about 1 kB; anything near this is not one of ours


@dataclass(frozen=True)
class StreamRecord:
    message_id: str
    record: EpochRecord | FinalRecord


class MetricsStreamReader:
    """One consumer of the search's stream in the group `nago-engine`."""

    def __init__(
        self,
        client: Any,
        search: str,
        consumer: str = "runner",
        on_bad_record: Callable[[str, str], None] | None = None,
    ) -> None:

        self.client = client
        self.stream = metrics_stream_key(search)
        self.consumer = consumer
        self.on_bad_record = on_bad_record or (lambda message_id, reason: None)
        self._backlog_done = False
        self._create_group()

    def _create_group(self) -> None:
        import redis

        try:
            self.client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def read(self, count: int = 500, block_ms: int | None = None) -> list[StreamRecord]:
        """This consumer's unacknowledged records first (after a restart), then new ones."""
        import redis

        start = "0" if not self._backlog_done else ">"
        try:
            reply = self.client.xreadgroup(GROUP, self.consumer, {self.stream: start}, count=count, block=block_ms)
        except redis.ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            self._create_group()  # Redis came back empty: the stream and the group are new
            self._backlog_done = False
            return self.read(count, block_ms)
        entries = reply[0][1] if reply else []
        if start == "0" and not entries:
            self._backlog_done = True
            return self.read(count, block_ms)
        records: list[StreamRecord] = []
        bad: list[str] = []
        for raw_id, fields in entries:
            message_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            payload = fields.get(b"record", fields.get("record"))
            try:
                if payload is None:
                    raise RecordParseError("no 'record' field")
                if len(payload) > MAX_RECORD_BYTES:
                    raise RecordParseError(f"record of {len(payload)} bytes; at most {MAX_RECORD_BYTES} are read")
                records.append(StreamRecord(message_id, parse_record(payload)))
            except RecordParseError as error:
                self.on_bad_record(message_id, str(error))
                bad.append(message_id)
        if bad:
            self.ack(bad)
        return records

    def ack(self, message_ids: Sequence[str]) -> None:
        if message_ids:
            self.client.xack(self.stream, GROUP, *message_ids)

    def count_unread(self) -> int:
        """Records in the stream this group has not acknowledged yet (read or not): the reader's lag."""
        for group in self.client.xinfo_groups(self.stream):
            name = group.get("name", group.get(b"name"))
            if name in (GROUP, GROUP.encode()):
                lag = group.get("lag", group.get(b"lag")) or 0
                pending = group.get("pending", group.get(b"pending")) or 0
                return int(lag) + int(pending)
        return 0
