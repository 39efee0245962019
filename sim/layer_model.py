"""Bit-true model of one block-circulant layer on the circnn engine.

``y = act(W x + b)`` as the hardware computes it (``docs/width-plan.md``):

1. **input spectra** (:func:`input_spectra`): each input block ``x_j`` (``k``
   samples of ``act_width`` bits) goes once through the real-input FFT:
   ``X_j = FFT(x_j) / k``, packed, ``act_width + 1`` bits;
2. **spectrum MAC** (:func:`spectrum_mac`), one circulant PE per output
   block: ``acc_i = sum_j Wq_ij (.) X_j`` over the packed words, exact
   integers (``acc_width`` bits): word 0 is two real products
   ``(X0 * W0, XN * WN)``, the other words complex products;
3. **accumulator requantisation** (:func:`requantize_spectrum`):
   ``A_i = sat(round(acc_i / 2**acc_shift))`` to ``ifft_width`` bits;
4. **inverse real FFT** (:func:`circnn.sim.real_fft_model.real_ifft`):
   ``IFFT(A_i) / 2``, ``ifft_width + 2`` bits;
5. **output stage** (:func:`output_stage`): ``+ bias`` (``bias_width``
   bits), ReLU or none, ``sat(round(. / 2**out_shift))`` to ``act_width``
   bits.

Saturations in steps 3 and 5 are counted (the hardware counts them too).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from circnn.errors import ParameterError
from circnn.params import check_choice, check_int, check_power_of_two

from .fft_model import ROUNDINGS
from .fixedpoint import int_range, requantize, round_shift
from .real_fft_model import RealFFTConfig, RealIFFTConfig, real_fft, real_ifft

__all__ = ["EngineConfig", "LayerProgram", "input_spectra", "spectrum_mac",
           "requantize_spectrum", "output_stage", "layer_forward", "LayerTrace"]


@dataclass(frozen=True)
class EngineConfig:
    """What is fixed when the engine is elaborated.

    ``max_q`` / ``max_p`` bound the layers it can run (they size the
    spectrum, weight and bias memories); ``pes`` output blocks are computed
    at once; ``batch`` input vectors share every weight read.
    """

    k: int = 16
    act_width: int = 16
    weight_width: int = 16
    ifft_width: int = 16
    twiddle_width: int = 16
    rounding: str = "half_up"
    pes: int = 4
    batch: int = 1
    max_q: int = 16
    max_p: int = 16
    #: words per PE weight bank and bias pairs (0: just enough for one
    #: max_q x max_p layer); a network engine holds every layer's weights
    weight_depth: int = 0
    bias_depth: int = 0

    def __post_init__(self):
        check_power_of_two("k", self.k, 4, 256)
        check_int("act_width", self.act_width, 8, 17)
        check_int("weight_width", self.weight_width, 4, 18)
        check_int("ifft_width", self.ifft_width, 8, 17)
        check_int("twiddle_width", self.twiddle_width, 8, 18)
        check_choice("rounding", self.rounding, ROUNDINGS)
        check_int("pes", self.pes, 1, 64)
        check_int("batch", self.batch, 1, 64)
        check_int("max_q", self.max_q, 1, 4096)
        check_int("max_p", self.max_p, 1, 4096)
        check_int("weight_depth", self.weight_depth, 0, 1 << 20)
        check_int("bias_depth", self.bias_depth, 0, 1 << 20)
        self.fft_config
        self.ifft_config

    # --- the width plan --------------------------------------------------
    @property
    def half(self) -> int:
        """Packed spectrum words per block (k/2)."""
        return self.k // 2

    @property
    def spectrum_width(self) -> int:
        return self.act_width + 1

    @property
    def product_width(self) -> int:
        return self.spectrum_width + self.weight_width + 1

    @property
    def acc_width(self) -> int:
        return self.product_width + max(1, (self.max_q - 1).bit_length())

    @property
    def ifft_out_width(self) -> int:
        return self.ifft_width + 2

    @property
    def bias_width(self) -> int:
        return self.ifft_width + 4

    @property
    def sum_width(self) -> int:
        return max(self.ifft_out_width, self.bias_width) + 1

    @property
    def groups(self) -> int:
        """PE passes for the largest layer: ceil(max_p / pes)."""
        return -(-self.max_p // self.pes)

    @property
    def weight_words(self) -> int:
        """Words in each PE's weight bank."""
        return self.weight_depth or self.groups * self.max_q * self.half

    @property
    def bias_words(self) -> int:
        """Bias pairs in the bias memory."""
        return self.bias_depth or self.max_p * self.half

    @property
    def fft_config(self) -> RealFFTConfig:
        return RealFFTConfig(self.k, self.act_width, self.twiddle_width, self.rounding)

    @property
    def ifft_config(self) -> RealIFFTConfig:
        return RealIFFTConfig(self.k, self.ifft_width, self.twiddle_width, self.rounding)

    def width_plan(self) -> dict[str, int]:
        return {
            "input": self.act_width, "spectrum": self.spectrum_width,
            "weight": self.weight_width, "product": self.product_width,
            "accumulator": self.acc_width, "ifft_in": self.ifft_width,
            "ifft_out": self.ifft_out_width, "bias": self.bias_width,
            "output": self.act_width,
        }

    def to_dict(self) -> dict:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


