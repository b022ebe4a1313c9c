"""Read a user's YAML or JSON file without letting it take the process down or say two things at once.

`load_yaml_documents` refuses, each with one line naming the file: a file over `MAX_DOCUMENT_BYTES`;
bytes that are not UTF-8; a duplicate key in one mapping (YAML would silently keep the last one);
more than `MAX_ALIASES` aliases, or a document that expands past `MAX_VALUES` values through them
(a "billion laughs" alias bomb is a few hundred bytes); nesting deeper than `MAX_DEPTH`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node

from nago.errors import InvalidInputError

MAX_DOCUMENT_BYTES = 1_000_000
MAX_ALIASES = 100
MAX_VALUES = 100_000
MAX_DEPTH = 64


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and counts aliases as it composes."""

    aliases_seen = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            self.aliases_seen += 1
            if self.aliases_seen > MAX_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_ALIASES} aliases (*name); write the values out")
        return super().compose_node(parent, index)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str | int | float | bool) and key in seen:
                line = key_node.start_mark.line + 1
                raise yaml.YAMLError(f"duplicate key {key!r} on line {line}; each key may appear once per mapping")
            if isinstance(key, str | int | float | bool):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _check_size(value: Any, depth: int, budget: list[int]) -> None:
    """Walk the value as it would be serialised (aliases expanded), stopping at the first limit."""
    if depth > MAX_DEPTH:
        raise yaml.YAMLError(f"nested deeper than {MAX_DEPTH} levels")
    budget[0] -= 1
    if budget[0] < 0:
        raise yaml.YAMLError(f"more than {MAX_VALUES} values once aliases are expanded")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_size(key, depth + 1, budget)
            _check_size(item, depth + 1, budget)
    elif isinstance(value, list):
        for item in value:
            _check_size(item, depth + 1, budget)


def read_text_file(path: Path, field: str) -> str:
    """A user's text file as str, or a one-line refusal naming `field` (unreadable, too large, not UTF-8)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InvalidInputError(field, f"cannot read {path}: {error.strerror}") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InvalidInputError(field, f"{path} is {len(data):,} bytes; at most {MAX_DOCUMENT_BYTES:,} are read")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInputError(field, f"{path} is not UTF-8 text (byte {error.start})") from None


def load_yaml_documents(text: str, source: str, field: str) -> list[Any]:
    """The non-empty YAML documents in `text` (JSON is YAML), each checked against the limits above."""
    loader = None
    try:
        loader = _StrictLoader(text)  # reading starts here: a character YAML forbids is refused at once
        documents = []
        while loader.check_data():  # type: ignore[no-untyped-call]
            document = loader.get_data()
            _check_size(document, 0, [MAX_VALUES])
            if document is not None:
                documents.append(document)
    except yaml.MarkedYAMLError as error:
        where = f" (line {error.problem_mark.line + 1})" if error.problem_mark is not None else ""
        raise InvalidInputError(field, f"{source} is not valid YAML{where}: {error.problem}") from None
    except yaml.reader.ReaderError as error:
        raise InvalidInputError(
            field, f"{source} holds a character YAML does not allow (#x{error.character:x}, position {error.position})"
        ) from None
    except yaml.YAMLError as error:
        raise InvalidInputError(field, f"{source}: {' '.join(str(error).split())}") from None
    except RecursionError:
        raise InvalidInputError(field, f"{source}: nested deeper than {MAX_DEPTH} levels") from None
    finally:
        if loader is not None:
            loader.dispose()
    return documents
