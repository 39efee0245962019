"""``CirculantPE``: one processing element, the frequency-domain MAC of one output block.

Model twin: :func:`circnn.sim.model.layer.spectrum_mac`.

For output block i, the PE accumulates ``acc[b, f] += W_ij[f] (.) X_bj[f]``
over the input blocks j, word by word in the packed spectrum (word 0 as two
real products).  The accumulators live in a small two-bank memory: a pass
accumulates into one bank while the drain reads the other's finished
results, so the IFFT of one group overlaps the MACs of the next.

Timing (``ComplexMultiplier.latency`` = L): the step (``step``, a MAC
step stream), the spectrum word ``x`` and the weight word ``w`` at clock t,
product at t + L; the accumulator word is read at t + L - 1 (its address is
known in advance; zero instead for a pass's first product) into a register,
and the sum written at t + L.  The same address comes
round again after ``B * k/2 >= 2`` clocks, after the write, so no
forwarding is needed.  ``pass_done`` pulses (registered) when the last
write of a pass has landed.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import EngineConfig

from .complex import complex_layout
from .complex_mult import ComplexMultiplier
from .delay import delay
from .mac_step import mac_step_signature

__all__ = ["CirculantPE", "DISTRIBUTED_ACC_WORDS"]

#: accumulator memories up to this many words are kept in LUT RAM
DISTRIBUTED_ACC_WORDS = 64


class CirculantPE(wiring.Component):
    def __init__(self, eng: EngineConfig):
        self.eng = eng
        # each bank is padded to a power of two so that {bank, addr} is an address
        self.bank_bits = max(1, (eng.batch * eng.half - 1).bit_length())
        super().__init__({
            "step": In(mac_step_signature(eng)),
            "x": In(complex_layout(eng.spectrum_width)),
            "w": In(complex_layout(eng.weight_width)),
            # drain side: read finished accumulators (two clocks: memory, register)
            "rd_addr": In(self.bank_bits + 1),
            "rd_data": Out(complex_layout(eng.acc_width)),
            "pass_done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        eng = self.eng
        L = ComplexMultiplier.latency
        acc_layout = complex_layout(eng.acc_width)

        cm = m.submodules.cmul = ComplexMultiplier(eng.spectrum_width, eng.weight_width)
        m.d.comb += [cm.a.eq(self.x), cm.b.eq(self.w), cm.real_pair.eq(self.step.payload.real_pair)]

        # control delayed alongside the product
        at_read = delay(m, self.step.payload, L - 1, "step")
        at_product = delay(m, at_read, 1, "step_p")
        valid_at_product = delay(m, self.step.valid, L, "valid")

        bits = self.bank_bits
        # the read-add-write loop reads the memory and adds in one clock: a block
        # RAM's unregistered output is too slow for that (5.6 ns clock-to-out on
        # LFE5U-85F-6, 77 MHz measured at 64 words), so up to 64 words stay in LUT RAM
        attrs = {"ram_style": "distributed"} if (2 << bits) <= DISTRIBUTED_ACC_WORDS else {}
        m.submodules.acc = acc = memory.Memory(shape=acc_layout, depth=2 << bits, init=[],
                                               attrs=attrs)
        old = Signal(acc_layout, name="old")
        if attrs:
            # LUT RAM: the read is asynchronous and its register is ours; a pass's
            # first product starts from zero, chosen before that register, so the
            # loop from the register to the memory's write data is the adder alone
            rd = acc.read_port(domain="comb")
            m.d.sync += old.eq(Mux(at_read.first, 0, rd.data))
        else:
            rd = acc.read_port()
            m.d.comb += old.eq(Mux(at_product.first, 0, rd.data))
        wr = acc.write_port()
        drain = acc.read_port()
        m.d.comb += rd.addr.eq(Cat(at_read.acc_addr[:bits], at_read.bank))
        summed_re = old.re + cm.p.re
        summed_im = old.im + cm.p.im
        m.d.comb += [
            wr.addr.eq(Cat(at_product.acc_addr[:bits], at_product.bank)),
            # the width plan leaves log2(max_q) bits of headroom: no overflow
            wr.data.re.eq(summed_re[:eng.acc_width]),
            wr.data.im.eq(summed_im[:eng.acc_width]),
            wr.en.eq(valid_at_product),
        ]
        m.d.sync += self.pass_done.eq(valid_at_product & at_product.end_of_pass)
        # registered: a block-RAM read is slow to leave the RAM, and the
        # drain's P-way multiplexer follows
        m.d.comb += drain.addr.eq(self.rd_addr)
        m.d.sync += self.rd_data.eq(drain.data)
        return m
