"""``BatchBuffer``: a batch of input vectors kept on chip while passes read it again and again.

Two banks (a :class:`BankPair`) in one :class:`BlockRAM`: the input stream
fills one bank, word after word, until word ``last_word`` (a registered
configuration value: the batch's size less one); meanwhile the reader
(``reader``: ``ready`` says a bank is full, ``release`` hands it back)
reads the other at ``rd_addr``, and ``rd_data`` follows ``rd_addr`` by
``latency`` clocks.  The circulant engine keeps its input spectra in one
(:class:`~circnn.rtl.spectrum_buffer.SpectrumBuffer`), the dense engine
its input activations.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import check_int

from .bank_pair import BankPair, BankReaderSignature
from .block_ram import BlockRAM

__all__ = ["BatchBuffer"]


class BatchBuffer(wiring.Component):
    """Two banks of ``words`` words of ``shape``."""

    def __init__(self, shape, words: int):
        self.shape = shape
        self.words = check_int("words", words, 1)
        self.addr_bits = max(1, (self.words - 1).bit_length())
        self.mem = BlockRAM(shape, 2 << self.addr_bits)
        self.latency = self.mem.latency
        super().__init__({
            "i": In(stream.Signature(shape)),
            "last_word": In(range(self.words)),
            "reader": In(BankReaderSignature()),
            "rd_addr": In(self.addr_bits),
            "rd_data": Out(shape),
        })

    def elaborate(self, platform):
        m = Module()
        mem = m.submodules.mem = self.mem
        banks = m.submodules.banks = BankPair()
        wiring.connect(m, wiring.flipped(self.reader), banks.reader)

        wpos = Signal(self.addr_bits)
        accept = Signal()
        filled = Signal()
        m.d.comb += [
            self.i.ready.eq(banks.writer.free),
            accept.eq(self.i.valid & self.i.ready),
            filled.eq(accept & (wpos == self.last_word)),
            banks.writer.commit.eq(filled),
            mem.wr_addr.eq(Cat(wpos, banks.writer.bank)), mem.wr_en.eq(accept),
            mem.wr_data.eq(self.i.payload),
            mem.rd_addr.eq(Cat(self.rd_addr, banks.reader.bank)),
            self.rd_data.eq(mem.rd_data),
        ]
        with m.If(accept):
            m.d.sync += wpos.eq(wpos + 1)
            with m.If(filled):
                m.d.sync += wpos.eq(0)
        return m
