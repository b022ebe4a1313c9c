"""A stub trainer that costs a Python start without site-packages (`python -S`): what `operator_stubs.py train`
does — sleep, then one valid final record through Redis exactly as `RedisStreamSink` sends it (the same Lua
script: add once per record identity, to the search's stream) — in the standard library only, so that 100
trainers starting at once on the benchmark's machine do not stall the API server beside them (each
`operator_stubs.py train` imports pydantic and redis: about 0.25 CPU-s). The record's fields and digest follow
`nago.trial.records` (`FinalRecord`, `compute_trial_digest`); the operator validates it like any other.

    python -S bench/stub_trainer_light.py --sleep 5 --jitter 1 --times times.jsonl --trial-json '{...}'
"""

import hashlib
import json
import os
import random
import socket
import sys
import time
import urllib.parse

ADD_ONCE = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[3])) then
  return redis.call('XADD', KEYS[1], 'MAXLEN', '~', tonumber(ARGV[2]), '*', 'record', ARGV[1])
end
return false
"""


def encode(*parts: object) -> bytes:
    """One RESP command."""
    chunks = [f"*{len(parts)}\r\n".encode()]
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode()
        chunks.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(chunks)


def call(connection: socket.socket, reader: object, *parts: object) -> bytes:
    connection.sendall(encode(*parts))
    line = reader.readline()  # type: ignore[attr-defined]
    if line.startswith(b"-"):
        raise RuntimeError(line.decode().strip())
    if line.startswith(b"$") and not line.startswith(b"$-1"):
        reader.readline()  # type: ignore[attr-defined]  # the bulk string's data
    return bytes(line)


def main() -> int:
    started = time.time()
    arguments = sys.argv[1:]
    options = {arguments[i]: arguments[i + 1] for i in range(0, len(arguments) - 1, 2)}
    document = json.loads(options["--trial-json"])
    search, trial_id = str(document["search"]), str(document.get("trialId", document.get("trial_id")))
    attempt, seed = int(document.get("attempt", 0)), int(document.get("seed", 0))
    epochs = int((document.get("protocol") or {}).get("epochs", 1))
    theta = document.get("theta") or {}
    slept = float(options["--sleep"]) + float(options["--jitter"]) * random.Random(seed).random()
    time.sleep(slept)
    values = {name: float(value) for name, value in sorted(theta.items())}
    digest = hashlib.sha256(json.dumps([trial_id, values, seed, epochs], sort_keys=True).encode()).hexdigest()[:16]
    accuracy = 0.5 + 0.4 * (sum(float(v) for v in theta.values()) % 1.0)
    record = {
        "version": 1, "search": search, "trial_id": trial_id, "attempt": attempt, "epoch": epochs,
        "time": time.time(), "trial_digest": digest, "kind": "final", "status": "succeeded", "exit_code": 0,
        "params": 50_000, "activation_bytes_per_image": 1_000_000, "best_val_accuracy": accuracy,
        "final_val_accuracy": accuracy, "device": "cpu", "train_seconds": slept,
    }  # fmt: skip
    url = urllib.parse.urlsplit(os.environ["NAGO_REDIS_URL"])
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379), timeout=10) as connection:
        reader = connection.makefile("rb")
        call(connection, reader, "AUTH", os.environ["NAGO_REDIS_PASSWORD"])
        call(connection, reader, "SELECT", (url.path or "/0").strip("/") or "0")
        seen = f"nago:{search}:seen:{trial_id}:{attempt}:final:{epochs}"
        call(connection, reader, "EVAL", ADD_ONCE, 2, f"nago:{search}:metrics", seen, json.dumps(record), 100_000,
             30 * 24 * 3600)  # fmt: skip
    sent = time.time()
    row = {"event": "trial", "search": search, "trial": trial_id, "attempt": attempt, "start": started, "sent": sent}
    with open(options["--times"], "a") as handle:
        handle.write(json.dumps({**row, "exit": time.time()}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
