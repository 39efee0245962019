"""``BlockCirculantLinear``: a fully-connected layer whose weight matrix is
block-circulant, a bundle ``dense`` layer in PyTorch."""

from __future__ import annotations

import torch

from .matrix import BlockCirculantMatrix

__all__ = ["BlockCirculantLinear"]


class BlockCirculantLinear(BlockCirculantMatrix):
    """``y = W x + b`` with W a grid of p x q circulant k x k blocks.

    ``in_features`` and ``out_features`` are the real widths; they are
    padded to q*k and p*k as the bundle does (:mod:`circnn.torch.matrix`).
    ``weight`` is (p, q, k), the blocks' first columns; ``bias`` is
    (out_features,).  Inputs (N, in_features) or (..., in_features).
    """

    def __init__(self, in_features: int, out_features: int, k: int, bias: bool = True):
        super().__init__(in_features, out_features, k, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise ValueError(f"BlockCirculantLinear: expected inputs (..., {self.in_features}), "
                             f"got {tuple(x.shape)}")
        return self.rows(x)
