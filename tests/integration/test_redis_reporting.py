"""Records reach a real Redis stream in order, exactly once, through an outage of the server."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from nago.exit_codes import ExitCode
from nago.trial.records import EpochRecord, FinalRecord, parse_record
from nago.trial.sinks import RedisStreamSink, metrics_stream_key
from redis_server import PASSWORD, RedisServer, free_port
from train_helpers import run_train, train_command, train_env


def _stream(server: RedisServer, search: str = "local") -> list[EpochRecord | FinalRecord]:
    entries = server.client().xrange(metrics_stream_key(search))
    return [parse_record(fields[b"record"]) for _id, fields in entries]


def _epoch_record(epoch: int, attempt: int = 0) -> EpochRecord:
    return EpochRecord(
        search="s", trial_id="t-1", attempt=attempt, epoch=epoch, time=0.0, epochs=3, train_loss=1.0,
        train_accuracy=0.5, val_loss=1.0, val_accuracy=0.5, learning_rate=0.1, batch_size=8,
        epoch_seconds=1.0, images_per_second=1.0,
    )  # fmt: skip


def test_a_record_sent_twice_is_added_once(redis_server: RedisServer) -> None:
    sink = RedisStreamSink(redis_server.url, PASSWORD, "s")
    for record in (_epoch_record(1), _epoch_record(1), _epoch_record(2), _epoch_record(1, attempt=1)):
        sink.emit(record)
    assert sink.close(timeout=5)
    entries = redis_server.client().xrange(metrics_stream_key("s"))
    keys = [(r.attempt, r.epoch) for r in (parse_record(f[b"record"]) for _i, f in entries)]
    assert keys == [(0, 1), (0, 2), (1, 1)]


def test_records_survive_a_redis_outage_during_training(redis_server: RedisServer, tmp_path: Path) -> None:
    command = train_command("--epochs", "5", "--train-limit", "1200")
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr_file:
        trainer = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=stderr_file, env=train_env(redis_server.url)
        )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not _stream(redis_server):
        time.sleep(0.05)
    assert [r.epoch for r in _stream(redis_server)] == [1]
    redis_server.stop(save=True)
    # Redis stays down until the trainer has tried to deliver and said so (an epoch can take long on a busy machine).
    while time.monotonic() < deadline and trainer.poll() is None and "Redis unreachable" not in log.read_text():
        time.sleep(0.05)
    redis_server.start()
    trainer.wait(timeout=300)
    stderr = log.read_text()
    assert trainer.returncode == ExitCode.OK, stderr
    assert "Redis unreachable" in stderr and "reachable again" in stderr
    records = _stream(redis_server)
    assert [(r.kind, r.epoch) for r in records] == [("epoch", e) for e in range(1, 6)] + [("final", 5)]
    assert all(r.trial_id == "trial-0" and r.attempt == 0 for r in records)


def test_undeliverable_final_record_has_its_own_exit_code() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    result = run_train("--epochs", "1", "--train-limit", "100", "--flush-timeout", "1", env=train_env(url))
    assert result.returncode == ExitCode.REPORT_UNDELIVERED, result.stderr
    assert "could not be delivered" in result.stderr


def test_redis_without_password_is_bad_input() -> None:
    env = train_env("redis://127.0.0.1:6379/0")
    del env["NAGO_REDIS_PASSWORD"]
    result = run_train("--epochs", "1", env=env)
    assert result.returncode == ExitCode.BAD_INPUT and "NAGO_REDIS_PASSWORD" in result.stderr
