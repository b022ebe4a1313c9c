"""Process exit codes of every `nago` command, so callers (the operator, the local runner) can tell
input errors, which retrying cannot fix, from failures at run time, which it may.

| code | meaning | retry? |
|---|---|---|
| 0 | success | — |
| 1 | failure at run time (a crash, a lost device) | yes |
| 2 | bad input: the message names the field | no |
| 3 | out of memory on the device | with a smaller batch or on a larger device |
| 4 | training finished but the final record could not be delivered | re-deliver, not re-train |
| 5 | training diverged (non-finite or exploding loss, or at chance all along) | no: lower the learning rate |
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    RUNTIME_FAILURE = 1
    BAD_INPUT = 2
    OUT_OF_MEMORY = 3
    REPORT_UNDELIVERED = 4
    DIVERGED = 5
