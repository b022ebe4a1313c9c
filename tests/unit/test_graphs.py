"""Random graphs: connected, DAG by index, deterministic per seed, checked against networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from pydantic import ValidationError

from nago.generator.graphs import (
    DagGraph,
    GraphSamplingError,
    chain_graph,
    effective_ws_k,
    sample_er_graph,
    sample_ws_graph,
)


def _as_networkx(graph: DagGraph) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(range(graph.num_nodes))
    g.add_edges_from(graph.edges)
    return g


@pytest.mark.parametrize(("n", "k", "expected"), [(3, 2, 2), (3, 5, 2), (4, 3, 2), (5, 5, 4), (10, 5, 4), (10, 4, 4)])
def test_effective_k_clamps_to_n_minus_1_and_rounds_down_to_even(n: int, k: int, expected: int) -> None:
    assert effective_ws_k(n, k) == expected


@pytest.mark.parametrize(("n", "k"), [(3, 2), (5, 4), (10, 4), (32, 4), (10, 5)])
def test_ws_without_rewiring_is_the_ring_lattice(n: int, k: int) -> None:
    graph = sample_ws_graph(n, k, 0.0, np.random.default_rng(0))
    half = effective_ws_k(n, k) // 2
    lattice = {tuple(sorted((u, (u + j) % n))) for u in range(n) for j in range(1, half + 1)}
    assert set(graph.edges) == lattice


@pytest.mark.parametrize(("n", "k", "p"), [(3, 2, 0.9), (10, 5, 0.9), (6, 4, 0.5), (40, 9, 0.7)])
def test_ws_rewiring_keeps_the_edge_count_and_stays_connected(n: int, k: int, p: float) -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        graph = sample_ws_graph(n, k, p, rng)
        assert len(graph.edges) == n * effective_ws_k(n, k) // 2
        assert nx.is_connected(_as_networkx(graph).to_undirected())


@pytest.mark.parametrize(("n", "p"), [(1, 0.1), (2, 0.1), (3, 0.1), (5, 0.2), (10, 0.1), (10, 0.9)])
def test_er_is_resampled_until_connected(n: int, p: float) -> None:
    rng = np.random.default_rng(7)
    for _ in range(30):
        graph = sample_er_graph(n, p, rng)
        assert nx.is_connected(_as_networkx(graph).to_undirected())


def test_er_with_p_one_is_complete() -> None:
    graph = sample_er_graph(6, 1.0, np.random.default_rng(0))
    assert len(graph.edges) == 15


def test_same_seed_same_graph_and_different_seeds_differ() -> None:
    first = sample_ws_graph(10, 4, 0.5, np.random.default_rng(11))
    again = sample_ws_graph(10, 4, 0.5, np.random.default_rng(11))
    assert first == again
    others = {sample_ws_graph(10, 4, 0.5, np.random.default_rng(s)).edges for s in range(20)}
    assert len(others) > 10


def test_impossible_parameters_raise() -> None:
    with pytest.raises(GraphSamplingError):
        sample_ws_graph(2, 2, 0.5, np.random.default_rng(0))
    with pytest.raises(GraphSamplingError):
        sample_er_graph(4, 0.0, np.random.default_rng(0))


DAG_CASES = [
    # (n, edges, sources, sinks, predecessors of the last node)
    (1, (), (0,), (0,), ()),
    (3, ((0, 1), (1, 2)), (0,), (2,), (1,)),
    (3, ((0, 1), (0, 2), (1, 2)), (0,), (2,), (0, 1)),
    (4, ((0, 2), (1, 2), (2, 3)), (0, 1), (3,), (2,)),
    (5, ((0, 1), (0, 2), (1, 3), (2, 4)), (0,), (3, 4), (2,)),
]


@pytest.mark.parametrize(("n", "edges", "sources", "sinks", "last_preds"), DAG_CASES)
def test_dag_reading_by_index(
    n: int,
    edges: tuple[tuple[int, int], ...],
    sources: tuple[int, ...],
    sinks: tuple[int, ...],
    last_preds: tuple[int, ...],
) -> None:
    graph = DagGraph(num_nodes=n, edges=edges)
    assert graph.sources == sources
    assert graph.sinks == sinks
    assert graph.predecessors[-1] == last_preds
    assert nx.is_directed_acyclic_graph(_as_networkx(graph))


@pytest.mark.parametrize(
    ("n", "edges", "message"),
    [
        (3, ((1, 0), (1, 2)), "0 <= u < v"),
        (3, ((0, 1),), "not connected"),
        (3, ((0, 1), (0, 1), (1, 2)), "twice"),
        (3, ((1, 2), (0, 1)), "sorted"),
        (0, (), "num_nodes"),
    ],
)
def test_invalid_graphs_are_rejected(n: int, edges: tuple[tuple[int, int], ...], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DagGraph(num_nodes=n, edges=edges)


def test_chain_graph() -> None:
    assert chain_graph(3).edges == ((0, 1), (1, 2))
