"""Output warping (nago/bo/output_warping.py): order kept, heavy tails compressed, degenerate inputs as given."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from nago.bo.output_warping import warp_outputs


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=3, max_size=60, unique=True))
def test_the_warp_never_reverses_the_order_of_the_values(values: list[float]) -> None:
    array = np.array(values)
    warped = warp_outputs(array, "yeo-johnson")
    assert np.all(np.isfinite(warped))
    in_order = warped[np.argsort(array, kind="stable")]
    assert np.all(np.diff(in_order) >= 0)  # never reversed (values 1e-38 apart may become equal)


def test_a_heavy_tail_is_compressed_so_the_best_values_spread_apart() -> None:
    """Maximised −Rosenbrock-like values: most near the top, a long tail of thousands below."""
    rng = np.random.default_rng(0)
    values = -np.exp(rng.normal(4.0, 1.5, size=200))
    warped = warp_outputs(values, "yeo-johnson")
    assert abs(stats.skew(warped)) < 0.25 * abs(stats.skew(values))
    top = np.sort(values)[-20:]
    top_warped = np.sort(warped)[-20:]
    # the best 20 values span a larger share of the whole range after the warp
    assert np.ptp(top_warped) / np.ptp(warped) > 2 * np.ptp(top) / np.ptp(values)


@pytest.mark.parametrize("values", [[1.0, 2.0], [3.0, 3.0, 3.0], [0.5, 0.1, 0.9]])
def test_none_and_degenerate_inputs_are_returned_as_given(values: list[float]) -> None:
    assert warp_outputs(np.array(values), "none").tolist() == values
    if len(values) < 3 or len(set(values)) == 1:
        assert warp_outputs(np.array(values), "yeo-johnson").tolist() == values
