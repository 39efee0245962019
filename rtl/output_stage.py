"""``OutputStage``: bias, activation and requantisation of the inverse FFT's output.

Model twin: :func:`circnn.sim.layer_model.output_stage` (and the padding
mask of :func:`~circnn.sim.layer_model.layer_forward`).

Each output word carries two samples ``(y[2n], y[2n+1])`` of block ``i``
(the tag that the drain pushed for the block):

    y = sat(round(act(ifft_out + bias[i*k + 2n (+1)]) / 2**out_shift))

and samples past ``out_features`` are forced to zero, as the next layer's
zero padding expects.  The bias memory is initialised at elaboration and
writable at run time.  Six pipeline registers, an output FIFO with
credit counting, full back-pressure.
"""

import numpy as np
from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.sim.layer_model import EngineConfig, LayerProgram

from .arith import requantize_pipeline
from .block_ram import BlockRAM
from .delay import delay
from .drain import tag_layout
from .pe_array import load_layout

__all__ = ["OutputStage", "ifft_output_layout", "layer_output_layout", "bias_image"]

#: out_shift may be as low as -MAX_LEFT_SHIFT (a left shift).
MAX_LEFT_SHIFT = 8


def ifft_output_layout(eng: EngineConfig):
    return data.StructLayout({"x0": signed(eng.ifft_out_width), "x1": signed(eng.ifft_out_width),
                              "last": 1})


def layer_output_layout(eng: EngineConfig):
    return data.StructLayout({"y0": signed(eng.act_width), "y1": signed(eng.act_width),
                              "block": range(max(2, eng.max_p)), "vector": range(max(2, eng.batch)),
                              "last": 1})


def bias_image(prog: LayerProgram, eng: EngineConfig):
    pairs = np.asarray(prog.bias).reshape(-1, 2)
    return [{"b0": int(a), "b1": int(b)} for a, b in pairs]


class OutputStage(wiring.Component):
    def __init__(self, eng: EngineConfig, prog: LayerProgram | None = None, bias_pairs=None,
                 target: str = "generic"):
        self.eng = eng
        self.bias_words = eng.bias_words
        self.bias_bits = max(1, (self.bias_words - 1).bit_length())
        if bias_pairs is not None:
            self.init = [{"b0": int(a), "b1": int(b)} for a, b in bias_pairs]
        else:
            self.init = bias_image(prog, eng) if prog is not None else []
        bias_pair = data.StructLayout({"b0": signed(eng.bias_width), "b1": signed(eng.bias_width)})
        self.bias_pair = bias_pair
        self.bias = BlockRAM(bias_pair, 1 << self.bias_bits, self.init, target)
        # the sample waits for the bias read beyond the usual two clocks
        self.bias_wait = self.bias.latency - 2
        self.fifo_depth = 6 + self.bias_wait + 4  # pipeline depth + slack
        super().__init__({
            "i": In(stream.Signature(ifft_output_layout(eng))),
            "tag": In(stream.Signature(tag_layout(eng))),
            "o": Out(stream.Signature(layer_output_layout(eng))),
            "relu": In(1),
            "out_shift": In(range(-MAX_LEFT_SHIFT, eng.sum_width)),
            "out_features": In(range(eng.max_p * eng.k + 1)),
            "b_base": In(max(1, (eng.bias_words - 1).bit_length())),   # first bias pair of the layer
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
            bias.wr_data.eq(self.load.data[:self.bias_pair.size]),
            bias.wr_en.eq(self.load.en & (self.load.target == 1)),
        ]

        credits = Signal(range(self.fifo_depth + 1), init=self.fifo_depth)
        released = Signal()
        accept = Signal()
        n = Signal(range(max(2, N)))
        m.d.comb += [
            self.i.ready.eq(self.tag.valid & (credits != 0)),
            accept.eq(self.i.valid & self.i.ready),
            self.tag.ready.eq(accept & self.i.payload.last),
            bias.rd_addr.eq(self.b_base + ((self.tag.payload.block << log_n) | n)),
        ]
        with m.If(accept):
            m.d.sync += n.eq(Mux(self.i.payload.last, 0, n + 1))
        m.d.sync += credits.eq(credits - accept + released)

        # c1: the sample, its tag, and the bias pair from memory
        x = Signal(ifft_output_layout(eng))
        v1, tag1, n1 = Signal(), Signal(tag_layout(eng)), Signal(range(max(2, N)))
        m.d.sync += [v1.eq(accept), x.eq(self.i.payload), tag1.eq(self.tag.payload), n1.eq(n)]
        # (one more clock when the bias memory is deeper than one block RAM)
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
        # c3: bias, activation
        sw = eng.sum_width
        s0, s1 = Signal(signed(sw)), Signal(signed(sw))
        v3, tag3, mask3, last3 = Signal(), Signal(tag_layout(eng)), Signal(2), Signal()
        sum0 = x2.x0 + b2.b0
        sum1 = x2.x1 + b2.b1
        m.d.sync += [
            s0.eq(Mux(self.relu & (sum0 < 0), 0, sum0)),
            s1.eq(Mux(self.relu & (sum1 < 0), 0, sum1)),
            v3.eq(v2), tag3.eq(tag2), mask3.eq(mask2), last3.eq(x2.last),
        ]
        # c4..c6: requantise by the run-time shift, saturate
        y0, sat0, latency = requantize_pipeline(m, s0, self.out_shift, eng.act_width, eng.rounding,
                                                max_left=MAX_LEFT_SHIFT, name="rq_y0")
        y1, sat1, _ = requantize_pipeline(m, s1, self.out_shift, eng.act_width, eng.rounding,
                                          max_left=MAX_LEFT_SHIFT, name="rq_y1")
        v, tag, mask, last = v3, tag3, mask3, last3
        for d in range(latency):
            v_n, tag_n = Signal(name=f"v_rq{d}"), Signal(tag_layout(eng), name=f"tag_rq{d}")
            mask_n, last_n = Signal(2, name=f"mask_rq{d}"), Signal(name=f"last_rq{d}")
            m.d.sync += [v_n.eq(v), tag_n.eq(tag), mask_n.eq(mask), last_n.eq(last)]
            v, tag, mask, last = v_n, tag_n, mask_n, last_n
        v2 = v
        out = Signal(layer_output_layout(eng))
        m.d.comb += [
            out.y0.eq(Mux(mask[0], 0, y0)), out.y1.eq(Mux(mask[1], 0, y1)),
            out.block.eq(tag.block), out.vector.eq(tag.vector), out.last.eq(last),
        ]
        with m.If(v2):
            m.d.sync += self.saturations.eq(self.saturations + sat0 + sat1)

        m.submodules.out_fifo = out_fifo = fifo.SyncFIFOBuffered(
            width=layer_output_layout(eng).size, depth=self.fifo_depth)
        m.d.comb += [
            out_fifo.w_en.eq(v2), out_fifo.w_data.eq(out.as_value()),
            self.o.valid.eq(out_fifo.r_rdy), self.o.payload.eq(out_fifo.r_data),
            out_fifo.r_en.eq(self.o.ready),
            released.eq(self.o.valid & self.o.ready),
        ]
        return m
