"""Golden architectures: fingerprints and parameter counts change only on purpose.

If a change to sampling or building is intended, run `make golden` and commit the new file with
a message that says why every stored architecture changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from golden_cases import GOLDEN_CASES, measure_case

GOLDEN = json.loads((Path(__file__).resolve().parents[1] / "golden" / "architectures.json").read_text())


def test_golden_file_covers_every_case() -> None:
    assert [{k: row[k] for k in GOLDEN_CASES[0]} for row in GOLDEN] == GOLDEN_CASES


@pytest.mark.parametrize("row", GOLDEN, ids=lambda row: f"{row['space']}-seed{row['seed']}")
def test_golden_architecture_is_unchanged(row: dict[str, Any]) -> None:
    case = {k: row[k] for k in GOLDEN_CASES[0]}
    assert measure_case(case) == {
        "fingerprint": row["fingerprint"],
        "params": row["params"],
        "nodes": row["nodes"],
    }
