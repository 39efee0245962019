"""``OutputStage``: bias, activation and requantisation of the inverse FFT's output.

Model twin: :func:`circnn.sim.layer_model.output_stage` (and the padding
mask of :func:`~circnn.sim.layer_model.layer_forward`).

Each output word carries two samples ``(y[2n], y[2n+1])`` of block ``i``
(the tag that the drain pushed for the block):

    y = sat(round(act(ifft_out + bias[i*k + 2n (+1)]) / 2**out_shift))

and samples past ``out_features`` are forced to zero, as the next layer's
zero padding expects.  The bias memory is initialised at elaboration and
writable at run time.  Three pipeline registers, an output FIFO with
credit counting, full back-pressure.
"""

import numpy as np
from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.sim.layer_model import EngineConfig, LayerProgram

from .arith import round_shift_var, saturate, saturates
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
    def __init__(self, eng: EngineConfig, prog: LayerProgram | None = None):
        self.eng = eng
        self.bias_words = eng.max_p * eng.half
        self.bias_bits = max(1, (self.bias_words - 1).bit_length())
        self.init = bias_image(prog, eng) if prog is not None else []
        self.fifo_depth = 3 + 4
        bias_pair = data.StructLayout({"b0": signed(eng.bias_width), "b1": signed(eng.bias_width)})
        self.bias_pair = bias_pair
        super().__init__({
            "i": In(stream.Signature(ifft_output_layout(eng))),
            "tag": In(stream.Signature(tag_layout(eng))),
            "o": Out(stream.Signature(layer_output_layout(eng))),
            "relu": In(1),
            "out_shift": In(range(-MAX_LEFT_SHIFT, eng.sum_width)),
            "out_features": In(range(eng.max_p * eng.k + 1)),
            "load": In(load_layout(eng)),
            "saturations": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        eng = self.eng
        N, k = eng.half, eng.k
        log_n = N.bit_length() - 1

        m.submodules.bias = bias = memory.Memory(shape=self.bias_pair, depth=1 << self.bias_bits,
                                                 init=self.init)
        rd = bias.read_port()
        wr = bias.write_port()
        m.d.comb += [
            wr.addr.eq(self.load.addr[:self.bias_bits]),
            wr.data.eq(self.load.data[:self.bias_pair.size]),
            wr.en.eq(self.load.en & (self.load.target == 1)),
        ]

        credits = Signal(range(self.fifo_depth + 1), init=self.fifo_depth)
        released = Signal()
        accept = Signal()
        n = Signal(range(max(2, N)))
        m.d.comb += [
            self.i.ready.eq(self.tag.valid & (credits != 0)),
            accept.eq(self.i.valid & self.i.ready),
            self.tag.ready.eq(accept & self.i.payload.last),
            rd.addr.eq((self.tag.payload.block << log_n) | n),
        ]
        with m.If(accept):
            m.d.sync += n.eq(Mux(self.i.payload.last, 0, n + 1))
        m.d.sync += credits.eq(credits - accept + released)

        # c1: sample + bias, activation
        sw = eng.sum_width
        s0, s1 = Signal(signed(sw)), Signal(signed(sw))
        v1 = Signal()
        tag1 = Signal(tag_layout(eng))
        n1, last1 = Signal(range(max(2, N))), Signal()
        x = Signal(ifft_output_layout(eng))
        v0, tag0, n0 = Signal(), Signal(tag_layout(eng)), Signal(range(max(2, N)))
        m.d.sync += [v0.eq(accept), x.eq(self.i.payload), tag0.eq(self.tag.payload), n0.eq(n)]
        sum0 = x.x0 + rd.data.b0
        sum1 = x.x1 + rd.data.b1
        m.d.sync += [
            s0.eq(Mux(self.relu & (sum0 < 0), 0, sum0)),
            s1.eq(Mux(self.relu & (sum1 < 0), 0, sum1)),
            v1.eq(v0), tag1.eq(tag0), n1.eq(n0), last1.eq(x.last),
        ]
        # c2: requantise (round by a run-time shift), saturate, mask the padding
        out = Signal(layer_output_layout(eng))
        v2 = Signal()
        r0 = round_shift_var(s0, self.out_shift, eng.rounding, max_left=MAX_LEFT_SHIFT)
        r1 = round_shift_var(s1, self.out_shift, eng.rounding, max_left=MAX_LEFT_SHIFT)
        element = (tag1.block * k) + (n1 << 1)
        m.d.sync += [
            out.y0.eq(Mux(element >= self.out_features, 0, saturate(r0, eng.act_width))),
            out.y1.eq(Mux(element + 1 >= self.out_features, 0, saturate(r1, eng.act_width))),
            out.block.eq(tag1.block), out.vector.eq(tag1.vector), out.last.eq(last1),
            v2.eq(v1),
        ]
        with m.If(v1):
            m.d.sync += self.saturations.eq(self.saturations + saturates(r0, eng.act_width)
                                            + saturates(r1, eng.act_width))

        m.submodules.out_fifo = out_fifo = fifo.SyncFIFOBuffered(
            width=layer_output_layout(eng).size, depth=self.fifo_depth)
        m.d.comb += [
            out_fifo.w_en.eq(v2), out_fifo.w_data.eq(out.as_value()),
            self.o.valid.eq(out_fifo.r_rdy), self.o.payload.eq(out_fifo.r_data),
            out_fifo.r_en.eq(self.o.ready),
            released.eq(self.o.valid & self.o.ready),
        ]
        return m
