"""``FlattenHWC``: flatten channel-first maps in the bundle's (h, w, c) order.

A block-circulant dense layer does not survive a permutation of its inputs
(a permuted block-circulant matrix is no longer block-circulant), so the
order in which a map is flattened before a dense layer is part of the
model.  The bundle flattens channel-last maps in (h, w, c) order; this
module does the same to PyTorch's (N, C, H, W) maps, so a model trained
with it exports unchanged.  ``nn.Flatten`` gives (c, h, w) order instead.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FlattenHWC"]


class FlattenHWC(nn.Module):
    """(N, C, H, W) -> (N, H*W*C), entry ``(h*W + w)*C + c`` holding x[n, c, h, w]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"FlattenHWC: expected maps (N, C, H, W), got {tuple(x.shape)}")
        return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
