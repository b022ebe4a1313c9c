"""Hand-designed reference networks written in the architecture format, so `nago train` trains them.

`build_resnet_architecture` wires a ResNet-20-style network (He et al. 2016, CIFAR ResNets: three
stages of `blocks_per_stage` basic blocks, widths in the ratio 1:2:4, downsampling at each stage
entry) in the same three-level record a generator samples, so the results study (docs/results.md)
trains it with the same stem, head, loop and protocol as the sampled networks. Each block is one
cell holding one mid node whose bottom graph is

    0 identity ──► 1 conv3×3 ──► 2 conv3×3
      └────────► 3 identity

with sinks 2 and 3: the block's output is the mean of the two-convolution branch and the shortcut,
(x + f(x)) / 2 (the format averages sinks; the factor ½ is the only change from the sum). Each
convolution is ReLU → conv → BN like every HNAG operation. At a stage entry the cell's input is
average-pooled to the new resolution (HNAG's downsampling) and node 0 projects it to the new width
with a 1×1 convolution and BN. The record has no Θ (`theta` is empty): no generator made it.
"""

from __future__ import annotations

from nago.errors import InvalidInputError
from nago.generator.architecture import Architecture, Cell, InputSpec, MidNode, OpKind, OpNode
from nago.generator.complexity import fit_width
from nago.generator.graphs import DagGraph, chain_graph
from nago.generator.sampling import CHANNEL_RATIOS
from nago.generator.spaces import SpaceName

RESIDUAL_BLOCK = DagGraph(num_nodes=4, edges=((0, 1), (0, 3), (1, 2)))
RESIDUAL_OPS = (
    OpNode(op=OpKind.IDENTITY),
    OpNode(op=OpKind.CONV3X3),
    OpNode(op=OpKind.CONV3X3),
    OpNode(op=OpKind.IDENTITY),
)
MAX_BLOCKS_PER_STAGE = 32


def build_resnet_architecture(
    input_spec: InputSpec, param_budget: float, head_channels: int, blocks_per_stage: int = 3
) -> Architecture:
    """A ResNet-style record with 3 × `blocks_per_stage` residual blocks, sized to `param_budget` parameters."""
    if not 1 <= blocks_per_stage <= MAX_BLOCKS_PER_STAGE:
        raise InvalidInputError("blocks_per_stage", f"must be in [1, {MAX_BLOCKS_PER_STAGE}], got {blocks_per_stage}")
    if not param_budget > 0:
        raise InvalidInputError("param_budget", f"must be positive, got {param_budget!r}")
    block = MidNode(graph=RESIDUAL_BLOCK, ops=RESIDUAL_OPS)
    single = DagGraph(num_nodes=1, edges=())
    cells = tuple(
        Cell(
            stage=stage,
            resolution=max(1, input_spec.stem_resolution // 2**stage),
            channel_ratio=CHANNEL_RATIOS[stage],
            graph=single,
            nodes=(block,),
        )
        for stage in range(3)
        for _ in range(blocks_per_stage)
    )
    draft = Architecture(
        space=SpaceName.HNAG,
        theta={},
        seed=0,
        input=input_spec,
        param_budget=float(param_budget),
        head_channels=head_channels,
        stem_ratio=CHANNEL_RATIOS[0],
        width=1.0,
        top=chain_graph(len(cells)),
        cells=cells,
    )
    return draft.model_copy(update={"width": fit_width(draft, param_budget)})
