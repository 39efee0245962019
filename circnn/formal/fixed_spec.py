"""The model's fixed-point arithmetic as Amaranth expressions, for the harnesses' specs.

Written from :mod:`circnn.sim.model.fixedpoint` (``round_shift``, ``wrap``),
not from the RTL's :mod:`circnn.rtl.arith`, so that a proof compares the
hardware with the model's definition and not with itself; tested against
the NumPy functions (``tests/test_formal.py``).  Every expression is wide
enough to be exact.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Value, signed

from circnn.config import Rounding

__all__ = ["round_shift", "wrap", "fits", "sign_extend"]


def sign_extend(value, width: int) -> Value:
    value = Value.cast(value)
    if not value.shape().signed:
        value = Cat(value, Const(0, 1)).as_signed()
    return Cat(value, value[-1].replicate(max(0, width - len(value)))).as_signed()


def round_shift(x, shift: int, rounding) -> Value:
    """``x / 2**shift`` rounded as the model's ``round_shift`` (signed, exact)."""
    rounding = Rounding.parse(rounding)
    x = sign_extend(x, len(Value.cast(x)) + 2)
    if shift <= 0:
        return x << -shift
    floor = x >> shift                         # arithmetic: toward minus infinity
    if rounding is Rounding.TRUNCATE:
        return floor
    half = 1 << (shift - 1)
    if rounding is Rounding.HALF_UP:
        return (x + half) >> shift
    rem = x.as_unsigned()[:shift]              # x mod 2**shift
    up = (rem > half) | ((rem == half) & floor[0])
    return floor + Mux(up, 1, 0)


def wrap(x, bits: int) -> Value:
    """The low ``bits`` bits, signed: a register that overflows silently."""
    return Value.cast(x)[:bits].as_signed()


def fits(x, bits: int) -> Value:
    """1 when the signed ``x`` lies in the signed ``bits``-bit range."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    x = Value.cast(x)
    wide = sign_extend(x, max(len(x), bits) + 1)
    return (wide >= Const(lo, signed(bits + 1))) & (wide <= Const(hi, signed(bits + 1)))
