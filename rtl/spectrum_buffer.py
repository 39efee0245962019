"""``SpectrumBuffer``: input spectra kept on chip, computed once, reused by every PE pass.

A :class:`BatchBuffer` of packed spectrum words: the real FFT fills one
bank with a batch (B vectors x q blocks x k/2 packed words, in that order)
while the scheduler reads the other, so the next batch's input FFTs
overlap this batch's MAC passes.  ``reader.ready`` tells the scheduler a
bank is full; ``reader.release`` (a pulse) hands it back; ``rd_data``
follows ``rd_addr`` by ``latency`` clocks.

Model: the spectra are :func:`circnn.sim.model.layer.input_spectra`; the
buffer only stores them.
"""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import EngineConfig

from .bank_pair import BankReaderSignature
from .batch_buffer import BatchBuffer
from .complex import complex_layout
from .mac_step import spectrum_words

__all__ = ["SpectrumBuffer"]


class SpectrumBuffer(wiring.Component):
    def __init__(self, eng: EngineConfig):
        self.eng = eng
        self.buffer = BatchBuffer(complex_layout(eng.spectrum_width), spectrum_words(eng))
        self.latency = self.buffer.latency
        super().__init__({
            "i": In(stream.Signature(complex_layout(eng.spectrum_width, last=1))),
            "q": In(range(eng.max_q + 1)),
            "reader": In(BankReaderSignature()),
            "rd_addr": In(self.buffer.addr_bits),
            "rd_data": Out(complex_layout(eng.spectrum_width)),
        })

    def elaborate(self, platform):
        m = Module()
        eng = self.eng
        log_n = eng.half.bit_length() - 1
        buf = m.submodules.buffer = self.buffer
        wiring.connect(m, wiring.flipped(self.reader), buf.reader)
        # the last word of a batch, registered: q comes from a configuration
        # register that fans out across the engine, and changes only between
        # layers, long before the first spectrum of the next one arrives
        m.d.sync += buf.last_word.eq(((self.q * eng.batch) << log_n) - 1)
        m.d.comb += [
            buf.i.valid.eq(self.i.valid), self.i.ready.eq(buf.i.ready),
            buf.i.payload.re.eq(self.i.payload.re), buf.i.payload.im.eq(self.i.payload.im),
            buf.rd_addr.eq(self.rd_addr), self.rd_data.eq(buf.rd_data),
        ]
        return m
