"""Same (Θ, seed) gives byte-identical architecture JSON and the same parameter count, across processes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import ALL_SPACES

SAMPLE = [sys.executable, "-m", "nago.cli", "sample", "--random", "--theta-seed", "21", "--seed", "8"]
PARAMS = (
    "from nago.generator.architecture import load_architecture as l; "
    "from nago.training.network import build_network as b; "
    "import sys; print(sum(p.numel() for p in b(l(sys.stdin.read())).parameters()))"
)


@pytest.mark.parametrize("space", ALL_SPACES)
def test_sample_is_byte_identical_across_processes(space: str) -> None:
    runs = [
        subprocess.run([*SAMPLE, "--space", space], capture_output=True, check=True, env={"PYTHONHASHSEED": str(h)})
        for h in (1, 2)
    ]
    assert runs[0].stdout == runs[1].stdout
    assert json.loads(runs[0].stdout)["space"] == space
    counts = [
        subprocess.run([sys.executable, "-c", PARAMS], input=run.stdout, capture_output=True, check=True).stdout
        for run in runs
    ]
    assert counts[0] == counts[1] and int(counts[0]) > 0
