"""Fixed-point arithmetic expressions, the RTL twins of :mod:`circnn.sim.model.fixedpoint`.

Each function builds a combinational Amaranth expression that computes the
same integers as the NumPy function of the same name, so that a component
made of them and a model made of the NumPy twins agree bit for bit.
"""

from amaranth.hdl import Cat, Const, Mux, Value, signed

from circnn.config import Rounding, int_range

__all__ = ["round_shift", "half_sum", "saturate", "requantize", "saturates", "mul_const"]


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


def _fits(value: Value, bits: int) -> Value:
    """1 when ``value`` fits a signed ``bits``-wide register: the bits from the
    result's sign bit up all equal the value's sign (zero for an unsigned value).
    A reduction of those bits, a shallow tree of LUTs; compares against the
    limits would be two carry chains the width of ``value``."""
    top = value[bits - 1:]
    if not value.shape().signed:
        return ~top.any()
    return top.all() | ~top.any()


def half_sum(a: Value, b: Value, rounding) -> Value:
    """``round_shift(a + b, 1, rounding)``, in one adder where the rounding allows.

    ``truncate`` and ``half_up`` add their half LSB (0 or 1) as the carry in,
    an extra low bit of both operands, so that no second carry chain follows
    the sum (for timing: an add and a rounding add in one clock are two
    chains in series).  ``half_even`` (its increment depends on the sum's
    bits) is ``round_shift(a + b, 1, rounding)``.  Signed, wide enough never to
    overflow.
    """
    rounding = Rounding.parse(rounding)
    a, b = Value.cast(a), Value.cast(b)
    if rounding is Rounding.HALF_EVEN:
        return round_shift(a + b, 1, rounding)
    ops = []
    for v in (a, b):
        if not v.shape().signed:
            v = Cat(v, Const(0, 1)).as_signed()
        ops.append(v)
    width = max(len(v) for v in ops) + 1          # holds a + b + 1
    ops = [Cat(v, v[-1].replicate(width - len(v))) for v in ops]
    cin = Const(1 if rounding is Rounding.HALF_UP else 0, 1)
    total = Cat(cin, ops[0]) + Cat(cin, ops[1])    # 2 (a + b + cin)
    return total[2:width + 1].as_signed()


def saturates(value: Value, bits: int) -> Value:
    """1 when ``value`` lies outside a signed ``bits``-wide register."""
    value = Value.cast(value)
    if value.shape().signed and value.shape().width <= bits:
        return Const(0, 1)
    return ~_fits(value, bits)


def saturate(value: Value, bits: int) -> Value:
    """Clamp a signed value into a signed ``bits``-wide register."""
    lo, hi = int_range(bits, True)
    value = Value.cast(value)
    if value.shape().signed and value.shape().width <= bits:
        return value
    negative = value[-1] if value.shape().signed else Const(0, 1)
    clamped = Mux(_fits(value, bits), value[:bits],
                  Mux(negative, Const(lo, signed(bits)), Const(hi, signed(bits))))
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
