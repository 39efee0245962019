"""Configuration of the real-input FFT and its inverse, and the split stage's ROM.

A k-point real transform runs as a k/2-point complex FFT plus a split
(forward) or merge (inverse) stage; see :mod:`circnn.sim.model.real_fft`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .checks import param, validate_fields
from .fft import FFTConfig, twiddle_table
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
                         self.rounding)

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
