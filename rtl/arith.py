"""Fixed-point arithmetic expressions, the RTL twins of :mod:`circnn.sim.fixedpoint`.

Each function builds a combinational Amaranth expression that computes the
same integers as the NumPy function of the same name, so that a component
made of them and a model made of the NumPy twins agree bit for bit.
"""

from amaranth.hdl import Cat, Const, Mux, Signal, Value, signed

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


def requantize_pipeline(m, value: Value, shift: Value, out_bits: int, rounding, *,
                        max_left: int = 0, name: str = "rq"):
    """``saturate(round_shift_var(value, shift), out_bits)`` as three register stages.

    Returns ``(result, saturated, latency)``; ``result`` and ``saturated``
    (1 when the value was clamped) are valid ``latency`` clocks after
    ``value``.  The shift amount is a configuration register that changes
    only between layers, so the constants derived from it (the rounding
    increment and mask) are registered once and the data path is: add the
    increment | barrel shift | round-to-even fix-up, saturate.
    """
    rounding = Rounding.parse(rounding)
    value = Value.cast(value)
    if not value.shape().signed:
        value = Cat(value, Const(0, 1)).as_signed()
    shift = Value.cast(shift)
    wide = value << max_left if max_left else value
    width = len(wide) + 1
    amount_comb = ((shift + max_left) if max_left else shift).as_unsigned()
    amount = Signal(range(width + 1), name=f"{name}_amount")
    half = Signal(width, name=f"{name}_half")
    mask = Signal(width, name=f"{name}_mask")
    one = Const(1, width + 1)
    m.d.sync += [
        amount.eq(amount_comb),
        half.eq(Mux(amount_comb == 0, 0, (one << amount_comb) >> 1)),
        mask.eq((one << amount_comb) - 1),
    ]
    # stage 1: add the rounding increment (half up) or classify the remainder (half even)
    s1 = Signal(signed(width), name=f"{name}_s1")
    gt1 = Signal(name=f"{name}_gt")
    eq1 = Signal(name=f"{name}_eq")
    if rounding is Rounding.HALF_UP:
        m.d.sync += s1.eq(wide + half)
    else:
        m.d.sync += s1.eq(wide)
    if rounding is Rounding.HALF_EVEN:
        rem = wide.as_unsigned() & mask
        m.d.sync += [gt1.eq(rem > half), eq1.eq((rem == half) & (amount != 0))]
    # stage 2: the barrel shift
    s2 = Signal(signed(width), name=f"{name}_s2")
    gt2 = Signal(name=f"{name}_gt2")
    eq2 = Signal(name=f"{name}_eq2")
    m.d.sync += [s2.eq(s1 >> amount), gt2.eq(gt1), eq2.eq(eq1)]
    # stage 3: round-to-even fix-up, saturate
    if rounding is Rounding.HALF_EVEN:
        rounded = s2 + (gt2 | (eq2 & s2[0]))
    else:
        rounded = s2
    result = Signal(signed(out_bits), name=f"{name}_out")
    saturated = Signal(name=f"{name}_sat")
    m.d.sync += [result.eq(saturate(rounded, out_bits)), saturated.eq(saturates(rounded, out_bits))]
    return result, saturated, 3


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
