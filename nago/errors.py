"""Errors that name what the user gave wrong, so every entry point can report them in one line."""

from __future__ import annotations


class InvalidInputError(ValueError):
    """Bad user input: names the field, the value given, and what is allowed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
