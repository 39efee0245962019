"""Layer programs for the RTL and model tests (random float layers through the
compiler, and hand-structured integer programs)."""

import numpy as np

from circnn.compiler import compile_layer, quantize_inputs
from circnn.bundle import Layer
from circnn.sim.model.fixedpoint import int_range
from circnn.config import EngineConfig
from circnn.sim.model.layer import LayerProgram


def random_float_layer(rng, p, q, k, activation="relu", in_features=None, out_features=None):
    w = rng.normal(size=(p, q, k)) * np.sqrt(2.0 / (q * k))
    b = rng.normal(size=p * k) * 0.1
    if out_features is not None:
        b[out_features:] = 0.0
    return Layer(w, b, activation, in_features=in_features, out_features=out_features)


def compiled_case(rng, eng: EngineConfig, p, q, n_vectors, activation="relu",
                  in_features=None, out_features=None):
    layer = random_float_layer(rng, p, q, eng.k, activation, in_features, out_features)
    n_in = layer.n_in
    calib = rng.uniform(-1, 1, size=(64, n_in))
    prog = compile_layer(layer, eng, calibration=calib)
    x = quantize_inputs(rng.uniform(-1, 1, size=(n_vectors, n_in)), prog.in_frac, eng, q)
    return layer, prog, x


def structured_case(rng, eng: EngineConfig, p, q, n_vectors, pattern):
    """Integer programs at the edges: full-scale weights and inputs, saturating shifts."""
    N = eng.half
    lo, hi = int_range(eng.weight_width)
    shape = (p, q, N)
    if pattern == "full_scale":
        w_re = np.full(shape, hi)
        w_im = np.full(shape, lo)
    elif pattern == "alternating":
        sign = np.where(np.arange(N) % 2 == 0, 1, -1)
        w_re = np.broadcast_to(sign * hi, shape).copy()
        w_im = np.broadcast_to(-sign * hi, shape).copy()
    elif pattern == "impulse":
        # W = delta: the circulant identity; spectrum is flat 1.0 (code hi)
        w_re = np.full(shape, hi)
        w_im = np.zeros(shape, dtype=np.int64)
        w_im[..., 0] = hi  # word 0 carries the real bin k/2, also 1.0
    else:
        raise ValueError(pattern)
    blo, bhi = int_range(eng.bias_width)
    bias = rng.integers(blo // 4, bhi // 4, size=p * eng.k)
    a_lo, a_hi = int_range(eng.act_width)
    x = rng.choice(np.array([a_lo, a_hi, 0, a_hi // 2, a_lo // 3]), size=(n_vectors, q * eng.k))
    x[::2] = rng.integers(a_lo, a_hi + 1, size=x[::2].shape)
    # small shifts on purpose: the accumulators and outputs saturate
    prog = LayerProgram(weight_re=w_re, weight_im=w_im, bias=bias,
                        acc_shift=eng.acc_width - eng.ifft_width - 6,
                        out_shift=1, relu=pattern != "impulse")
    prog.check(eng)
    return prog, x
