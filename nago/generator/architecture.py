"""The architecture record: everything needed to rebuild one sampled network, as JSON.

The record holds the three levels as sampled (top graph of cells, each cell's mid graph, each mid
node's bottom graph of operations), the merge rule and operation of every node, each cell's stage,
resolution and channel ratio, and the base width that meets the parameter budget. Channel counts
and predecessors are derived from it by one rule (`nago.generator.shapes`), so the JSON cannot contradict
itself. The fingerprint hashes the structure alone (not Θ, seed or budget), so two samples that
build the same network share it.
"""

from __future__ import annotations

import hashlib
import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nago.errors import InvalidInputError
from nago.generator.graphs import DagGraph
from nago.generator.spaces import SpaceName

FORMAT_VERSION: Literal[1] = 1
LARGE_INPUT_MIN_SIZE = 40  # inputs this size or larger get the 224-style stem (docs/design.md §5.6)


class OpKind(StrEnum):
    """Operations a bottom-level node can apply (docs/design.md §5.8, appendix H.1, RandWire for sepconv).

    `identity` is never sampled by a generator: it is the shortcut of hand-wired reference networks
    (`nago.generator.reference`), a 1×1 projection + BN where the channel count changes (He et al.'s option B).
    """

    CONV1X1 = "conv1x1"
    CONV3X3 = "conv3x3"
    CONV5X5 = "conv5x5"
    SEPCONV3X3 = "sepconv3x3"
    AVGPOOL3X3 = "avgpool3x3"
    AVGPOOL5X5 = "avgpool5x5"
    IDENTITY = "identity"

    @property
    def kernel(self) -> int:
        return 1 if self is OpKind.IDENTITY else int(self.value[-1])

    @property
    def is_pool(self) -> bool:
        return self.value.startswith("avgpool")


class MergeKind(StrEnum):
    """How a node with several inputs combines them (docs/design.md §5.7, appendix H.1)."""

    SUM = "sum"
    CONCAT = "concat"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class OpNode(_Frozen):
    """A bottom-level node: merge its inputs, then apply one operation."""

    op: OpKind
    merge: MergeKind = MergeKind.SUM
    stride: Literal[1, 2] = 1


class MidNode(_Frozen):
    """A mid-level node: a bottom-level graph of operations."""

    merge: MergeKind = MergeKind.SUM
    graph: DagGraph
    ops: tuple[OpNode, ...]

    @model_validator(mode="after")
    def _one_op_per_node(self) -> MidNode:
        if len(self.ops) != self.graph.num_nodes:
            raise ValueError(f"{len(self.ops)} ops for a bottom graph of {self.graph.num_nodes} nodes")
        return self


class Cell(_Frozen):
    """A top-level node: a mid-level graph whose nodes are bottom-level graphs."""

    stage: int = Field(ge=0, le=2)
    resolution: int = Field(ge=1)
    channel_ratio: float = Field(gt=0)
    merge: MergeKind = MergeKind.SUM
    downsample: Literal["pool", "stride"] = "pool"
    graph: DagGraph
    nodes: tuple[MidNode, ...]

    @model_validator(mode="after")
    def _one_node_per_graph_node(self) -> Cell:
        if len(self.nodes) != self.graph.num_nodes:
            raise ValueError(f"{len(self.nodes)} mid nodes for a mid graph of {self.graph.num_nodes} nodes")
        return self


class InputSpec(_Frozen):
    """The images the network takes: square, `size`×`size`×`channels`, into `num_classes` classes."""

    channels: int = Field(default=3, ge=1, le=64)
    size: int = Field(default=32, ge=8, le=1024)
    num_classes: int = Field(default=10, ge=2, le=100_000)

    @property
    def is_large(self) -> bool:
        return self.size >= LARGE_INPUT_MIN_SIZE

    @property
    def stem_resolution(self) -> int:
        """Small inputs keep their size through the stem; large ones are reduced 4× (docs/design.md §5.6)."""
        return self.size if not self.is_large else math.ceil(math.ceil(self.size / 2) / 2)

    def label(self) -> str:
        return f"{self.size}x{self.size}x{self.channels}"


