"""Bit-true model of the dense baseline engine (``circnn.rtl.dense.DenseLayer``).

The engine a user would build without the circulant structure: M
multipliers, each owning a bank of weight rows, compute ``y = act(W x + b)``
for a dense (m, n) matrix, M rows at a time, one input element per clock.
It exists to be compared with the circulant engine on the same function
(``docs/architecture.md``, "The dense baseline").

Width plan (``DenseConfig``):

| point | width | rule |
| --- | --- | --- |
| input activation ``x`` | ``act_width`` | code of ``x * 2**fx`` |
| weight ``W`` | ``weight_width`` (<= 18) | code of ``w * 2**fw`` |
| product | ``act_width + weight_width`` | one MULT18X18D, exact |
| accumulator | ``product + ceil(log2 max_in)`` | exact sum over n: cannot overflow |
| bias | accumulator width | code of ``b * 2**(fx + fw)``, in the accumulator's scale |
| sum | accumulator + 1 | ``acc + bias``, then ReLU |
| output ``y`` | ``act_width`` | ``sat(round(sum / 2**out_shift))``, saturations counted |

There is a single rounding step (the output), so the engine's only error
sources are the quantisation of inputs, weights, bias and output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from circnn.errors import CircnnError, ParameterError
from circnn.params import check_choice, check_int, check_power_of_two

from .fft_model import ROUNDINGS
from .fixedpoint import FixedFormat, int_range, requantize, round_shift

__all__ = ["DenseConfig", "DenseProgram", "dense_forward", "dense_float_forward", "compile_dense",
           "quantize_dense_inputs", "measure_dense_error", "ideal_dense_cycles_per_row",
           "save_dense_program", "load_dense_program", "MAX_LEFT_SHIFT"]

#: ``out_shift`` may be as low as ``-MAX_LEFT_SHIFT`` (a left shift), as in the circulant engine.
MAX_LEFT_SHIFT = 8
#: Largest ``max_in`` / ``max_out``.
MAX_FEATURES = 16384


def _ceil_log2(n: int) -> int:
    return (n - 1).bit_length()


@dataclass(frozen=True)
class DenseConfig:
    """What is fixed when the dense engine is elaborated.

    ``mults`` multipliers compute ``mults`` output rows at a time; ``batch``
    input vectors share every weight read (batch innermost); ``max_in`` /
    ``max_out`` bound the layers it runs (they size the activation, weight,
    bias and output memories); ``k`` only groups the outputs into blocks of
    k (k/2 pairs) on the output stream, as the circulant engine emits them.
    """

    act_width: int = 16
    weight_width: int = 16
    rounding: str = "half_up"
    mults: int = 4
    batch: int = 1
    max_in: int = 256
    max_out: int = 256
    k: int = 16

    def __post_init__(self):
        check_int("act_width", self.act_width, 8, 17)
        check_int("weight_width", self.weight_width, 4, 18)
        check_choice("rounding", self.rounding, ROUNDINGS)
        check_int("mults", self.mults, 1, 64)
        check_int("batch", self.batch, 1, 64)
        check_int("max_in", self.max_in, 1, MAX_FEATURES)
        check_int("max_out", self.max_out, 1, MAX_FEATURES)
        check_power_of_two("k", self.k, 2, 256)

    # --- the width plan --------------------------------------------------
    @property
    def product_width(self) -> int:
        return self.act_width + self.weight_width

    @property
    def acc_width(self) -> int:
        return self.product_width + _ceil_log2(self.max_in)

    @property
    def bias_width(self) -> int:
        return self.acc_width

    @property
    def sum_width(self) -> int:
        return self.acc_width + 1

    # --- memory geometry ---------------------------------------------------
    @property
    def half(self) -> int:
        """Output pairs per block (k/2)."""
        return self.k // 2

    @property
    def groups(self) -> int:
        """Passes for the largest layer: ceil(max_out / mults)."""
        return -(-self.max_out // self.mults)

    @property
    def max_p(self) -> int:
        """Output blocks of k for the largest layer (the output stream's ``block`` range)."""
        return -(-self.max_out // self.k)

    @property
    def in_pairs(self) -> int:
        """Input pairs per vector for the largest layer: ceil(max_in / 2)."""
        return -(-self.max_in // 2)

    def width_plan(self) -> dict[str, int]:
        return {"input": self.act_width, "weight": self.weight_width,
                "product": self.product_width, "accumulator": self.acc_width,
                "bias": self.bias_width, "sum": self.sum_width, "output": self.act_width}

    def to_dict(self) -> dict:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


@dataclass
class DenseProgram:
    """What the dense engine stores and is told for one layer.

    ``weight``: (m, n) int codes; ``bias``: (m,) int codes in the
    accumulator's scale (fraction ``in_frac + weight_frac``); ``out_shift``
    and ``relu``.  Formats are bookkeeping for the compiler.
    """

    weight: np.ndarray
    bias: np.ndarray
    out_shift: int
    relu: bool
    in_frac: int = 0
    out_frac: int = 0
    weight_frac: int = 0
    report: dict = field(default_factory=dict)

    @property
    def m(self) -> int:
        return int(self.weight.shape[0])

    @property
    def n(self) -> int:
        return int(self.weight.shape[1])

    def check(self, cfg: DenseConfig, name: str = "dense layer") -> None:
        """Refuse a program the engine cannot run, naming the offending value."""
        w = np.asarray(self.weight)
        if w.ndim != 2 or w.dtype.kind not in "iu":
            raise ParameterError(f"{name}: weight must be a 2-D integer array (m, n), "
                                 f"got shape {w.shape} dtype {w.dtype}")
        m, n = w.shape
        if not 1 <= n <= cfg.max_in:
            raise ParameterError(f"{name}: n={n} inputs exceed the engine's max_in={cfg.max_in}")
        if not 1 <= m <= cfg.max_out:
            raise ParameterError(f"{name}: m={m} outputs exceed the engine's max_out={cfg.max_out}")
        lo, hi = int_range(cfg.weight_width)
        if w.min() < lo or w.max() > hi:
            raise ParameterError(f"{name}: weight codes outside {cfg.weight_width} bits")
        b = np.asarray(self.bias)
        if b.shape != (m,) or b.dtype.kind not in "iu":
            raise ParameterError(f"{name}: bias must be m={m} integer codes, has shape {b.shape}")
        blo, bhi = int_range(cfg.bias_width)
        if b.min() < blo or b.max() > bhi:
            raise ParameterError(f"{name}: bias codes outside {cfg.bias_width} bits")
        if not -MAX_LEFT_SHIFT <= self.out_shift <= cfg.sum_width - 1:
            raise ParameterError(f"{name}: out_shift={self.out_shift} outside "
                                 f"-{MAX_LEFT_SHIFT}..{cfg.sum_width - 1}")


def ideal_dense_cycles_per_row(cfg: DenseConfig, prog: DenseProgram) -> int:
    """MAC-bound clocks per input vector: ``ceil(m/M) * n``."""
    return -(-prog.m // cfg.mults) * prog.n


def dense_forward(x_codes, prog: DenseProgram, cfg: DenseConfig, trace: bool = False):
    """The engine's integer outputs (N, m) for integer inputs (N, n).

    ``acc = W x`` exactly; ``y = sat(round((acc + bias) [ReLU] / 2**out_shift))``
    to ``act_width`` bits.  With ``trace``, returns ``(y, info)`` where
    ``info`` holds the accumulators and the count of saturated outputs.
    """
    x = np.asarray(x_codes)
    if x.dtype.kind not in "iu":
        raise ValueError(f"expected integer input codes, got dtype {x.dtype}")
    x = x.astype(np.int64)
    if x.ndim != 2 or x.shape[1] != prog.n:
        raise ValueError(f"expected inputs of shape (N, {prog.n}), got {x.shape}")
    lo, hi = int_range(cfg.act_width)
    if x.size and (x.min() < lo or x.max() > hi):
        raise ValueError(f"input codes outside the {cfg.act_width}-bit range")
    w = np.asarray(prog.weight, dtype=np.int64)
    acc = x @ w.T                              # exact: int64 matmul, |acc| < 2**acc_width
    s = acc + np.asarray(prog.bias, dtype=np.int64)
    if prog.relu:
        s = np.maximum(s, 0)
    r = round_shift(s, prog.out_shift, cfg.rounding)
    y = requantize(s, prog.out_shift, cfg.act_width, cfg.rounding)
    if trace:
        return y, {"acc": acc, "sum": s, "out_saturations": int(np.count_nonzero(y != r))}
    return y


def dense_float_forward(weight, bias, activation: str, x) -> np.ndarray:
    """The float layer ``act(W x + b)`` for rows ``x`` (N, n)."""
    y = np.atleast_2d(np.asarray(x, dtype=np.float64)) @ np.asarray(weight, dtype=np.float64).T
    y = y + np.asarray(bias, dtype=np.float64)
    return np.maximum(y, 0.0) if activation == "relu" else y


def _frac_for_range(max_abs: float, bits: int) -> int:
    from circnn.compiler import frac_for_range
    return frac_for_range(max_abs, bits)


def quantize_dense_inputs(x, frac: int, cfg: DenseConfig, n: int | None = None,
                          name: str = "inputs") -> np.ndarray:
    """Float rows (N, n) -> int codes (round half even, saturating)."""
    from circnn.compiler import check_finite
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
    from circnn.compiler import check_finite
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
        in_frac = _frac_for_range(max_x, cfg.act_width)

    w_frac = _frac_for_range(float(np.abs(w).max()), cfg.weight_width)
    w_fmt = FixedFormat(cfg.weight_width, w_frac)
    wq = w_fmt.quantize(w, "half_even")

    fy = in_frac + w_frac                        # the accumulator's scale
    if calibration is not None:
        max_y = float(np.abs(dense_float_forward(w, b, activation, calibration)).max()) * out_headroom
    else:
        x_max = 2.0 ** (cfg.act_width - 1 - in_frac)
        max_y = float(np.abs(b).max() + np.abs(w).sum(axis=1).max() * x_max)
    out_frac = _frac_for_range(max(max_y, 2.0 ** -30), cfg.act_width)
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
    err = y * 2.0 ** -prog.out_frac - ref
    scale = float(np.sqrt(np.mean(ref ** 2))) or 1.0
    return {
        "rms_error": float(np.sqrt(np.mean(err ** 2))),
        "relative_rms_error": float(np.sqrt(np.mean(err ** 2)) / scale),
        "max_abs_error": float(np.abs(err).max()),
        "output_lsb": 2.0 ** -prog.out_frac,
        "acc_saturations": 0,
        "out_saturations": info["out_saturations"],
        "error_inputs": int(x.shape[0]),
    }


# --- files for the cocotb bench ----------------------------------------------

def save_dense_program(path, cfg: DenseConfig, prog: DenseProgram, **arrays) -> None:
    meta = dict(out_shift=int(prog.out_shift), relu=bool(prog.relu), in_frac=int(prog.in_frac),
                out_frac=int(prog.out_frac), weight_frac=int(prog.weight_frac))
    np.savez(path, weight=np.asarray(prog.weight, dtype=np.int64),
             bias=np.asarray(prog.bias, dtype=np.int64), meta=json.dumps(meta),
             config=json.dumps(cfg.to_dict()), **arrays)


def load_dense_program(path):
    """Returns (config, program, other arrays)."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        cfg = DenseConfig(**json.loads(str(z["config"])))
        prog = DenseProgram(weight=z["weight"], bias=z["bias"], **meta)
        rest = {k: z[k] for k in z.files if k not in ("weight", "bias", "meta", "config")}
    return cfg, prog, rest

