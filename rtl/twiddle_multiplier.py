"""``TwiddleMultiplier``: a position's twiddle from a ROM, times an operand, exactly.

    p = a * codes[addr]          (complex, exact, ``a_width + b_width + 1`` bits)

What the FFT's twiddle stages (:class:`~circnn.rtl.twiddle.TwiddleStage`) and
the real transforms' split/merge stage
(:class:`~circnn.rtl.spectrum_pair.SpectrumPairStage`) share: the ROM,
addressed one clock before the operand arrives (its read data is a
register), and the multiplier behind it, one of two:

* ``shift_add`` false: a :class:`~circnn.rtl.complex_mult.ComplexMultiplier`
  (three MULT18X18D on ECP5) fed with the codes;
* ``shift_add`` true: a :class:`~circnn.rtl.constant_mult.ConstantComplexMultiplier`
  over the distinct codes of the ``multiplied`` positions, fed with each
  position's index into them (no MULT18X18D; products at the other
  positions are undefined: the callers replace them by wiring).

Either way ``p`` follows ``a`` by ``latency`` clocks.
"""

from amaranth.hdl import Module, signed
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from .complex import complex_layout
from .complex_mult import ComplexMultiplier
from .constant_mult import ConstantComplexMultiplier

__all__ = ["TwiddleMultiplier"]


class TwiddleMultiplier(wiring.Component):
    latency = ComplexMultiplier.latency

    def __init__(self, a_width: int, b_width: int, codes, multiplied, *, shift_add: bool):
        self.a_width, self.b_width = a_width, b_width
        self.codes = [(int(re), int(im)) for re, im in codes]
        self.multiplied = sorted(set(multiplied))
        self.shift_add = shift_add
        #: the constants a shift-and-add multiplier is built for, and each position's index
        self.constants = list(dict.fromkeys(self.codes[n] for n in self.multiplied))
        self.index = [self.constants.index(c) if n in self.multiplied else 0
                      for n, c in enumerate(self.codes)]
        super().__init__({
            "addr": In(range(len(self.codes))),
            "a": In(complex_layout(a_width)),
            "p": Out(complex_layout(a_width + b_width + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        depth = len(self.codes)
        if self.shift_add:
            cm = m.submodules.cmul = ConstantComplexMultiplier(self.a_width, self.b_width,
                                                               self.constants)
            if len(self.constants) > 1:
                m.submodules.rom_sel = rom = memory.Memory(shape=cm.sel.shape(), depth=depth,
                                                           init=self.index)
                rd = rom.read_port()
                m.d.comb += [rd.addr.eq(self.addr), cm.sel.eq(rd.data)]
        else:
            cm = m.submodules.cmul = ComplexMultiplier(self.a_width, self.b_width)
            for part, n in (("re", 0), ("im", 1)):
                rom = memory.Memory(shape=signed(self.b_width), depth=depth,
                                    init=[c[n] for c in self.codes])
                m.submodules[f"rom_{part}"] = rom
                rd = rom.read_port()
                m.d.comb += [rd.addr.eq(self.addr), getattr(cm.b, part).eq(rd.data)]
        m.d.comb += [cm.a.eq(self.a), self.p.eq(cm.p)]
        return m
