"""Measured training memory per image on CUDA (docs/design.md §5.11).

Definition: the slope of peak CUDA memory against batch size over one training step (forward,
backward, optimizer step) at two batch sizes, (peak(b2) − peak(b1)) / (b2 − b1). The slope leaves
out weights, gradients and optimizer state, which do not grow with the batch. On CPU the analytic
estimate in `nago.generator.complexity` stands in for it.
"""

from __future__ import annotations

import torch
from torch import nn

from nago.generator.architecture import InputSpec


def _peak_bytes(model: nn.Module, spec: InputSpec, batch_size: int, device: torch.device) -> int:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch_size, spec.channels, spec.size, spec.size, device=device)
    y = torch.randint(0, spec.num_classes, (batch_size,), device=device)
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()  # type: ignore[no-untyped-call]
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    torch.cuda.synchronize(device)
    return int(torch.cuda.max_memory_allocated(device))


def measure_memory_per_image(
    model: nn.Module, spec: InputSpec, batch_sizes: tuple[int, int] = (8, 40), device: str = "cuda"
) -> float:
    """Bytes of CUDA memory each extra image in a batch costs for one training step."""
    if not torch.cuda.is_available():
        raise RuntimeError("measuring memory per image needs CUDA; use the analytic estimate on CPU")
    small, large = batch_sizes
    if not 0 < small < large:
        raise ValueError(f"batch sizes must satisfy 0 < b1 < b2, got {batch_sizes}")
    target = torch.device(device)
    model = model.to(target).train()
    _peak_bytes(model, spec, small, target)  # warm-up: allocator, cuDNN workspaces, optimizer state
    peak_small = _peak_bytes(model, spec, small, target)
    peak_large = _peak_bytes(model, spec, large, target)
    return (peak_large - peak_small) / (large - small)
