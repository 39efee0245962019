"""From a float bundle layer to what the circulant engine stores.

For each layer it chooses the fixed-point formats (from calibration inputs
when given, else from weight and bias ranges), quantises the weight spectra
and the bias, derives the two requantisation shifts, and measures the error
the quantisation introduces against the float layer
(``docs/width-plan.md`` explains the bookkeeping).

Scale bookkeeping (``f*`` are fraction bits, i.e. value = code / 2**f):

    x_code  = x * 2**fx
    X_code  = FFT(x_code) / k                              (real FFT engine)
    W_code  = FFT(w) * 2**fw                               (stored)
    acc     = sum_j W_code X_code   ~ S * 2**(fx + fw) / k (S = spectrum of W x)
    A       = acc / 2**acc_shift
    y_pre   = IFFT(A) / 2           ~ (W x) * 2**fy,  fy = fx + fw - acc_shift - 1 - log2 k
    bias    = b * 2**fy
    y_code  = act(y_pre + bias) / 2**out_shift  = y * 2**fo,  out_shift = fy - fo
"""

from __future__ import annotations

import math

import numpy as np

from circnn.bundle import Bundle, Layer
from circnn.config import MAX_LEFT_SHIFT, EngineConfig
from circnn.errors import CircnnError
from circnn.sim.model.fixedpoint import FixedFormat, int_range
from circnn.sim.model.float_network import layer_forward as float_layer_forward
from circnn.sim.model.layer import LayerProgram, input_spectra, layer_forward, spectrum_mac

from .formats import (check_finite, check_frac, dequantize_outputs, error_against_float,
                      frac_for_range, quantize_inputs)

__all__ = ["compile_layer", "compile_network", "measure_error", "pack_weight_spectra"]


def pack_weight_spectra(weight: np.ndarray):
    """(p, q, k) defining vectors -> packed float spectra (re, im), each (p, q, k/2)."""
    k = weight.shape[-1]
    half = k // 2
    spec = np.fft.rfft(weight, axis=-1)
    re = np.concatenate([spec[..., :1].real, spec[..., 1:half].real], axis=-1)
    im = np.concatenate([spec[..., half:half + 1].real, spec[..., 1:half].imag], axis=-1)
    return re, im


