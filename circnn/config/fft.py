"""Configuration of the complex FFT engine, and the twiddle ROM it stores.

Shared by the RTL (:mod:`circnn.rtl.fft`) and its bit-true model
(:mod:`circnn.sim.model.fft`); ``docs/fft.md`` explains the widths.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from circnn.errors import ParameterError

from .checks import param, validate_fields
from .fixedpoint import MAX_OPERAND_BITS, ROUNDINGS, int_range

__all__ = ["FFTConfig", "twiddle_table", "bit_reverse", "check_twiddles_representable",
           "REORDER_ORDERS", "TWIDDLE_MULTIPLIERS", "SHIFT_ADD_MAX_MAGNITUDES",
           "stage_twiddles", "nontrivial_magnitudes", "resolve_twiddle_multiplier",
           "twiddle_multiplier_param"]

#: How a frame reorder buffer permutes a frame (``circnn.rtl.reorder``).
REORDER_ORDERS = ("bit_reverse", "natural")

#: How twiddle products are formed (``twiddle_multiplier`` of the FFT configurations):
#: ``dsp``, a ``ComplexMultiplier`` (three MULT18X18D); ``shift_add``, a
#: ``ConstantComplexMultiplier`` (adders only: exact, same latency); ``auto``,
#: ``shift_add`` for a stage whose constants have at most
#: :data:`SHIFT_ADD_MAX_MAGNITUDES` distinct non-trivial magnitudes, ``dsp`` otherwise.
TWIDDLE_MULTIPLIERS = ("auto", "dsp", "shift_add")

#: ``auto``'s limit: with up to 3 magnitudes (the cos/sin of multiples of pi/8:
#: the D = 4 and 8 twiddle stages, the split/merge stage at k <= 16) the adders
#: cost at most ~170 LUT4 per MULT18X18D saved, about what the dense engine
#: spends per multiplier; 7 magnitudes (the D = 16 stage, k = 32's split)
#: cost ~450 (``docs/fft.md``, "Twiddle multipliers").
SHIFT_ADD_MAX_MAGNITUDES = 3


def twiddle_multiplier_param():
    """The ``twiddle_multiplier`` field, declared alike by every FFT configuration."""
    return param("auto", "twiddle products: auto (shift_add where a stage has at most "
                 f"{SHIFT_ADD_MAX_MAGNITUDES} distinct twiddle magnitudes, else dsp), dsp "
                 "(MULT18X18D), shift_add (adders only)", choices=TWIDDLE_MULTIPLIERS)


def nontrivial_magnitudes(codes) -> frozenset[int]:
    """The distinct ``|re|``, ``|im|`` of ``(re, im)`` codes that need adders to multiply
    by: every magnitude but 0 and the powers of two (wiring)."""
    mags = {abs(int(v)) for code in codes for v in code}
    return frozenset(v for v in mags if v & (v - 1))


def resolve_twiddle_multiplier(choice: str, codes) -> bool:
    """True when products by ``codes`` are formed by adders under ``choice``."""
    if choice == "auto":
        return len(nontrivial_magnitudes(codes)) <= SHIFT_ADD_MAX_MAGNITUDES
    return choice == "shift_add"


@dataclass(frozen=True)
class FFTConfig:
    """A radix-2 FFT/IFFT: ``points`` complex samples of ``width`` bits per frame."""

    # 2 points only occur as the core of a 4-point real transform
    points: int = param(16, "transform size N", 2, 256, power_of_two=True)
    width: int = param(16, "input sample width (outputs are width+1 bits)", 8, MAX_OPERAND_BITS)
    twiddle_width: int = param(16, "twiddle width", 8, MAX_OPERAND_BITS)
    rounding: str = param("half_up", "rounding of every scaling step", choices=ROUNDINGS)
    twiddle_multiplier: str = twiddle_multiplier_param()

    def __post_init__(self):
        validate_fields(self)
        check_twiddles_representable(self.points, self.twiddle_width)

    @property
    def stages(self) -> int:
        return self.points.bit_length() - 1

    @property
    def internal_width(self) -> int:
        """Datapath width: the input width plus one guard bit."""
        return self.width + 1

    @property
    def output_width(self) -> int:
        return self.internal_width

    @property
    def mult_shift(self) -> int:
        """Bits rounded off a difference before it enters a multiplier."""
        return max(0, self.internal_width - MAX_OPERAND_BITS)

    def span(self, stage: int) -> int:
        """Butterfly distance D of a stage (N/2, N/4, ..., 1)."""
        return self.points >> (stage + 1)

    def has_multiplier(self, stage: int) -> bool:
        """Stages with D >= 4 need non-trivial twiddles."""
        return self.span(stage) >= 4

    def multiplied_twiddles(self, stage: int) -> dict[int, tuple[int, int]]:
        """``{n: (re, im) code}`` of the differences a stage multiplies: every n but
        0 (twiddle 1) and D/2 (-j), which are wiring."""
        D = self.span(stage)
        codes = stage_twiddles(self, stage)
        return {n: codes[n] for n in range(1, D) if n != D // 2}

    def uses_shift_add(self, stage: int) -> bool:
        """Whether a multiplier stage forms its products with adders (else MULT18X18D)."""
        return self.has_multiplier(stage) and resolve_twiddle_multiplier(
            self.twiddle_multiplier, self.multiplied_twiddles(stage).values())


def stage_twiddles(cfg: FFTConfig, stage: int) -> list[tuple[int, int]]:
    """Twiddles of one stage: ``W_{2D}^n`` for n = 0..D-1, as (re, im) codes."""
    D = cfg.span(stage)
    re, im = twiddle_table(cfg.points, cfg.twiddle_width)
    step = cfg.points // (2 * D)
    return [(int(re[n * step]), int(im[n * step])) for n in range(D)]


def check_twiddles_representable(points: int, twiddle_width: int) -> None:
    """Refuse a twiddle width whose quantised twiddles are not all distinct.

    A width at which two different roots of unity round to the same code
    cannot represent the transform's twiddles.
    """
    re, im = twiddle_table(points, twiddle_width)
    codes = set(zip(re.tolist(), im.tolist()))
    if len(codes) != len(re):
        raise ParameterError(
            f"twiddle_width {twiddle_width} cannot represent the {points}-point twiddles "
            f"(distinct roots of unity round to the same code); use a wider twiddle_width")


@lru_cache(maxsize=None)
def _twiddle_table(points: int, twiddle_width: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    n = np.arange(points // 2)
    scale = float(1 << (twiddle_width - 1))
    lo, hi = int_range(twiddle_width)
    re = np.clip(np.round(np.cos(2 * np.pi * n / points) * scale), lo, hi).astype(np.int64)
    im = np.clip(np.round(-np.sin(2 * np.pi * n / points) * scale), lo, hi).astype(np.int64)
    return tuple(re.tolist()), tuple(im.tolist())


def twiddle_table(points: int, twiddle_width: int) -> tuple[np.ndarray, np.ndarray]:
    """Quantised ``W_N^n = exp(-2 pi j n / N)`` for n = 0..N/2-1 (the twiddle ROM).

    Codes are ``round(value * 2**(T-1))`` (ties to even), saturated to the
    ``T``-bit range so that +1.0 becomes ``2**(T-1) - 1``.
    """
    re, im = _twiddle_table(points, twiddle_width)
    return np.array(re, dtype=np.int64), np.array(im, dtype=np.int64)


def bit_reverse(points: int) -> np.ndarray:
    """``bit_reverse(N)[p]`` is the frequency index of output position p."""
    bits = points.bit_length() - 1
    idx = np.arange(points)
    rev = np.zeros_like(idx)
    for b in range(bits):
        rev |= ((idx >> b) & 1) << (bits - 1 - b)
    return rev
