"""Fixed-point arithmetic expressions, the RTL twins of :mod:`circnn.sim.fixedpoint`.

Each function builds a combinational Amaranth expression that computes the
same integers as the NumPy function of the same name, so that a component
made of them and a model made of the NumPy twins agree bit for bit.
"""

from amaranth.hdl import Cat, Const, Mux, Value

from ..sim.fixedpoint import Rounding, int_range

__all__ = ["round_shift", "saturate", "requantize", "saturates"]


def round_shift(value: Value, shift: int, rounding) -> Value:
    """``value / 2**shift`` rounded as :func:`circnn.sim.fixedpoint.round_shift`.

    The result is signed and wide enough never to overflow (the rounding
    increment can carry into one more bit than the plain shift leaves).
    """
    rounding = Rounding.parse(rounding)
    value = Value.cast(value)
    if not value.shape().signed:
        # Zero-extend so that the arithmetic below is signed throughout.
        value = Cat(value, Const(0, 1)).as_signed()
    if shift < 0:
        return value << (-shift)
    if shift == 0:
        return value
    q = value >> shift
    if rounding is Rounding.TRUNCATE:
        return q
    if rounding is Rounding.HALF_UP:
        # Adding half an output LSB before the floor rounds ties upwards.
        return (value + (1 << (shift - 1))) >> shift
    rem = value[:shift]
    half = 1 << (shift - 1)
    inc = (rem > half) | ((rem == half) & q[0])
    return q + inc


def saturates(value: Value, bits: int) -> Value:
    """1 when ``value`` lies outside a signed ``bits``-wide register."""
    lo, hi = int_range(bits, True)
    value = Value.cast(value)
    return (value > hi) | (value < lo)


def saturate(value: Value, bits: int) -> Value:
    """Clamp a signed value into a signed ``bits``-wide register."""
    lo, hi = int_range(bits, True)
    value = Value.cast(value)
    if value.shape().signed and value.shape().width <= bits:
        return value
    clamped = Mux(value > hi, hi, Mux(value < lo, lo, value))
    return clamped[:bits].as_signed()


def requantize(value: Value, shift: int, out_bits: int, rounding) -> Value:
    """Round-shift then saturate into ``out_bits``, as the NumPy ``requantize``."""
    return saturate(round_shift(value, shift, rounding), out_bits)


def round_shift_var(value: Value, shift: Value, rounding, max_left: int = 0) -> Value:
    """``value / 2**shift`` for a *runtime* shift amount, rounded like :func:`round_shift`.

    ``shift`` is a signed or unsigned signal; with ``max_left > 0`` it may be
    as low as ``-max_left`` (a left shift).  The value is pre-shifted left by
    ``max_left`` and then shifted right by ``shift + max_left``; the bits
    brought in are zeros, so the rounding is that of the plain shift.
    """
    rounding = Rounding.parse(rounding)
    value = Value.cast(value)
    if not value.shape().signed:
        value = Cat(value, Const(0, 1)).as_signed()
    shift = Value.cast(shift)
    if max_left:
        value = value << max_left
        amount = (shift + max_left).as_unsigned()
    else:
        amount = shift.as_unsigned()
    amount = amount[:max(1, len(amount))]
    q = value >> amount
    if rounding is Rounding.TRUNCATE:
        return q
    width = len(value)
    one = Const(1, width + 1)
    half = Mux(amount == 0, 0, (one << amount) >> 1)[:width + 1]
    if rounding is Rounding.HALF_UP:
        return (value + half) >> amount
    mask = ((one << amount) - 1)[:width]
    rem = value.as_unsigned() & mask
    inc = (amount != 0) & ((rem > half) | ((rem == half) & q[0]))
    return q + inc
