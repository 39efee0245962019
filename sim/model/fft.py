"""Bit-true model of the radix-2 FFT engine (:mod:`circnn.rtl.fft`).

Configuration: :class:`circnn.config.FFTConfig`.

One NumPy function per hardware block, with the same widths, rounding and
scaling, so that the RTL's output stream can be predicted word for word.

The engine (see ``docs/fft.md``):

* radix-2 decimation in frequency, one single-path delay-feedback stage per
  radix-2 level; natural-order input, **bit-reversed output order**;
* input samples of ``width`` bits are sign-extended into an internal width of
  ``width + 1`` bits (one guard bit);
* **scaling schedule**: every butterfly divides by two with the configured
  rounding, so the whole transform computes ``FFT(x) / N``.  With the guard
  bit no intermediate value can overflow, whatever the input (the proof is
  in ``docs/fft.md``);
* twiddles are signed ``twiddle_width``-bit fractions (``T - 1`` fraction
  bits, +1.0 saturated to the largest code); the trivial twiddles 1 and -j
  are applied exactly, without a multiplier;
* a multiplier operand is at most 18 bits (one ECP5 MULT18X18D): when the
  internal width exceeds 18 (``width = 18``) the difference is rounded to 18
  bits before it is multiplied, and the product shift is reduced to match;
* the inverse transform uses the same datapath: ``IFFT(X) =
  swap(FFT(swap(X))) / N`` where ``swap(a + jb) = b + ja`` exchanges the
  real and imaginary parts, so the inverse computes exactly ``IFFT(X)``
  (numpy's convention, with its ``1/N``).

Complex integer vectors are pairs ``(re, im)`` of int64 arrays whose last
axis holds one frame of ``N`` samples.
"""

from __future__ import annotations

import numpy as np

from circnn.config import MAX_OPERAND_BITS, FFTConfig, bit_reverse, twiddle_table

from .fixedpoint import int_range, round_shift, wrap

__all__ = [
    "butterfly", "twiddle_multiply", "fft_stage", "fft", "to_natural_order", "sqnr_db",
    "sqnr_floor_db",
]


def butterfly(a, b, cfg: FFTConfig):
    """``((a + b) / 2, (a - b) / 2)`` rounded, on complex ints ``(re, im)``."""
    r = cfg.rounding
    iw = cfg.internal_width
    s = tuple(wrap(round_shift(x + y, 1, r), iw) for x, y in zip(a, b))
    d = tuple(wrap(round_shift(x - y, 1, r), iw) for x, y in zip(a, b))
    return s, d


def twiddle_multiply(d, index, cfg: FFTConfig):
    """``d * W_N^index`` as the twiddle unit computes it.

    ``index`` is an int array of twiddle indices into the N-point table
    (0..N/2-1).  Index 0 (x1) and N/4 (x -j) are exact; the others use
    the exact complex product of an (at most 18-bit) difference and a T-bit
    twiddle (the RTL forms it from three real products, exactly), rounded
    once per component.
    """
    d_re, d_im = d
    index = np.broadcast_to(np.asarray(index), d_re.shape)
    w_re, w_im = twiddle_table(cfg.points, cfg.twiddle_width)
    wr, wi = w_re[index], w_im[index]
    ms = cfg.mult_shift
    # the multiplier operand register is at most 18 bits (it wraps, as the RTL's does)
    aw = min(cfg.internal_width, MAX_OPERAND_BITS)
    a_re = wrap(round_shift(d_re, ms, cfg.rounding), aw)
    a_im = wrap(round_shift(d_im, ms, cfg.rounding), aw)
    shift = cfg.twiddle_width - 1 - ms
    iw = cfg.internal_width
    p_re = wrap(round_shift(a_re * wr - a_im * wi, shift, cfg.rounding), iw)
    p_im = wrap(round_shift(a_re * wi + a_im * wr, shift, cfg.rounding), iw)
    one = index == 0
    minus_j = index == cfg.points // 4
    out_re = np.where(one, d_re, np.where(minus_j, d_im, p_re))
    out_im = np.where(one, d_im, np.where(minus_j, wrap(-d_re, iw), p_im))
    return out_re, out_im


