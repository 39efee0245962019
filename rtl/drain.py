"""``AccumulatorDrain``: finished accumulators out of the PEs, into the inverse FFT.

Model twin: :func:`circnn.sim.model.layer.requantize_spectrum`.

When a pass's last sum has landed in its accumulator bank (the reader side
of the layer's accumulator :class:`BankPair` says ``ready``), the drain
reads the bank block by block (for each vector b, for each active PE, the
k/2 packed words), requantises each word by ``acc_shift`` (round and
saturate to the IFFT's input width, :class:`Requantizer`; saturations are
counted) and streams it to the inverse FFT on ``o``, with a ``(block,
vector)`` tag per block on ``tag`` so that the output stage knows which
bias to add and where the block belongs.  The bank is released when its
last word has been read.

Accumulator banks are claimed by the scheduler when it starts a pass in
them and stay busy until the drain has read them, so a pass can never
overwrite results that have not left, however short the layer.

``p`` and ``acc_shift`` are configuration: the drain takes ``p`` while it is
idle between passes, so a new value must be stable for a clock before the
layer's first bank becomes ready (the layer core's registers change only
between layers, long before).

Both outputs come from :class:`CreditQueue` components: a word is read only while
its queue, and at a block's first word the tag queue, has a credit, so
neither ``o.valid`` nor ``tag.valid`` ever depends on a ``ready``.
Pipeline: issue -> address register -> PE read -> PE register -> select ->
requantise (:attr:`Requantizer.latency`); the saturation count follows two
clocks later (:class:`SaturationCounter`).
"""

from amaranth.hdl import Array, Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import EngineConfig, RequantizerConfig

from .bank_pair import BankReaderSignature
from .complex import complex_layout
from .credit_queue import CreditQueue, queue_depth
from .delay import delay
from .requantize import Requantizer
from .saturation_counter import SaturationCounter

__all__ = ["AccumulatorDrain", "tag_layout", "TAG_QUEUE_DEPTH"]

#: Block tags that may wait between the drain and the output stage (the
#: blocks inside the inverse FFT's frame buffers and pipeline).
TAG_QUEUE_DEPTH = 8


def tag_layout(eng: EngineConfig):
    return data.StructLayout({"block": range(max(2, eng.max_p)), "vector": range(max(2, eng.batch))})


class AccumulatorDrain(wiring.Component):
    #: clocks from a read's issue to its requantised word
    PIPELINE = 4 + Requantizer.latency

    def __init__(self, eng: EngineConfig, pe_addr_bits: int):
        self.eng = eng
        self.pe_addr_bits = pe_addr_bits
        self.queue_depth = queue_depth(self.PIPELINE)
        super().__init__({
            "banks": Out(BankReaderSignature()),
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

        m.submodules.queue = queue = CreditQueue(complex_layout(eng.ifft_width), self.queue_depth)
        m.submodules.tags = tags = CreditQueue(tag_layout(eng), TAG_QUEUE_DEPTH)
        dbank = self.banks.bank
        f = Signal(range(max(2, N)))
        pe = Signal(range(max(2, P)))
        b = Signal(range(max(2, B)))
        bn = Signal(range(max(2, B * N)))               # b * N
        first_blk = Signal(range(eng.max_p + P + 1))    # g * P

        issue = Signal()
        releasing = Signal()
        last_f = f == N - 1
        # output blocks left in the pass, p - first_blk: a register updated at
        # pass boundaries, so "last active PE" is a narrow compare
        remaining = Signal(range(eng.max_p + 1))
        last_pe = (pe == P - 1) | (pe + 1 >= remaining)
        last_b = b == B - 1
        m.d.comb += [
            issue.eq(self.banks.ready & ~releasing & queue.can_admit
                     & ((f != 0) | tags.can_admit)),
            queue.admit.eq(issue),
            tags.admit.eq(issue & (f == 0)),
            tags.i.valid.eq(issue & (f == 0)),
            tags.i.payload.block.eq(first_blk + pe),
            tags.i.payload.vector.eq(b),
            self.banks.release.eq(releasing),
        ]
        # the read address is registered (the PEs' accumulators are LUT RAM read
        # through a register in each PE, often far from here), and so is the
        # release: the bank is released as its last read reaches the PEs, and no
        # read issues in that clock (the bank's `ready` falls a clock later)
        m.d.sync += [self.rd_addr.eq(Cat((bn + f)[:bank_bits], dbank)),
                     releasing.eq(issue & last_f & last_pe & last_b)]
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
                        m.d.sync += [b.eq(0), bn.eq(0), first_blk.eq(next_first),
                                     remaining.eq(self.p - next_first)]

        # c+1: the read address; c+2: the PEs' read data (registered in each PE);
        # c+3: select the PE's word; c+4..: requantise (pipelined); then into the queue
        v2, pe2 = delay(m, issue, 3, "v"), delay(m, pe, 3, "pe")
        word = Signal(complex_layout(eng.acc_width))
        v3 = Signal()
        # an explicit P-way multiplexer (indexing the array view with a signal
        # would compute the bit offset with a multiplication)
        words = Array(self.rd_data[n] for n in range(P))
        m.d.sync += [word.eq(words[pe2]), v3.eq(v2)]
        rq = RequantizerConfig(in_width=eng.acc_width, out_width=eng.ifft_width,
                               max_shift=eng.acc_width - 1, rounding=eng.rounding)
        m.submodules.rq_re = rq_re = Requantizer(rq)
        m.submodules.rq_im = rq_im = Requantizer(rq)
        m.d.comb += [
            rq_re.i.valid.eq(v3), rq_re.i.payload.eq(word.re), rq_re.shift.eq(self.acc_shift),
            rq_im.i.valid.eq(v3), rq_im.i.payload.eq(word.im), rq_im.shift.eq(self.acc_shift),
            queue.i.valid.eq(rq_re.o.valid),
            queue.i.payload.re.eq(rq_re.o.payload.value),
            queue.i.payload.im.eq(rq_im.o.payload.value),
        ]
        m.submodules.clamps = clamps = SaturationCounter()
        m.d.comb += [clamps.valid.eq(rq_re.o.valid),
                     clamps.saturated.eq(Cat(rq_re.o.payload.saturated, rq_im.o.payload.saturated)),
                     self.saturations.eq(clamps.count)]
        wiring.connect(m, queue.o, wiring.flipped(self.o))
        wiring.connect(m, tags.o, wiring.flipped(self.tag))
        return m
