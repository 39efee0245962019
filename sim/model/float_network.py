"""Float forward pass of a whole bundle: the golden model of the accelerator.

Each dense layer computes ``act(W x + bias)`` with W block-circulant, using
the frequency-domain product of :func:`circnn.sim.model.circulant.bc_matvec`
(the same dataflow as the hardware, in double precision: the rfft of each
input block, accumulation over input blocks in the frequency domain, one
irfft per output block).  Padding follows the bundle format: inputs beyond
``in_features`` are zero, outputs beyond ``out_features`` are dropped, and
each layer's real outputs are the next layer's real inputs.  A ``conv2d``
layer is the same product applied to every im2col patch of its channel-last
input map (:func:`circnn.sim.model.conv.im2col`); ``maxpool2d`` takes window
maxima; a dense layer after a feature map reads it flattened in (h, w, c)
order.
"""

from __future__ import annotations

import numpy as np

from circnn.errors import CircnnError

from circnn.bundle import Bundle, Conv2d, Layer, MaxPool2d
from .circulant import bc_matvec
from .conv import im2col, maxpool

__all__ = ["InputError", "layer_forward", "conv_forward", "pool_forward", "predict",
           "network_input"]


class InputError(CircnnError, ValueError):
    """Input data that do not fit the network (wrong width, NaN/inf)."""


def _check_input(x, n_in: int, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise InputError(f"{name} input: expected real numbers, got dtype {arr.dtype}")
    if arr.ndim not in (1, 2):
        raise InputError(f"{name} input: expected shape (N, {n_in}) or ({n_in},), got {arr.shape}")
    if arr.shape[-1] != n_in:
        raise InputError(f"{name} input: expected {n_in} features, got {arr.shape[-1]} (shape {arr.shape})")
    arr = arr.astype(np.float64, copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(f"{name} input: x{list(idx)} is {arr[idx]} (inputs must be finite)")
    return arr


def layer_forward(layer: Layer, x, *, name: str = "layer") -> np.ndarray:
    """One layer: ``act(W pad(x) + bias)[..., :n_out]``.

    ``x`` has shape (N, n_in) or (n_in,), where ``n_in`` is the layer's
    ``in_features`` (or q*k); it is zero-padded to q*k, multiplied by the
    block-circulant W in the frequency domain, biased, passed through the
    activation and cut to ``n_out`` outputs.  The result has the same number
    of dimensions as ``x``.  ``name`` is used in error messages.
    """
    if not isinstance(layer, Layer):
        raise TypeError(f"layer_forward expects a Layer, got {type(layer).__name__}")
    xa = _check_input(x, layer.n_in, name)
    single = xa.ndim == 1
    xb = xa.reshape(-1, layer.n_in)
    width = layer.q * layer.k
    if layer.n_in < width:
        xb = np.concatenate([xb, np.zeros((xb.shape[0], width - layer.n_in))], axis=1)
    with np.errstate(over="ignore", invalid="ignore"):
        y = bc_matvec(layer.weight, xb) + layer.bias
    if layer.activation == "relu":
        y = np.maximum(y, 0.0)
    y = y[:, : layer.n_out]
    if not np.all(np.isfinite(y)):
        row, col = (int(i) for i in np.argwhere(~np.isfinite(y))[0])
        raise InputError(f"{name}: output {col} of row {row} overflows float64 ({y[row, col]}); "
                         f"the inputs or the weights are too large")
    return y[0] if single else y


def conv_forward(layer: Conv2d, x: np.ndarray, *, name: str = "layer") -> np.ndarray:
    """A ``conv2d`` layer on maps (N, H, W, C_in): (N, H_out, W_out, C_out)."""
    patches = im2col(x, layer.kernel, layer.stride, layer.padding)
    n, ho, wo, width = patches.shape
    y = layer_forward(layer.rows_layer(), patches.reshape(n * ho * wo, width), name=name)
    return y.reshape(n, ho, wo, layer.channels_out)


def pool_forward(layer: MaxPool2d, x: np.ndarray) -> np.ndarray:
    """A ``maxpool2d`` layer on maps (N, H, W, C): (N, H_out, W_out, C)."""
    return maxpool(x, layer.kernel, layer.stride)


def network_input(bundle: Bundle, x, *, name: str = "network") -> tuple[np.ndarray, bool]:
    """``x`` as the first layer reads it, and whether it was a single sample.

    A network that starts with a feature map (H, W, C) takes (N, H, W, C) or
    (N, H*W*C) in (h, w, c) order, or one sample (H, W, C) / (H*W*C,); a
    dense one (N, n_in) or (n_in,).  Anything else is an :class:`InputError`
    naming the shapes allowed.
    """
    shape = bundle.in_shape
    if shape is None:
        arr = _check_input(x, bundle.n_in, name)
        return (arr[None, :], True) if arr.ndim == 1 else (arr, False)
    arr = np.asarray(x)
    size = int(np.prod(shape))
    layout = {4: tuple(shape), 3: tuple(shape), 2: (size,), 1: (size,)}.get(arr.ndim)
    if layout is None or arr.shape[arr.ndim - len(layout):] != layout:
        h, w, c = shape
        raise InputError(f"{name} input: the first layer reads a ({h}, {w}, {c}) feature map: "
                         f"expected shape (N, {h}, {w}, {c}), (N, {size}), ({h}, {w}, {c}) or "
                         f"({size},), got {arr.shape}")
    single = arr.ndim in (1, 3)
    flat = _check_input(arr.reshape(-1, size), size, name)
    return flat.reshape(-1, *shape), single


def predict(bundle: Bundle, x) -> np.ndarray:
    """Run the whole network on ``x`` (see :func:`network_input` for its shapes).

    Returns (N, n_out) when the last layer is dense, (N, H, W, C) when it
    writes a feature map; without N for a single sample.  Every layer's
    input is checked, so a value that overflows to inf inside the network
    is reported with the layer it reached.
    """
    if not isinstance(bundle, Bundle):
        raise TypeError(f"predict expects a Bundle, got {type(bundle).__name__}")
    y, single = network_input(bundle, x, name="layer 0")
    for i, layer in enumerate(bundle.layers):
        name = f"layer {i}"
        if layer.kind == "conv2d":
            y = conv_forward(layer, y.reshape(-1, *layer.in_shape), name=name)
        elif layer.kind == "maxpool2d":
            y = pool_forward(layer, y.reshape(-1, *layer.in_shape))
        else:
            y = layer_forward(layer, y.reshape(y.shape[0], int(np.prod(y.shape[1:]))), name=name)
    return y[0] if single else y
