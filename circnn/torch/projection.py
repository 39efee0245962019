"""``from_dense``: a trained ``nn.Linear`` or ``nn.Conv2d`` projected onto the
nearest block-circulant module, for re-training (CircConv's second route).

The nearest block-circulant matrix in the Frobenius norm averages the dense
entries along each wrapped diagonal of each k x k block
(:func:`circnn.training.project_to_circulant`, which also handles widths
that are not multiples of k: only real entries are averaged).  A
convolution's matrix is its patch matrix, C_out x KH*KW*C_in in the
bundle's (kh, kw, c) patch order, so the projected module exports as is.
"""

from __future__ import annotations

import torch
from torch import nn

from circnn.config import check_power_of_two
from circnn.training import MAX_K, project_to_circulant

from .conv import BlockCirculantConv2d
from circnn.errors import ModelError
from .linear import BlockCirculantLinear

__all__ = ["from_dense", "patch_matrix"]


def patch_matrix(conv_weight: torch.Tensor) -> torch.Tensor:
    """``nn.Conv2d``'s weight (C_out, C_in, KH, KW) as the C_out x KH*KW*C_in matrix
    whose column ``(kh*KW + kw)*C_in + c`` multiplies patch entry (kh, kw, c)."""
    return conv_weight.permute(0, 2, 3, 1).reshape(conv_weight.shape[0], -1)


def _check_conv(module: nn.Conv2d) -> None:
    rules = [(module.groups == 1, "groups=1"), (tuple(module.dilation) == (1, 1), "dilation=1"),
             (module.padding_mode == "zeros", "padding_mode='zeros'"),
             (not isinstance(module.padding, str), "integer padding (not 'same' or 'valid')")]
    for holds, rule in rules:
        if not holds:
            raise ModelError(f"from_dense: {module!r}: a block-circulant convolution needs {rule}")


def from_dense(module: nn.Module, k: int) -> BlockCirculantLinear | BlockCirculantConv2d:
    """The block-circulant module (block size ``k``) nearest to ``module``.

    ``module`` is an ``nn.Linear`` or an ``nn.Conv2d`` (groups 1, dilation 1,
    zero padding given as integers); the result has the same sizes, stride
    and padding, the projected weight, the same bias (none when it has
    none), and ``module``'s dtype and device.
    """
    k = check_power_of_two("k", k, 2, MAX_K)
    if isinstance(module, nn.Linear):
        result = BlockCirculantLinear(module.in_features, module.out_features, k,
                                      bias=module.bias is not None)
        dense = module.weight
    elif isinstance(module, nn.Conv2d):
        _check_conv(module)
        result = BlockCirculantConv2d(module.in_channels, module.out_channels, module.kernel_size,
                                      k, module.stride, module.padding,
                                      bias=module.bias is not None)
        dense = patch_matrix(module.weight)
    else:
        raise ModelError(f"from_dense: {type(module).__name__} is not supported "
                         f"(an nn.Linear or an nn.Conv2d)")
    weight = project_to_circulant(dense.detach().cpu().double().numpy(), k)
    result = result.to(device=module.weight.device, dtype=module.weight.dtype)
    with torch.no_grad():
        result.weight.copy_(torch.from_numpy(weight))
        if module.bias is not None:
            result.bias.copy_(module.bias)
    return result