@dataclass
class LayerProgram:
    """What the hardware stores and is told for one layer.

    ``weight_re`` / ``weight_im``: (p, q, k/2) packed weight spectra
    (word 0 = the real bins 0 and k/2); ``bias``: (p*k,) ints;
    ``acc_shift`` / ``out_shift``: requantisation shifts; ``relu``.
    Formats (``fractions``) are bookkeeping for the compiler and the
    dequantisation of outputs.
    """

    weight_re: np.ndarray
    weight_im: np.ndarray
    bias: np.ndarray
    acc_shift: int
    out_shift: int
    relu: bool
    in_frac: int = 0
    out_frac: int = 0
    weight_frac: int = 0
    in_features: int | None = None
    out_features: int | None = None
    report: dict = field(default_factory=dict)

    @property
    def p(self) -> int:
        return self.weight_re.shape[0]

    @property
    def q(self) -> int:
        return self.weight_re.shape[1]

    def check(self, eng: EngineConfig, name: str = "layer") -> None:
        """Refuse a program the engine cannot run, naming the offending value."""
        if self.weight_re.shape != self.weight_im.shape or self.weight_re.ndim != 3:
            raise ParameterError(f"{name}: weight spectra must be two (p, q, k/2) arrays")
        p, q, half = self.weight_re.shape
        if half != eng.half:
            raise ParameterError(f"{name}: block size k={2 * half} does not match the engine's k={eng.k}")
        if not 1 <= q <= eng.max_q:
            raise ParameterError(f"{name}: q={q} input blocks exceed the engine's max_q={eng.max_q}")
        if not 1 <= p <= eng.max_p:
            raise ParameterError(f"{name}: p={p} output blocks exceed the engine's max_p={eng.max_p}")
        lo, hi = int_range(eng.weight_width)
        for part in (self.weight_re, self.weight_im):
            if part.min() < lo or part.max() > hi:
                raise ParameterError(f"{name}: weight codes outside {eng.weight_width} bits")
        blo, bhi = int_range(eng.bias_width)
        if self.bias.shape != (p * eng.k,):
            raise ParameterError(f"{name}: bias must have p*k={p * eng.k} entries, has {self.bias.shape}")
        if self.bias.min() < blo or self.bias.max() > bhi:
            raise ParameterError(f"{name}: bias codes outside {eng.bias_width} bits")
        if not 0 <= self.acc_shift <= eng.acc_width - 1:
            raise ParameterError(f"{name}: acc_shift={self.acc_shift} outside 0..{eng.acc_width - 1}")
        if not -8 <= self.out_shift <= eng.sum_width - 1:
            raise ParameterError(f"{name}: out_shift={self.out_shift} outside -8..{eng.sum_width - 1}")


