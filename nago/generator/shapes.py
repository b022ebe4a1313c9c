"""Channel counts and resolutions of every node, derived from an architecture record.

One rule set serves the network builder and the complexity counts, so the two cannot disagree
(docs/design.md §5.6–5.8, generalised to concatenation merges):

- a source node receives the graph input unchanged;
- a node with one input passes it unchanged into its operation or inner graph;
- a weighted-sum merge of k > 1 inputs works at the channels of the highest-index predecessor;
  inputs with those channels are scaled by σ(w), the others go through a 1×1 adapter;
- a concatenation merge works at the sum of the input channels;
- every mid node and every operation of a cell outputs the cell's channels;
- cells with `downsample="pool"` pool each input to the cell's resolution (adaptive average
  pooling); cells with `downsample="stride"` (RNAG) reduce it with stride-2 source operations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nago.errors import InvalidInputError
from nago.generator.architecture import Architecture, Cell, MergeKind, channels_for


@dataclass(frozen=True)
class MergeShape:
    """Channels of each incoming tensor and how they are combined into `channels`."""

    incoming: tuple[int, ...]
    kind: MergeKind
    channels: int
    adapters: tuple[bool, ...]  # per input of a weighted sum: True → 1×1 conv, False → σ(w)

    @property
    def is_identity(self) -> bool:
        return len(self.incoming) == 1


def resolve_merge(kind: MergeKind, incoming: tuple[int, ...]) -> MergeShape:
    """Apply the merge rule above to the channels of the incoming tensors (docs/design.md §5.7)."""
    if len(incoming) == 1:
        return MergeShape(incoming, kind, incoming[0], (False,))
    if kind is MergeKind.CONCAT:
        return MergeShape(incoming, kind, sum(incoming), tuple(False for _ in incoming))
    target = incoming[-1]
    return MergeShape(incoming, kind, target, tuple(c != target for c in incoming))


@dataclass(frozen=True)
class OpShape:
    merge: MergeShape
    out_channels: int
    in_resolution: int
    out_resolution: int
    stride: int


@dataclass(frozen=True)
class MidShape:
    merge: MergeShape
    ops: tuple[OpShape, ...]


@dataclass(frozen=True)
class CellShape:
    input_resolutions: tuple[int, ...]  # of each incoming tensor, before pooling
    merge: MergeShape
    out_channels: int
    resolution: int  # the cell's output resolution
    mids: tuple[MidShape, ...]


@dataclass(frozen=True)
class OutputShape:
    """The top-level output: the true sinks pooled to the smallest size and adapted to the last."""

    sinks: tuple[int, ...]
    sink_channels: tuple[int, ...]
    sink_resolutions: tuple[int, ...]
    channels: int
    resolution: int


@dataclass(frozen=True)
class NetworkShape:
    stem_channels: int
    stem_resolution: int
    cells: tuple[CellShape, ...]
    output: OutputShape


def resolve_shapes(arch: Architecture, width: float | None = None) -> NetworkShape:
    """Channels and resolutions of every node, at `width` (default: the record's own width)."""
    w = arch.width if width is None else width
    stem_channels = channels_for(arch.stem_ratio, w)
    stem_resolution = arch.input.stem_resolution
    cells: list[CellShape] = []
    for index, cell in enumerate(arch.cells):
        preds = arch.top.predecessors[index]
        if preds:
            incoming = tuple(cells[p].out_channels for p in preds)
            resolutions = tuple(cells[p].resolution for p in preds)
        else:
            incoming, resolutions = (stem_channels,), (stem_resolution,)
        cells.append(_resolve_cell(cell, index, incoming, resolutions, w))
    sinks = arch.top.sinks
    sink_channels = tuple(cells[s].out_channels for s in sinks)
    sink_resolutions = tuple(cells[s].resolution for s in sinks)
    output = OutputShape(sinks, sink_channels, sink_resolutions, sink_channels[-1], min(sink_resolutions))
    return NetworkShape(stem_channels, stem_resolution, tuple(cells), output)


def _cell_stride(cell: Cell, index: int, resolutions: tuple[int, ...]) -> int:
    if cell.downsample == "pool":
        return 1
    if len(set(resolutions)) != 1:
        raise InvalidInputError(f"cells[{index}]", "a strided cell needs all inputs at one resolution")
    for stride in (1, 2):
        if math.ceil(resolutions[0] / stride) == cell.resolution:
            return stride
    raise InvalidInputError(
        f"cells[{index}].resolution",
        f"{cell.resolution} cannot be reached from input resolution {resolutions[0]} with stride 1 or 2",
    )


def _resolve_cell(
    cell: Cell, index: int, incoming: tuple[int, ...], resolutions: tuple[int, ...], width: float
) -> CellShape:
    merge = resolve_merge(cell.merge, incoming)
    out = channels_for(cell.channel_ratio, width)
    stride = _cell_stride(cell, index, resolutions)
    in_resolution = cell.resolution if cell.downsample == "pool" else resolutions[0]
    mids: list[MidShape] = []
    for j, mid in enumerate(cell.nodes):
        mid_preds = cell.graph.predecessors[j]
        mid_merge = resolve_merge(mid.merge, tuple(out for _ in mid_preds) if mid_preds else (merge.channels,))
        ops: list[OpShape] = []
        for k, op in enumerate(mid.ops):
            op_preds = mid.graph.predecessors[k]
            is_entry = not mid_preds and not op_preds
            expected_stride = stride if is_entry else 1
            if op.stride != expected_stride:
                raise InvalidInputError(
                    f"cells[{index}].nodes[{j}].ops[{k}].stride",
                    f"must be {expected_stride}, got {op.stride}",
                )
            op_in_res = in_resolution if is_entry else cell.resolution
            op_merge = resolve_merge(op.merge, tuple(out for _ in op_preds) if op_preds else (mid_merge.channels,))
            ops.append(OpShape(op_merge, out, op_in_res, math.ceil(op_in_res / op.stride), op.stride))
        mids.append(MidShape(mid_merge, tuple(ops)))
    return CellShape(resolutions, merge, out, cell.resolution, tuple(mids))
