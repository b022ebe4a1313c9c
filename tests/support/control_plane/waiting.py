"""Polling helpers for tests against the control plane (no test asserts a duration: timeouts only bound waits)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from control_plane.api import JSON, ApiClient, ApiError

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0, interval: float = 0.2) -> T:
    """Call `probe` until it returns something truthy (and return that); fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = probe()
            if result:
                return result
        except ApiError as error:
            last_error = error
        if time.monotonic() > deadline:
            suffix = f" (last error: {last_error})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}{suffix}")
        time.sleep(interval)


def find_condition(resource: JSON, kind: str) -> JSON | None:
    """The condition of type `kind` with status True, if the object has one."""
    for condition in resource.get("status", {}).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return dict(condition)
    return None


def wait_for_gone(client: ApiClient, path: str, timeout: float = 60.0) -> None:
    wait_for(f"{path} to be deleted", lambda: not client.exists(path), timeout)