def compile_layer(layer: Layer, eng: EngineConfig, *, in_frac: int | None = None,
                  calibration: np.ndarray | None = None, name: str = "layer 0",
                  out_headroom: float = 1.25) -> LayerProgram:
    """Compile one layer for ``eng``; ``calibration`` are float input rows."""
    p, q, k = layer.weight.shape
    if k != eng.k:
        raise CircnnError(f"{name}: block size k={k} does not match the engine's k={eng.k}")
    if q > eng.max_q:
        raise CircnnError(f"{name}: q={q} input blocks exceed the engine's max_q={eng.max_q}")
    if p > eng.max_p:
        raise CircnnError(f"{name}: p={p} output blocks exceed the engine's max_p={eng.max_p}")
    check_finite(f"{name} weight", layer.weight)
    check_finite(f"{name} bias", layer.bias)
    if calibration is not None:
        calibration = np.atleast_2d(np.asarray(calibration, dtype=np.float64))
        check_finite(f"{name} calibration inputs", calibration)
        if calibration.shape[1] != layer.n_in:
            raise CircnnError(f"{name}: calibration rows have {calibration.shape[1]} values, "
                              f"the layer takes {layer.n_in}")

    # input format: given (the previous layer's output) or from the data
    if in_frac is None:
        max_x = float(np.abs(calibration).max()) if calibration is not None else 1.0
        in_frac = frac_for_range(max_x, eng.act_width, f"{name} calibration inputs")

    # weights: the largest packed component sets the format
    w_re, w_im = pack_weight_spectra(layer.weight)
    max_w = float(max(np.abs(w_re).max(), np.abs(w_im).max()))
    w_frac = frac_for_range(max_w, eng.weight_width, f"{name} weight spectra")
    w_fmt = FixedFormat(eng.weight_width, w_frac)
    wq_re, wq_im = w_fmt.quantize(w_re, "half_even"), w_fmt.quantize(w_im, "half_even")

    # accumulator shift: measured on calibration data, else a bound
    if calibration is not None:
        x_codes = quantize_inputs(calibration, in_frac, eng, q, name=f"{name} calibration inputs")
        acc = spectrum_mac(input_spectra(x_codes, eng), wq_re, wq_im)
        max_acc = float(max(np.abs(acc[0]).max(), np.abs(acc[1]).max()))
        max_acc *= 1.5  # headroom for inputs beyond the calibration set
    else:
        x_hi = 1 << (eng.act_width - 1)
        per_block = (np.abs(wq_re) + np.abs(wq_im)).max(axis=2).sum(axis=1)
        max_acc = float(per_block.max()) * x_hi
    ifft_hi = (1 << (eng.ifft_width - 1)) - 1
    acc_shift = max(0, math.ceil(math.log2(max(max_acc, 1) / ifft_hi)))

    log2k = eng.k.bit_length() - 1
    fy = in_frac + w_frac - acc_shift - 1 - log2k
    check_frac(fy, eng.bias_width, f"{name} bias",
               f"the accumulator's scale (input {in_frac} + weight {w_frac} fraction bits)")

    # output format: measured float output range, else weights and bias
    if calibration is not None:
        y_float = float_layer_forward(layer, calibration)
        max_y = float(np.abs(y_float).max()) * out_headroom
    else:
        max_y = float(np.abs(layer.bias).max() + np.abs(layer.weight).sum(axis=(1, 2)).max()
                      * 2.0 ** (eng.act_width - 1 - in_frac))
    out_frac = frac_for_range(max(max_y, 2.0 ** -30), eng.act_width, f"{name} outputs")
    out_shift = fy - out_frac
    if out_shift < -MAX_LEFT_SHIFT:
        out_shift, out_frac = -MAX_LEFT_SHIFT, fy + MAX_LEFT_SHIFT
    lo, hi = eng.out_shift_range
    if out_shift > hi:
        raise CircnnError(
            f"{name}: its outputs (up to {max_y:.3g}) need an output shift of {out_shift}, "
            f"beyond the engine's {lo}..{hi}: the bias (largest {np.abs(layer.bias).max():.3g}) "
            f"and the weights (largest spectrum component {max_w:.3g}) are too far apart in "
            f"scale for a {eng.act_width}-bit datapath")

    bias_fmt = FixedFormat(eng.bias_width, fy)
    b_codes = bias_fmt.quantize(np.pad(layer.bias, (0, p * k - layer.bias.size)), "half_even")
    b_lo, b_hi = int_range(eng.bias_width)
    bias_saturated = int(np.count_nonzero((b_codes == b_lo) | (b_codes == b_hi)))

    prog = LayerProgram(weight_re=wq_re, weight_im=wq_im, bias=b_codes, acc_shift=acc_shift,
                        out_shift=out_shift, relu=(layer.activation == "relu"),
                        in_frac=in_frac, out_frac=out_frac, weight_frac=w_frac,
                        in_features=layer.in_features, out_features=layer.out_features)
    prog.check(eng, name)
    prog.report = {
        "p": p, "q": q, "k": k,
        "input_format": str(FixedFormat(eng.act_width, in_frac)),
        "weight_format": str(w_fmt),
        "accumulator_shift": acc_shift,
        "bias_format": str(bias_fmt),
        "output_format": str(FixedFormat(eng.act_width, out_frac)),
        "output_shift": out_shift,
        "bias_saturated": bias_saturated,
        "formats_from": "calibration" if calibration is not None else "weight and bias ranges",
    }
    if calibration is not None:
        prog.report.update(measure_error(layer, prog, eng, calibration))
    return prog


def measure_error(layer: Layer, prog: LayerProgram, eng: EngineConfig, x: np.ndarray) -> dict:
    """Golden (bit-true) against float on inputs ``x``."""
    ref = float_layer_forward(layer, x)
    codes = quantize_inputs(x, prog.in_frac, eng, prog.q)
    y, tr = layer_forward(codes, prog, eng, trace=True)
    got = dequantize_outputs(y, prog.out_frac, layer.n_out)
    return {**error_against_float(got, ref, prog.out_frac),
            "acc_saturations": tr.acc_saturations, "out_saturations": tr.out_saturations,
            "error_inputs": int(x.shape[0])}


def compile_network(bundle: Bundle, eng: EngineConfig, calibration: np.ndarray | None = None,
                    ) -> list[LayerProgram]:
    """Compile every layer; each layer's input format is the previous one's output format."""
    programs = []
    x = calibration
    in_frac = None
    for i, layer in enumerate(bundle.layers):
        prog = compile_layer(layer, eng, in_frac=in_frac, calibration=x, name=f"layer {i}")
        programs.append(prog)
        in_frac = prog.out_frac
        if x is not None:
            x = float_layer_forward(layer, x)
    return programs