def fft_stage(x, stage: int, cfg: FFTConfig):
    """One DIF stage on frames in *position* order (the in-place layout).

    Each block of ``2D`` positions holds a sub-transform's input; it becomes
    ``D`` rounded half-sums followed by ``D`` rounded half-differences times
    ``W_{2D}^n``: exactly the order in which the SDF stage emits them.
    """
    re, im = x
    n_frames = re.shape[:-1]
    D = cfg.span(stage)
    shape = (*n_frames, cfg.points // (2 * D), 2, D)
    re, im = re.reshape(shape), im.reshape(shape)
    a = (re[..., 0, :], im[..., 0, :])
    b = (re[..., 1, :], im[..., 1, :])
    s, d = butterfly(a, b, cfg)
    n = np.arange(D) * (cfg.points // (2 * D))
    d = twiddle_multiply(d, n, cfg)
    out_re = np.stack([s[0], d[0]], axis=-2).reshape(*n_frames, cfg.points)
    out_im = np.stack([s[1], d[1]], axis=-2).reshape(*n_frames, cfg.points)
    return out_re, out_im


def fft(x, cfg: FFTConfig, inverse=False):
    """The engine's output stream for input frames ``x = (re, im)``.

    Inputs are ``width``-bit integers, shape (..., N).  Returns ``(re, im)``
    of ``width + 1``-bit integers in stream (bit-reversed) order:
    position p holds bin ``bit_reverse(N)[p]`` of ``FFT(x) / N`` (forward)
    or of ``IFFT(x)`` (inverse).  ``inverse`` may be a bool or one flag per
    frame.
    """
    re = np.asarray(x[0], dtype=np.int64)
    im = np.asarray(x[1], dtype=np.int64)
    if re.shape != im.shape or re.shape[-1] != cfg.points:
        raise ValueError(f"expected frames of {cfg.points} samples, got {re.shape} and {im.shape}")
    lo, hi = int_range(cfg.width)
    if re.size and (re.min() < lo or re.max() > hi or im.min() < lo or im.max() > hi):
        raise ValueError(f"input samples outside the {cfg.width}-bit range [{lo}, {hi}]")
    inv = np.broadcast_to(np.asarray(inverse, dtype=bool)[..., None], re.shape)
    re, im = np.where(inv, im, re), np.where(inv, re, im)
    for s in range(cfg.stages):
        re, im = fft_stage((re, im), s, cfg)
    return np.where(inv, im, re), np.where(inv, re, im)


def to_natural_order(y, points: int):
    """Reorder stream-order frames to natural frequency order."""
    rev = bit_reverse(points)
    out = []
    for a in y:
        nat = np.empty_like(a)
        nat[..., rev] = a
        out.append(nat)
    return tuple(out)


def sqnr_floor_db(points: int, width: int, real: bool = False) -> float:
    """Documented minimum SQNR of the model against ``numpy.fft`` (dB).

    For random full-range inputs: about 6 dB per data bit, minus 3.3 dB per
    radix-2 level (each level's rounding adds noise while the 1/2 scaling
    halves the signal), minus 2 dB for the real-input split.  Measured
    values sit 1.5-4 dB above this floor (``docs/fft.md``).
    """
    levels = points.bit_length() - 1
    return 87.0 + 6.02 * (width - 16) - 3.3 * levels - (2.0 if real else 0.0)


def sqnr_db(measured: np.ndarray, reference: np.ndarray) -> float:
    """Signal-to-quantisation-noise ratio, dB: reference power over error power."""
    err = np.sum(np.abs(measured - reference) ** 2)
    sig = np.sum(np.abs(reference) ** 2)
    return float("inf") if err == 0 else float(10 * np.log10(sig / err))
