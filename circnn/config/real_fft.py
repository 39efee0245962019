"""Configuration of the real-input FFT and its inverse, and the split stage's ROM.

A k-point real transform runs as a k/2-point complex FFT plus a split
(forward) or merge (inverse) stage; see :mod:`circnn.sim.model.real_fft`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .checks import param, validate_fields
from .fft import FFTConfig, resolve_twiddle_multiplier, twiddle_multiplier_param, twiddle_table
from .fixedpoint import MAX_OPERAND_BITS, ROUNDINGS

__all__ = ["RealFFTConfig", "RealIFFTConfig", "post_twiddles"]


@dataclass(frozen=True)
class _RealTransformConfig:
    """What the forward and inverse real transforms share: a k-point real
    transform computed by a k/2-point complex engine plus a split/merge stage."""

    points: int = param(16, "real block size k", 4, 512, power_of_two=True)
    width: int = param(16, "input sample width", 8, MAX_OPERAND_BITS)
    twiddle_width: int = param(16, "twiddle width", 8, MAX_OPERAND_BITS)
    rounding: str = param("half_up", "rounding of every scaling step", choices=ROUNDINGS)
    twiddle_multiplier: str = twiddle_multiplier_param()

    #: bits the core's input has beyond ``width``
    CORE_EXTRA = 0
    #: bits the output has beyond ``width``
    OUTPUT_EXTRA = 1

    def __post_init__(self):
        validate_fields(self)
        self.core  # validates the twiddle width for the core too

    @property
    def core(self) -> FFTConfig:
        return FFTConfig(self.points // 2, self.width + self.CORE_EXTRA, self.twiddle_width,
                         self.rounding, self.twiddle_multiplier)

    @property
    def half(self) -> int:
        return self.points // 2

    @property
    def internal_width(self) -> int:
        """Width of the split/merge stage's values (one guard bit)."""
        return self.width + 1

    @property
    def output_width(self) -> int:
        return self.width + self.OUTPUT_EXTRA

    @property
    def mult_shift(self) -> int:
        return max(0, self.internal_width - MAX_OPERAND_BITS)

    @property
    def split_positions(self) -> list[int]:
        """The words f whose rotation the split/merge stage multiplies: every f but 0
        (-j, or word 0's own arithmetic) and k/4 (-1), which are wiring."""
        return [f for f in range(self.half) if f not in (0, self.half // 2)]

    @property
    def split_uses_shift_add(self) -> bool:
        """Whether the split/merge stage rotates with adders (else MULT18X18D).  Its
        constants, ``(-sin, -cos)`` or ``(-sin, cos)`` of ``2 pi f / k``, have the
        magnitudes of :func:`post_twiddles` in either direction."""
        v_re, v_im = post_twiddles(self)
        return resolve_twiddle_multiplier(
            self.twiddle_multiplier, [(v_re[f], v_im[f]) for f in self.split_positions])


@dataclass(frozen=True)
class RealFFTConfig(_RealTransformConfig):
    """Forward: real ``width``-bit blocks to packed ``width + 1``-bit spectra."""

    width: int = param(16, "input sample width (outputs are width+1 bits)", 8, MAX_OPERAND_BITS)


@dataclass(frozen=True)
class RealIFFTConfig(_RealTransformConfig):
    """Inverse real transform: packed ``width``-bit spectra to ``width + 2``-bit samples.

    ``width`` is at most 17 because the core takes the ``width + 1``-bit
    merged spectrum ``Z / 2`` and a complex engine input is at most 18 bits.
    """

    width: int = param(16, "packed spectrum word width (outputs are width+2 bits)", 8,
                       MAX_OPERAND_BITS - 1)

    CORE_EXTRA = 1
    OUTPUT_EXTRA = 2


def post_twiddles(cfg: _RealTransformConfig) -> tuple[np.ndarray, np.ndarray]:
    """``V_f = -j W_k^f`` for f = 0..k/2-1, from the k-point twiddle ROM codes
    (the split stage's rotation ROM; the merge stage uses its conjugate)."""
    c, s = twiddle_table(cfg.points, cfg.twiddle_width)
    return s.copy(), -c      # -c fits twiddle_width + 1 bits
