"""Batch augmentations on tensors, driven by an explicit torch.Generator (no per-item Python work).

Standard per dataset kind: random crop with zero padding and horizontal flip (CIFAR: pad 4;
Fashion-MNIST: pad 2; image folders: pad size/8), then cutout in the final protocol
(docs/design.md §5.12: cutout 16 on CIFAR).
"""

from __future__ import annotations

import torch
from torch import Tensor


def random_crop(images: Tensor, padding: int, generator: torch.Generator) -> Tensor:
    """Pad each image with zeros by `padding` and crop it back at a random offset."""
    if padding <= 0:
        return images
    n, c, h, w = images.shape
    padded = torch.nn.functional.pad(images, (padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(images.device)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(images.device)
    rows = (dy[:, None] + torch.arange(h, device=images.device)[None, :])[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=images.device)[None, :])[:, None, None, :]
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    channel = torch.arange(c, device=images.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


def random_flip(images: Tensor, generator: torch.Generator) -> Tensor:
    """Flip each image left–right with probability ½."""
    flip = (torch.rand(images.shape[0], generator=generator) < 0.5).to(images.device)
    return torch.where(flip[:, None, None, None], images.flip(3), images)


def cutout(images: Tensor, size: int, generator: torch.Generator) -> Tensor:
    """Zero a size×size square at a random centre of each image (DeVries & Taylor; docs/design.md §5.12)."""
    if size <= 0:
        return images
    n, _, h, w = images.shape
    cy = torch.randint(0, h, (n,), generator=generator).to(images.device)
    cx = torch.randint(0, w, (n,), generator=generator).to(images.device)
    ys = torch.arange(h, device=images.device)[None, :]
    xs = torch.arange(w, device=images.device)[None, :]
    inside_y = (ys >= (cy[:, None] - size // 2)) & (ys < (cy[:, None] + size - size // 2))
    inside_x = (xs >= (cx[:, None] - size // 2)) & (xs < (cx[:, None] + size - size // 2))
    mask = inside_y[:, :, None] & inside_x[:, None, :]
    return images.masked_fill(mask[:, None, :, :], 0.0)


def crop_padding_for(size: int) -> int:
    """Padding for the random crop: 4 for 32×32, 2 for 28×28, size/8 for larger images."""
    if size <= 28:
        return 2
    if size <= 32:
        return 4
    return size // 8
