"""Build a trainable PyTorch network from an architecture record (docs/design.md §5.6–5.8).

The builder reads channel counts and resolutions from `nago.generator.shapes`, the same walk the
complexity counts use, so `count_params` equals the module's parameter count by construction
(and a test checks it). Every level runs one rule: source nodes receive the graph input, other
nodes merge their predecessors' outputs, the graph output is the mean of the true sinks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from nago.generator.architecture import Architecture, Cell, MergeKind, MidNode, OpKind
from nago.generator.graphs import DagGraph
from nago.generator.shapes import CellShape, MergeShape, MidShape, OpShape, OutputShape, resolve_shapes
from nago.seeded_init import initialise_linear

HEAD_DROPOUT = 0.2


class Merge(nn.Module):
    """Combine a node's inputs: identity, σ(w)-weighted sum with 1×1 adapters, or concatenation."""

    def __init__(self, shape: MergeShape) -> None:
        super().__init__()
        self.identity = shape.is_identity
        self.concat = shape.kind is MergeKind.CONCAT and not self.identity
        self.adapted = shape.adapters if not (self.identity or self.concat) else tuple(False for _ in shape.incoming)
        self.adapters = nn.ModuleDict(
            {
                str(i): nn.Conv2d(channels, shape.channels, 1)
                for i, (channels, adapted) in enumerate(zip(shape.incoming, self.adapted, strict=True))
                if adapted
            }
        )
        weighted = 0 if (self.identity or self.concat) else sum(1 for a in self.adapted if not a)
        self.edge_weights = nn.Parameter(torch.ones(weighted)) if weighted else None

    def forward(self, inputs: list[Tensor]) -> Tensor:
        if self.identity:
            return inputs[0]
        if self.concat:
            return torch.cat(inputs, dim=1)
        total: Tensor | None = None
        weight_index = 0
        for i, x in enumerate(inputs):
            if self.adapted[i]:
                term = self.adapters[str(i)](x)
            else:
                assert self.edge_weights is not None
                term = torch.sigmoid(self.edge_weights[weight_index]) * x
                weight_index += 1
            total = term if total is None else total + term
        assert total is not None
        return total


class NoiseSource:
    """The random stream of a network's training-time noise (drop-path, head dropout): a generator
    owned by the network and placed on its device, so no draw touches torch's process-wide generator
    and two networks trained in one process do not disturb each other's streams."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)  # CPU until the network moves (`place`)

    def place(self, device: torch.device) -> None:
        """Move the stream to `device`, restarting it from the seed (call before the first draw)."""
        self.generator = torch.Generator(device=device).manual_seed(self.seed)

    @contextmanager
    def preserved(self) -> Iterator[None]:
        """Draws inside the block leave the stream where it was (probes, the batch-norm pass)."""
        state = self.generator.get_state()
        try:
            yield
        finally:
            self.generator.set_state(state)


def drop(x: Tensor, mask_shape: tuple[int, ...], p: Tensor | float, noise: NoiseSource) -> Tensor:
    """Zero `x` where a uniform draw of `mask_shape` (broadcast over `x`) falls below p, scale the
    rest by 1/(1−p): dropout's rule, drawn from the network's stream."""
    keep = torch.rand(mask_shape, device=x.device, dtype=x.dtype, generator=noise.generator) >= p
    return x * keep / (1 - p)


class DropPath(nn.Module):
    """Zero a whole operation output per sample with probability p while training, scaling the rest
    by 1/(1−p) (docs/design.md §5.12; the trainer ramps p from 0 over the epochs)."""

    p: Tensor

    def __init__(self, noise: NoiseSource) -> None:
        super().__init__()
        # A tensor, not a float, so a compiled step does not recompile when the ramp moves p each epoch.
        self.register_buffer("p", torch.zeros(()), persistent=False)
        self.active = False
        self.noise = noise

    def set(self, p: float) -> None:
        self.p.fill_(p)
        self.active = p > 0

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or not self.active:
            return x
        return drop(x, (x.shape[0], 1, 1, 1), self.p, self.noise)


class Dropout(nn.Module):
    """Zero each feature with probability p while training, scaling the rest by 1/(1−p): torch's
    dropout, drawing from the network's own stream."""

    def __init__(self, p: float, noise: NoiseSource) -> None:
        super().__init__()
        self.p = p
        self.noise = noise

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        return drop(x, tuple(x.shape), self.p, self.noise)


