"""Float forward pass of a whole bundle: the golden model of the accelerator.

Each layer computes ``act(W x + bias)`` with W block-circulant, using the
frequency-domain product of :func:`circnn.sim.model.circulant.bc_matvec` (the
same dataflow as the hardware, in double precision).  Padding follows the
bundle format: inputs beyond ``in_features`` are zero, outputs beyond
``out_features`` are dropped, and each layer's real outputs are the next
layer's real inputs.
"""

from __future__ import annotations

import numpy as np

from circnn.errors import CircnnError

from circnn.bundle import Bundle, Layer
from .circulant import bc_matvec

__all__ = ["InputError", "layer_forward", "predict"]


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


def predict(bundle: Bundle, x) -> np.ndarray:
    """Run the whole network on ``x`` of shape (N, n_in) or (n_in,).

    Returns (N, n_out) or (n_out,), where ``n_in``/``n_out`` are the real
    widths of the first and last layer.  Every layer's input is checked, so
    a value that overflows to inf inside the network is reported with the
    layer it reached.
    """
    if not isinstance(bundle, Bundle):
        raise TypeError(f"predict expects a Bundle, got {type(bundle).__name__}")
    y = x
    for i, layer in enumerate(bundle.layers):
        y = layer_forward(layer, y, name=f"layer {i}")
    return y
