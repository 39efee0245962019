"""``TwiddleMultiplier``: a position's twiddle from a ROM, times an operand, rounded.

    q = round(a * codes[addr] / 2^shift)      (complex; each part rounded as
                                               ``round_shift(., shift, rounding)``
                                               and wrapped to ``q_width`` bits)

What the FFT's twiddle stages (:class:`~circnn.rtl.twiddle.TwiddleStage`) and
the real transforms' split/merge stage
(:class:`~circnn.rtl.spectrum_pair.SpectrumPairStage`) share: the ROM,
addressed one clock before the operand arrives (its read data is a
register), the multiplier behind it, one of two, and the rounding of the
exact product (a register of its own):

* ``shift_add`` false: a :class:`~circnn.rtl.complex_mult.ComplexMultiplier`
  (three MULT18X18D on ECP5) fed with the codes; its exact product is rounded;
* ``shift_add`` true: a :class:`~circnn.rtl.constant_mult.ConstantComplexMultiplier`
  over the distinct codes of the ``multiplied`` positions, fed with each
  position's index into them (no MULT18X18D; products at the other
  positions are undefined: the callers replace them by wiring).  With
  ``half_up`` and ``truncate`` it hands over its final sums split at bit
  ``shift - 1`` (``hi``, ``carry``: two short carry chains side by side in
  place of one across the product), and the rounding register adds the
  carry and the half LSB in one adder:
  ``q = (Cat(carry, hi) + 3) >> 2`` (``+ 1`` to truncate), since bits below
  ``shift - 1`` cannot change a rounding by ``shift`` bits once their carry is
  counted.  ``half_even`` needs them all: the exact product, then the rounding.

Either way ``q`` follows ``a`` by ``latency`` clocks: the multiplier's and
the rounding register.
"""

from amaranth.hdl import Cat, Const, Module, signed
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import Rounding, check_int

from .arith import round_shift
from .complex import complex_layout
from .complex_mult import ComplexMultiplier
from .constant_mult import ConstantComplexMultiplier, can_split
from .shift_add_plan import ShiftAddPlan

__all__ = ["TwiddleMultiplier"]


class TwiddleMultiplier(wiring.Component):
    #: the multiplier, then the rounding register
    latency = ComplexMultiplier.latency + 1

    def __init__(self, a_width: int, b_width: int, codes, multiplied, *, shift_add: bool,
                 shift: int, rounding, q_width: int):
        self.a_width, self.b_width = a_width, b_width
        self.codes = [(int(re), int(im)) for re, im in codes]
        self.multiplied = sorted(set(multiplied))
        self.shift_add = shift_add
        self.shift = check_int("shift", shift, 0)
        self.rounding = Rounding.parse(rounding)
        self.q_width = check_int("q_width", q_width, 1)
        #: the constants a shift-and-add multiplier is built for, and each position's index
        self.constants = list(dict.fromkeys(self.codes[n] for n in self.multiplied))
        self.index = [self.constants.index(c) if n in self.multiplied else 0
                      for n, c in enumerate(self.codes)]
        super().__init__({
            "addr": In(range(len(self.codes))),
            "a": In(complex_layout(a_width)),
            "q": Out(complex_layout(q_width)),
        })

    def _split(self):
        """``(k, n)`` of the shift-and-add multiplier's split output, or None."""
        if (not self.shift_add or self.shift < 2
                or self.rounding not in (Rounding.HALF_UP, Rounding.TRUNCATE)):
            return None
        k = self.shift - 1
        return (k, self.q_width + 1) if can_split(ShiftAddPlan(self.a_width, self.constants), k) \
            else None

    def elaborate(self, platform):
        m = Module()
        depth = len(self.codes)
        if self.shift_add:
            split = self._split()
            cm = m.submodules.cmul = ConstantComplexMultiplier(self.a_width, self.b_width,
                                                               self.constants, split=split)
            if len(self.constants) > 1:
                m.submodules.rom_sel = rom = memory.Memory(shape=cm.sel.shape(), depth=depth,
                                                           init=self.index)
                rd = rom.read_port()
                m.d.comb += [rd.addr.eq(self.addr), cm.sel.eq(rd.data)]
        else:
            split = None
            cm = m.submodules.cmul = ComplexMultiplier(self.a_width, self.b_width)
            for part, n in (("re", 0), ("im", 1)):
                rom = memory.Memory(shape=signed(self.b_width), depth=depth,
                                    init=[c[n] for c in self.codes])
                m.submodules[f"rom_{part}"] = rom
                rd = rom.read_port()
                m.d.comb += [rd.addr.eq(self.addr), getattr(cm.b, part).eq(rd.data)]
        m.d.comb += cm.a.eq(self.a)

        qw = self.q_width
        for part in ("re", "im"):
            if split is None:
                rounded = round_shift(getattr(cm.p, part), self.shift, self.rounding)
            else:
                # (p >> (shift - 1)) = hi + carry; + 1 more for half_up's half LSB
                half = 1 if self.rounding is Rounding.HALF_UP else 0
                rounded = (Cat(getattr(cm.carry, part), getattr(cm.hi, part))
                           + Const(1 + 2 * half, 2))[2:]
            m.d.sync += getattr(self.q, part).eq(rounded[:qw])
        return m
