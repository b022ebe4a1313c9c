"""Acceptance sweep: 500 random Θ per space build, run forward and backward, and keep the invariants.

Each Θ is sampled for 28×28×1 and for 32×32×3 at a small parameter budget (so the sweep stays
fast), every graph is checked against networkx, and a sample also runs at 224×224×3.
"""

from __future__ import annotations

import networkx as nx
import pytest
import torch

from helpers import ALL_SPACES, sample_random
from nago.generator.architecture import Architecture, InputSpec
from nago.generator.graphs import DagGraph
from nago.training.network import build_network

THETAS_PER_SPACE = 500
CHUNK = 50
SMALL_INPUTS = [InputSpec(channels=1, size=28), InputSpec(channels=3, size=32)]
LARGE_INPUT = InputSpec(channels=3, size=224)
LARGE_SAMPLE = 6  # per space


def _check_graph(graph: DagGraph) -> None:
    undirected = nx.Graph()
    undirected.add_nodes_from(range(graph.num_nodes))
    undirected.add_edges_from(graph.edges)
    assert nx.is_connected(undirected)
    assert graph.num_nodes == 1 or nx.number_of_isolates(undirected) == 0
    directed = nx.DiGraph(undirected.edges)
    directed.add_nodes_from(range(graph.num_nodes))
    assert nx.is_directed_acyclic_graph(nx.DiGraph([(u, v) for u, v in graph.edges]))
    assert all(u < v for u, v in graph.edges)


def _check_invariants(arch: Architecture) -> None:
    _check_graph(arch.top)
    for cell in arch.cells:
        _check_graph(cell.graph)
        for mid in cell.nodes:
            _check_graph(mid.graph)
    assert arch.node_count >= 1


def _run_forward_backward(arch: Architecture) -> None:
    spec = arch.input
    net = build_network(arch).train()
    x = torch.randn(2, spec.channels, spec.size, spec.size)
    logits = net(x)
    assert logits.shape == (2, spec.num_classes)
    assert torch.isfinite(logits).all()
    logits.square().mean().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.slow
@pytest.mark.parametrize("space_name", ALL_SPACES)
@pytest.mark.parametrize("start", range(0, THETAS_PER_SPACE, CHUNK))
def test_random_thetas_build_and_train(space_name: str, start: int) -> None:
    for theta_seed in range(start, start + CHUNK):
        for spec in SMALL_INPUTS:
            arch = sample_random(space_name, theta_seed, seed=theta_seed, spec=spec)
            _check_invariants(arch)
            _run_forward_backward(arch)


@pytest.mark.slow
@pytest.mark.parametrize("space_name", ALL_SPACES)
def test_a_sample_builds_at_224(space_name: str) -> None:
    for theta_seed in range(LARGE_SAMPLE):
        arch = sample_random(space_name, 10_000 + theta_seed, seed=theta_seed, spec=LARGE_INPUT)
        _check_invariants(arch)
        _run_forward_backward(arch)


def test_hnag_node_counts_span_the_appendix_range() -> None:
    """Appendix E: HNAG reaches [9, 1000] operation nodes; the corners of the box are the ends."""
    from nago.generator.sampling import sample_architecture
    from nago.generator.spaces import get_space

    space = get_space("hnag")
    corner = {"top_k": 2, "top_p": 0.5, "mid_p": 0.5, "bottom_k": 2, "bottom_p": 0.5}
    low = sample_architecture(space, {**corner, "top_nodes": 3, "mid_nodes": 1, "bottom_nodes": 3}, 0, None, 3e4, 32)
    high = sample_architecture(
        space, {**corner, "top_nodes": 10, "mid_nodes": 10, "bottom_nodes": 10}, 0, None, 3e5, 32
    )
    assert (low.node_count, high.node_count) == (9, 1000)