def parse_input_spec(text: str, num_classes: int = 10) -> InputSpec:
    """Parse 'HxWxC' (e.g. 32x32x3) into an InputSpec; H must equal W."""
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise InvalidInputError("input", f"expected HxWxC such as 32x32x3, got {text!r}")
    height, width, channels = (int(p) for p in parts)
    if height != width:
        raise InvalidInputError("input", f"only square inputs are supported, got {height}x{width}")
    try:
        return InputSpec(channels=channels, size=height, num_classes=num_classes)
    except ValidationError as error:
        raise InvalidInputError("input", _first_error(error)) from None


def channels_for(ratio: float, width: float) -> int:
    """Channels of a tensor at channel ratio `ratio` for base width `width` (at least 1)."""
    return max(1, math.floor(ratio * width + 0.5))


class Architecture(_Frozen):
    """One sampled network, complete enough to rebuild it exactly."""

    format_version: Literal[1] = FORMAT_VERSION
    space: SpaceName
    theta: dict[str, int | float]
    seed: int = Field(ge=0)
    input: InputSpec
    param_budget: float = Field(gt=0)
    head_channels: int = Field(ge=1)
    stem_ratio: float = Field(gt=0)
    width: float = Field(gt=0)
    top: DagGraph
    cells: tuple[Cell, ...]

    @model_validator(mode="after")
    def _one_cell_per_top_node(self) -> Architecture:
        if len(self.cells) != self.top.num_nodes:
            raise ValueError(f"{len(self.cells)} cells for a top graph of {self.top.num_nodes} nodes")
        return self

    @model_validator(mode="after")
    def _stored_fields_agree_with_the_graphs(self) -> Architecture:
        """Re-derive what the record states besides its graphs: each cell's resolution from its stage
        (the stem's resolution halved per stage, as every generator samples it; appendix A), and stages
        that never go back along a top-level edge. A hand-edited record that contradicts them is refused."""
        stem = self.input.stem_resolution
        for index, cell in enumerate(self.cells):
            expected = max(1, stem // 2**cell.stage)
            if cell.resolution != expected:
                raise ValueError(
                    f"cells[{index}].resolution: {cell.resolution} contradicts stage {cell.stage} on a "
                    f"{self.input.label()} input (stem {stem}): expected {expected}"
                )
        for u, v in self.top.edges:
            if self.cells[v].stage < self.cells[u].stage:
                raise ValueError(
                    f"cells[{v}].stage: {self.cells[v].stage} is below the stage {self.cells[u].stage} of its "
                    f"input cell {u}: stages never go back along the top-level graph"
                )
        return self

    @property
    def node_count(self) -> int:
        """Total operation nodes over all three levels (appendix E counts these)."""
        return sum(len(mid.ops) for cell in self.cells for mid in cell.nodes)

    def to_json(self) -> str:
        """Deterministic JSON: sorted keys, two-space indent, newline at the end."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, indent=2) + "\n"

    def fingerprint(self) -> str:
        """SHA-256 over the structure (input, widths, graphs, ops), not over Θ, seed or budget."""
        structure = self.model_dump(mode="json", exclude={"theta", "seed", "param_budget", "space"})
        canonical = json.dumps(structure, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def load_architecture(text: str, source: str = "architecture") -> Architecture:
    """Parse and validate architecture JSON; a bad document names the first field at fault."""
    try:
        return Architecture.model_validate_json(text)
    except ValidationError as error:
        raise InvalidInputError(source, _first_error(error)) from None


def read_architecture(path: Path) -> Architecture:
    from nago.safe_yaml import read_text_file

    return load_architecture(read_text_file(path, str(path)), str(path))


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
