"""One owner per state folder, and a new run checked against the folder before anything is written.

`claim_state_folder` takes an exclusive `flock` on `STATE/.lock` for the runner's whole life (the
kernel drops it when the process dies, so a `kill -9` never leaves a stale lock) and writes the
holder (pid, host, start time) into the file, so a second `nago search` on the same folder is refused
with a line naming the first. `check_against_folder` compares a new manifest with the `search.json`
already there: the name and the fields fixed once a search exists (`space`, `dataset`,
`objectives`, `strategy`, `training`: the trials and the proposer's state depend on them; the same
rule the operator's CRD enforces, docs/operator.md) must match; `budget`, `final`, `trial` and
`suspend` may change. Trial folders without the ledger that binds them to their Θ are refused.
`read_ledger` and `read_stored_search` read the folder's two documents for the runner and for
`nago report`: a truncated, garbage or foreign file is bad input named by its path, never a traceback.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from nago.errors import InvalidInputError
from nago.search.ledger import Ledger
from nago.search.spec import GeneratorSearch, list_problems, parse_search

LOCK_FILE = ".lock"
SEARCH_FILE = "search.json"
LEDGER_FILE = "ledger.json"
FIXED_FIELDS = ("space", "dataset", "objectives", "strategy", "training")


class StateFolderLock:
    """The open lock file; the lock lasts until `release` or the end of the process."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle

    def release(self) -> None:
        if not self.handle.closed:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()


def claim_state_folder(state_dir: Path) -> StateFolderLock:
    """Lock `state_dir` for this process, or refuse naming the process that holds it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    handle = (state_dir / LOCK_FILE).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise InvalidInputError(
            "--state-dir", f"{state_dir} is in use by {holder}; wait for it to end or stop it, or use another folder"
        ) from None
    handle.seek(0)
    handle.truncate()
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    handle.write(f"nago search (pid {os.getpid()} on {socket.gethostname()}, since {started})\n")
    handle.flush()
    return StateFolderLock(handle)


def _read_document(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInputError(str(path), f"cannot be read: {error}") from None


def read_ledger(state_dir: Path, search: str | None = None) -> Ledger | None:
    """The folder's ledger (None if there is none yet), checked to belong to `search` when given."""
    path = state_dir / LEDGER_FILE
    text = _read_document(path)
    if text is None:
        return None
    try:
        ledger = Ledger.model_validate_json(text)
    except ValidationError as error:
        field, message = list_problems(error, root="")[0]
        detail = f"{field}: {message}" if field else message
        raise InvalidInputError(
            str(path),
            f"is not a ledger this version of nago can read ({detail}); restore it, or move the state folder "
            "away to start over",
        ) from None
    if search is not None and ledger.search != search:
        raise InvalidInputError("--state-dir", f"{state_dir} holds search {ledger.search!r}, not {search!r}")
    return ledger


def read_stored_search(state_dir: Path) -> GeneratorSearch | None:
    """The search.json a run wrote into the folder (None if there is none)."""
    path = state_dir / SEARCH_FILE
    text = _read_document(path)
    if text is None:
        return None
    try:
        document = json.loads(text)
    except ValueError as error:
        raise InvalidInputError(str(path), f"is not valid JSON: {error}") from None
    try:
        return parse_search(document)
    except InvalidInputError as error:
        raise InvalidInputError(str(path), f"is not a search this version of nago can read ({error})") from None


def _first_difference(old: Any, new: Any, path: str) -> str | None:
    """The dotted path of the first place where two JSON values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            found = _first_difference(old.get(key), new.get(key), f"{path}.{key}")
            if found is not None:
                return found
        return None
    return None if old == new else path


def check_against_folder(search: GeneratorSearch, state_dir: Path) -> None:
    """Refuse a manifest whose name or fixed fields differ from the search already in `state_dir`."""
    trials = sorted(p.name for p in (state_dir / "trials").glob("*") if p.is_dir())
    if trials and not (state_dir / LEDGER_FILE).exists():
        raise InvalidInputError(
            "--state-dir",
            f"{state_dir / 'trials'} holds {len(trials)} trial folders but {LEDGER_FILE} is missing, so their "
            f"results cannot be bound to their Θ; restore {LEDGER_FILE}, or move trials/ away to start over",
        )
    read_ledger(state_dir, search.metadata.name)  # readable and this search's, before anything is written
    stored_search = read_stored_search(state_dir)
    if stored_search is None:
        return
    stored = json.loads(stored_search.model_dump_json(by_alias=True))
    new = json.loads(search.model_dump_json(by_alias=True))
    old_name, new_name = stored.get("metadata", {}).get("name"), new["metadata"]["name"]
    if old_name != new_name:
        raise InvalidInputError(
            "metadata.name", f"{state_dir} holds search {old_name!r}, not {new_name!r}; use another --state-dir"
        )
    for field in FIXED_FIELDS:
        where = _first_difference(stored.get("spec", {}).get(field), new["spec"].get(field), f"spec.{field}")
        if where is not None:
            raise InvalidInputError(
                where,
                f"differs from the search in {state_dir}; {', '.join(FIXED_FIELDS)} are fixed once a search "
                "exists (budget, final, trial and suspend may change): use another --state-dir",
            )
