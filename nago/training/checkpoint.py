"""Checkpoints of an interrupted trial: written atomically after every epoch, checked on resume.

A checkpoint holds the model, optimiser and scheduler states, the epochs completed, the best
validation accuracy, the RNG states and the identity of the trial (fingerprint, seed, trial id)
so a checkpoint of another trial is never resumed by mistake.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from nago.atomic import write_atomically
from nago.errors import InvalidInputError


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Written atomically: a trial killed mid-write resumes from the previous epoch."""
    write_atomically(path, lambda stream: torch.save(state, stream))


def load_checkpoint(path: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    """The saved state, or None when there is none; a checkpoint of another trial is bad input."""
    if not path.exists():
        return None
    try:
        state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # any unpickling failure means the file is unusable
        raise InvalidInputError("checkpoint", f"{path} cannot be read as a checkpoint: {error}") from None
    saved = state.get("identity")
    if saved != identity:
        raise InvalidInputError("checkpoint", f"{path} belongs to another trial ({saved}), not {identity}")
    return state
