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

from amaranth.hdl import Array, Cat, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.sim.layer_model import EngineConfig

from .arith import requantize_pipeline
from .complex import complex_layout

__all__ = ["AccumulatorDrain", "tag_layout"]


def tag_layout(eng: EngineConfig):
    return data.StructLayout({"block": range(max(2, eng.max_p)), "vector": range(max(2, eng.batch))})


class AccumulatorDrain(wiring.Component):
    PIPELINE = 6  # issue -> PE read -> PE register -> select -> 3 requantise stages

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
        # output blocks left in the pass, p - first_blk: a register updated at
        # pass boundaries, so "last active PE" is a narrow compare
        remaining = Signal(range(eng.max_p + 1))
        last_pe = (pe == P - 1) | (pe + 1 >= remaining)
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
        # the next pass's first block, precomputed: first_blk changes at most
        # once per k/2 clocks, so this register is up to date when it is used
        next_first = Signal.like(first_blk)
        m.d.sync += next_first.eq(Mux(first_blk + P >= self.p, 0, first_blk + P))
        with m.If(~issue & (f == 0) & (pe == 0) & (b == 0)):
            # between passes: follow p (it may change between layers)
            m.d.sync += remaining.eq(self.p - first_blk)
        with m.If(issue):
            m.d.sync += f.eq(f + 1)
            with m.If(last_f):
                m.d.sync += [f.eq(0), pe.eq(pe + 1)]
                with m.If(last_pe):
                    m.d.sync += [pe.eq(0), b.eq(b + 1), bn.eq(bn + N)]
                    with m.If(last_b):
                        m.d.sync += [b.eq(0), bn.eq(0), dbank.eq(~dbank), first_blk.eq(next_first),
                                     remaining.eq(self.p - next_first)]
        for n in (0, 1):
            m.d.sync += [
                busy[n].eq((busy[n] | (self.pass_start & (self.start_bank == n)))
                           & ~(finished & (dbank == n))),
                todo[n].eq((todo[n] | (self.pass_done & (self.done_bank == n)))
                           & ~(finished & (dbank == n))),
            ]
        m.d.comb += self.bank_free.eq(Cat(~busy[0], ~busy[1]))
        m.d.sync += credits.eq(credits - issue + released)

        # c+1: the PEs' read data (registered in each PE); c+2: select the PE's
        # word; c+3..c+5: requantise (pipelined); then into the FIFO
        v1, pe1 = Signal(), Signal(range(max(2, P)))
        v2, pe2 = Signal(), Signal(range(max(2, P)))
        m.d.sync += [v1.eq(issue), pe1.eq(pe), v2.eq(v1), pe2.eq(pe1)]
        word = Signal(complex_layout(eng.acc_width))
        v3 = Signal()
        # an explicit P-way multiplexer (indexing the array view with a signal
        # would compute the bit offset with a multiplication)
        words = Array(self.rd_data[n] for n in range(P))
        m.d.sync += [word.eq(words[pe2]), v3.eq(v2)]
        out = Signal(complex_layout(eng.ifft_width))
        re, sat_re, latency = requantize_pipeline(m, word.re, self.acc_shift, eng.ifft_width,
                                                  eng.rounding, name="rq_re")
        im, sat_im, _ = requantize_pipeline(m, word.im, self.acc_shift, eng.ifft_width,
                                            eng.rounding, name="rq_im")
        valid = v3
        for n in range(latency):
            delayed = Signal(name=f"rq_valid{n}")
            m.d.sync += delayed.eq(valid)
            valid = delayed
        v4 = valid
        m.d.comb += [out.re.eq(re), out.im.eq(im)]
        with m.If(v4):
            m.d.sync += self.saturations.eq(self.saturations + sat_re + sat_im)

        m.submodules.out_fifo = out_fifo = fifo.SyncFIFOBuffered(
            width=complex_layout(eng.ifft_width).size, depth=self.fifo_depth)
        m.d.comb += [
            out_fifo.w_en.eq(v4), out_fifo.w_data.eq(out.as_value()),
            self.o.valid.eq(out_fifo.r_rdy), self.o.payload.eq(out_fifo.r_data),
            out_fifo.r_en.eq(self.o.ready),
            released.eq(self.o.valid & self.o.ready),
        ]
        return m
