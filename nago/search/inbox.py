"""Where a runner finds the final record of each trial attempt: the one inbox of the local runner and the operator.

A final record is the only way a trial's result reaches the ledger (docs/design.md §3). Two sources:

- `FileInbox`: each trial's `records.jsonl` in the local runner's state folder, read on demand;
- `StreamInbox`: the search's Redis stream, read with a consumer group. Final records are kept by
  (trial id, attempt) until the process ends, and their messages are acknowledged only by
  `acknowledge()`, which a runner calls after the ledger holding their effect is saved. A runner that
  dies before that finds them again as pending messages, and applying a record twice is harmless.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from nago.search.ledger import TrialEntry
from nago.trial.metrics_stream import MetricsStreamReader
from nago.trial.records import FinalRecord, RecordParseError, parse_record


class RecordInbox(Protocol):
    def collect(self) -> int:
        """Fetch what arrived since the last call; returns how many messages were read."""
        ...

    def final_record(self, trial: TrialEntry) -> FinalRecord | None:
        """The final record of the trial's current attempt, if it has arrived."""
        ...

    def acknowledge(self) -> None:
        """Called once the ledger that holds the collected records' effect is saved."""
        ...


def read_final_record(path: Path, attempt: int) -> FinalRecord | None:
    """The final record of this attempt in a trial's records file, if it is there (whole lines only)."""
    if not path.exists():
        return None
    for line in path.read_text().split("\n")[:-1]:
        try:
            record = parse_record(line)
        except RecordParseError:
            continue
        if isinstance(record, FinalRecord) and record.attempt == attempt:
            return record
    return None


class FileInbox:
    """Final records from each trial's `records.jsonl` under `state_dir/trials/<trial id>/`."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def collect(self) -> int:
        """Nothing to fetch: the files are read on demand."""
        return 0

    def final_record(self, trial: TrialEntry) -> FinalRecord | None:
        return read_final_record(self.state_dir / "trials" / trial.trial_id / "records.jsonl", trial.attempt)

    def acknowledge(self) -> None:
        """Files need no acknowledgement."""


class StreamInbox:
    """Final records from a search's Redis stream; Redis errors reach the caller, which decides what they mean."""

    def __init__(self, reader: MetricsStreamReader) -> None:
        self.reader = reader
        self.finals: dict[tuple[str, int], FinalRecord] = {}
        self.unacknowledged: list[str] = []

    def collect(self) -> int:
        read = 0
        while batch := self.reader.read():
            for item in batch:
                if isinstance(item.record, FinalRecord):
                    self.finals[(item.record.trial_id, item.record.attempt)] = item.record
                self.unacknowledged.append(item.message_id)
            read += len(batch)
        return read

    def final_record(self, trial: TrialEntry) -> FinalRecord | None:
        return self.finals.get((trial.trial_id, trial.attempt))

    def acknowledge(self) -> None:
        """Acknowledge every message collected so far; on a Redis error they stay pending (read again on restart)."""
        message_ids, self.unacknowledged = self.unacknowledged, []
        if message_ids:
            self.reader.ack(message_ids)