def build_operation(op: OpKind, shape: OpShape, noise: NoiseSource) -> nn.Module:
    """ReLU → conv → BN, ReLU → sepconv → BN, avg-pool (+1×1 conv when channels change), or identity
    (1×1 conv → BN when channels or resolution change)."""
    cin, cout, stride = shape.merge.channels, shape.out_channels, shape.stride
    if op is OpKind.IDENTITY:
        if cin == cout and stride == 1:
            return nn.Identity()
        return nn.Sequential(nn.Conv2d(cin, cout, 1, stride), nn.BatchNorm2d(cout))
    if op.is_pool:
        layers: list[nn.Module] = [nn.AvgPool2d(op.kernel, stride, op.kernel // 2, count_include_pad=False)]
        if cin != cout:
            layers.append(nn.Conv2d(cin, cout, 1))
        return nn.Sequential(*layers, DropPath(noise))
    if op is OpKind.SEPCONV3X3:
        conv: list[nn.Module] = [
            nn.Conv2d(cin, cin, 3, stride, 1, groups=cin),
            nn.Conv2d(cin, cout, 1),
        ]
    else:
        conv = [nn.Conv2d(cin, cout, op.kernel, stride, op.kernel // 2)]
    return nn.Sequential(nn.ReLU(), *conv, nn.BatchNorm2d(cout), DropPath(noise))


class GraphNode(nn.Module):
    """A node at any level: merge the inputs, then run the body (an operation or a lower graph)."""

    def __init__(self, merge: Merge, body: nn.Module) -> None:
        super().__init__()
        self.merge = merge
        self.body = body

    def forward(self, inputs: list[Tensor]) -> Tensor:
        out: Tensor = self.body(self.merge(inputs))
        return out


def run_graph(graph: DagGraph, nodes: nn.ModuleList, x: Tensor) -> list[Tensor]:
    """Run nodes in index order: sources get `x`, the others their predecessors' outputs."""
    outputs: list[Tensor] = []
    for index, node in enumerate(nodes):
        preds = graph.predecessors[index]
        outputs.append(node([outputs[p] for p in preds] if preds else [x]))
    return outputs


def average(tensors: Sequence[Tensor]) -> Tensor:
    """Unweighted mean of same-shaped tensors; one tensor passes unchanged."""
    total = tensors[0]
    for t in tensors[1:]:
        total = total + t
    return total / len(tensors) if len(tensors) > 1 else total


def mean_of_sinks(graph: DagGraph, outputs: list[Tensor]) -> Tensor:
    """The graph output: the mean of its true sinks, chosen by node id (docs/design.md §5.3)."""
    return average([outputs[s] for s in graph.sinks])


class GraphBlock(nn.Module):
    """A whole graph as one module; its output is the mean of its sinks (docs/design.md §5.3)."""

    def __init__(self, graph: DagGraph, nodes: Sequence[nn.Module]) -> None:
        super().__init__()
        self.graph = graph
        self.nodes = nn.ModuleList(nodes)

    def forward(self, x: Tensor) -> Tensor:
        return mean_of_sinks(self.graph, run_graph(self.graph, self.nodes, x))


def _build_mid(mid: MidNode, shape: MidShape, noise: NoiseSource) -> GraphNode:
    ops = [
        GraphNode(Merge(op_shape.merge), build_operation(op.op, op_shape, noise))
        for op, op_shape in zip(mid.ops, shape.ops, strict=True)
    ]
    return GraphNode(Merge(shape.merge), GraphBlock(mid.graph, ops))


class CellNode(nn.Module):
    """A top-level node: pool inputs to the cell's resolution, merge, run the mid graph (docs/design.md §5.6–5.8)."""

    def __init__(self, cell: Cell, shape: CellShape, noise: NoiseSource) -> None:
        super().__init__()
        pool_inputs = cell.downsample == "pool"
        self.pools = nn.ModuleList(
            [
                nn.AdaptiveAvgPool2d(shape.resolution) if pool_inputs and res != shape.resolution else nn.Identity()
                for res in shape.input_resolutions
            ]
        )
        mids = [_build_mid(mid, mid_shape, noise) for mid, mid_shape in zip(cell.nodes, shape.mids, strict=True)]
        self.node = GraphNode(Merge(shape.merge), GraphBlock(cell.graph, list(mids)))

    def forward(self, inputs: list[Tensor]) -> Tensor:
        out: Tensor = self.node([pool(x) for pool, x in zip(self.pools, inputs, strict=True)])
        return out


class TopOutput(nn.Module):
    """Mean of the top-level sinks, pooled to the smallest size and adapted to the last sink's channels."""

    def __init__(self, shape: OutputShape) -> None:
        super().__init__()
        self.sinks = shape.sinks
        self.pools = nn.ModuleList(
            [
                nn.AdaptiveAvgPool2d(shape.resolution) if r != shape.resolution else nn.Identity()
                for r in shape.sink_resolutions
            ]
        )
        self.adapters = nn.ModuleList(
            [nn.Conv2d(c, shape.channels, 1) if c != shape.channels else nn.Identity() for c in shape.sink_channels]
        )

    def forward(self, outputs: list[Tensor]) -> Tensor:
        return average(
            [adapt(pool(outputs[s])) for s, pool, adapt in zip(self.sinks, self.pools, self.adapters, strict=True)]
        )


def build_stem(arch: Architecture, channels: int) -> nn.Sequential:
    """Small inputs: two conv3×3 at full size; large inputs: two stride-2 separable convs (docs/design.md §5.6)."""
    cin = arch.input.channels
    if not arch.input.is_large:
        return nn.Sequential(
            nn.Conv2d(cin, channels, 3, 1, 1),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, 1, 1),
            nn.BatchNorm2d(channels),
        )
    half = max(1, channels // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, 2, 1, groups=cin),
        nn.Conv2d(cin, half, 1),
        nn.BatchNorm2d(half),
        nn.ReLU(),
        nn.Conv2d(half, half, 3, 2, 1, groups=half),
        nn.Conv2d(half, channels, 1),
        nn.BatchNorm2d(channels),
    )


def build_head(channels: int, head_channels: int, num_classes: int, noise: NoiseSource) -> nn.Sequential:
    """ReLU → 1×1 conv → BN → ReLU → global average pool → dropout → linear (docs/design.md §5.8)."""
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(channels, head_channels, 1),
        nn.BatchNorm2d(head_channels),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        Dropout(HEAD_DROPOUT, noise),
        nn.Linear(head_channels, num_classes),
    )


def build_auxiliary_head(channels: int, num_classes: int) -> nn.Sequential:
    """ReLU → 2×2 average pool → 1×1 conv 128 → BN → ReLU → linear: a small classifier on an
    intermediate cell, used only in training (docs/design.md §5.8, §5.12)."""
    return nn.Sequential(
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Conv2d(channels, 128, 1, bias=False),
        nn.BatchNorm2d(128),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(128 * 4, num_classes),
    )


def auxiliary_cell(arch: Architecture) -> int | None:
    """The cell feeding the auxiliary head: the last stage-1 cell (the input of stage 2), if any."""
    candidates = [i for i, cell in enumerate(arch.cells) if cell.stage == 1]
    return candidates[-1] if candidates and any(c.stage == 2 for c in arch.cells) else None


class GeneratedNetwork(nn.Module):
    """The network of one architecture record: stem, top-level graph of cells, head; optionally an
    auxiliary head for training, outside the parameter budget and dropped at evaluation. `seed` fixes
    the initial weights and the stream of the training-time noise (`noise`), both drawn from
    generators the network owns."""

    def __init__(self, arch: Architecture, auxiliary: bool = False, seed: int = 0) -> None:
        super().__init__()
        shape = resolve_shapes(arch)
        self.noise = NoiseSource(seed)
        self.top = arch.top
        self.stem = build_stem(arch, shape.stem_channels)
        self.cells = nn.ModuleList([CellNode(c, s, self.noise) for c, s in zip(arch.cells, shape.cells, strict=True)])
        self.output = TopOutput(shape.output)
        self.head = build_head(shape.output.channels, arch.head_channels, arch.input.num_classes, self.noise)
        aux_cell = auxiliary_cell(arch) if auxiliary else None
        self.auxiliary_cell = aux_cell
        self.auxiliary = (
            build_auxiliary_head(shape.cells[aux_cell].out_channels, arch.input.num_classes)
            if aux_cell is not None
            else None
        )
        initialise_weights(self, torch.Generator().manual_seed(seed))

    def forward_with_auxiliary(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """Logits, and the auxiliary head's logits when it exists and the network is training."""
        outputs = run_graph(self.top, self.cells, self.stem(x))
        logits: Tensor = self.head(self.output(outputs))
        aux: Tensor | None = None
        if self.training and self.auxiliary is not None and self.auxiliary_cell is not None:
            aux = self.auxiliary(outputs[self.auxiliary_cell])
        return logits, aux

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_with_auxiliary(x)[0]

    def _apply(self, fn: Any, recurse: bool = True) -> GeneratedNetwork:
        """`.to(device)`/`.cuda()` also move the noise stream (restarted from the seed: a CPU and a
        CUDA generator have different states) so the noise is drawn where the activations are."""
        super()._apply(fn, recurse)  # type: ignore[no-untyped-call]
        device = next(self.parameters()).device
        if self.noise.generator.device != device:
            self.noise.place(device)
        return self

    @contextmanager
    def paused_drop_path(self) -> Iterator[None]:
        """No operation output dropped inside the block: the probabilities are zeroed, not switched off,
        so a compiled step is not recompiled, and restored after."""
        paths = [m for m in self.modules() if isinstance(m, DropPath)]
        saved = [path.p.clone() for path in paths]
        for path in paths:
            path.p.zero_()
        try:
            yield
        finally:
            for path, p in zip(paths, saved, strict=True):
                path.p.copy_(p)

    def set_drop_path(self, p: float) -> None:
        """Set the drop-path probability of every operation."""
        for module in self.modules():
            if isinstance(module, DropPath):
                module.set(p)


def initialise_weights(module: nn.Module, generator: torch.Generator) -> None:
    """Kaiming-normal (fan_out, ReLU) convs, BN weight 1 and bias 0, edge weights 1 (docs/design.md §5.8);
    linear layers by torch's own rule; every draw from `generator`."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=generator)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            initialise_linear(m, generator)


def build_network(
    arch: Architecture, auxiliary: bool = False, seed: int = 0, device: torch.device | None = None
) -> GeneratedNetwork:
    """The trainable torch module for `arch` (with an auxiliary head for the final protocol), its
    weights and training noise fixed by `seed`, placed on `device` (CPU by default)."""
    net = GeneratedNetwork(arch, auxiliary, seed)
    return net.to(device) if device is not None else net
