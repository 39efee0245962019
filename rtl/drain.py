"""``AccumulatorDrain``: finished accumulators out of the PEs, into the inverse FFT.

Model twin: :func:`circnn.sim.layer_model.requantize_spectrum`.

When a pass's last sum has landed in its accumulator bank, the drain reads
the bank block by block (for each vector b, for each active PE, the k/2
packed words), requantises each word by ``acc_shift`` (round and saturate
to the IFFT's input width; saturations are counted) and streams it to the
inverse FFT, pushing a ``(block, vector)`` tag for each block so the output
stage knows which bias to add and where the block belongs.  The bank is
handed back to the scheduler when its last word has been read.

Accumulator banks are *busy* from the moment the scheduler starts a pass
in them until the drain has read them, so a pass can never overwrite
results that have not left, however short the layer.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.sim.layer_model import EngineConfig

from .arith import round_shift_var, saturate, saturates
from .complex import complex_layout

__all__ = ["AccumulatorDrain", "tag_layout"]


def tag_layout(eng: EngineConfig):
    return data.StructLayout({"block": range(max(2, eng.max_p)), "vector": range(max(2, eng.batch))})


class AccumulatorDrain(wiring.Component):
    PIPELINE = 4  # issue -> PE read -> select -> round -> saturate

    def __init__(self, eng: EngineConfig, pe_addr_bits: int):
        self.eng = eng
        self.pe_addr_bits = pe_addr_bits
        self.fifo_depth = self.PIPELINE + 4
        super().__init__({
            "pass_start": In(1), "start_bank": In(1),
            "pass_done": In(1), "done_bank": In(1),
            "bank_free": Out(2),
            "p": In(range(eng.max_p + 1)),
            "acc_shift": In(range(eng.acc_width)),
            "rd_addr": Out(pe_addr_bits),
            "rd_data": In(data.ArrayLayout(complex_layout(eng.acc_width), eng.pes)),
            "o": Out(stream.Signature(complex_layout(eng.ifft_width))),
            "tag": Out(stream.Signature(tag_layout(eng))),
            "saturations": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        eng = self.eng
        N, B, P = eng.half, eng.batch, eng.pes
        bank_bits = self.pe_addr_bits - 1

        busy = [Signal(name="busy0"), Signal(name="busy1")]
        todo = [Signal(name="todo0"), Signal(name="todo1")]
        dbank = Signal()
        f = Signal(range(max(2, N)))
        pe = Signal(range(max(2, P)))
        b = Signal(range(max(2, B)))
        bn = Signal(range(max(2, B * N)))               # b * N
        first_blk = Signal(range(eng.max_p + P + 1))    # g * P

        credits = Signal(range(self.fifo_depth + 1), init=self.fifo_depth)
        released = Signal()
        issue = Signal()
        last_f = f == N - 1
        last_pe = (pe == P - 1) | (first_blk + pe + 1 >= self.p)
        last_b = b == B - 1
        finished = Signal()
        m.d.comb += [
            self.tag.payload.block.eq(first_blk + pe),
            self.tag.payload.vector.eq(b),
            issue.eq(Mux(dbank, todo[1], todo[0]) & (credits != 0)
                     & ((f != 0) | self.tag.ready)),
            self.tag.valid.eq(issue & (f == 0)),
            finished.eq(issue & last_f & last_pe & last_b),
            self.rd_addr.eq(Cat((bn + f)[:bank_bits], dbank)),
        ]
        with m.If(issue):
            m.d.sync += f.eq(f + 1)
            with m.If(last_f):
                m.d.sync += [f.eq(0), pe.eq(pe + 1)]
                with m.If(last_pe):
                    m.d.sync += [pe.eq(0), b.eq(b + 1), bn.eq(bn + N)]
                    with m.If(last_b):
                        m.d.sync += [b.eq(0), bn.eq(0), dbank.eq(~dbank),
                                     first_blk.eq(first_blk + P)]
                        with m.If(first_blk + P >= self.p):
                            m.d.sync += first_blk.eq(0)
        for n in (0, 1):
            m.d.sync += [
                busy[n].eq((busy[n] | (self.pass_start & (self.start_bank == n)))
                           & ~(finished & (dbank == n))),
                todo[n].eq((todo[n] | (self.pass_done & (self.done_bank == n)))
                           & ~(finished & (dbank == n))),
            ]
        m.d.comb += self.bank_free.eq(Cat(~busy[0], ~busy[1]))
        m.d.sync += credits.eq(credits - issue + released)

        # c+1: select the PE's word; c+2: round; c+3: saturate
        v1, pe1 = Signal(), Signal(range(max(2, P)))
        m.d.sync += [v1.eq(issue), pe1.eq(pe)]
        word = Signal(complex_layout(eng.acc_width))
        v2 = Signal()
        m.d.sync += [word.eq(self.rd_data[pe1]), v2.eq(v1)]
        rounded_w = eng.acc_width + 1
        r_re, r_im = Signal(range(-(1 << rounded_w), 1 << rounded_w)), \
            Signal(range(-(1 << rounded_w), 1 << rounded_w))
        v3 = Signal()
        m.d.sync += [r_re.eq(round_shift_var(word.re, self.acc_shift, eng.rounding)),
                     r_im.eq(round_shift_var(word.im, self.acc_shift, eng.rounding)), v3.eq(v2)]
        out = Signal(complex_layout(eng.ifft_width))
        v4, sat4 = Signal(), Signal(2)
        m.d.sync += [out.re.eq(saturate(r_re, eng.ifft_width)), out.im.eq(saturate(r_im, eng.ifft_width)),
                     v4.eq(v3), sat4.eq(saturates(r_re, eng.ifft_width) + saturates(r_im, eng.ifft_width))]
        with m.If(v4):
            m.d.sync += self.saturations.eq(self.saturations + sat4)

        m.submodules.out_fifo = out_fifo = fifo.SyncFIFOBuffered(
            width=complex_layout(eng.ifft_width).size, depth=self.fifo_depth)
        m.d.comb += [
            out_fifo.w_en.eq(v4), out_fifo.w_data.eq(out.as_value()),
            self.o.valid.eq(out_fifo.r_rdy), self.o.payload.eq(out_fifo.r_data),
            out_fifo.r_en.eq(self.o.ready),
            released.eq(self.o.valid & self.o.ready),
        ]
        return m
