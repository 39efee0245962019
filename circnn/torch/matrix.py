"""What the block-circulant modules share: a (p, q, k) weight applied to rows of
real width ``in_features``, giving rows of real width ``out_features``.

Widths follow the bundle (``l{i}_in_features`` / ``l{i}_out_features``):
q = ceil(in_features / k) and p = ceil(out_features / k); a row is
zero-padded from ``in_features`` to q*k values before the product, and of
the p*k products only the first ``out_features`` are kept.  The bias holds
the ``out_features`` kept outputs only (the bundle's bias of p*k values is
this one followed by zeros: the dropped outputs never reach anything, so
their bias would be a parameter without a gradient).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from circnn.config import check_int, check_power_of_two
from circnn.training import MAX_K

from .product import block_circulant_product, padded_to

__all__ = ["BlockCirculantMatrix"]


class BlockCirculantMatrix(nn.Module):
    """A block-circulant ``out_features`` x ``in_features`` matrix plus bias.

    ``weight`` (p, q, k): the first column of each circulant block, as the
    bundle stores it.  ``bias`` (out_features,) or ``None``.
    """

    def __init__(self, in_features: int, out_features: int, k: int, bias: bool = True):
        super().__init__()
        self.in_features = check_int("in_features", in_features, 1)
        self.out_features = check_int("out_features", out_features, 1)
        self.k = check_power_of_two("k", k, 2, MAX_K)
        p, q = -(-self.out_features // self.k), -(-self.in_features // self.k)
        self.weight = nn.Parameter(torch.empty(p, q, self.k))
        self.bias = nn.Parameter(torch.empty(self.out_features)) if bias else None
        self.reset_parameters()

    @property
    def p(self) -> int:
        """Output blocks."""
        return self.weight.shape[0]

    @property
    def q(self) -> int:
        """Input blocks."""
        return self.weight.shape[1]

    def reset_parameters(self) -> None:
        """Uniform in +-1/sqrt(in_features), as ``nn.Linear`` draws its weights: every
        entry of a circulant block is one element of its defining vector, so the
        equivalent dense matrix gets exactly nn.Linear's distribution."""
        bound = 1.0 / math.sqrt(self.in_features)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def rows(self, x: torch.Tensor) -> torch.Tensor:
        """The matrix applied to rows ``x`` (..., in_features): (..., out_features)."""
        y = block_circulant_product(self.weight, padded_to(x, self.q * self.k))
        y = y[..., :self.out_features]
        return y + self.bias if self.bias is not None else y

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"k={self.k}, bias={self.bias is not None}")
