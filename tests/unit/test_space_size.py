"""Appendix A.1: T_HNAG ≈ 4.58e56 for N_O = N_C = N_S = 10, M = 5; T_DARTS = 8^14 ≈ 4.40e12."""

from __future__ import annotations

from fractions import Fraction

import pytest

from nago.cli import main
from nago.errors import InvalidInputError
from nago.generator.space_size import (
    compute_darts_space_size,
    compute_hnag_space_size,
    count_dag_bound,
    format_scientific,
)


def _formula(n_o: int, n_c: int, n_s: int, m: int) -> int:
    """The appendix's formula written out independently."""

    def phi(n: int) -> int:
        return n * (n + 1) // 2

    ops = sum(2 ** phi(n) for n in range(3, n_o + 1))
    cells = sum(2 ** phi(n) for n in range(1, n_c + 1))
    stages = sum(2 ** phi(n) * m**n for n in range(3, n_s + 1))
    return ops * cells * stages


@pytest.mark.parametrize(("n_o", "n_c", "n_s", "m"), [(10, 10, 10, 5), (3, 1, 3, 1), (5, 4, 6, 3), (12, 12, 12, 7)])
def test_hnag_size_follows_the_formula(n_o: int, n_c: int, n_s: int, m: int) -> None:
    assert compute_hnag_space_size(n_o, n_c, n_s, m) == _formula(n_o, n_c, n_s, m)


def test_the_appendix_numbers() -> None:
    hnag = compute_hnag_space_size()
    assert abs(Fraction(hnag, 10**56) - Fraction(458, 100)) < Fraction(1, 100)
    assert compute_darts_space_size() == 8**14
    assert format_scientific(hnag) == "4.58e+56"
    assert format_scientific(compute_darts_space_size()) == "4.40e+12"


@pytest.mark.parametrize(("n", "expected"), [(1, 2), (2, 8), (3, 64), (10, 2**55)])
def test_dag_bound(n: int, expected: int) -> None:
    assert count_dag_bound(n) == expected


def test_too_small_graphs_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match="max_op_nodes"):
        compute_hnag_space_size(max_op_nodes=2)


def test_cli_prints_both_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["space-size"]) == 0
    out = capsys.readouterr().out
    assert "T_HNAG  ≈ 4.58e+56" in out
    assert "T_DARTS = 8^14 ≈ 4.40e+12" in out
