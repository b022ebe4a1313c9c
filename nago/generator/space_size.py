"""Size of the HNAG search space against DARTS's (appendix A.1).

T = (Σ_{n=3}^{N_O} 2^φ(n)) · (Σ_{n=1}^{N_C} 2^φ(n)) · (Σ_{n=3}^{N_S} 2^φ(n) · M^n), φ(n) = n(n+1)/2,
with N_O, N_C, N_S the largest operation-, cell- and stage-level graphs and M the operations.
For N_O = N_C = N_S = 10 and M = 5 it is ≈ 4.58×10^56; DARTS has 8^14 ≈ 4.40×10^12.
All results are exact integers.
"""

from __future__ import annotations

from decimal import Decimal

from nago.errors import InvalidInputError


def count_dag_bound(num_nodes: int) -> int:
    """2^φ(n) with φ(n) = n(n+1)/2, the appendix's count of DAGs on n nodes (appendix A.1)."""
    return int(2 ** (num_nodes * (num_nodes + 1) // 2))


def compute_hnag_space_size(
    max_op_nodes: int = 10, max_cell_nodes: int = 10, max_stage_nodes: int = 10, num_ops: int = 5
) -> int:
    """The appendix A.1 lower bound on the number of distinct HNAG architectures."""
    for field, value, low in (
        ("max_op_nodes", max_op_nodes, 3),
        ("max_cell_nodes", max_cell_nodes, 1),
        ("max_stage_nodes", max_stage_nodes, 3),
        ("num_ops", num_ops, 1),
    ):
        if value < low:
            raise InvalidInputError(field, f"must be at least {low}, got {value}")
    operation_level = sum(count_dag_bound(n) for n in range(3, max_op_nodes + 1))
    cell_level = sum(count_dag_bound(n) for n in range(1, max_cell_nodes + 1))
    stage_level = sum(count_dag_bound(n) * num_ops**n for n in range(3, max_stage_nodes + 1))
    return int(operation_level * cell_level * stage_level)


def compute_darts_space_size(num_ops: int = 8, num_edges: int = 14) -> int:
    """DARTS: each of 14 edges of a cell picks one of 8 operations (appendix A.1)."""
    return int(num_ops**num_edges)


def format_scientific(value: int, digits: int = 3) -> str:
    """An exact integer in scientific notation with `digits` significant digits, e.g. 4.58e+56."""
    return f"{Decimal(value):.{digits - 1}e}"
