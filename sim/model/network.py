"""Bit-true model of a whole network on the engine: layers chained through their codes.

Layer i's output codes (``p_i * k`` wide, zero past ``out_features``) are
layer i+1's input codes: the compiler gives layer i+1 the input format that
is layer i's output format.
"""

from __future__ import annotations

import numpy as np

from circnn.config import EngineConfig
from circnn.errors import ParameterError

from .layer import LayerProgram, layer_forward

__all__ = ["network_forward", "check_chain"]


def check_chain(programs: list[LayerProgram], eng: EngineConfig) -> None:
    """Refuse programs whose shapes or formats do not chain, naming the layer."""
    for i, prog in enumerate(programs):
        prog.check(eng, f"layer {i}")
        if i:
            prev = programs[i - 1]
            if prog.q != prev.p:
                raise ParameterError(f"layer {i}: takes q={prog.q} input blocks but layer {i - 1} "
                                     f"produces p={prev.p}")
            if prog.in_frac != prev.out_frac:
                raise ParameterError(f"layer {i}: input format has {prog.in_frac} fraction bits but "
                                     f"layer {i - 1} outputs {prev.out_frac}")


def network_forward(x_codes: np.ndarray, programs: list[LayerProgram], eng: EngineConfig,
                    trace: bool = False):
    """Output codes of the last layer (N, p_last * k); with ``trace`` also each layer's
    :class:`~circnn.sim.model.layer.LayerTrace` (its outputs and saturation counts)."""
    check_chain(programs, eng)
    x = np.asarray(x_codes, dtype=np.int64)
    traces = []
    for prog in programs:
        if trace:
            x, layer_trace = layer_forward(x, prog, eng, trace=True)
            traces.append(layer_trace)
        else:
            x = layer_forward(x, prog, eng)
    return (x, traces) if trace else x
