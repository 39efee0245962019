"""``ComplexMultiplier``: full-precision complex product from four registered multipliers.

    p = a * b = (a.re*b.re - a.im*b.im) + j (a.re*b.im + a.im*b.re)

Each real product is one :class:`Multiplier` (one MULT18X18D on ECP5, so
each operand is at most 18 bits); the sums are registered once more.  No
rounding here: callers round or accumulate the exact product.

With ``real_pair`` high (sampled with the operands), the two halves are
independent real numbers, as in word 0 of a packed real spectrum:
``p = (a.re * b.re, a.im * b.im)``.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from circnn.params import check_int

from .complex import complex_layout
from .multiplier import MAX_OPERAND_BITS, MULT_LATENCY, Multiplier

__all__ = ["ComplexMultiplier"]


class ComplexMultiplier(wiring.Component):
    latency = MULT_LATENCY + 1

    def __init__(self, a_width: int, b_width: int, target: str = "generic"):
        self.a_width = check_int("a_width", a_width, 2, MAX_OPERAND_BITS)
        self.b_width = check_int("b_width", b_width, 2, MAX_OPERAND_BITS)
        self.target = target
        self.p_width = a_width + b_width + 1
        super().__init__({
            "a": In(complex_layout(a_width)),
            "b": In(complex_layout(b_width)),
            "real_pair": In(1),
            "p": Out(complex_layout(self.p_width)),
        })

    def elaborate(self, platform):
        m = Module()
        products = {}
        for name, x, y in (("rr", self.a.re, self.b.re), ("ii", self.a.im, self.b.im),
                           ("ri", self.a.re, self.b.im), ("ir", self.a.im, self.b.re)):
            mul = m.submodules[f"mul_{name}"] = Multiplier(self.a_width, self.b_width, self.target)
            m.d.comb += [mul.a.eq(x), mul.b.eq(y)]
            products[name] = mul.p
        pair = self.real_pair
        for n in range(MULT_LATENCY):
            delayed = Signal(name=f"real_pair_d{n + 1}")
            m.d.sync += delayed.eq(pair)
            pair = delayed
        m.d.sync += [
            self.p.re.eq(Mux(pair, products["rr"], products["rr"] - products["ii"])),
            self.p.im.eq(Mux(pair, products["ii"], products["ri"] + products["ir"])),
        ]
        return m
