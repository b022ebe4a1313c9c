"""Parameter initialisation from an explicit generator: torch's layers draw their initial weights
from the process-wide generator when they are constructed, so every network and surrogate of the
project re-draws them here from a generator its owner holds (no process-wide seeding anywhere)."""

from __future__ import annotations

import math

import torch
from torch import nn


def initialise_linear(layer: nn.Linear, generator: torch.Generator) -> None:
    """torch's own rule for a linear layer (weights and bias uniform in ±1/√fan_in), drawn from `generator`."""
    bound = 1.0 / math.sqrt(layer.in_features) if layer.in_features > 0 else 0.0
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=generator)
        if layer.bias is not None:
            layer.bias.uniform_(-bound, bound, generator=generator)
