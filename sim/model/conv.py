"""Feature maps: the im2col patches a ``conv2d`` layer multiplies, and ``maxpool2d``.

Both work on channel-last batches (N, H, W, C) of floats or of integer codes
alike, so the float model and the bit-true model share them (and the
hardware's patch address generator will be checked against :func:`im2col`).

Patch of output pixel (oy, ox): ``KH*KW*C`` values, index ``(kh*KW + kw)*C + c``
holding input pixel (oy*SH + kh - PH, ox*SW + kw - PW), channel c, or 0
outside the map (zero padding).  Output side: ``(H + 2*PH - KH) // SH + 1``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["im2col", "maxpool", "output_side", "patch_indices"]


def output_side(size: int, kernel: int, stride: int, padding: int = 0) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def im2col(x: np.ndarray, kernel, stride=(1, 1), padding=(0, 0)) -> np.ndarray:
    """Patches of ``x`` (N, H, W, C): (N, H_out, W_out, KH*KW*C), same dtype."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    x = np.asarray(x)
    if ph or pw:
        x = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    # windows: (N, H_out', W_out', C, KH, KW) over every position, then every stride-th
    windows = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
    n, ho, wo, c = windows.shape[:4]
    # (kh, kw, c) order: index (kh*KW + kw)*C + c
    return np.ascontiguousarray(windows.transpose(0, 1, 2, 4, 5, 3)).reshape(n, ho, wo,
                                                                             kh * kw * c)


def maxpool(x: np.ndarray, kernel, stride) -> np.ndarray:
    """Maximum over each KH x KW window of ``x`` (N, H, W, C), channel by channel, every
    (SH, SW) pixels, no padding: (N, H_out, W_out, C), same dtype."""
    (kh, kw), (sh, sw) = kernel, stride
    windows = sliding_window_view(np.asarray(x), (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
    return windows.max(axis=(4, 5))


def patch_indices(in_shape, kernel, stride=(1, 1), padding=(0, 0)) -> tuple[np.ndarray, np.ndarray]:
    """What the im2col address generator emits, patch row by patch row: the index
    ``(y*W + x)*C + c`` of each patch value in the channel-last map, and whether it
    lies in the padding (then the value is 0 and the index means nothing; it is 0
    here).  Both (H_out*W_out, KH*KW*C), from :func:`im2col` of the map of indices
    plus one (0 marks the padding)."""
    h, w, c = in_shape
    numbered = np.arange(1, h * w * c + 1, dtype=np.int64).reshape(1, h, w, c)
    patches = im2col(numbered, kernel, stride, padding)
    rows = patches.reshape(-1, patches.shape[-1])
    zero = rows == 0
    return np.where(zero, 0, rows - 1), zero
