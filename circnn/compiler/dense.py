"""From a float dense layer to what the dense baseline engine stores.

Formats are chosen as for the circulant engine (:mod:`circnn.compiler.layer`),
with a single rounding step at the output.
"""

from __future__ import annotations

import numpy as np

from circnn.config import MAX_LEFT_SHIFT, DenseConfig
from circnn.errors import CircnnError, ParameterError
from circnn.sim.model.dense import DenseProgram, dense_float_forward, dense_forward
from circnn.sim.model.fixedpoint import FixedFormat, int_range

from .formats import check_finite, check_frac, error_against_float, frac_for_range

__all__ = ["compile_dense", "quantize_dense_inputs", "measure_dense_error"]


def quantize_dense_inputs(x, frac: int, cfg: DenseConfig, n: int | None = None,
                          name: str = "inputs") -> np.ndarray:
    """Float rows (N, n) -> int codes (round half even, saturating)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    check_finite(name, x)
    if n is not None and x.shape[1] != n:
        raise CircnnError(f"{name}: rows have {x.shape[1]} values, the layer takes {n}")
    return FixedFormat(cfg.act_width, frac).quantize(x, "half_even")


def compile_dense(weight, bias, activation: str, cfg: DenseConfig, calibration=None,
                  in_frac: int | None = None, *, name: str = "dense layer",
                  out_headroom: float = 1.25) -> DenseProgram:
    """Quantise a float dense layer ``act(W x + b)`` for the dense engine ``cfg``.

    Formats are chosen as :func:`circnn.compiler.compile_layer` chooses them:
    the input format from ``in_frac`` or the calibration rows' range (else
    [-1, 1]); the weight format so that the largest weight fills
    ``weight_width``; the bias in the accumulator's scale
    (``in_frac + weight_frac``); the output format from the float layer's
    output range on the calibration rows (times ``out_headroom``), else from
    a bound on weights and bias.  With calibration rows the report holds the
    error of the bit-true model against the float layer on them.
    """
    w = np.asarray(weight)
    if w.ndim != 2 or w.dtype.kind not in "fiu" or 0 in w.shape:
        raise ParameterError(f"{name}: weight must be a non-empty real (m, n) matrix, "
                             f"got shape {w.shape}")
    w = w.astype(np.float64)
    m, n = w.shape
    if n > cfg.max_in:
        raise ParameterError(f"{name}: n={n} inputs exceed the engine's max_in={cfg.max_in}")
    if m > cfg.max_out:
        raise ParameterError(f"{name}: m={m} outputs exceed the engine's max_out={cfg.max_out}")
    b = np.asarray(bias, dtype=np.float64)
    if b.shape != (m,):
        raise ParameterError(f"{name}: bias must have m={m} entries, has shape {b.shape}")
    if activation not in ("relu", "none"):
        raise ParameterError(f"{name}: activation must be relu or none, not {activation!r}")
    check_finite(f"{name} weight", w)
    check_finite(f"{name} bias", b)
    if calibration is not None:
        calibration = np.atleast_2d(np.asarray(calibration, dtype=np.float64))
        check_finite(f"{name} calibration inputs", calibration)
        if calibration.shape[1] != n:
            raise CircnnError(f"{name}: calibration rows have {calibration.shape[1]} values, "
                              f"the layer takes {n}")

    if in_frac is None:
        max_x = float(np.abs(calibration).max()) if calibration is not None else 1.0
        in_frac = frac_for_range(max_x, cfg.act_width, f"{name} calibration inputs")

    w_frac = frac_for_range(float(np.abs(w).max()), cfg.weight_width, f"{name} weights")
    w_fmt = FixedFormat(cfg.weight_width, w_frac)
    wq = w_fmt.quantize(w, "half_even")

    fy = in_frac + w_frac                        # the accumulator's scale
    if calibration is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            y_float = dense_float_forward(w, b, activation, calibration)
        check_finite(f"{name} float outputs on the calibration rows", y_float)
        max_y = float(np.abs(y_float).max()) * out_headroom
    else:
        x_max = 2.0 ** (cfg.act_width - 1 - in_frac)
        max_y = float(np.abs(b).max() + np.abs(w).sum(axis=1).max() * x_max)
    check_frac(fy, cfg.bias_width, f"{name} bias",
               f"the accumulator's scale (input {in_frac} + weight {w_frac} fraction bits)")
    out_frac = frac_for_range(max(max_y, 2.0 ** -30), cfg.act_width, f"{name} outputs")
    out_shift = fy - out_frac
    if out_shift < -MAX_LEFT_SHIFT:
        out_shift, out_frac = -MAX_LEFT_SHIFT, fy + MAX_LEFT_SHIFT
    if out_shift > cfg.sum_width - 1:
        out_shift, out_frac = cfg.sum_width - 1, fy - (cfg.sum_width - 1)

    bias_fmt = FixedFormat(cfg.bias_width, fy)
    b_codes = bias_fmt.quantize(b, "half_even")
    b_lo, b_hi = int_range(cfg.bias_width)
    prog = DenseProgram(weight=wq, bias=b_codes, out_shift=out_shift,
                        relu=(activation == "relu"), in_frac=in_frac, out_frac=out_frac,
                        weight_frac=w_frac)
    prog.check(cfg, name)
    prog.report = {
        "m": m, "n": n,
        "input_format": str(FixedFormat(cfg.act_width, in_frac)),
        "weight_format": str(w_fmt),
        "accumulator_shift": 0,
        "bias_format": str(bias_fmt),
        "output_format": str(FixedFormat(cfg.act_width, out_frac)),
        "output_shift": out_shift,
        "output_lsb": 2.0 ** -out_frac,
        "bias_saturated": int(np.count_nonzero((b_codes == b_lo) | (b_codes == b_hi))),
        "formats_from": "calibration" if calibration is not None else "weight and bias ranges",
    }
    if calibration is not None:
        prog.report.update(measure_dense_error(w, b, activation, prog, cfg, calibration))
    return prog


def measure_dense_error(weight, bias, activation: str, prog: DenseProgram, cfg: DenseConfig,
                        x) -> dict:
    """Bit-true dense model against the float layer on rows ``x``."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    ref = dense_float_forward(weight, bias, activation, x)
    y, info = dense_forward(quantize_dense_inputs(x, prog.in_frac, cfg, prog.n), prog, cfg,
                            trace=True)
    return {**error_against_float(y * 2.0 ** -prog.out_frac, ref, prog.out_frac),
            "acc_saturations": 0, "out_saturations": info["out_saturations"],
            "error_inputs": int(x.shape[0])}
