"""Process exit codes shared by every `nago` command, so callers can tell input errors from failures."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    RUNTIME_FAILURE = 1  # something broke while running; retrying may help
    BAD_INPUT = 2  # the input is wrong; retrying the same input will fail again
