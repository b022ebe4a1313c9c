"""Rewrite tests/golden/architectures.json from the current code. Run only on purpose:
a changed golden file means every stored architecture of that kind changes too."""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from golden_cases import GOLDEN_CASES, measure_case  # noqa: E402


def main() -> None:
    rows = [{**case, **measure_case(case)} for case in GOLDEN_CASES]
    (HERE / "architectures.json").write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(rows)} golden architectures to {HERE / 'architectures.json'}")


if __name__ == "__main__":
    main()
