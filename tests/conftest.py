"""Hooks and fixtures for every test tier; puts tests/support (control plane, Redis, operator harness) on the path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

SUPPORT = str(Path(__file__).resolve().parent / "support")
if SUPPORT not in sys.path:
    sys.path.insert(0, SUPPORT)


@pytest.fixture(autouse=True)
def _one_torch_thread() -> None:
    """Tests run two per core under xdist; one intra-op thread each avoids oversubscription."""
    torch.set_num_threads(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """GPU tests are reported as skipped, with the reason, where CUDA is missing."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA: no GPU on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
