"""Compiling a convolutional network (bundle format 2) for the engine.

Each ``conv2d`` layer becomes a :class:`~circnn.sim.model.layer.LayerProgram`
of its block-circulant matrix, compiled by
:func:`~circnn.compiler.layer.compile_layer` from the im2col patch rows of
the calibration maps (its formats chosen and reported as for a dense layer);
``maxpool2d`` needs no program (the maximum of codes keeps their format);
each weighted layer's input format is the output format of the weighted
layer before it, so codes chain through the network unchanged.
"""

from __future__ import annotations

import numpy as np

from circnn.bundle import Bundle
from circnn.config import EngineConfig
from circnn.errors import CircnnError
from circnn.sim.model.cnn import ConvStep, DenseStep, PoolStep
from circnn.sim.model.conv import im2col
from circnn.sim.model.float_network import conv_forward, layer_forward, pool_forward

from .layer import compile_layer

__all__ = ["compile_cnn", "MAX_PATCH_ROWS"]

#: calibration patch rows a conv layer's formats are chosen from (evenly spaced when more)
MAX_PATCH_ROWS = 16384


def _spread(rows: np.ndarray, most: int) -> np.ndarray:
    if rows.shape[0] <= most:
        return rows
    return rows[np.linspace(0, rows.shape[0] - 1, most).astype(np.int64)]


def compile_cnn(bundle: Bundle, eng: EngineConfig, calibration: np.ndarray | None) -> list:
    """One step per layer (:class:`ConvStep`, :class:`PoolStep`, :class:`DenseStep`).

    ``calibration``: float input rows (N, n_in), a map's values in (h, w, c)
    order.  Without them a convolutional network cannot be compiled (its
    formats come from the data).
    """
    if calibration is None:
        raise CircnnError("a convolutional network needs calibration rows to choose its "
                          "formats from")
    n = calibration.shape[0]
    x = np.asarray(calibration, dtype=np.float64)
    steps, in_frac = [], None
    for i, layer in enumerate(bundle.layers):
        name = f"layer {i}"
        if layer.kind == "maxpool2d":
            steps.append(PoolStep(layer.in_shape, layer.kernel, layer.stride))
            x = pool_forward(layer, x.reshape(n, *layer.in_shape)).reshape(n, -1)
            continue
        if layer.kind == "conv2d":
            maps = x.reshape(n, *layer.in_shape)
            patches = im2col(maps, layer.kernel, layer.stride, layer.padding)
            rows = _spread(patches.reshape(-1, layer.patch), MAX_PATCH_ROWS)
            prog = compile_layer(layer.rows_layer(), eng, in_frac=in_frac,
                                 calibration=rows, name=name)
            steps.append(ConvStep(prog, layer.in_shape, layer.kernel, layer.stride,
                                  layer.padding, layer.channels_out))
            x = conv_forward(layer, maps, name=name).reshape(n, -1)
        else:
            prog = compile_layer(layer, eng, in_frac=in_frac, calibration=x, name=name)
            steps.append(DenseStep(prog))
            x = layer_forward(layer, x, name=name)
        in_frac = prog.out_frac
    return steps
