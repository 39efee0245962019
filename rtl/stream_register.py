"""``StreamRegister``: a register slice for an ``amaranth.lib.stream`` link.

Between two stages placed far apart on the chip, a stream's ``ready`` runs
back against its ``valid``: the consumer's ready decision travels the whole
way into the producer's logic in one clock.  This slice cuts the link: its
``o.valid`` and ``o.payload`` leave registers, and so does its ``i.ready``, so
each side's long route starts at a flip-flop.  It holds up to two words (the
output register and a skid register that catches the word offered while the
output was stalled), so it passes a word every clock at full rate.

Protocol: ``amaranth.lib.stream`` on both sides; latency one clock; ``o.valid``
does not depend on ``o.ready`` and ``i.ready`` does not depend on ``i.valid``.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["StreamRegister"]


class StreamRegister(wiring.Component):
    def __init__(self, shape):
        self.shape = shape
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        out_valid, skid_valid = Signal(), Signal()
        out_data, skid_data = Signal(self.shape), Signal(self.shape)
        m.d.comb += [self.o.valid.eq(out_valid), self.o.payload.eq(out_data),
                     self.i.ready.eq(~skid_valid)]
        taken = self.i.valid & ~skid_valid
        with m.If(self.o.ready | ~out_valid):
            # the output register moves on: from the skid register first
            with m.If(skid_valid):
                m.d.sync += [out_data.eq(skid_data), skid_valid.eq(0)]
            with m.Else():
                m.d.sync += [out_valid.eq(taken), out_data.eq(self.i.payload)]
        with m.Elif(taken):
            m.d.sync += [skid_valid.eq(1), skid_data.eq(self.i.payload)]
        return m
