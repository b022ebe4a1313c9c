"""Draw an architecture's three levels: the top graph of cells, each cell's mid graph, and the
bottom graphs of the first cell's mid nodes. PNG or SVG, chosen by the file extension.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from nago.errors import InvalidInputError
from nago.generator.architecture import Architecture
from nago.generator.graphs import DagGraph

STAGE_COLOURS = ("#4C72B0", "#DD8452", "#55A868")
OP_COLOURS = {
    "conv1x1": "#8172B3",
    "conv3x3": "#4C72B0",
    "conv5x5": "#64B5CD",
    "sepconv3x3": "#55A868",
    "avgpool3x3": "#C44E52",
    "avgpool5x5": "#DA8BC3",
    "identity": "#8C8C8C",
}
DRAW_FORMATS = (".png", ".svg")


def layout_dag(graph: DagGraph) -> dict[int, tuple[float, float]]:
    """Layered layout: x is the longest path from a source, y spreads the nodes of one layer."""
    depth: list[int] = []
    for index in range(graph.num_nodes):
        preds = graph.predecessors[index]
        depth.append(1 + max(depth[p] for p in preds) if preds else 0)
    layers: dict[int, list[int]] = {}
    for index, d in enumerate(depth):
        layers.setdefault(d, []).append(index)
    positions: dict[int, tuple[float, float]] = {}
    for d, members in layers.items():
        for rank, index in enumerate(members):
            positions[index] = (float(d), rank - (len(members) - 1) / 2)
    return positions


def _draw_graph(ax: Axes, graph: DagGraph, colours: list[str], labels: list[str], title: str) -> None:
    positions = layout_dag(graph)
    for u, v in graph.edges:
        (x0, y0), (x1, y1) = positions[u], positions[v]
        ax.annotate(
            "",
            xy=(x1, y1),
            xytext=(x0, y0),
            arrowprops={"arrowstyle": "-|>", "color": "#555555", "lw": 0.8, "shrinkA": 7, "shrinkB": 7},
        )
    for index, (x, y) in positions.items():
        ax.scatter([x], [y], s=220, color=colours[index], zorder=3, edgecolors="black", linewidths=0.5)
        ax.text(x, y, labels[index], ha="center", va="center", fontsize=6, color="white", zorder=4)
    ax.set_title(title, fontsize=8)
    ax.set_axis_off()
    ax.margins(0.25)


def draw_architecture(arch: Architecture, path: Path) -> Path:
    """Save a three-row drawing of `arch` to `path` (.png or .svg)."""
    if path.suffix.lower() not in DRAW_FORMATS:
        raise InvalidInputError("output", f"drawing format must be one of {list(DRAW_FORMATS)}, got {path.name!r}")
    cells = arch.cells
    first = cells[0]
    fig = Figure(figsize=(max(10.0, 1.6 * max(len(cells), len(first.nodes))), 10.0))
    top_fig, mid_fig, bottom_fig = fig.subfigures(3, 1, height_ratios=[1.2, 1.0, 1.0])  # type: ignore[misc]
    _draw_graph(
        top_fig.subplots(1, 1),
        arch.top,
        [STAGE_COLOURS[c.stage] for c in cells],
        [f"c{i}" for i in range(len(cells))],
        f"top level: {len(cells)} cells (colour = stage; resolutions {[c.resolution for c in cells]})",
    )
    mid_axes = mid_fig.subplots(1, len(cells), squeeze=False)[0]
    for i, (ax, cell) in enumerate(zip(mid_axes, cells, strict=True)):
        colour = STAGE_COLOURS[cell.stage]
        labels = [f"m{j}" for j in range(cell.graph.num_nodes)]
        _draw_graph(ax, cell.graph, [colour] * cell.graph.num_nodes, labels, f"c{i}: mid ({cell.merge.value})")
    bottom_axes = bottom_fig.subplots(1, len(first.nodes), squeeze=False)[0]
    for j, (ax, mid) in enumerate(zip(bottom_axes, first.nodes, strict=True)):
        colours = [OP_COLOURS[op.op.value] for op in mid.ops]
        labels = [
            op.op.value.replace("sepconv", "s").replace("conv", "c").replace("avgpool", "p").replace("identity", "id")
            for op in mid.ops
        ]
        _draw_graph(ax, mid.graph, colours, labels, f"c0/m{j}: bottom")
    fig.suptitle(
        f"{arch.space.value} seed {arch.seed} · {arch.node_count} operations · width {arch.width:.3g} · "
        f"{arch.fingerprint()[:12]}",
        fontsize=10,
        y=0.998,
    )
    top_fig.subplots_adjust(top=0.85)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
