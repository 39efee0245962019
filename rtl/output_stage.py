"""``OutputStage``: bias, activation and requantisation of the inverse FFT's output.

Model twin: :func:`circnn.sim.model.layer.output_stage` (and the padding
mask of :func:`~circnn.sim.model.layer.layer_forward`).

Each output word carries two samples ``(y[2n], y[2n+1])`` of block ``i``
(the tag that the drain pushed for the block):

    y = sat(round(act(ifft_out + bias[i*k + 2n (+1)]) / 2**out_shift))

and samples past ``out_features`` are forced to zero, as the next layer's
zero padding expects.  The bias memory is initialised at elaboration and
writable at run time (``load``).  Pipeline: c1 the word, its tag and the
bias read (one more clock per select stage of a deep bias memory), c2 the
bias and the padding mask, c3 the biased sums, c4 ReLU (a sum's sign bit
to the register's reset: the carry chain and the reset's fan-out in separate
clocks), then the :class:`Requantizer`;
a :class:`CreditQueue` at the end gives full back-pressure.  The block tags
wait in a 3-slot FIFO at the input, so that the tag queue of the drain (placed
by the PEs, often far away) sees only a registered ready.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import MAX_LEFT_SHIFT, EngineConfig, LoadTarget, RequantizerConfig

from .block_ram import BlockRAM
from .credit_queue import CreditQueue, queue_depth
from .delay import delay
from .drain import tag_layout
from .load import load_layout
from .requantize import Requantizer
from .saturation_counter import SaturationCounter

__all__ = ["OutputStage", "ifft_output_layout", "layer_output_layout", "bias_pair_layout"]


def ifft_output_layout(eng: EngineConfig):
    return data.StructLayout({"x0": signed(eng.ifft_out_width), "x1": signed(eng.ifft_out_width),
                              "last": 1})


def layer_output_layout(eng: EngineConfig):
    return data.StructLayout({"y0": signed(eng.act_width), "y1": signed(eng.act_width),
                              "block": range(max(2, eng.max_p)), "vector": range(max(2, eng.batch)),
                              "last": 1})


def bias_pair_layout(eng: EngineConfig):
    return data.StructLayout({"b0": signed(eng.bias_width), "b1": signed(eng.bias_width)})


class OutputStage(wiring.Component):
    def __init__(self, eng: EngineConfig, bias_pairs=None):
        self.eng = eng
        self.bias_bits = max(1, (eng.bias_words - 1).bit_length())
        init = [] if bias_pairs is None else [{"b0": int(a), "b1": int(b)} for a, b in bias_pairs]
        self.bias = BlockRAM(bias_pair_layout(eng), 1 << self.bias_bits, init)
        # the sample waits for the bias read beyond the usual two clocks
        self.bias_wait = self.bias.latency - 2
        #: clocks from a word's acceptance to its result
        self.pipeline_latency = 4 + self.bias_wait + Requantizer.latency
        self.queue_depth = queue_depth(self.pipeline_latency)
        super().__init__({
            "i": In(stream.Signature(ifft_output_layout(eng))),
            "tag": In(stream.Signature(tag_layout(eng))),
            "o": Out(stream.Signature(layer_output_layout(eng))),
            "relu": In(1),
            "out_shift": In(range(-MAX_LEFT_SHIFT, eng.sum_width)),
            "out_features": In(range(eng.max_p * eng.k + 1)),
            "b_base": In(self.bias_bits),       # first bias pair of the layer
            "load": In(load_layout(eng)),
            "saturations": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        eng = self.eng
        N, k = eng.half, eng.k
        log_n = N.bit_length() - 1

        m.submodules.bias = bias = self.bias
        m.d.comb += [
            bias.wr_addr.eq(self.load.addr[:self.bias_bits]),
            bias.wr_data.eq(self.load.data[:bias_pair_layout(eng).size]),
            bias.wr_en.eq(self.load.en & (self.load.target == LoadTarget.BIASES)),
        ]

        m.submodules.queue = queue = CreditQueue(layer_output_layout(eng), self.queue_depth)
        # the block tags wait in a 3-slot FIFO here (a 2-slot one has a
        # zero-width inner address): the tag taken as a block's last
        # sample is accepted is then a local decision, and the drain's tag queue
        # (far away) sees only this FIFO's registered w_rdy
        tags = tag_layout(eng)
        m.submodules.tag_slots = slots = fifo.SyncFIFOBuffered(width=tags.size, depth=3)
        tag = tags(slots.r_data)
        accept = Signal()
        n = Signal(range(max(2, N)))
        m.d.comb += [
            slots.w_data.eq(self.tag.payload), slots.w_en.eq(self.tag.valid),
            self.tag.ready.eq(slots.w_rdy),
            self.i.ready.eq(slots.r_rdy & queue.can_admit),
            accept.eq(self.i.valid & self.i.ready),
            queue.admit.eq(accept),
            slots.r_en.eq(accept & self.i.payload.last),
            bias.rd_addr.eq(self.b_base + ((tag.block << log_n) | n)),
        ]
        with m.If(accept):
            m.d.sync += n.eq(Mux(self.i.payload.last, 0, n + 1))

        # c1: the sample, its tag, and the bias pair from memory (one more
        # clock per select stage of a bias memory deeper than one block RAM)
        x = Signal(ifft_output_layout(eng))
        v1, tag1, n1 = Signal(), Signal(tag_layout(eng)), Signal(range(max(2, N)))
        m.d.sync += [v1.eq(accept), x.eq(self.i.payload), tag1.eq(tag), n1.eq(n)]
        wait = self.bias_wait
        x, v1, tag1, n1 = (delay(m, x, wait, "x"), delay(m, v1, wait, "v1"),
                           delay(m, tag1, wait, "tag1"), delay(m, n1, wait, "n1"))
        # c2: the bias read arrives (registered in the BlockRAM); decide the
        # padding mask
        x2, b2 = Signal(ifft_output_layout(eng)), bias.rd_data
        v2, tag2 = Signal(), Signal(tag_layout(eng))
        mask2 = Signal(2)
        element = (tag1.block << (k.bit_length() - 1)) + (n1 << 1)
        m.d.sync += [x2.eq(x), v2.eq(v1), tag2.eq(tag1),
                     mask2.eq(Cat(element >= self.out_features, element + 1 >= self.out_features))]
        # c3: the biased sums
        sw = eng.sum_width
        sum0, sum1 = Signal(signed(sw)), Signal(signed(sw))
        v3, tag3, mask3, last3 = Signal(), Signal(tag_layout(eng)), Signal(2), Signal()
        m.d.sync += [
            sum0.eq(x2.x0 + b2.b0), sum1.eq(x2.x1 + b2.b1),
            v3.eq(v2), tag3.eq(tag2), mask3.eq(mask2), last3.eq(x2.last),
        ]
        # c4: activation
        s0, s1 = Signal(signed(sw)), Signal(signed(sw))
        v4, tag4, mask4, last4 = Signal(), Signal(tag_layout(eng)), Signal(2), Signal()
        m.d.sync += [
            s0.eq(Mux(self.relu & (sum0 < 0), 0, sum0)),
            s1.eq(Mux(self.relu & (sum1 < 0), 0, sum1)),
            v4.eq(v3), tag4.eq(tag3), mask4.eq(mask3), last4.eq(last3),
        ]
        # c5..: requantise by the run-time shift, saturate
        rq = RequantizerConfig(in_width=sw, out_width=eng.act_width, max_shift=sw - 1,
                               max_left=MAX_LEFT_SHIFT, rounding=eng.rounding)
        m.submodules.rq_y0 = rq0 = Requantizer(rq)
        m.submodules.rq_y1 = rq1 = Requantizer(rq)
        m.d.comb += [
            rq0.i.valid.eq(v4), rq0.i.payload.eq(s0), rq0.shift.eq(self.out_shift),
            rq1.i.valid.eq(v4), rq1.i.payload.eq(s1), rq1.shift.eq(self.out_shift),
        ]
        L = Requantizer.latency
        tag, mask, last = delay(m, tag4, L, "tag_rq"), delay(m, mask4, L, "mask_rq"), \
            delay(m, last4, L, "last_rq")
        out = queue.i.payload
        m.d.comb += [
            queue.i.valid.eq(rq0.o.valid),
            out.y0.eq(Mux(mask[0], 0, rq0.o.payload.value)),
            out.y1.eq(Mux(mask[1], 0, rq1.o.payload.value)),
            out.block.eq(tag.block), out.vector.eq(tag.vector), out.last.eq(last),
        ]
        m.submodules.clamps = clamps = SaturationCounter()
        m.d.comb += [clamps.valid.eq(rq0.o.valid),
                     clamps.saturated.eq(Cat(rq0.o.payload.saturated, rq1.o.payload.saturated)),
                     self.saturations.eq(clamps.count)]
        wiring.connect(m, queue.o, wiring.flipped(self.o))
        return m
