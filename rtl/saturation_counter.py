"""``SaturationCounter``: counts the words requantisers clamped.

The accumulator drain and the output stage each requantise two words per
clock (the dense drain one) and count how many were clamped.  Adding two
flags to a 32-bit count in one clock chains two adders; here the flags'
sum is registered first, so each register is fed by one carry chain.  ``count`` includes a word's flags
two clocks after ``valid``; it wraps at 2**32 and never resets (the host
reads differences).
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SaturationCounter"]


class SaturationCounter(wiring.Component):
    #: clocks from ``valid`` to ``count`` including that word's flags
    latency = 2

    def __init__(self, flags: int = 2):
        self.flags = flags
        super().__init__({"valid": In(1), "saturated": In(flags), "count": Out(32)})

    def elaborate(self, platform):
        m = Module()
        clamped = Signal(range(self.flags + 1), name="clamped")
        m.d.sync += clamped.eq(0)
        with m.If(self.valid):
            m.d.sync += clamped.eq(sum(self.saturated[n] for n in range(self.flags)))
        m.d.sync += self.count.eq(self.count + clamped)
        return m
