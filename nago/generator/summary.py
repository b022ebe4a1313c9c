"""A typed summary of one architecture: what `nago describe` prints and what reports will carry."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from nago.generator.architecture import Architecture
from nago.generator.complexity import measure_complexity
from nago.generator.shapes import resolve_shapes
from nago.generator.spaces import get_space


class CellSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    cell: int
    stage: int
    resolution: int
    in_channels: int
    out_channels: int
    predecessors: list[int]
    mid_nodes: int
    operations: int


class ArchitectureSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    space: str
    theta: dict[str, int | float]
    seed: int
    input: str
    num_classes: int
    fingerprint: str
    cells: int
    mid_nodes: int
    nodes: int
    width: float
    stem_channels: int
    params: int
    param_budget: float
    macs: int
    activation_bytes_per_image: int
    cell_table: list[CellSummary]


def _in_space_order(arch: Architecture) -> dict[str, int | float]:
    """Θ in the order the space declares its parameters (JSON stores keys sorted)."""
    order = {name: i for i, name in enumerate(get_space(arch.space).names)}
    return dict(sorted(arch.theta.items(), key=lambda item: order.get(item[0], len(order))))


def summarise_architecture(arch: Architecture) -> ArchitectureSummary:
    """Sizes and per-cell layout of `arch`."""
    size = measure_complexity(arch)
    shape = resolve_shapes(arch)
    return ArchitectureSummary(
        space=arch.space.value,
        theta=_in_space_order(arch),
        seed=arch.seed,
        input=arch.input.label(),
        num_classes=arch.input.num_classes,
        fingerprint=arch.fingerprint(),
        cells=len(arch.cells),
        mid_nodes=sum(len(c.nodes) for c in arch.cells),
        nodes=size.nodes,
        width=arch.width,
        stem_channels=shape.stem_channels,
        params=size.params,
        param_budget=arch.param_budget,
        macs=size.macs,
        activation_bytes_per_image=size.activation_bytes_per_image,
        cell_table=[
            CellSummary(
                cell=i,
                stage=cell.stage,
                resolution=cell.resolution,
                in_channels=cs.merge.channels,
                out_channels=cs.out_channels,
                predecessors=list(arch.top.predecessors[i]),
                mid_nodes=len(cell.nodes),
                operations=sum(len(m.ops) for m in cell.nodes),
            )
            for i, (cell, cs) in enumerate(zip(arch.cells, shape.cells, strict=True))
        ],
    )


def format_summary(s: ArchitectureSummary) -> str:
    """The human-readable text of `nago describe`."""
    theta = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in s.theta.items())
    deviation = 100 * (s.params - s.param_budget) / s.param_budget
    lines = [
        f"space         {s.space}",
        f"theta         {theta}",
        f"seed          {s.seed}",
        f"input         {s.input}, {s.num_classes} classes",
        f"fingerprint   {s.fingerprint}",
        f"graph         {s.cells} cells, {s.mid_nodes} mid nodes, {s.nodes} operations",
        f"width         {s.width:.4g} (stem {s.stem_channels} channels)",
        f"params        {s.params:,} (budget {s.param_budget:,.0f}, {deviation:+.2f}%)",
        f"MACs          {s.macs / 1e6:,.1f} M",
        f"memory/image  {s.activation_bytes_per_image / 1e6:,.2f} MB of activations (analytic, fp32)",
        "",
        "cell stage resolution channels(in->out) predecessors mid_nodes operations",
    ]
    for row in s.cell_table:
        channels = f"{row.in_channels:>8}->{row.out_channels:<8}"
        lines.append(
            f"{row.cell:>4} {row.stage:>5} {row.resolution:>10} {channels} {row.predecessors!s:<12}"
            f" {row.mid_nodes:>9} {row.operations:>10}"
        )
    return "\n".join(lines)
