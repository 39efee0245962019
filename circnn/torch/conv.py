"""``BlockCirculantConv2d``: a convolution whose im2col patch matrix is
block-circulant, a bundle ``conv2d`` layer in PyTorch.

PyTorch maps are channel-first (N, C, H, W); the bundle's patch is ordered
(kh, kw, c): entry ``(kh*KW + kw)*C_in + c`` of the patch of output pixel
(oy, ox) is input pixel (oy*SH + kh - PH, ox*SW + kw - PW), channel c
(``circnn.sim.model.conv.im2col``).  ``torch.nn.functional.unfold`` cuts
patches in (c, kh, kw) order, so they are reordered before the product;
the weight is then exactly the bundle's ``l{i}_weight`` and the module runs
on channel-first maps like ``nn.Conv2d``.
"""

from __future__ import annotations

import torch
from torch.nn import functional

from circnn.config import check_int
from circnn.errors import ParameterError
from circnn.sim.model.conv import output_side

from .matrix import BlockCirculantMatrix

__all__ = ["BlockCirculantConv2d", "pair"]


def pair(name: str, value, lo: int) -> tuple[int, int]:
    """``value`` (an int, or two) as a checked pair of integers >= ``lo``."""
    values = (value, value) if isinstance(value, int) else value
    if not isinstance(values, (tuple, list)) or len(values) != 2:
        raise ParameterError(f"{name} must be an integer or two integers, not {value!r}")
    return tuple(check_int(f"{name}[{i}]", v, lo) for i, v in enumerate(values))


class BlockCirculantConv2d(BlockCirculantMatrix):
    """A 2-D cross-correlation (as ``nn.Conv2d``, no groups or dilation) whose
    ``out_channels`` x KH*KW*in_channels patch matrix is block-circulant.

    ``weight`` is (p, q, k) with q = ceil(KH*KW*in_channels / k) and
    p = ceil(out_channels / k): the bundle's ``l{i}_weight`` of the layer;
    ``bias`` is (out_channels,).  Inputs (N, in_channels, H, W), outputs
    (N, out_channels, H_out, W_out), H_out = (H + 2*PH - KH) // SH + 1.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, k: int, stride=1,
                 padding=0, bias: bool = True):
        in_channels = check_int("in_channels", in_channels, 1)
        kernel_size = pair("kernel_size", kernel_size, 1)
        super().__init__(kernel_size[0] * kernel_size[1] * in_channels, out_channels, k, bias)
        self.in_channels, self.out_channels = in_channels, self.out_features
        self.kernel_size = kernel_size
        self.stride = pair("stride", stride, 1)
        self.padding = pair("padding", padding, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"BlockCirculantConv2d: expected inputs (N, {self.in_channels}, H, W), "
                             f"got {tuple(x.shape)}")
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        h_out, w_out = output_side(h, kh, sh, ph), output_side(w, kw, sw, pw)
        cols = functional.unfold(x, self.kernel_size, padding=self.padding, stride=self.stride)
        # (N, C*KH*KW, L) in (c, kh, kw) order -> (N, L, KH*KW*C) in (kh, kw, c) order
        patches = cols.view(n, c, kh * kw, -1).permute(0, 3, 2, 1).reshape(n, -1, self.in_features)
        y = self.rows(patches)                                       # (N, L, C_out)
        return y.transpose(1, 2).reshape(n, self.out_channels, h_out, w_out)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"k={self.k}, stride={self.stride}, padding={self.padding}, "
                f"bias={self.bias is not None}")
