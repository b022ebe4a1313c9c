"""The runner's display: a live line on a terminal, plain lines only on change otherwise."""

from __future__ import annotations

import io

from nago.search.ledger import SearchPhase
from nago.search.local_runner import Display, Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _progress(done: int) -> Progress:
    return Progress(done=done, total=4, running=2, best=0.5, phase=SearchPhase.RUNNING, durations=[10.0])


def test_plain_lines_only_when_something_changed() -> None:
    stream = io.StringIO()
    display = Display(stream, started=0.0)
    display.show(_progress(1), parallelism=2, now=5.0)
    display.show(_progress(1), parallelism=2, now=6.0)
    display.show(_progress(2), parallelism=2, now=65.0)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in stream.getvalue()
    assert lines[1].startswith("[0:01:05] Running: 2/4 done") and "ETA 0:00:10" in lines[1]


def test_a_terminal_gets_one_rewritten_line() -> None:
    stream = _Terminal()
    display = Display(stream, started=0.0)
    display.show(_progress(1), parallelism=2, now=5.0)
    display.show(_progress(1), parallelism=2, now=6.0)
    display.close()
    text = stream.getvalue()
    assert text.count("\r\x1b[2K") == 2 and text.endswith("\n") and text.count("\n") == 1
