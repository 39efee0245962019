"""``ConstantComplexMultiplier``: exact complex products by a few fixed constants, in adders.

    p = a * constants[sel]      (complex, exact: the value and width of
                                 ComplexMultiplier.p for the same operands)

For the twiddle and split/merge stages whose constants are few (the
cos/sin of multiples of pi/8 at k = 16): no MULT18X18D, only shifts and
adders (:class:`~circnn.rtl.shift_add_plan.ShiftAddPlan` says which).

Protocol: ``a`` and ``sel`` are sampled together, one operand per clock (no
handshake, no reset: the caller keeps its own valid bits), and ``p`` is the
product ``latency`` clocks later, the same ``latency`` as
:class:`~circnn.rtl.complex_mult.ComplexMultiplier`, so either can sit in
the same pipeline.  ``sel`` out of range gives an undefined ``p``.

Pipeline, one carry chain (or a LUT and a carry chain) per clock::

    c0  the control word of sel (swap, per output which roots, inverted or not);
        the operand's parts, swapped per constant (a 2:1 multiplexer)   -> R1: X, Y
    c1  product trees, level 1: neighbouring signed digits' terms        -> R2
    c2  level 2                                                         -> R3
    c3  level 3: m * X and m * Y for every magnitude m of the set        -> R4
    c4  p.re = (A ^ sA) + (B ^ sB) + (sA | sB), p.im alike: the roots
        selected and inverted (one LUT for up to two roots), one adder   -> R5 = p

There is no ``real_pair`` mode: the split/merge stage applies word 0's
rotation by wiring and never multiplies it.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import MAX_OPERAND_BITS, check_int, int_range

from .complex import complex_layout
from .complex_mult import ComplexMultiplier
from .delay import delay
from .shift_add_plan import SLOTS, TREE_LEVELS, ShiftAddPlan

__all__ = ["ConstantComplexMultiplier"]


def _extend(value, width: int) -> Value:
    """A signed ``value`` sign-extended to ``width`` bits."""
    value = Value.cast(value)
    if len(value) >= width:
        return value
    return Cat(value, value[-1].replicate(width - len(value))).as_signed()


def _fit(value, width: int) -> Value:
    """A signed ``value`` whose integer fits ``width`` bits, as exactly ``width`` bits."""
    return _extend(value, width)[:width]


class ConstantComplexMultiplier(wiring.Component):
    #: the operand register, three tree levels, the output sum
    latency = 1 + TREE_LEVELS + 1
    assert latency == ComplexMultiplier.latency

    def __init__(self, a_width: int, b_width: int, constants):
        self.a_width = check_int("a_width", a_width, 2, MAX_OPERAND_BITS)
        self.b_width = check_int("b_width", b_width, 2, MAX_OPERAND_BITS)
        self.constants = [(int(re), int(im)) for re, im in constants]
        lo, hi = int_range(b_width)
        for re, im in self.constants:
            if not (lo <= re <= hi and lo <= im <= hi):
                raise ValueError(f"constant ({re}, {im}) does not fit {b_width} bits")
        self.p_width = a_width + b_width + 1
        self.plan = ShiftAddPlan(a_width, self.constants)
        super().__init__({
            "a": In(complex_layout(a_width)),
            "sel": In(range(max(len(self.constants), 2))),     # at least one bit
            "p": Out(complex_layout(self.p_width)),
        })

    def _control_layout(self) -> data.StructLayout:
        fields = {"swap": 1}
        for slot in SLOTS:
            if len(self.plan.sources[slot]) > 1:
                fields[f"{slot}_src"] = range(len(self.plan.sources[slot]))
            fields[f"{slot}_inv"] = 1
        return data.StructLayout(fields)

    def elaborate(self, platform):
        m = Module()
        plan = self.plan
        if not self.constants:
            return m                                    # p stays 0

        # c0: the control word, and the lanes (swapped per constant)
        layout = self._control_layout()
        ctrl0 = Signal(layout)
        words = []
        for swap, selects in zip(plan.swaps, plan.selects):
            word = {"swap": int(swap)}
            for slot, (src, inv) in selects.items():
                word[f"{slot}_inv"] = int(inv)
                if len(plan.sources[slot]) > 1:
                    word[f"{slot}_src"] = src
            words.append(layout.const(word))
        if len(words) == 1:
            m.d.comb += ctrl0.eq(words[0])
        else:
            with m.Switch(self.sel):
                for i, word in enumerate(words):
                    with m.Case(i):
                        m.d.comb += ctrl0.eq(word)
        a = self.a
        swap = ctrl0.swap if plan.swap_varies else Const(int(plan.swaps[0]), 1)
        values = {}
        for lane, (plain, swapped) in enumerate(((a.re, a.im), (a.im, a.re))):
            reg = Signal(signed(self.a_width), name=f"lane{lane}")
            m.d.sync += reg.eq(Mux(swap, swapped, plain))
            values[(lane, 1, 0)] = reg
        ctrl = delay(m, ctrl0, 1 + TREE_LEVELS, "ctrl")

        # c1..c3: the product trees, level by level (the plan lists operands first)
        for key, reg in plan.registers.items():
            if reg.op == "lane":
                continue
            sig = Signal(signed(reg.width), name=f"t{reg.level}_{'xy'[reg.lane]}_"
                         f"{'m' if reg.coef < 0 else ''}{abs(reg.coef)}")
            lo = values[reg.lo]
            if reg.op == "delay":
                expr = lo
            elif reg.op == "add":
                lo = _extend(lo, reg.shift + 1)
                upper = lo[reg.shift:].as_signed()
                upper = upper + values[reg.hi] if reg.sign > 0 else upper - values[reg.hi]
                expr = Cat(lo[:reg.shift], upper).as_signed()
            else:
                expr = (values[reg.hi] << reg.shift) - lo
            m.d.sync += sig.eq(expr)
            values[key] = sig

        # c4: per output, two selected roots, inverted per constant, and one adder over
        # the bits that can be non-zero (the roots' common trailing zeros stay zero)
        for out, slots in ((self.p.re, ("re_a", "re_b")), (self.p.im, ("im_a", "im_b"))):
            low, width = plan.sum_bits(slots)
            ops, invs = [], []
            for slot in slots:
                srcs = []
                for src in plan.sources[slot]:
                    if src is None:
                        srcs.append(Const(0, width))
                    else:
                        root, shift = plan.root(src)
                        srcs.append(_fit(values[root.key] << (shift - low), width))
                v = srcs[0] if len(srcs) == 1 else Array(srcs)[ctrl[f"{slot}_src"]]
                inv = ctrl[f"{slot}_inv"]
                op = Signal(width, name=f"{slot}_op")
                m.d.comb += op.eq(v ^ inv.replicate(width))
                ops.append(op)
                invs.append(inv)
            cin = invs[0] | invs[1]                     # never both (the plan's signs)
            # the carry in as an extra low bit: one adder
            total = (Cat(cin, ops[0]) + Cat(cin, ops[1]))[1:width + 1]
            m.d.sync += out.eq(Cat(Const(0, low), total).as_signed())
        return m
