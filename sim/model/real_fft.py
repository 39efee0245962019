"""Bit-true model of the real-input FFT (:mod:`circnn.rtl.real_fft`).

A real block of ``k`` samples is transformed as a complex block of ``N = k/2``
samples ``z[n] = x[2n] + j x[2n+1]`` through the complex engine
(:func:`circnn.sim.model.fft.fft`, which gives ``Z / N``), then split
(:func:`real_spectrum_post`):

    A = Z[f],  B = conj(Z[(N - f) mod N])
    e = (A + B) / 2                 (the even samples' spectrum E[f] / N)
    o = (A - B) / 2                 (j O[f] / N, O the odd samples' spectrum)
    t = o * V_f,  V_f = -j W_k^f    (W_k^f O[f] / N; V_0 = -j, V_{k/4} = -1 exact)
    X[f] / k = (e + t) / 2

each division by two rounded with the configured rounding.  The output is
the **packed real spectrum** in natural order, ``k/2`` words per block:
word 0 carries the two purely real bins, ``(X[0] / k, X[k/2] / k)`` as
``(re, im)``; word f (1 <= f < k/2) carries ``X[f] / k``.  Bins above k/2
are the conjugates of these and are never computed.  Words are
``width + 1`` bits.
"""

from __future__ import annotations

import numpy as np

from circnn.config import (MAX_OPERAND_BITS, REORDER_ORDERS, RealFFTConfig, RealIFFTConfig,
                           bit_reverse, check_choice, check_power_of_two, post_twiddles)

from .fft import fft, sqnr_floor_db, to_natural_order
from .fixedpoint import int_range, round_shift, wrap

__all__ = ["real_fft", "real_spectrum_post", "unpack_spectrum", "pack_spectrum"]


def _pair_sums(s_re, s_im, cfg):
    """The pair stage's first step, for both directions: ``A = S[f]``,
    ``B = conj(S[(N - f) mod N])``, ``e = (A + B) / 2``, ``o = (A - B) / 2``, rounded."""
    N, iw, r = cfg.half, cfg.internal_width, cfg.rounding
    mirror = (N - np.arange(N)) % N
    b_re, b_im = s_re[..., mirror], wrap(-s_im[..., mirror], iw + 1)
    half = lambda v: wrap(round_shift(v, 1, r), iw)
    return half(s_re + b_re), half(s_im + b_im), half(s_re - b_re), half(s_im - b_im)


def _rotate(o_re, o_im, r_re, r_im, cfg):
    """``o * R`` as the pair stage's multiplier computes it: the operand rounded to at
    most 18 bits (a wrapping register), the exact product rounded once."""
    iw, r, ms = cfg.internal_width, cfg.rounding, cfg.mult_shift
    aw = min(iw, MAX_OPERAND_BITS)
    m_re, m_im = wrap(round_shift(o_re, ms, r), aw), wrap(round_shift(o_im, ms, r), aw)
    shift = cfg.twiddle_width - 1 - ms
    return (wrap(round_shift(m_re * r_re - m_im * r_im, shift, r), iw),
            wrap(round_shift(m_re * r_im + m_im * r_re, shift, r), iw))


def real_spectrum_post(Z, cfg: RealFFTConfig):
    """Split the natural-order ``Z / N`` frames into packed ``X / k`` frames."""
    N, iw, r = cfg.half, cfg.internal_width, cfg.rounding
    z_re, z_im = (np.asarray(a, dtype=np.int64) for a in Z)
    f = np.arange(N)
    half = lambda v: wrap(round_shift(v, 1, r), iw)
    e_re, e_im, o_re, o_im = _pair_sums(z_re, z_im, cfg)
    v_re, v_im = post_twiddles(cfg)
    p_re, p_im = _rotate(o_re, o_im, v_re, v_im, cfg)
    is_zero = f == 0            # V_0 = -j
    is_quarter = f == N // 2    # V_{k/4} = -1
    t_re = np.where(is_zero, o_im, np.where(is_quarter, wrap(-o_re, iw), p_re))
    t_im = np.where(is_zero, wrap(-o_re, iw), np.where(is_quarter, wrap(-o_im, iw), p_im))

    x_re = half(e_re + t_re)
    x_im = half(e_im + t_im)
    # word 0 packs the two real bins: X[0] = (E0 + O0), X[k/2] = (E0 - O0)
    x_im[..., 0] = half(e_re[..., 0] - t_re[..., 0])
    return x_re, x_im


