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
4. **inverse real FFT** (:func:`circnn.sim.model.real_fft.real_ifft`):
   ``IFFT(A_i) / 2``, ``ifft_width + 2`` bits;
5. **output stage** (:func:`output_stage`): ``+ bias`` (``bias_width``
   bits), ReLU or none, ``sat(round(. / 2**out_shift))`` to ``act_width``
   bits.

Saturations in steps 3 and 5 are counted (the hardware counts them too).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from circnn.config import EngineConfig, LayerRegisters, MemoryImage
from circnn.errors import ParameterError

from .fixedpoint import int_range, requantize, round_shift
from .real_fft import real_fft, real_ifft

__all__ = ["LayerProgram", "input_spectra", "spectrum_mac", "requantize_spectrum",
           "output_stage", "layer_forward", "LayerTrace", "weight_bank_images", "bias_pairs"]


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
        self.registers().check(eng, name)

    def registers(self, w_base: int = 0, b_base: int = 0) -> LayerRegisters:
        """What the layer core's registers hold for this layer."""
        return LayerRegisters(q=self.q, p=self.p, acc_shift=self.acc_shift,
                              out_shift=self.out_shift, relu=bool(self.relu),
                              out_features=self.out_features or 0, w_base=w_base, b_base=b_base)

    def memory_image(self, eng: EngineConfig) -> MemoryImage:
        """The weight banks and bias memory holding this layer alone (at base 0)."""
        return MemoryImage(tuple(weight_bank_images(self, eng)), bias_pairs(self))


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


def weight_bank_images(prog: LayerProgram, eng: EngineConfig, q: int | None = None):
    """Per-PE (re, im) word lists as the weight banks store a program (base 0).

    PE ``n`` computes output blocks ``g*P + n``; its bank holds, for each
    pass g, the q blocks ``W[g*P + n, j]`` as k/2 packed words each, at
    ``(g*q + j)*k/2 + f``.
    """
    P, N = eng.pes, eng.half
    q = prog.q if q is None else q
    groups = -(-prog.p // P)
    images = []
    for n in range(P):
        re = np.zeros(groups * q * N, dtype=np.int64)
        im = np.zeros_like(re)
        for g in range(groups):
            i = g * P + n
            if i < prog.p:
                sl = slice(g * q * N, (g + 1) * q * N)
                re[sl] = prog.weight_re[i].reshape(-1)
                im[sl] = prog.weight_im[i].reshape(-1)
        images.append((re, im))
    return images


def bias_pairs(prog: LayerProgram) -> np.ndarray:
    """The bias memory's words for a program: ``(b[2n], b[2n+1])`` pairs."""
    return np.asarray(prog.bias, dtype=np.int64).reshape(-1, 2)
