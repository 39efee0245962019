"""A signed multiplier with three internal register stages, on every target.

yosys maps an inferred ``a * b`` on ECP5 onto a MULT18X18D in its
combinational mode with the surrounding registers in the fabric, and the
multiplier then limits the clock (measured: a registered 16x16 complex
multiply reached 136 MHz on LFE5U-85F-6; a MULT18X18D with its own
registers, 484 MHz).  This component instantiates the primitive with its
input, pipeline and output registers enabled when elaborated for an ECP5
platform (:func:`circnn.config.uses_ecp5_primitives`) and elaborates to a
behavioural product with the same three registers otherwise, so that both
give the same word at the same cycle:

    cycle t: a, b presented  ->  cycle t + LATENCY: p = a * b

The pipeline has no reset (like the DSP's registers with GSR disabled);
callers track validity with their own shift register of valid bits.
"""

from amaranth.hdl import ClockSignal, Const, Instance, Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from circnn.config import MAX_OPERAND_BITS, check_int, uses_ecp5_primitives

__all__ = ["Multiplier", "MULT_LATENCY"]

#: Clocks from operands to product (input, pipeline, output registers).
MULT_LATENCY = 3


class Multiplier(wiring.Component):
    """``p = a * b`` (signed), ``MULT_LATENCY`` clocks after ``a``, ``b``.

    ``ce`` freezes all three register stages (tie high, the default, for a
    free-running pipeline).
    """

    latency = MULT_LATENCY

    def __init__(self, a_width: int, b_width: int):
        self.a_width = check_int("a_width", a_width, 2, MAX_OPERAND_BITS)
        self.b_width = check_int("b_width", b_width, 2, MAX_OPERAND_BITS)
        self.p_width = a_width + b_width
        super().__init__({
            "a": In(signed(a_width)),
            "b": In(signed(b_width)),
            "ce": In(1, init=1),
            "p": Out(signed(self.p_width)),
        })

    def elaborate(self, platform):
        m = Module()
        if uses_ecp5_primitives(platform):
            self._elaborate_mult18x18d(m)
        else:
            a_r = Signal(signed(self.a_width), reset_less=True)
            b_r = Signal(signed(self.b_width), reset_less=True)
            prod = Signal(signed(self.p_width), reset_less=True)
            out = Signal(signed(self.p_width), reset_less=True)
            with m.If(self.ce):
                m.d.sync += [a_r.eq(self.a), b_r.eq(self.b), prod.eq(a_r * b_r), out.eq(prod)]
            m.d.comb += self.p.eq(out)
        return m

    def _elaborate_mult18x18d(self, m):
        a18 = Signal(signed(18))
        b18 = Signal(signed(18))
        p36 = Signal(signed(36))
        m.d.comb += [a18.eq(self.a), b18.eq(self.b), self.p.eq(p36[:self.p_width])]
        ports = {f"i_A{n}": a18[n] for n in range(18)}
        ports.update({f"i_B{n}": b18[n] for n in range(18)})
        ports.update({f"i_C{n}": Const(0, 1) for n in range(18)})
        ports.update({f"o_P{n}": p36[n] for n in range(36)})
        for n in range(1, 4):
            ports.update({f"i_CLK{n}": Const(0, 1), f"i_CE{n}": Const(0, 1), f"i_RST{n}": Const(0, 1)})
        m.submodules.dsp = Instance(
            "MULT18X18D",
            p_REG_INPUTA_CLK="CLK0", p_REG_INPUTA_CE="CE0", p_REG_INPUTA_RST="RST0",
            p_REG_INPUTB_CLK="CLK0", p_REG_INPUTB_CE="CE0", p_REG_INPUTB_RST="RST0",
            p_REG_INPUTC_CLK="NONE",
            p_REG_PIPELINE_CLK="CLK0", p_REG_PIPELINE_CE="CE0", p_REG_PIPELINE_RST="RST0",
            p_REG_OUTPUT_CLK="CLK0", p_REG_OUTPUT_CE="CE0", p_REG_OUTPUT_RST="RST0",
            p_CLK0_DIV="ENABLED", p_GSR="DISABLED", p_RESETMODE="SYNC",
            p_SOURCEB_MODE="B_SHIFT", p_MULT_BYPASS="DISABLED", p_CAS_MATCH_REG="FALSE",
            i_SIGNEDA=Const(1, 1), i_SIGNEDB=Const(1, 1),
            i_SOURCEA=Const(0, 1), i_SOURCEB=Const(0, 1),
            i_CLK0=ClockSignal(), i_CE0=self.ce, i_RST0=Const(0, 1),
            **ports,
        )

