"""Stage assignment by equal thirds (docs/design.md §5.5) and by θS (appendix H.2)."""

from __future__ import annotations

import pytest

from nago.generator.sampling import EQUAL_THIRDS, assign_stages

THIRDS_CASES = [
    (3, (0, 1, 2)),
    (4, (0, 0, 1, 2)),
    (5, (0, 0, 1, 1, 2)),
    (6, (0, 0, 1, 1, 2, 2)),
    (9, (0, 0, 0, 1, 1, 1, 2, 2, 2)),
    (10, (0, 0, 0, 0, 1, 1, 1, 2, 2, 2)),
]


@pytest.mark.parametrize(("cells", "expected"), THIRDS_CASES)
def test_equal_thirds(cells: int, expected: tuple[int, ...]) -> None:
    assert assign_stages(cells, EQUAL_THIRDS) == expected


@pytest.mark.parametrize(
    ("cells", "ratios", "expected"),
    [
        (3, (0.33, 0.33, 0.33), (0, 1, 2)),  # the appendix's literal 0.33s normalise to thirds
        (6, (0.5, 0.25, 0.25), (0, 0, 0, 1, 1, 2)),  # bounds at 3 and 4.5
        (4, (0.1, 0.1, 0.8), (0, 2, 2, 2)),
        (3, (0.8, 0.1, 0.1), (0, 0, 0)),
    ],
)
def test_stage_ratios(cells: int, ratios: tuple[float, float, float], expected: tuple[int, ...]) -> None:
    assert assign_stages(cells, ratios) == expected
