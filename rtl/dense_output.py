"""``DenseOutputBuffer``: the dense engine's results, out again in the circulant layer's order.

Two banks of B vectors (owned through the layer's output :class:`BankPair`:
``reader``), one memory per lane (even and odd elements): the drain writes
one element per clock (``wr``), the emitter reads a pair per clock and
sends it on ``o``, vector by vector, in blocks of k (k/2 pairs tagged
``block`` and ``vector``, ``last`` on a block's final pair), with elements
past ``m`` forced to zero, exactly the stream
:class:`~circnn.rtl.layer.CirculantLayer` produces.  ``lin_end`` is the
last pair index of a vector (registered by the layer).  Pipeline: e1 the
memories' read, e2 a register, e3 the padding mask, into a
:class:`CreditQueue`.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import DenseConfig

from .bank_pair import BankReaderSignature
from .credit_queue import CreditQueue, queue_depth
from .delay import delay
from .dense_drain import output_write_layout
from .output_stage import layer_output_layout

__all__ = ["DenseOutputBuffer", "dense_output_layout"]

#: Clocks from a pair's read to its word entering the queue.
EMIT_LATENCY = 3


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


def dense_output_layout(cfg: DenseConfig):
    """CirculantLayer's output layout: ``{y0, y1, block, vector, last}``, blocks of k."""
    return layer_output_layout(cfg)


class DenseOutputBuffer(wiring.Component):
    def __init__(self, cfg: DenseConfig):
        self.cfg = cfg
        self.pair_bits = _bits(cfg.max_p * cfg.half)     # pairs per vector
        super().__init__({
            "m": In(range(cfg.max_out + 1)),
            "lin_end": In(range(cfg.max_p * cfg.half)),
            "wr": In(output_write_layout(cfg)),
            "reader": Out(BankReaderSignature()),
            "o": Out(stream.Signature(dense_output_layout(cfg))),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        B, half = cfg.batch, cfg.half
        log_half = half.bit_length() - 1
        pbits, bbits = self.pair_bits, _bits(B)
        rd = []
        for lane in range(2):
            buf = memory.Memory(shape=signed(cfg.act_width), depth=2 << (pbits + bbits), init=[])
            m.submodules[f"lane{lane}"] = buf
            wr = buf.write_port()
            m.d.comb += [wr.addr.eq(self.wr.addr), wr.data.eq(self.wr.data),
                         wr.en.eq(self.wr.en[lane])]
            rd.append(buf.read_port())

        m.submodules.queue = queue = CreditQueue(dense_output_layout(cfg),
                                                 queue_depth(EMIT_LATENCY))
        e_b = Signal(range(max(2, B)))
        e_lin = Signal(pbits)                   # pair index in the vector
        issue = Signal()
        m.d.comb += [
            issue.eq(self.reader.ready & queue.can_admit),
            queue.admit.eq(issue),
            self.reader.release.eq(issue & (e_lin == self.lin_end) & (e_b == B - 1)),
        ]
        for port in rd:
            m.d.comb += port.addr.eq(Cat(e_lin, e_b[:bbits], self.reader.bank))
        with m.If(issue):
            m.d.sync += e_lin.eq(e_lin + 1)
            with m.If(e_lin == self.lin_end):
                m.d.sync += [e_lin.eq(0), e_b.eq(e_b + 1)]
                with m.If(e_b == B - 1):
                    m.d.sync += e_b.eq(0)

        tag = data.StructLayout({"valid": 1, "mask": 2, "block": range(max(2, cfg.max_p)),
                                 "vector": range(max(2, B)), "last": 1})
        e0 = Signal(tag)
        element = e_lin << 1                  # 2 * pair index
        m.d.comb += [
            e0.valid.eq(issue),
            e0.mask.eq(Cat(element >= self.m, element + 1 >= self.m)),
            e0.block.eq(e_lin >> log_half), e0.vector.eq(e_b),
            e0.last.eq(e_lin[:log_half] == half - 1 if log_half else 1),
        ]
        # e1: the RAM's read data, registered as it is (e2); then the padding
        # mask (e3), into the queue
        e2 = delay(m, e0, 2, "e")
        y0, y1 = Signal(signed(cfg.act_width)), Signal(signed(cfg.act_width))
        m.d.sync += [y0.eq(rd[0].data), y1.eq(rd[1].data)]
        out = queue.i.payload
        m.d.sync += [
            queue.i.valid.eq(e2.valid),
            out.y0.eq(Mux(e2.mask[0], 0, y0)), out.y1.eq(Mux(e2.mask[1], 0, y1)),
            out.block.eq(e2.block), out.vector.eq(e2.vector), out.last.eq(e2.last),
        ]
        wiring.connect(m, queue.o, wiring.flipped(self.o))
        return m
