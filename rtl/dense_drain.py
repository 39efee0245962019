"""``DenseDrain``: finished sums + bias, ReLU, requantise, into the output buffer.

Model twin: the output step of :func:`circnn.sim.model.dense.dense_forward`.

When a pass's sums have landed (``sums.ready``) and the output buffer's
bank is free (``out.free``), the drain reads all M sums of every vector of
the pass, one per clock (the sums of rows past m are dropped at the write,
so no arithmetic on m sits on its issue path), adds the row's bias (a
memory, initialised at elaboration, writable through ``load``), applies the
ReLU and requantises (:class:`Requantizer`) into element ``row`` of vector
``b`` in the output buffer (``wr``).  It releases the sums' bank after a
pass's last read, commits the output bank after the batch's last pass, and
says so again (``landed``) when that bank's last write has landed.
Pipeline: d1 memory reads, d2 select and bias, d3 add and ReLU, then the
requantiser.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import MAX_LEFT_SHIFT, DenseConfig, LoadTarget, RequantizerConfig

from .bank_pair import BankLandingSignature, BankReaderSignature, BankWriterSignature
from .delay import delay
from .load import dense_load_layout
from .requantize import Requantizer
from .saturation_counter import SaturationCounter

__all__ = ["DenseDrain", "output_write_layout"]


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


def output_write_layout(cfg: DenseConfig) -> data.StructLayout:
    """One element into the output buffer: ``{bank, vector, pair}`` address, the
    value, and which lane (even or odd element) it goes to."""
    pbits = _bits(cfg.max_p * cfg.half)
    return data.StructLayout({"addr": pbits + _bits(cfg.batch) + 1,
                              "data": signed(cfg.act_width), "en": 2})


class DenseDrain(wiring.Component):
    def __init__(self, cfg: DenseConfig, bias=None):
        self.cfg = cfg
        self.bias_init = [] if bias is None else [int(v) for v in bias]
        self.sum_bits = _bits(cfg.batch) + 1
        super().__init__({
            "m": In(range(cfg.max_out + 1)),
            "relu": In(1),
            "out_shift": In(range(-MAX_LEFT_SHIFT, cfg.sum_width)),
            "load": In(dense_load_layout(cfg)),
            "sums": Out(BankReaderSignature()),
            "rd_addr": Out(self.sum_bits),
            "rd_data": In(data.ArrayLayout(signed(cfg.acc_width), cfg.mults)),
            "out": Out(BankWriterSignature()),
            "landed": Out(BankLandingSignature()),
            "wr": Out(output_write_layout(cfg)),
            "saturations": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        M, B = cfg.mults, cfg.batch
        bbits = _bits(B)
        pbits = _bits(cfg.max_p * cfg.half)       # pairs per vector in the output buffer

        bias_bits = _bits(cfg.max_out)
        m.submodules.bias = bias_mem = memory.Memory(shape=signed(cfg.bias_width),
                                                     depth=1 << bias_bits, init=self.bias_init)
        bias_rd, bias_wr = bias_mem.read_port(), bias_mem.write_port()
        ld = self.load
        m.d.comb += [bias_wr.addr.eq(ld.addr[:bias_bits]), bias_wr.data.eq(ld.data[:cfg.bias_width]),
                     bias_wr.en.eq(ld.en & (ld.target == LoadTarget.BIASES))]

        d_b = Signal(range(max(2, B)))
        d_mult = Signal(range(max(2, M)))
        d_first = Signal(range(cfg.max_out + M + 1))   # first row of the pass being drained
        d_row = Signal(range(cfg.max_out + M + 1))
        d_last_pass = Signal()   # the pass being drained is the batch's last
        issue = Signal()
        last_mult = Signal()
        drained = Signal()       # the pass's last sum issued: its bank is free again
        batch_end = Signal()     # ... and it was the batch's last pass
        m.d.comb += [
            issue.eq(self.sums.ready & self.out.free),
            last_mult.eq(d_mult == M - 1),
            drained.eq(issue & last_mult & (d_b == B - 1)),
            batch_end.eq(drained & d_last_pass),
            self.sums.release.eq(drained),
            self.out.commit.eq(batch_end),
            self.rd_addr.eq(Cat(d_b[:bbits], self.sums.bank)),
            bias_rd.addr.eq(d_row[:bias_bits]),
        ]
        # d_last_pass: recomputed while idle, predicted for the next pass at a pass's end
        with m.If(~issue):
            m.d.sync += d_last_pass.eq(d_first + M >= self.m)
        with m.If(drained):
            m.d.sync += d_last_pass.eq(Mux(batch_end, M >= self.m, d_first + 2 * M >= self.m))
        with m.If(issue):
            m.d.sync += [d_mult.eq(d_mult + 1), d_row.eq(d_row + 1)]
            with m.If(last_mult):
                m.d.sync += [d_mult.eq(0), d_row.eq(d_first), d_b.eq(d_b + 1)]
                with m.If(d_b == B - 1):
                    m.d.sync += [d_b.eq(0), d_first.eq(d_first + M), d_row.eq(d_first + M)]
                    with m.If(batch_end):
                        m.d.sync += [d_first.eq(0), d_row.eq(0)]

        # d1: the memories' read data; d2: select the multiplier's sum, register
        # the bias; d3: add, ReLU; then the requantiser; then write
        dlay = data.StructLayout({"valid": 1, "keep": 1, "mult": range(max(2, M)),
                                  "row": range(cfg.max_out + M + 1), "b": range(max(2, B)),
                                  "obank": 1, "batch_end": 1})
        d0 = Signal(dlay)
        m.d.comb += [d0.valid.eq(issue), d0.mult.eq(d_mult), d0.row.eq(d_row), d0.b.eq(d_b),
                     d0.obank.eq(self.out.bank), d0.batch_end.eq(batch_end)]
        d1, d2, d3 = Signal(dlay), Signal(dlay), Signal(dlay)
        acc2 = Signal(signed(cfg.acc_width))
        bias2 = Signal(signed(cfg.bias_width))
        sum3 = Signal(signed(cfg.sum_width))
        m.d.sync += [d1.eq(d0), d2.eq(d1), d2.keep.eq(d1.row < self.m), d3.eq(d2),
                     acc2.eq(self.rd_data[d1.mult] if M > 1 else self.rd_data[0]),
                     bias2.eq(bias_rd.data)]
        total = acc2 + bias2
        m.d.sync += sum3.eq(Mux(self.relu & (total < 0), 0, total))
        m.submodules.rq = rq = Requantizer(RequantizerConfig(
            in_width=cfg.sum_width, out_width=cfg.act_width, max_shift=cfg.sum_width - 1,
            max_left=MAX_LEFT_SHIFT, rounding=cfg.rounding))
        m.d.comb += [rq.i.valid.eq(d3.valid), rq.i.payload.eq(sum3), rq.shift.eq(self.out_shift)]
        dw = delay(m, d3, Requantizer.latency, "drain_rq")
        written = dw.valid & dw.keep
        # the pair index, zero-extended: the row field is narrower than the
        # output buffer's pair field when max_out is small against k
        pair = Signal(pbits)
        m.d.comb += [
            pair.eq(dw.row >> 1),
            self.wr.addr.eq(Cat(pair, dw.b[:bbits], dw.obank)),
            self.wr.data.eq(rq.o.payload.value),
            self.wr.en.eq(Cat(written & (dw.row[0] == 0), written & (dw.row[0] == 1))),
            self.landed.land.eq(dw.valid & dw.batch_end),
        ]
        m.submodules.clamps = clamps = SaturationCounter(flags=1)
        m.d.comb += [clamps.valid.eq(written), clamps.saturated.eq(rq.o.payload.saturated),
                     self.saturations.eq(clamps.count)]
        return m
