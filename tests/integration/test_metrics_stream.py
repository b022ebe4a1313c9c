"""Reading metric records from a real Redis stream: consumer group, acknowledgement, bad records."""

from __future__ import annotations

from nago.trial.metrics_stream import MAX_RECORD_BYTES, MetricsStreamReader
from nago.trial.records import FinalRecord, dump_record
from nago.trial.sinks import metrics_stream_key
from redis_server import RedisServer


def _final(trial: str, attempt: int = 0) -> str:
    record = FinalRecord(search="s", trial_id=trial, attempt=attempt, epoch=1, time=0.0, status="succeeded",
                         exit_code=0, best_val_accuracy=0.5)  # fmt: skip
    return dump_record(record)


def test_unacknowledged_records_come_back_to_a_restarted_reader(redis_server: RedisServer) -> None:
    client = redis_server.client()
    stream = metrics_stream_key("s")
    for trial in ("t0", "t1", "t2"):
        client.xadd(stream, {"record": _final(trial)})
    reader = MetricsStreamReader(client, "s")
    first = reader.read()
    assert [r.record.trial_id for r in first] == ["t0", "t1", "t2"]
    reader.ack([first[0].message_id])  # the reader dies before acknowledging t1 and t2
    restarted = MetricsStreamReader(redis_server.client(), "s")
    again = restarted.read()
    assert [r.record.trial_id for r in again] == ["t1", "t2"]
    restarted.ack([r.message_id for r in again])
    client.xadd(stream, {"record": _final("t3")})
    assert [r.record.trial_id for r in restarted.read()] == ["t3"]
    assert restarted.read() == []


def test_a_bad_record_is_reported_acknowledged_and_skipped(redis_server: RedisServer) -> None:
    client = redis_server.client()
    stream = metrics_stream_key("s")
    client.xadd(stream, {"record": '{"kind": "final", "trial_id": 3}'})
    client.xadd(stream, {"other": "field"})
    client.xadd(stream, {"record": _final("good")})
    dropped: list[tuple[str, str]] = []
    reader = MetricsStreamReader(client, "s", on_bad_record=lambda mid, why: dropped.append((mid, why)))
    records = reader.read()
    assert [r.record.trial_id for r in records] == ["good"]
    assert len(dropped) == 2 and "record" in dropped[1][1]
    pending = client.xpending(stream, "nago-engine")
    assert pending["pending"] == 1  # only the good one waits for the caller's acknowledgement


def test_an_oversized_record_is_dropped_unparsed(redis_server: RedisServer) -> None:
    client = redis_server.client()
    stream = metrics_stream_key("s")
    huge = _final("huge").replace('"final"', '"final", "error": "' + "x" * (MAX_RECORD_BYTES + 10) + '"', 1)
    client.xadd(stream, {"record": huge})
    client.xadd(stream, {"record": _final("good")})
    dropped: list[str] = []
    reader = MetricsStreamReader(client, "s", on_bad_record=lambda mid, why: dropped.append(why))
    assert [r.record.trial_id for r in reader.read()] == ["good"]
    assert len(dropped) == 1 and f"at most {MAX_RECORD_BYTES}" in dropped[0]


def test_a_redis_that_lost_its_data_gets_the_group_again(redis_server: RedisServer) -> None:
    client = redis_server.client()
    reader = MetricsStreamReader(client, "s")
    client.xadd(metrics_stream_key("s"), {"record": _final("before")})
    assert [r.record.trial_id for r in reader.read()] == ["before"]
    client.flushall()  # as a restart without persistence leaves it
    client.xadd(metrics_stream_key("s"), {"record": _final("after")})
    assert [r.record.trial_id for r in reader.read()] == ["after"]


def test_the_lag_counts_unread_and_unacknowledged_records(redis_server: RedisServer) -> None:
    client = redis_server.client()
    reader = MetricsStreamReader(client, "s")
    for trial in ("a", "b", "c"):
        client.xadd(metrics_stream_key("s"), {"record": _final(trial)})
    assert reader.count_unread() == 3
    first = reader.read(count=2)
    assert reader.count_unread() == 3  # read but not yet acknowledged
    reader.ack([r.message_id for r in first])
    assert reader.count_unread() == 1
