"""The fixed-point vocabulary every layer shares: rounding modes and register ranges.

The NumPy golden models (:mod:`circnn.sim.model.fixedpoint`) and the RTL's
arithmetic (:mod:`circnn.rtl.arith`) both round and saturate with these
definitions.

Rounding modes (for a right shift by ``s`` bits, i.e. division by ``2**s``):

``truncate``
    drop the low bits: ``floor(x / 2**s)`` (two's-complement truncation).
``half_up``
    round to nearest, ties towards +infinity: ``floor(x / 2**s + 1/2)``.
``half_even``
    round to nearest, ties to the even neighbour (convergent rounding).
"""

from __future__ import annotations

import numbers
from enum import Enum

__all__ = ["Rounding", "ROUNDINGS", "int_range", "MAX_MODEL_BITS", "MAX_OPERAND_BITS", "MAX_FRAC"]

#: Largest register width the int64 models accept (products of two 18-bit
#: words plus accumulation headroom stay far below it).
MAX_MODEL_BITS = 62

#: Fraction bits of a fixed-point format are within -MAX_FRAC..MAX_FRAC: a
#: 16-bit format then holds magnitudes from about 2e-15 (all bits below the
#: point) to about 6e23 (the LSB worth 2**64).
MAX_FRAC = 64

#: Widest signed operand of one ECP5 MULT18X18D: every multiplier operand in
#: the datapath is at most this wide, so that a product costs one DSP block.
MAX_OPERAND_BITS = 18


class Rounding(str, Enum):
    TRUNCATE = "truncate"
    HALF_UP = "half_up"
    HALF_EVEN = "half_even"

    @classmethod
    def parse(cls, value: "Rounding | str") -> "Rounding":
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            raise ValueError(f"rounding must be one of {allowed}, not {value!r}") from None


#: The rounding names, as parameters spell them.
ROUNDINGS = tuple(r.value for r in Rounding)


def int_range(bits: int, signed: bool = True) -> tuple[int, int]:
    """Smallest and largest integer a ``bits``-wide register holds."""
    if not isinstance(bits, numbers.Integral) or not 1 <= bits <= MAX_MODEL_BITS:
        raise ValueError(f"bits must be an integer in 1..{MAX_MODEL_BITS}, not {bits!r}")
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1
