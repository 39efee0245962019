"""Fixed-point arithmetic expressions, the RTL twins of :mod:`circnn.sim.model.fixedpoint`.

Each function builds a combinational Amaranth expression that computes the
same integers as the NumPy function of the same name, so that a component
made of them and a model made of the NumPy twins agree bit for bit.
"""

from amaranth.hdl import Cat, Const, Mux, Value

from circnn.config import Rounding, int_range

__all__ = ["round_shift", "saturate", "requantize", "saturates", "mul_const"]


def round_shift(value: Value, shift: int, rounding) -> Value:
    """``value / 2**shift`` rounded as :func:`circnn.sim.model.fixedpoint.round_shift`.

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


def mul_const(value: Value, constant: int) -> Value:
    """``value * constant`` as shifts and adds (no multiplier block for a constant)."""
    if constant < 0:
        raise ValueError("constant must be >= 0")
    value = Value.cast(value)
    terms = [value << bit for bit in range(constant.bit_length()) if constant >> bit & 1]
    if not terms:
        return Const(0, 1)
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total
