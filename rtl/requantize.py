"""``Requantizer``: round-shift and saturate by a run-time shift, one word per clock.

Model twin: :func:`circnn.sim.model.fixedpoint.requantize`.  The engine's one
requantiser: the accumulator drain narrows accumulators to the inverse
FFT's width with it, the output stage and the dense engine narrow sums to
the activation width.

    o.value = saturate(round_shift(i, shift), out_width)
    o.saturated = 1 when the value was clamped

``shift`` may be as low as ``-max_left`` (a left shift).  It is a
configuration register that changes only between layers, so the constants
derived from it (the shift amount, the rounding increment and mask) are
registered once and the data path is four register stages: add the
increment (or classify the remainder) | shift by the amount's multiple of
eight | shift by the rest | round-to-even fix-up and saturate (one 8:1
multiplexer per bit and shift stage: a single six-level shifter did not
close at 160 MHz).  Latency :attr:`Requantizer.latency` clocks; the pipeline
never stalls (``o.valid`` is ``i.valid`` delayed).  A word uses the shift as
it was two clocks before it entered (the shift is registered, then decoded).
"""

from amaranth.hdl import Cat, Const, Module, Signal, Value, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import RequantizerConfig, Rounding

from .arith import saturate, saturates
from .delay import delay

__all__ = ["Requantizer", "requantized_layout"]


def requantized_layout(out_width: int) -> data.StructLayout:
    return data.StructLayout({"value": signed(out_width), "saturated": 1})


class Requantizer(wiring.Component):
    latency = 4

    def __init__(self, cfg: RequantizerConfig):
        if not isinstance(cfg, RequantizerConfig):
            raise TypeError("cfg must be a RequantizerConfig")
        self.cfg = cfg
        super().__init__({
            "i": In(stream.Signature(signed(cfg.in_width), always_ready=True)),
            "shift": In(range(-cfg.max_left, cfg.max_shift + 1)),
            "o": Out(stream.Signature(requantized_layout(cfg.out_width), always_ready=True)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        rounding = Rounding.parse(cfg.rounding)
        max_left = cfg.max_left
        value = Value.cast(self.i.payload)
        shift = Value.cast(self.shift)
        wide = value << max_left if max_left else value
        width = len(wide) + 1
        amount_comb = ((shift + max_left) if max_left else shift).as_unsigned()
        # the shift amount is registered beside this requantiser first (the shift
        # register is shared and far away), then decoded into the increment and
        # the remainder mask (one-hot and thermometer codes: no carry chain)
        shift_amount = Signal(range(width + 1), name="shift_amount")
        m.d.sync += shift_amount.eq(amount_comb)
        amount = Signal(range(width + 1), name="amount")
        half = Signal(width, name="half")
        mask = Signal(width, name="mask")
        m.d.sync += [
            amount.eq(shift_amount),
            half.eq(Cat(*(shift_amount == n + 1 for n in range(width)))),
            mask.eq(Cat(*(shift_amount > n for n in range(width)))),
        ]
        # stage 1: add the rounding increment (half up) or classify the remainder (half even)
        s1 = Signal(signed(width), name="s1")
        gt1, eq1 = Signal(name="gt1"), Signal(name="eq1")
        if rounding is Rounding.HALF_UP:
            m.d.sync += s1.eq(wide + half)
        else:
            m.d.sync += s1.eq(wide)
        if rounding is Rounding.HALF_EVEN:
            rem = wide.as_unsigned() & mask
            m.d.sync += [gt1.eq(rem > half), eq1.eq((rem == half) & (amount != 0))]
        # the amount a word was rounded for travels with it (a change of `shift`
        # between two words never splits one word's shift)
        amount1 = Signal.like(amount, name="amount1")
        amount2 = Signal.like(amount, name="amount2")
        m.d.sync += [amount1.eq(amount), amount2.eq(amount1)]
        # stages 2 and 3: the barrel shift, by the amount's multiple of eight then
        # by its low three bits (an 8:1 multiplexer per bit and stage)
        coarse = Signal(signed(width), name="coarse")
        s2 = Signal(signed(width), name="s2")
        gt2, eq2 = Signal(name="gt2"), Signal(name="eq2")
        m.d.sync += [coarse.eq(s1 >> Cat(Const(0, 3), amount1[3:])),
                     s2.eq(coarse >> amount2[:3]),
                     gt2.eq(delay(m, gt1, 1, "gt1d")), eq2.eq(delay(m, eq1, 1, "eq1d"))]
        # stage 4: round-to-even fix-up, saturate
        rounded = s2 + (gt2 | (eq2 & s2[0])) if rounding is Rounding.HALF_EVEN else s2
        m.d.sync += [self.o.payload.value.eq(saturate(rounded, cfg.out_width)),
                     self.o.payload.saturated.eq(saturates(rounded, cfg.out_width))]
        m.d.comb += self.o.valid.eq(delay(m, self.i.valid, self.latency, "valid"))
        return m
