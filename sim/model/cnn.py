"""Bit-true model of a convolutional network on the engine: what the accelerator will
compute for ``conv2d``, ``maxpool2d`` and ``dense`` layers, chained through codes.

* ``conv2d``: the layer arithmetic of :func:`circnn.sim.model.layer.layer_forward`
  (the same formats, roundings and saturations) applied to every im2col patch
  row of the input map's codes (:func:`circnn.sim.model.conv.im2col`; the
  zero padding is code 0), its first C_out output channels forming the
  output map;
* ``maxpool2d``: the maximum of the quantised codes in each window (the
  format passes through unchanged);
* ``dense``: the layer arithmetic on the codes, a feature map flattened in
  (h, w, c) order and zero-padded to q*k.

Codes travel as rows (N, values): a map (H, W, C) as its H*W*C codes in
(h, w, c) order, a dense layer's output as its p*k codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from circnn.config import EngineConfig
from circnn.errors import ParameterError

from .conv import im2col, maxpool
from .layer import LayerProgram, layer_forward

__all__ = ["ConvStep", "PoolStep", "DenseStep", "cnn_forward", "StepTrace"]


@dataclass
class ConvStep:
    """A compiled ``conv2d`` layer: its program and the geometry of its patches."""

    program: LayerProgram
    in_shape: tuple
    kernel: tuple
    stride: tuple
    padding: tuple
    channels_out: int
    kind = "conv2d"


@dataclass
class PoolStep:
    """A ``maxpool2d`` layer (no program: the codes' format passes through)."""

    in_shape: tuple
    kernel: tuple
    stride: tuple
    kind = "maxpool2d"
    program = None


@dataclass
class DenseStep:
    """A compiled ``dense`` layer."""

    program: LayerProgram
    kind = "dense"


@dataclass
class StepTrace:
    """Saturations of one step in a run (summed over patch rows for a convolution)."""

    acc_saturations: int = 0
    out_saturations: int = 0


def _padded(rows: np.ndarray, width: int, name: str) -> np.ndarray:
    if rows.shape[1] > width:
        raise ParameterError(f"{name}: {rows.shape[1]} input codes, the layer takes at most "
                             f"{width}")
    if rows.shape[1] == width:
        return rows
    out = np.zeros((rows.shape[0], width), dtype=np.int64)
    out[:, :rows.shape[1]] = rows
    return out


def cnn_forward(x_codes: np.ndarray, steps: list, eng: EngineConfig, trace: bool = False):
    """Output codes of the last step as rows (N, values), from input codes (N, values)
    (a map's H*W*C codes, or a dense layer's inputs); with ``trace`` also a
    :class:`StepTrace` per step."""
    x = np.asarray(x_codes, dtype=np.int64)
    n = x.shape[0]
    traces = []
    for i, step in enumerate(steps):
        name = f"layer {i}"
        if step.kind == "maxpool2d":
            x = maxpool(x.reshape(n, *step.in_shape), step.kernel, step.stride).reshape(n, -1)
            traces.append(StepTrace())
            continue
        prog = step.program
        if step.kind == "conv2d":
            patches = im2col(x.reshape(n, *step.in_shape), step.kernel, step.stride,
                             step.padding)
            _, ho, wo, width = patches.shape
            rows = _padded(patches.reshape(n * ho * wo, width), prog.q * eng.k, name)
        else:
            rows = _padded(x, prog.q * eng.k, name)
        y, layer_trace = layer_forward(rows, prog, eng, trace=True)
        traces.append(StepTrace(layer_trace.acc_saturations, layer_trace.out_saturations))
        if step.kind == "conv2d":
            x = y[:, :step.channels_out].reshape(n, ho * wo * step.channels_out)
        else:
            x = y
    return (x, traces) if trace else x