@dataclass
class LayerTrace:
    """Intermediate values of one layer run (for tests and reports)."""

    spectra: tuple
    acc: tuple
    ifft_in: tuple
    ifft_out: np.ndarray
    output: np.ndarray
    acc_saturations: int
    out_saturations: int


def input_spectra(x: np.ndarray, eng: EngineConfig):
    """(N, q*k) activations -> packed spectra (re, im), each (N, q, k/2)."""
    n, width = x.shape
    q = width // eng.k
    return real_fft(x.reshape(n, q, eng.k), eng.fft_config)


def spectrum_mac(spectra, weight_re, weight_im):
    """``acc[n, i, f] = sum_j W[i, j, f] (.) X[n, j, f]`` exactly (packed word 0 rule)."""
    x_re, x_im = (np.asarray(a, dtype=np.int64) for a in spectra)
    w_re, w_im = (np.asarray(a, dtype=np.int64) for a in (weight_re, weight_im))
    # complex product on every word ...
    rr = np.einsum("ijf,njf->nif", w_re, x_re)
    ii = np.einsum("ijf,njf->nif", w_im, x_im)
    ri = np.einsum("ijf,njf->nif", w_im, x_re)
    ir = np.einsum("ijf,njf->nif", w_re, x_im)
    acc_re = rr - ii
    acc_im = ri + ir
    # ... but word 0 holds two real bins: (X0 * W0, XN * WN)
    acc_re[..., 0] = rr[..., 0]
    acc_im[..., 0] = ii[..., 0]
    return acc_re, acc_im


def requantize_spectrum(acc, acc_shift: int, eng: EngineConfig):
    """Accumulators to the IFFT's input width; returns ((re, im), saturated count)."""
    out, sat = [], 0
    for a in acc:
        r = round_shift(a, acc_shift, eng.rounding)
        q = requantize(a, acc_shift, eng.ifft_width, eng.rounding)
        sat += int(np.count_nonzero(q != r))
        out.append(q)
    return tuple(out), sat


def output_stage(ifft_out: np.ndarray, bias: np.ndarray, relu: bool, out_shift: int,
                 eng: EngineConfig):
    """``sat(round((ifft_out + bias) [ReLU] / 2**out_shift))``; returns (y, saturated count)."""
    y = ifft_out + bias
    if relu:
        y = np.maximum(y, 0)
    r = round_shift(y, out_shift, eng.rounding)
    q = requantize(y, out_shift, eng.act_width, eng.rounding)
    return q, int(np.count_nonzero(q != r))


def layer_forward(x_int: np.ndarray, prog: LayerProgram, eng: EngineConfig,
                  trace: bool = False):
    """The layer's integer outputs (N, p*k) for integer inputs (N, q*k)."""
    x_int = np.asarray(x_int, dtype=np.int64)
    if x_int.ndim != 2 or x_int.shape[1] != prog.q * eng.k:
        raise ValueError(f"expected inputs of shape (N, {prog.q * eng.k}), got {x_int.shape}")
    lo, hi = int_range(eng.act_width)
    if x_int.size and (x_int.min() < lo or x_int.max() > hi):
        raise ValueError(f"input codes outside the {eng.act_width}-bit range")
    n = x_int.shape[0]
    spectra = input_spectra(x_int, eng)
    acc = spectrum_mac(spectra, prog.weight_re, prog.weight_im)
    a, acc_sat = requantize_spectrum(acc, prog.acc_shift, eng)
    xo = real_ifft(a, eng.ifft_config).reshape(n, prog.p * eng.k)
    y, out_sat = output_stage(xo, prog.bias, prog.relu, prog.out_shift, eng)
    if prog.out_features is not None:
        # outputs past the layer's real width are zero, as the next layer's
        # zero padding expects (the hardware masks them the same way)
        y[:, prog.out_features:] = 0
    if trace:
        return y, LayerTrace(spectra, acc, a, xo, y, acc_sat, out_sat)
    return y
