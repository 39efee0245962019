"""Bit-true model of the real-input FFT (:mod:`circnn.rtl.real_fft`).

A real block of ``k`` samples is transformed as a complex block of ``N = k/2``
samples ``z[n] = x[2n] + j x[2n+1]`` through the complex engine
(:func:`circnn.sim.fft_model.fft`, which gives ``Z / N``), then split
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

from dataclasses import dataclass

import numpy as np

from circnn.params import check_choice, check_int, check_power_of_two

from .fft_model import MAX_MULT_BITS, ROUNDINGS, FFTConfig, fft, to_natural_order, twiddle_table
from .fixedpoint import int_range, round_shift, wrap

__all__ = ["RealFFTConfig", "real_fft", "real_spectrum_post", "post_twiddles",
           "unpack_spectrum", "pack_spectrum"]


@dataclass(frozen=True)
class RealFFTConfig:
    points: int
    width: int = 16
    twiddle_width: int = 16
    rounding: str = "half_up"

    def __post_init__(self):
        check_power_of_two("points", self.points, 4, 512)
        check_int("width", self.width, 8, 18)
        check_int("twiddle_width", self.twiddle_width, 8, 18)
        check_choice("rounding", self.rounding, ROUNDINGS)
        self.core  # validates the twiddle width for the core too

    @property
    def core(self) -> FFTConfig:
        return FFTConfig(self.points // 2, self.width, self.twiddle_width, self.rounding)

    @property
    def half(self) -> int:
        return self.points // 2

    @property
    def internal_width(self) -> int:
        return self.width + 1

    @property
    def output_width(self) -> int:
        return self.width + 1

    @property
    def mult_shift(self) -> int:
        return max(0, self.internal_width - MAX_MULT_BITS)


def post_twiddles(cfg: RealFFTConfig) -> tuple[np.ndarray, np.ndarray]:
    """``V_f = -j W_k^f`` for f = 0..k/2-1, from the k-point twiddle ROM codes."""
    c, s = twiddle_table(cfg.points, cfg.twiddle_width)
    return s.copy(), wrap(-c, cfg.twiddle_width + 1)


def real_spectrum_post(Z, cfg: RealFFTConfig):
    """Split the natural-order ``Z / N`` frames into packed ``X / k`` frames."""
    N, iw, r = cfg.half, cfg.internal_width, cfg.rounding
    z_re, z_im = (np.asarray(a, dtype=np.int64) for a in Z)
    f = np.arange(N)
    mirror = (N - f) % N
    a_re, a_im = z_re, z_im
    b_re, b_im = z_re[..., mirror], wrap(-z_im[..., mirror], iw + 1)
    half = lambda v: wrap(round_shift(v, 1, r), iw)
    e_re, e_im = half(a_re + b_re), half(a_im + b_im)
    o_re, o_im = half(a_re - b_re), half(a_im - b_im)

    v_re, v_im = post_twiddles(cfg)
    ms = cfg.mult_shift
    m_re, m_im = round_shift(o_re, ms, r), round_shift(o_im, ms, r)
    shift = cfg.twiddle_width - 1 - ms
    p_re = wrap(round_shift(m_re * v_re - m_im * v_im, shift, r), iw)
    p_im = wrap(round_shift(m_re * v_im + m_im * v_re, shift, r), iw)
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
