"""Helpers for the integration tier: a small trial run as a real `nago train` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from redis_server import PASSWORD

SMALL_THETA = {
    "top_nodes": 3,
    "top_k": 2,
    "top_p": 0.5,
    "mid_nodes": 1,
    "mid_p": 0.5,
    "bottom_nodes": 3,
    "bottom_k": 2,
    "bottom_p": 0.5,
}


def train_command(*extra: str, source: list[str] | None = None) -> list[str]:
    """`nago train` on a small Fashion-MNIST slice with a small network (Θ unless `source` says)."""
    source = source or ["--theta", json.dumps(SMALL_THETA)]
    shape = [] if "--arch" in source else ["--param-budget", "30000", "--head-channels", "32"]  # --arch fixes both
    return [
        sys.executable, "-m", "nago.cli", "train", *source, *shape, "--train-limit", "600",
        "--validation-fraction", "0.02", "--batch-size", "32", "--device", "cpu", *extra,
    ]  # fmt: skip


def train_env(redis_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAGO_")}
    env["OMP_NUM_THREADS"] = "1"
    if redis_url is not None:
        env["NAGO_REDIS_URL"] = redis_url
        env["NAGO_REDIS_PASSWORD"] = PASSWORD
    return env


def run_train(
    *extra: str, source: list[str] | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = train_command(*extra, source=source)
    return subprocess.run(command, capture_output=True, text=True, env=env or train_env(), timeout=600)
