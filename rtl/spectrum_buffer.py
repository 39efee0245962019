"""``SpectrumBuffer``: input spectra kept on chip, computed once, reused by every PE pass.

Two banks: the real FFT fills one with a batch (B vectors x q blocks x k/2
packed words, in that order) while the scheduler reads the other, so the
next batch's input FFTs overlap this batch's MAC passes.  ``ready`` tells
the scheduler a bank is full; ``release`` (pulse) hands it back.  The
banks are one :class:`BlockRAM`: ``rd_data`` follows ``rd_addr`` by
``latency`` clocks.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.sim.layer_model import EngineConfig

from .block_ram import BlockRAM
from .complex import complex_layout

__all__ = ["SpectrumBuffer"]


class SpectrumBuffer(wiring.Component):
    def __init__(self, eng: EngineConfig, target: str = "generic"):
        self.eng = eng
        self.words = eng.batch * eng.max_q * eng.half
        self.addr_bits = max(1, (self.words - 1).bit_length())
        self.mem = BlockRAM(complex_layout(eng.spectrum_width), 2 << self.addr_bits, target=target)
        self.latency = self.mem.latency
        super().__init__({
            "i": In(stream.Signature(complex_layout(eng.spectrum_width, last=1))),
            "q": In(range(eng.max_q + 1)),
            "ready": Out(1),
            "release": In(1),
            "rd_addr": In(self.addr_bits),
            "rd_data": Out(complex_layout(eng.spectrum_width)),
        })

    def elaborate(self, platform):
        m = Module()
        eng = self.eng
        log_n = eng.half.bit_length() - 1
        mem = m.submodules.mem = self.mem

        full = [Signal(name="full0"), Signal(name="full1")]
        wbank = Signal()
        rbank = Signal()
        wpos = Signal(self.addr_bits)
        # the last word of a batch, registered: q comes from a configuration
        # register that fans out across the engine, and changes only between
        # layers, long before the first spectrum of the next one arrives
        last_word = Signal(range(self.words))
        m.d.sync += last_word.eq(((self.q * eng.batch) << log_n) - 1)

        accept = Signal()
        m.d.comb += [
            self.i.ready.eq(~Mux(wbank, full[1], full[0])),
            accept.eq(self.i.valid & self.i.ready),
            mem.wr_addr.eq(Cat(wpos, wbank)), mem.wr_en.eq(accept),
            mem.wr_data.re.eq(self.i.payload.re), mem.wr_data.im.eq(self.i.payload.im),
        ]
        filled = Signal()
        m.d.comb += filled.eq(accept & (wpos == last_word))
        with m.If(accept):
            m.d.sync += wpos.eq(wpos + 1)
            with m.If(filled):
                m.d.sync += [wpos.eq(0), wbank.eq(~wbank)]
        with m.If(self.release):
            m.d.sync += rbank.eq(~rbank)
        for b in (0, 1):
            m.d.sync += full[b].eq((full[b] | (filled & (wbank == b)))
                                   & ~(self.release & (rbank == b)))
        m.d.comb += [
            self.ready.eq(Mux(rbank, full[1], full[0])),
            mem.rd_addr.eq(Cat(self.rd_addr, rbank)),
            self.rd_data.eq(mem.rd_data),
        ]
        return m
