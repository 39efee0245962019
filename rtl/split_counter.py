"""``SplitCounter``: a wide status counter whose carry chain is half its width.

The controller's status counters (clocks busy, the batch period, a layer's
clocks) are 32 bits wide, and a 32-bit increment is a 32-bit carry chain
ahead of the load multiplexer: at 160 MHz on ECP5 that chain plus its routes
was the slowest path of the engine.  This counter keeps two halves.  The
high half adds a registered flag, "the low half is all ones", as its carry
in; the flag is set a clock ahead (from a compare of the low half with all
ones less one), so the high half steps on exactly the clock the low half
wraps.  Each half's chain is half as long, and ``value`` is the same number,
clock by clock, as a plain counter's.

Protocol: on a clock with ``load`` high the counter takes ``load_value`` (a
constant); else, with ``inc`` high, it adds one (modulo 2**width).  ``value``
leaves registers and shows the result on the next clock (latency 1, as a
plain register).  The initial value is 0.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from circnn.config import check_int

__all__ = ["SplitCounter"]


class SplitCounter(wiring.Component):
    def __init__(self, width: int, *, load_value: int = 0):
        self.width = check_int("width", width, 2)
        self.load_value = check_int("load_value", load_value, 0, (1 << self.width) - 1)
        super().__init__({"inc": In(1), "load": In(1), "value": Out(self.width)})

    def elaborate(self, platform):
        m = Module()
        low_bits = (self.width + 1) // 2
        low_max = (1 << low_bits) - 1
        low = Signal(low_bits)
        high = Signal(self.width - low_bits)
        low_full = Signal()         # low == low_max, registered beside it
        load_low = self.load_value & low_max
        with m.If(self.load):
            m.d.sync += [low.eq(load_low), high.eq(self.load_value >> low_bits),
                         low_full.eq(load_low == low_max)]
        with m.Elif(self.inc):
            m.d.sync += [low.eq(low + 1), high.eq(high + low_full),
                         low_full.eq(low == low_max - 1)]
        m.d.comb += self.value.eq(Cat(low, high))
        return m
