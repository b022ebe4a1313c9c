"""Sample an architecture from a generator and its hyperparameters Θ (appendix A, E, H).

One `numpy.random.Generator`, seeded by the caller, drives every draw of one architecture, in a
fixed depth-first order: the top graph, then for each cell in index order its merge rule and mid
graph, then for each mid node its merge rule, bottom graph and the merge and operation of each
bottom node (docs/design.md §5.4: every cell and every mid node samples its own graph). The same
(space, Θ, seed, input, budget) therefore gives the same record in any process.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from nago.errors import InvalidInputError
from nago.generator.architecture import Architecture, Cell, InputSpec, MergeKind, MidNode, OpKind, OpNode
from nago.generator.complexity import fit_width
from nago.generator.graphs import DagGraph, chain_graph, sample_er_graph, sample_ws_graph
from nago.generator.spaces import MERGE_OPTIONS, OP_OPTIONS, SearchSpace, SpaceName, Theta

DEFAULT_PARAM_BUDGET = 4e6
DEFAULT_HEAD_CHANNELS = 1280
EQUAL_THIRDS = (1 / 3, 1 / 3, 1 / 3)  # θS fixed for HNAG (appendix H.1, docs/design.md §5.5)
CHANNEL_RATIOS = (1.0, 2.0, 4.0)  # θC fixed for HNAG and RNAG (appendix H.1)
_STAGE_TOLERANCE = 1e-9


def assign_stages(num_cells: int, stage_ratios: Sequence[float]) -> tuple[int, ...]:
    """Stage of each top-level node: stage s starts once the index passes N_t·(r_0+…+r_{s-1}).

    Ratios are normalised first; equal thirds give [0,0,1,2] for 4 cells and [0,1,2] for 3
    (docs/design.md §5.5).
    """
    total = float(sum(stage_ratios))
    bounds = [num_cells * sum(stage_ratios[: s + 1]) / total for s in range(len(stage_ratios) - 1)]
    return tuple(sum(1 for b in bounds if x >= b - _STAGE_TOLERANCE) for x in range(num_cells))


def _draw(rng: np.random.Generator, options: Sequence[str], weights: Sequence[float]) -> str:
    probabilities = np.asarray(weights, dtype=float) / float(sum(weights))
    return options[int(rng.choice(len(options), p=probabilities))]


class _HnagRules:
    """What differs between HNAG and its augmented spaces: merge and op draws, θS and θC."""

    def __init__(self, space: SpaceName, theta: Theta) -> None:
        self.augv1 = space is SpaceName.HNAG_AUGV1
        self.merge_weights = [float(theta[f"merge_{m}"]) for m in MERGE_OPTIONS] if self.augv1 else []
        self.op_weights = [float(theta[f"op_{op}"]) for op in OP_OPTIONS] if self.augv1 else []
        if space is SpaceName.HNAG_AUGV2:
            self.stage_ratios = tuple(float(theta[f"stage{s}_ratio"]) for s in (1, 2, 3))
            channel = tuple(float(theta[f"channel{s}_ratio"]) for s in (1, 2, 3))
        else:
            self.stage_ratios, channel = EQUAL_THIRDS, CHANNEL_RATIOS
        self.channel_ratios = channel

    def merge(self, rng: np.random.Generator) -> MergeKind:
        """θM: weighted sum or concatenation, drawn per node in AugV1 (appendix H.1); else sum."""
        return MergeKind(_draw(rng, MERGE_OPTIONS, self.merge_weights)) if self.augv1 else MergeKind.SUM

    def op(self, rng: np.random.Generator) -> OpKind:
        """θop: one of five operations per bottom node in AugV1 (appendix H.1); else conv3×3."""
        return OpKind(_draw(rng, OP_OPTIONS, self.op_weights)) if self.augv1 else OpKind.CONV3X3


def _sample_hnag_cells(
    space: SpaceName, theta: Theta, rng: np.random.Generator, stem_resolution: int
) -> tuple[DagGraph, tuple[Cell, ...], float]:
    """Three-level HNAG: WS top, ER mid, WS bottom (appendix E; docs/design.md §5.1)."""
    rules = _HnagRules(space, theta)
    top = sample_ws_graph(int(theta["top_nodes"]), int(theta["top_k"]), float(theta["top_p"]), rng)
    stages = assign_stages(top.num_nodes, rules.stage_ratios)
    cells: list[Cell] = []
    for stage in stages:
        cell_merge = rules.merge(rng)
        mid = sample_er_graph(int(theta["mid_nodes"]), float(theta["mid_p"]), rng)
        nodes: list[MidNode] = []
        for _ in range(mid.num_nodes):
            mid_merge = rules.merge(rng)
            bottom = sample_ws_graph(int(theta["bottom_nodes"]), int(theta["bottom_k"]), float(theta["bottom_p"]), rng)
            ops = tuple(OpNode(merge=rules.merge(rng), op=rules.op(rng)) for _ in range(bottom.num_nodes))
            nodes.append(MidNode(merge=mid_merge, graph=bottom, ops=ops))
        cells.append(
            Cell(
                stage=stage,
                resolution=max(1, stem_resolution // 2**stage),
                channel_ratio=rules.channel_ratios[stage],
                merge=cell_merge,
                graph=mid,
                nodes=tuple(nodes),
            )
        )
    return top, tuple(cells), rules.channel_ratios[0]


def _sample_rnag_cells(
    theta: Theta, rng: np.random.Generator, stem_resolution: int
) -> tuple[DagGraph, tuple[Cell, ...], float]:
    """RNAG: three WS stages in sequence, ReLU–sepconv3×3–BN nodes, stride-2 entry nodes (appendix E)."""
    cells: list[Cell] = []
    in_resolution = stem_resolution
    for stage in range(3):
        s = stage + 1
        graph = sample_ws_graph(
            int(theta[f"stage{s}_nodes"]), int(theta[f"stage{s}_k"]), float(theta[f"stage{s}_p"]), rng
        )
        resolution = max(1, stem_resolution // 2**stage)
        stride = 1 if resolution == in_resolution else 2
        ops = tuple(
            OpNode(op=OpKind.SEPCONV3X3, stride=stride if not graph.predecessors[k] else 1)
            for k in range(graph.num_nodes)
        )
        cells.append(
            Cell(
                stage=stage,
                resolution=resolution,
                channel_ratio=CHANNEL_RATIOS[stage],
                downsample="stride",
                graph=DagGraph(num_nodes=1, edges=()),
                nodes=(MidNode(graph=graph, ops=ops),),
            )
        )
        in_resolution = resolution
    return chain_graph(3), tuple(cells), CHANNEL_RATIOS[0]


def sample_architecture(
    space: SearchSpace,
    theta: Mapping[str, object],
    seed: int,
    input_spec: InputSpec | None = None,
    param_budget: float = DEFAULT_PARAM_BUDGET,
    head_channels: int = DEFAULT_HEAD_CHANNELS,
) -> Architecture:
    """Sample one architecture from G(Θ) with `seed`, sized to `param_budget` parameters."""
    checked = space.validate_theta(theta)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise InvalidInputError("seed", f"must be an integer in [0, 2^63), got {seed!r}")
    if not (math.isfinite(param_budget) and param_budget > 0):
        raise InvalidInputError("param_budget", f"must be a positive finite number, got {param_budget!r}")
    if head_channels < 1:
        raise InvalidInputError("head_channels", f"must be at least 1, got {head_channels!r}")
    spec = input_spec or InputSpec()
    rng = np.random.default_rng(seed)
    if space.name is SpaceName.RNAG:
        top, cells, stem_ratio = _sample_rnag_cells(checked, rng, spec.stem_resolution)
    else:
        top, cells, stem_ratio = _sample_hnag_cells(space.name, checked, rng, spec.stem_resolution)
    draft = Architecture(
        space=space.name,
        theta=checked,
        seed=seed,
        input=spec,
        param_budget=float(param_budget),
        head_channels=head_channels,
        stem_ratio=stem_ratio,
        width=1.0,
        top=top,
        cells=cells,
    )
    return draft.model_copy(update={"width": fit_width(draft, param_budget)})
