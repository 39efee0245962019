"""``ComplexMultiplier``: exact complex product from three registered multipliers.

    p = a * b = (a.re*b.re - a.im*b.im) + j (a.re*b.im + a.im*b.re)

computed with three real products instead of four (Gauss's identity)::

    k1 = b.re * (a.re + a.im)
    k2 = a.re * (b.im - b.re)
    k3 = a.im * (b.re + b.im)
    p  = (k1 - k3) + j (k1 + k2)

The identity is exact in integers, so the result is bit for bit the
four-product one (the bit-true models do not change); it saves one
MULT18X18D per complex multiplier (a quarter of every PE's and twiddle
unit's multipliers) at the cost of three pre-adders in the fabric, which get
a register stage of their own so that nothing but routing sits in front of
a DSP's input register.  The pre-added operands are one bit wider, so the
three-product form is used when both operands are at most 17 bits (a
MULT18X18D takes 18); wider operands take four products, with the same
latency.  No rounding here: callers round or accumulate the exact product.

With ``real_pair`` high (sampled with the operands), the two halves are
independent real numbers, as in word 0 of a packed real spectrum:
``p = (a.re * b.re, a.im * b.im)``.  The three products then become
``k1 = 0``, ``k2 = a.im * b.im`` and ``k3 = a.re * -b.re``, so that the same
sums give the pair.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from circnn.config import MAX_OPERAND_BITS, check_int

from .complex import complex_layout
from .delay import delay
from .multiplier import MULT_LATENCY, Multiplier

__all__ = ["ComplexMultiplier"]


class ComplexMultiplier(wiring.Component):
    #: operand register (pre-adders), the multiplier's three registers, the sum register
    latency = 1 + MULT_LATENCY + 1

    def __init__(self, a_width: int, b_width: int):
        self.a_width = check_int("a_width", a_width, 2, MAX_OPERAND_BITS)
        self.b_width = check_int("b_width", b_width, 2, MAX_OPERAND_BITS)
        self.p_width = a_width + b_width + 1
        #: three products when the pre-added operands still fit a MULT18X18D
        self.three_products = max(a_width, b_width) + 1 <= MAX_OPERAND_BITS
        self.multipliers = 3 if self.three_products else 4
        super().__init__({
            "a": In(complex_layout(a_width)),
            "b": In(complex_layout(b_width)),
            "real_pair": In(1),
            "p": Out(complex_layout(self.p_width)),
        })

    def elaborate(self, platform):
        m = Module()
        if self.three_products:
            re, im = self._three_products(m)
        else:
            re, im = self._four_products(m)
        m.d.sync += [self.p.re.eq(re), self.p.im.eq(im)]
        return m

    def _multiply(self, m, name, a, b, aw, bw):
        """A registered ``Multiplier`` fed by operand registers; returns its product."""
        a_r = Signal(signed(aw), name=f"{name}_a")
        b_r = Signal(signed(bw), name=f"{name}_b")
        m.d.sync += [a_r.eq(a), b_r.eq(b)]
        mul = m.submodules[f"mul_{name}"] = Multiplier(aw, bw)
        m.d.comb += [mul.a.eq(a_r), mul.b.eq(b_r)]
        return mul.p

    def _three_products(self, m):
        a, b, pair = self.a, self.b, self.real_pair
        aw, bw = self.a_width + 1, self.b_width + 1
        k1 = self._multiply(m, "k1", Mux(pair, 0, a.re + a.im), b.re, aw, self.b_width)
        k2 = self._multiply(m, "k2", Mux(pair, a.im, a.re), Mux(pair, b.im, b.im - b.re),
                            self.a_width, bw)
        k3 = self._multiply(m, "k3", Mux(pair, a.re, a.im), Mux(pair, -b.re, b.re + b.im),
                            self.a_width, bw)
        return k1 - k3, k1 + k2

    def _four_products(self, m):
        a, b = self.a, self.b
        aw, bw = self.a_width, self.b_width
        rr = self._multiply(m, "rr", a.re, b.re, aw, bw)
        ii = self._multiply(m, "ii", a.im, b.im, aw, bw)
        ri = self._multiply(m, "ri", a.re, b.im, aw, bw)
        ir = self._multiply(m, "ir", a.im, b.re, aw, bw)
        # the operand register and the multiplier's three
        pair = delay(m, self.real_pair, 1 + MULT_LATENCY, "real_pair")
        return Mux(pair, rr, rr - ii), Mux(pair, ii, ri + ir)
