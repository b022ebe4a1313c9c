"""Θ validation and range overrides: every bad input names its field and what is allowed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers import ALL_SPACES, HNAG_MID
from nago.errors import InvalidInputError
from nago.generator.spaces import ParamKind, get_space


@pytest.mark.parametrize(("space", "dims"), [("hnag", 8), ("rnag", 9), ("hnag-augv1", 15), ("hnag-augv2", 14)])
def test_space_dimensions_match_the_appendix(space: str, dims: int) -> None:
    assert get_space(space).dims == dims


def test_hnag_defaults_are_the_appendix_ranges() -> None:
    space = get_space("hnag")
    expected = {
        "top_nodes": (3, 10),
        "top_k": (2, 5),
        "top_p": (0.1, 0.9),
        "mid_nodes": (1, 10),
        "mid_p": (0.1, 0.9),
        "bottom_nodes": (3, 10),
        "bottom_k": (2, 5),
        "bottom_p": (0.1, 0.9),
    }
    assert {p.name: (p.low, p.high) for p in space.params} == expected


def test_rnag_defaults_are_the_appendix_ranges() -> None:
    for p in get_space("rnag").params:
        kind = p.name.split("_")[1]
        assert (p.low, p.high) == {"nodes": (10, 40), "k": (2, 9), "p": (0.1, 0.9)}[kind]


BAD_THETAS = [
    ({**HNAG_MID, "top_nodes": 12}, "theta.top_nodes", "12 is out of range [3, 10]"),
    ({**HNAG_MID, "top_p": 0.95}, "theta.top_p", "out of range [0.1, 0.9]"),
    ({**HNAG_MID, "mid_nodes": 0}, "theta.mid_nodes", "out of range [1, 10]"),
    ({**HNAG_MID, "top_k": 3.5}, "theta.top_k", "must be an integer"),
    ({**HNAG_MID, "top_k": "4"}, "theta.top_k", "must be a int"),
    ({**HNAG_MID, "top_k": True}, "theta.top_k", "must be a int"),
    ({**HNAG_MID, "top_p": None}, "theta.top_p", "must be a float"),
    ({**HNAG_MID, "top_p": math.nan}, "theta.top_p", "must be finite"),
    ({**HNAG_MID, "depth": 3}, "theta.depth", "unknown parameter"),
    ({k: v for k, v in HNAG_MID.items() if k != "bottom_p"}, "theta.bottom_p", "missing"),
]


@pytest.mark.parametrize(("theta", "field", "message"), BAD_THETAS)
def test_bad_theta_names_the_field(theta: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        get_space("hnag").validate_theta(theta)
    assert caught.value.field == field
    assert message in str(caught.value)


def test_integral_floats_are_accepted_as_integers() -> None:
    checked = get_space("hnag").validate_theta({**HNAG_MID, "top_nodes": 6.0})
    assert checked["top_nodes"] == 6 and isinstance(checked["top_nodes"], int)


def test_all_zero_weight_group_is_rejected() -> None:
    space = get_space("hnag-augv1")
    theta = space.sample_theta(np.random.default_rng(0))
    theta.update({f"op_{op}": 0.0 for op in ("conv1x1", "conv3x3", "conv5x5", "avgpool3x3", "avgpool5x5")})
    with pytest.raises(InvalidInputError, match="op weights"):
        space.validate_theta(theta)


@pytest.mark.parametrize("space_name", ALL_SPACES)
def test_sampled_theta_lies_in_the_box(space_name: str) -> None:
    space = get_space(space_name)
    rng = np.random.default_rng(1)
    for _ in range(200):
        theta = space.sample_theta(rng)
        for p in space.params:
            assert p.low <= theta[p.name] <= p.high
            assert isinstance(theta[p.name], int) == (p.kind is ParamKind.INT)


BAD_RANGES = [
    ({"bottom_nodes": (2, 32)}, "ranges.bottom_nodes", "inside [3, 256]"),
    ({"bottom_nodes": (3.5, 32)}, "ranges.bottom_nodes", "must be integers"),
    ({"top_p": (0.5, 0.2)}, "ranges.top_p", "must not exceed"),
    ({"mid_p": (0.0, 0.5)}, "ranges.mid_p", "inside [0.01, 1]"),
    ({"width": (1, 2)}, "ranges.width", "unknown parameter"),
]


@pytest.mark.parametrize(("ranges", "field", "message"), BAD_RANGES)
def test_bad_range_override_names_the_field(ranges: dict[str, tuple[float, float]], field: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        get_space("hnag", ranges)
    assert caught.value.field == field
    assert message in str(caught.value)


def test_range_override_widens_validation() -> None:
    theta = {**HNAG_MID, "bottom_nodes": 32}
    with pytest.raises(InvalidInputError):
        get_space("hnag").validate_theta(theta)
    assert get_space("hnag", {"bottom_nodes": (3, 32)}).validate_theta(theta)["bottom_nodes"] == 32


def test_unknown_space_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInputError, match="hnag-augv2"):
        get_space("darts")