def real_fft(x, cfg: RealFFTConfig):
    """Packed ``FFT(x) / k`` of real ``width``-bit blocks ``x`` (shape (..., k))."""
    x = np.asarray(x, dtype=np.int64)
    if x.shape[-1] != cfg.points:
        raise ValueError(f"expected blocks of {cfg.points} samples, got shape {x.shape}")
    lo, hi = int_range(cfg.width)
    if x.size and (x.min() < lo or x.max() > hi):
        raise ValueError(f"input samples outside the {cfg.width}-bit range [{lo}, {hi}]")
    core = cfg.core
    Z = to_natural_order(fft((x[..., 0::2], x[..., 1::2]), core), core.points)
    return real_spectrum_post(Z, cfg)


def unpack_spectrum(packed, points: int) -> np.ndarray:
    """Packed words to the complex bins 0..k/2 (float or int, shape (..., k/2+1))."""
    re, im = (np.asarray(a) for a in packed)
    out = np.zeros((*re.shape[:-1], points // 2 + 1), dtype=complex)
    out[..., 0] = re[..., 0]
    out[..., points // 2] = im[..., 0]
    out[..., 1:points // 2] = re[..., 1:] + 1j * im[..., 1:]
    return out


def pack_spectrum(bins) -> tuple[np.ndarray, np.ndarray]:
    """Complex bins 0..k/2 to packed (re, im) words (the inverse of unpack)."""
    bins = np.asarray(bins)
    k2 = bins.shape[-1] - 1
    re = np.concatenate([bins[..., :1].real, bins[..., 1:k2].real], axis=-1)
    im = np.concatenate([bins[..., k2:].real, bins[..., 1:k2].imag], axis=-1)
    return re, im


# --------------------------------------------------------------------------
# The inverse real transform (:mod:`circnn.rtl.real_ifft`)
# --------------------------------------------------------------------------
#
# A packed real spectrum (``k/2`` words, word 0 = ``(X[0], X[k/2])``, word
# f = ``X[f]``) is merged into the ``k/2``-point complex spectrum of
# ``z[n] = x[2n] + j x[2n+1]`` (:func:`real_spectrum_pre`, the mirror of
# :func:`real_spectrum_post`):
#
#     A = X[f],  B = conj(X[(N - f) mod N])
#     e = (A + B) / 2                   (E[f], the even samples' spectrum)
#     o = (A - B) / 2                   (W_k^f O[f])
#     t = o * conj(V_f) = j O[f]        (conj(V_f) = j W_k^-f; f = N/2: t = -o exact)
#     Z[f] / 2 = (e + t) / 2
#     word 0:  Z[0] / 2 = ((X[0] + X[N]) / 4, (X[0] - X[N]) / 4)
#
# then the complex engine, in inverse mode, computes IFFT_N(Z / 2) =
# (x[2n] + j x[2n+1]) / 2 (bit-reversed order, reordered to natural order).
# So ``real_ifft`` computes ``irfft(X) / 2`` (numpy's scaling, halved).

__all__ += ["real_spectrum_pre", "real_ifft", "reorder_permutation"]


def real_spectrum_pre(packed, cfg: RealIFFTConfig):
    """Merge packed ``width``-bit spectra into natural-order ``Z / 2`` frames.

    ``packed = (re, im)``, shape (..., k/2).  Returns ``(re, im)`` of
    ``width + 1``-bit integers, shape (..., k/2).
    """
    N, iw, r = cfg.half, cfg.internal_width, cfg.rounding
    p_re, p_im = (np.asarray(a, dtype=np.int64) for a in packed)
    if p_re.shape != p_im.shape or p_re.shape[-1] != N:
        raise ValueError(f"expected frames of {N} packed words, got {p_re.shape} and {p_im.shape}")
    lo, hi = int_range(cfg.width)
    if p_re.size and (min(p_re.min(), p_im.min()) < lo or max(p_re.max(), p_im.max()) > hi):
        raise ValueError(f"packed words outside the {cfg.width}-bit range [{lo}, {hi}]")
    f = np.arange(N)
    half = lambda v: wrap(round_shift(v, 1, r), iw)
    e_re, e_im, o_re, o_im = _pair_sums(p_re, p_im, cfg)
    # conj(V_f) = (V_re, -V_im): the k-point ROM's (-sin, cos) codes
    v_re, v_im = post_twiddles(cfg)
    p_re_t, p_im_t = _rotate(o_re, o_im, v_re, wrap(-v_im, cfg.twiddle_width), cfg)
    is_quarter = f == N // 2    # conj(V_{k/4}) = -1
    t_re = np.where(is_quarter, wrap(-o_re, iw), p_re_t)
    t_im = np.where(is_quarter, wrap(-o_im, iw), p_im_t)

    z_re = half(e_re + t_re)
    z_im = half(e_im + t_im)
    # word 0 holds the two real bins: Z[0]/2 = ((X0 + XN)/4, (X0 - XN)/4)
    z_re[..., 0] = wrap(round_shift(p_re[..., 0] + p_im[..., 0], 2, r), iw)
    z_im[..., 0] = wrap(round_shift(p_re[..., 0] - p_im[..., 0], 2, r), iw)
    return z_re, z_im


def real_ifft(packed, cfg: RealIFFTConfig) -> np.ndarray:
    """``irfft(X) / 2`` of packed ``width``-bit spectra, as the hardware computes it.

    Returns an int array of shape (..., k) of ``width + 2``-bit samples in
    natural order: the hardware emits sample pair n as ``(x[2n], x[2n+1])``.
    """
    z = real_spectrum_pre(packed, cfg)
    core = cfg.core
    y_re, y_im = to_natural_order(fft(z, core, inverse=True), core.points)
    out = np.empty((*y_re.shape[:-1], cfg.points), dtype=np.int64)
    out[..., 0::2] = y_re
    out[..., 1::2] = y_im
    return out


def reorder_permutation(depth: int, order: str = "bit_reverse") -> np.ndarray:
    """What a ``FrameReorder`` does to a frame: output word a is input word ``perm[a]``.

    ``bit_reverse`` writes input word p at address ``bit_reverse(p)`` and
    reads addresses in sequence, so ``perm = bit_reverse(depth)`` (an
    involution); ``natural`` is the identity (a plain double buffer).
    """
    check_power_of_two("depth", depth, 2, 1 << 16)
    check_choice("order", order, REORDER_ORDERS)
    return bit_reverse(depth) if order == "bit_reverse" else np.arange(depth)


def real_ifft_sqnr_floor_db(points: int, width: int) -> float:
    """Documented minimum SQNR of :func:`real_ifft` against ``irfft(X) / 2`` (dB).

    For random full-range packed words (a white spectrum), any rounding and
    a twiddle width of at least ``min(width, 16)`` bits:
    :func:`~circnn.sim.model.fft.sqnr_floor_db` of the real transform, less
    1 dB.  Measured values sit 1.4-7.6 dB above it (``docs/fft.md``).
    """
    return sqnr_floor_db(points, width, real=True) - 1.0


__all__ += ["real_ifft_sqnr_floor_db"]
