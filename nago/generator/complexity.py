"""Parameter count, multiply–accumulates and activation memory of an architecture, and its width.

All three are exact functions of the record, computed by walking the same shapes the builder uses
(`nago.generator.shapes`). Definitions:

- params: every trainable scalar of the built network (tests compare with the torch module);
- MACs: multiply–accumulates of convolutions and the linear layer for one image;
- activation memory per image: fp32 bytes of the feature maps output by every convolution,
  normalisation, activation, pooling, dropout and linear layer for one image; the proxy for
  what training keeps for the backward pass (docs/design.md §5.10, §5.11). On CUDA,
  `nago.training.memory.measure_memory_per_image` measures the slope of peak memory against batch size.

The base width is chosen so the real parameter count is as close as possible to the budget
(docs/design.md §5.9 estimates m = sqrt(budget / B); we search the exact count instead, docs/design.md §5.9).
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from nago.errors import InvalidInputError
from nago.generator.architecture import Architecture, OpKind
from nago.generator.shapes import MergeShape, NetworkShape, resolve_shapes

BYTES_PER_VALUE = 4  # fp32


@dataclass
class _Tally:
    params: int = 0
    macs: int = 0
    activations: int = 0

    def conv(self, cin: int, cout: int, kernel: int, res: int, groups: int = 1) -> None:
        self.params += (cin // groups) * cout * kernel * kernel + cout
        self.macs += cout * res * res * (cin // groups) * kernel * kernel
        self.activations += cout * res * res

    def norm(self, channels: int, res: int) -> None:
        self.params += 2 * channels
        self.activations += channels * res * res

    def elementwise(self, channels: int, res: int) -> None:
        """ReLU, pooling or dropout: no parameters, one output map."""
        self.activations += channels * res * res

    def merge(self, shape: MergeShape, res: int) -> None:
        if shape.is_identity or shape.kind.value == "concat":
            return
        for channels, adapted in zip(shape.incoming, shape.adapters, strict=True):
            if adapted:
                self.conv(channels, shape.channels, 1, res)
            else:
                self.params += 1  # σ(w) edge weight


class Complexity(BaseModel):
    """The size of one network."""

    model_config = ConfigDict(frozen=True)

    params: int
    macs: int
    activation_bytes_per_image: int
    nodes: int


def _tally(arch: Architecture, shape: NetworkShape) -> _Tally:
    t = _Tally()
    _tally_stem(t, arch, shape)
    for cell, cell_shape in zip(arch.cells, shape.cells, strict=True):
        res = cell_shape.resolution
        merge_res = res if cell.downsample == "pool" else cell_shape.input_resolutions[0]
        if cell.downsample == "pool":
            for channels, in_res in zip(cell_shape.merge.incoming, cell_shape.input_resolutions, strict=True):
                if in_res != res:
                    t.elementwise(channels, res)
        t.merge(cell_shape.merge, merge_res)
        for mid, mid_shape in zip(cell.nodes, cell_shape.mids, strict=True):
            t.merge(mid_shape.merge, res)
            for op, op_shape in zip(mid.ops, mid_shape.ops, strict=True):
                t.merge(op_shape.merge, op_shape.in_resolution)
                _tally_op(
                    t,
                    op.op,
                    op_shape.merge.channels,
                    op_shape.out_channels,
                    op_shape.in_resolution,
                    op_shape.out_resolution,
                )
    out = shape.output
    for channels, res in zip(out.sink_channels, out.sink_resolutions, strict=True):
        if res != out.resolution:
            t.elementwise(channels, out.resolution)
        if channels != out.channels:
            t.conv(channels, out.channels, 1, out.resolution)
    _tally_head(t, arch, out.channels, out.resolution)
    return t


def _tally_stem(t: _Tally, arch: Architecture, shape: NetworkShape) -> None:
    """Stem for small and large inputs (docs/design.md §5.6)."""
    c, cin = shape.stem_channels, arch.input.channels
    if not arch.input.is_large:
        r = shape.stem_resolution
        t.conv(cin, c, 3, r)
        t.norm(c, r)
        t.elementwise(c, r)
        t.conv(c, c, 3, r)
        t.norm(c, r)
        return
    half = max(1, c // 2)
    r1 = -(-arch.input.size // 2)
    r2 = shape.stem_resolution
    t.conv(cin, cin, 3, r1, groups=cin)
    t.conv(cin, half, 1, r1)
    t.norm(half, r1)
    t.elementwise(half, r1)
    t.conv(half, half, 3, r2, groups=half)
    t.conv(half, c, 1, r2)
    t.norm(c, r2)


def _tally_op(t: _Tally, op: OpKind, cin: int, cout: int, in_res: int, out_res: int) -> None:
    """One bottom-level operation (docs/design.md §5.8; sepconv from RandWire, docs/design.md §5.13)."""
    if op is OpKind.IDENTITY:
        if cin != cout or in_res != out_res:
            t.conv(cin, cout, 1, out_res)
            t.norm(cout, out_res)
        return
    if op.is_pool:
        t.elementwise(cin, out_res)
        if cin != cout:
            t.conv(cin, cout, 1, out_res)
        return
    t.elementwise(cin, in_res)  # ReLU
    if op is OpKind.SEPCONV3X3:
        t.conv(cin, cin, 3, out_res, groups=cin)
        t.conv(cin, cout, 1, out_res)
    else:
        t.conv(cin, cout, op.kernel, out_res)
    t.norm(cout, out_res)


def _tally_head(t: _Tally, arch: Architecture, channels: int, res: int) -> None:
    """ReLU → 1×1 conv → BN → ReLU → global pool → dropout → linear (docs/design.md §5.8)."""
    h = arch.head_channels
    t.elementwise(channels, res)
    t.conv(channels, h, 1, res)
    t.norm(h, res)
    t.elementwise(h, res)
    t.elementwise(h, 1)  # global average pool
    t.elementwise(h, 1)  # dropout
    t.params += h * arch.input.num_classes + arch.input.num_classes
    t.macs += h * arch.input.num_classes
    t.activations += arch.input.num_classes


def count_params(arch: Architecture, width: float | None = None) -> int:
    """Exact number of trainable parameters of the built network at `width`.

    Args:
        arch: The architecture record.
        width: The base width m (a tensor at channel ratio r gets round(r·m) channels, at least 1);
            None for the record's own width.

    Returns:
        The number of trainable scalars (an int).
    """
    return _tally(arch, resolve_shapes(arch, width)).params


def measure_complexity(arch: Architecture) -> Complexity:
    """Params, MACs, activation memory per image and node count of the record as it is.

    Args:
        arch: The architecture record, at its own width.

    Returns:
        A `Complexity`: parameters, MACs for one image, fp32 activation bytes per image and nodes (ints).
    """
    t = _tally(arch, resolve_shapes(arch))
    return Complexity(
        params=t.params,
        macs=t.macs,
        activation_bytes_per_image=t.activations * BYTES_PER_VALUE,
        nodes=arch.node_count,
    )


def _channel_ratios(arch: Architecture) -> list[float]:
    return sorted({arch.stem_ratio, *(cell.channel_ratio for cell in arch.cells)})


def fit_width(arch: Architecture, param_budget: float) -> float:
    """The base width whose real parameter count is closest to `param_budget` (docs/design.md §5.9).

    The count only changes where some channel count round(ratio·w) steps, at w = (n + ½)/ratio, so
    we bisect over those breakpoints and return the middle of the best interval.

    Args:
        arch: The architecture record; its own width is ignored.
        param_budget: The target number of trainable parameters (a scalar).

    Returns:
        The base width m (a scalar), the middle of the interval of widths with the closest count.
    """
    ratios = _channel_ratios(arch)
    narrowest = min(0.5 / r for r in ratios) * 0.5
    smallest = count_params(arch, narrowest)
    if smallest > param_budget:
        one_channel_head = count_params(arch.model_copy(update={"head_channels": 1}), narrowest)
        if one_channel_head <= param_budget:  # the head alone is what does not fit
            raise InvalidInputError(
                "head_channels",
                f"{arch.head_channels} channels do not fit param_budget {param_budget:g}: the network's "
                f"smallest is {smallest:,} parameters with this head, {one_channel_head:,} with a one-channel head; "
                "lower head_channels",
            )
        raise InvalidInputError(
            "param_budget",
            f"{param_budget:g} is below {smallest} parameters, the smallest this architecture can have "
            "(one channel per tensor); raise the budget or pick smaller generator hyperparameters",
        )
    upper = 1.0
    while count_params(arch, upper) <= param_budget:
        upper *= 2
    breaks = sorted({(n + 0.5) / r for r in ratios for n in range(int(upper * r) + 2)})
    breaks = [b for b in breaks if b <= upper] + [upper]
    # midpoints[i] lies between breaks[i-1] and breaks[i]; midpoint 0 lies below every break.
    midpoints = [breaks[0] / 2] + [(a + b) / 2 for a, b in itertools.pairwise(breaks)]
    counts: dict[int, int] = {}

    def params_at(i: int) -> int:
        if i not in counts:
            counts[i] = count_params(arch, midpoints[i])
        return counts[i]

    # Largest interval whose count stays within the budget (count is nondecreasing in the width).
    index = bisect.bisect_right(range(len(midpoints)), param_budget, key=params_at) - 1
    best = index
    if index + 1 < len(midpoints) and params_at(index + 1) - param_budget < param_budget - params_at(index):
        best = index + 1
    return midpoints[best]
