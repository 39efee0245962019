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

**Split output** (``split=(k, n)``, for a caller that rounds the product
by ``k + 1`` bits and keeps ``n - 1`` bits of it, as
:class:`~circnn.rtl.twiddle_multiplier.TwiddleMultiplier` does): c4 then
forms each output in two shorter carry chains side by side, the bits below
``k`` (of which only the carry out is kept) and bits ``k .. k + n - 1``
without that carry, so that no chain spans the product's width::

    hi    = (p >> k) - carry    (mod 2^n)        carry = the carry into bit k

(``(hi + carry) mod 2^n`` is ``(p >> k) mod 2^n``.)  Both parts are
registers, ``latency`` clocks after the operand, like ``p``.

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

__all__ = ["ConstantComplexMultiplier", "can_split"]


def _extend(value, width: int) -> Value:
    """A signed ``value`` sign-extended to ``width`` bits."""
    value = Value.cast(value)
    if len(value) >= width:
        return value
    return Cat(value, value[-1].replicate(width - len(value))).as_signed()


def _fit(value, width: int) -> Value:
    """A signed ``value`` whose integer fits ``width`` bits, as exactly ``width`` bits."""
    return _extend(value, width)[:width]


def can_split(plan: ShiftAddPlan, k: int) -> bool:
    """Whether a multiplier of ``plan`` can split its final sums at bit ``k``: ``k``
    above the outputs' low zero bits (a carry to keep), and no final-sum operand a
    truncation of its root (the high parts then extend the operands' signs, which
    is exact, not the sum's)."""
    if not plan.constants:
        return False
    for slots in (("re_a", "re_b"), ("im_a", "im_b")):
        low, width = plan.sum_bits(slots)
        if not low < k < low + width:
            return False
        for slot in slots:
            for src in plan.sources[slot]:
                if src is not None:
                    root, shift = plan.root(src)
                    if root.width + shift - low > width:
                        return False
    return True


class ConstantComplexMultiplier(wiring.Component):
    #: the operand register, three tree levels, the output sum
    latency = 1 + TREE_LEVELS + 1
    assert latency == ComplexMultiplier.latency

    def __init__(self, a_width: int, b_width: int, constants, *, split=None):
        self.a_width = check_int("a_width", a_width, 2, MAX_OPERAND_BITS)
        self.b_width = check_int("b_width", b_width, 2, MAX_OPERAND_BITS)
        self.constants = [(int(re), int(im)) for re, im in constants]
        lo, hi = int_range(b_width)
        for re, im in self.constants:
            if not (lo <= re <= hi and lo <= im <= hi):
                raise ValueError(f"constant ({re}, {im}) does not fit {b_width} bits")
        self.p_width = a_width + b_width + 1
        self.plan = ShiftAddPlan(a_width, self.constants)
        self.split = split
        if split is None:
            outputs = {"p": Out(complex_layout(self.p_width))}
        else:
            k, n = split
            if not self.can_split(k):
                raise ValueError(f"cannot split the final sums at bit {k}")
            check_int("split width", n, 1)
            outputs = {"hi": Out(data.StructLayout({"re": n, "im": n})),
                       "carry": Out(data.StructLayout({"re": 1, "im": 1}))}
        super().__init__({
            "a": In(complex_layout(a_width)),
            "sel": In(range(max(len(self.constants), 2))),     # at least one bit
            **outputs,
        })

    def can_split(self, k: int) -> bool:
        """Whether ``split=(k, n)`` is possible (:func:`can_split`)."""
        return can_split(self.plan, k)

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
        for part, slots in (("re", ("re_a", "re_b")), ("im", ("im_a", "im_b"))):
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
            if self.split is None:
                # the carry in as an extra low bit: one adder
                total = (Cat(cin, ops[0]) + Cat(cin, ops[1]))[1:width + 1]
                m.d.sync += getattr(self.p, part).eq(Cat(Const(0, low), total).as_signed())
                continue
            # split: the carry out of the bits below k, and bits k .. k + n - 1 of the
            # operands' sum without it (operands sign-extended: they are exact)
            k, n = self.split
            j = k - low
            below = Cat(cin, ops[0][:j]) + Cat(cin, ops[1][:j])
            above = (_extend(ops[0].as_signed(), j + n)[j:j + n]
                     + _extend(ops[1].as_signed(), j + n)[j:j + n])
            m.d.sync += [getattr(self.hi, part).eq(above[:n]),
                         getattr(self.carry, part).eq(below[j + 1])]
        return m
