"""Reading a search's metric records from its Redis stream with a consumer group (DESIGN §3.4).

Redis is the transport, not the truth: a record is acknowledged only after the caller has saved
the ledger that holds its effect, so a reader that dies re-reads its unacknowledged records
(`read` first returns this consumer's pending entries, then new ones). A record that does not
parse is reported through `on_bad_record`, acknowledged and dropped; it never stops the reader.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nago.records import EpochRecord, FinalRecord, RecordParseError, parse_record
from nago.sinks import metrics_stream_key

GROUP = "nago-engine"


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
        import redis

        self.client = client
        self.stream = metrics_stream_key(search)
        self.consumer = consumer
        self.on_bad_record = on_bad_record or (lambda message_id, reason: None)
        self._backlog_done = False
        try:
            client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def read(self, count: int = 500, block_ms: int | None = None) -> list[StreamRecord]:
        """This consumer's unacknowledged records first (after a restart), then new ones."""
        start = "0" if not self._backlog_done else ">"
        reply = self.client.xreadgroup(GROUP, self.consumer, {self.stream: start}, count=count, block=block_ms)
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
