"""Random graphs for the generators, and their reading as DAGs.

We implement Watts–Strogatz and Erdős–Rényi ourselves on a `numpy.random.Generator`, so the same
seed gives the same graph whatever networkx version is installed (docs/design.md §5.4). A graph is
resampled until it is connected, with no small try limit (docs/design.md §5.2). The DAG reading
follows docs/design.md §5.3: edge {u, v} points from the lower to the higher index, sources receive the
graph input, the graph output is the mean of the true sinks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

MAX_CONNECT_ATTEMPTS = 200_000


class GraphSamplingError(RuntimeError):
    """No connected graph came out of the attempt budget: the parameters make one too unlikely."""


class DagGraph(BaseModel):
    """An undirected graph on nodes 0..n-1 read as a DAG by node index."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    num_nodes: int
    edges: tuple[tuple[int, int], ...]

    @field_validator("num_nodes")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"num_nodes must be >= 1, got {value}")
        return value

    @model_validator(mode="after")
    def _edges_ordered(self) -> DagGraph:
        seen: set[tuple[int, int]] = set()
        for u, v in self.edges:
            if not 0 <= u < v < self.num_nodes:
                raise ValueError(f"edge ({u}, {v}) must satisfy 0 <= u < v < {self.num_nodes}")
            if (u, v) in seen:
                raise ValueError(f"edge ({u}, {v}) appears twice")
            seen.add((u, v))
        if list(self.edges) != sorted(self.edges):
            raise ValueError("edges must be sorted")
        if not is_connected(self.num_nodes, self.edges):
            raise ValueError(f"graph with {self.num_nodes} nodes and edges {list(self.edges)} is not connected")
        return self

    @cached_property
    def predecessors(self) -> tuple[tuple[int, ...], ...]:
        """Sorted predecessors of each node (docs/design.md §5.3)."""
        preds: list[list[int]] = [[] for _ in range(self.num_nodes)]
        for u, v in self.edges:
            preds[v].append(u)
        return tuple(tuple(sorted(p)) for p in preds)

    @cached_property
    def successors(self) -> tuple[tuple[int, ...], ...]:
        succs: list[list[int]] = [[] for _ in range(self.num_nodes)]
        for u, v in self.edges:
            succs[u].append(v)
        return tuple(tuple(sorted(s)) for s in succs)

    @property
    def sources(self) -> tuple[int, ...]:
        """Nodes without predecessors: they receive the graph input."""
        return tuple(i for i in range(self.num_nodes) if not self.predecessors[i])

    @property
    def sinks(self) -> tuple[int, ...]:
        """Nodes without successors: their mean is the graph output. A lone node is its own sink."""
        return tuple(i for i in range(self.num_nodes) if not self.successors[i])

    def is_connected(self) -> bool:
        return is_connected(self.num_nodes, self.edges)


def is_connected(num_nodes: int, edges: Sequence[tuple[int, int]]) -> bool:
    """Whether the undirected graph is connected (breadth-first search from node 0)."""
    neighbours: list[list[int]] = [[] for _ in range(num_nodes)]
    for u, v in edges:
        neighbours[u].append(v)
        neighbours[v].append(u)
    seen = {0}
    frontier = [0]
    while frontier:
        node = frontier.pop()
        for other in neighbours[node]:
            if other not in seen:
                seen.add(other)
                frontier.append(other)
    return len(seen) == num_nodes


def effective_ws_k(num_nodes: int, k: int) -> int:
    """K is clamped to N-1 (docs/design.md §5.1) and the ring joins K//2 neighbours each side (docs/design.md §5.2)."""
    return 2 * (min(num_nodes - 1, k) // 2)


def _ws_edges(num_nodes: int, k: int, p: float, rng: np.random.Generator) -> list[tuple[int, int]]:
    """One Watts–Strogatz draw: a ring lattice, each lattice edge rewired with probability p."""
    half = effective_ws_k(num_nodes, k) // 2
    adjacency: list[set[int]] = [set() for _ in range(num_nodes)]
    for u in range(num_nodes):
        for j in range(1, half + 1):
            v = (u + j) % num_nodes
            adjacency[u].add(v)
            adjacency[v].add(u)
    for j in range(1, half + 1):
        for u in range(num_nodes):
            if rng.random() >= p:
                continue
            v = (u + j) % num_nodes
            if v not in adjacency[u]:
                continue
            candidates = [w for w in range(num_nodes) if w != u and w not in adjacency[u]]
            if not candidates:
                continue
            w = candidates[int(rng.integers(len(candidates)))]
            adjacency[u].discard(v)
            adjacency[v].discard(u)
            adjacency[u].add(w)
            adjacency[w].add(u)
    return sorted({(min(u, v), max(u, v)) for u in range(num_nodes) for v in adjacency[u]})


def _er_edges(num_nodes: int, p: float, rng: np.random.Generator) -> list[tuple[int, int]]:
    """One Erdős–Rényi draw: every pair joined independently with probability p."""
    pairs = [(u, v) for u in range(num_nodes) for v in range(u + 1, num_nodes)]
    if not pairs:
        return []
    keep = rng.random(len(pairs)) < p
    return [pair for pair, kept in zip(pairs, keep, strict=True) if kept]


def sample_ws_graph(num_nodes: int, k: int, p: float, rng: np.random.Generator) -> DagGraph:
    """A connected Watts–Strogatz(N, K, P) graph, resampled until connected (docs/design.md §5.2)."""
    if num_nodes < 3 or k < 2:
        raise GraphSamplingError(f"a Watts–Strogatz graph needs N >= 3 and K >= 2, got N={num_nodes}, K={k}")
    return _sample_connected(num_nodes, lambda: _ws_edges(num_nodes, k, p, rng), f"WS({num_nodes}, {k}, {p})")


def sample_er_graph(num_nodes: int, p: float, rng: np.random.Generator) -> DagGraph:
    """A connected Erdős–Rényi(N, P) graph, resampled until connected (docs/design.md §5.2)."""
    if num_nodes > 1 and p <= 0:
        raise GraphSamplingError(f"an Erdős–Rényi graph with N={num_nodes} needs P > 0")
    return _sample_connected(num_nodes, lambda: _er_edges(num_nodes, p, rng), f"ER({num_nodes}, {p})")


def chain_graph(num_nodes: int) -> DagGraph:
    """The path 0 -> 1 -> ... -> n-1 (RNAG's sequence of stages)."""
    return DagGraph(num_nodes=num_nodes, edges=tuple((i, i + 1) for i in range(num_nodes - 1)))


def _sample_connected(num_nodes: int, draw: Callable[[], list[tuple[int, int]]], label: str) -> DagGraph:
    for _ in range(MAX_CONNECT_ATTEMPTS):
        edges: list[tuple[int, int]] = draw()
        if is_connected(num_nodes, edges):
            return DagGraph(num_nodes=num_nodes, edges=tuple(edges))
    raise GraphSamplingError(f"no connected {label} graph in {MAX_CONNECT_ATTEMPTS} draws; raise P or lower N")
