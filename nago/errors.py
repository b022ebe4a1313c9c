"""Errors that name what the user gave wrong, so every entry point can report them in one line."""

from __future__ import annotations


def show_on_one_line(text: str) -> str:
    """`text` with line breaks and other control characters escaped (a key or value may hold them)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class InvalidInputError(ValueError):
    """Bad user input: names the field, the value given, and what is allowed; always one line."""

    def __init__(self, field: str, message: str) -> None:
        self.field = show_on_one_line(field)
        self.message = show_on_one_line(message)
        super().__init__(f"{self.field}: {self.message}")


class SourceUnavailableError(Exception):
    """A place the user named (a cluster, a search on it) could not be read: one line saying what is missing or
    forbidden. Not bad input: the command was right, the source was not there (exit 1)."""

    def __init__(self, message: str) -> None:
        self.message = show_on_one_line(message)
        super().__init__(self.message)
