"""``LayerController``: the layer level of the hierarchical controller.

It owns the activation buffers and moves one layer's data around the layer
core (:class:`circnn.rtl.layer.CirculantLayer`, whose own scheduler is the
PE level):

* **IN**: the host's input stream fills it with a network batch
  (``images`` = ``layer_batches`` x B inputs of ``in_pairs`` activation
  pairs) whenever it is empty, also while earlier inferences compute, so the
  next batch's input streams in early;
* **A**, **B**: ping-pong buffers between layers.

Each is an :class:`~circnn.rtl.activation_buffer.ActivationBuffer`: per image
(input vector) a region of ``stride`` words of two values, each value
writable alone.  A dense vector is stored as its values in order, a feature
map channel-last, value ``(y*W + x)*C + c``.

On ``start`` (``shape`` describes the layer, :func:`layer_shape_layout`):

* the **reader** streams ``images`` x rows x q*k/2 pairs from buffer ``src``
  into the core, which takes them B rows at a time (a core batch: one weight
  read per B rows; the next core batch's spectra load while this one's passes
  run, so ``layer_batches`` core batches of a dense layer pay the pipeline's
  fill and drain once).  A dense layer's row is an image's first ``in_values`` values (a
  map read flattened in (h, w, c) order); a convolution's rows are the im2col
  patches of each output pixel (:class:`~circnn.rtl.patch_addresses.PatchAddresses`),
  image after image, read a pair per clock when C is even (a pair never
  straddles pixels) and a value per clock when C is odd; padding values are
  zeros inserted, never read, and every row ends with zeros up to q*k values;
* the **writer** places every output pair the core produces: a dense
  layer's at ``(core batch * B + vector, block * k/2 + n)`` of buffer ``dst`` or on the host
  output stream when ``dst`` is OUT; a convolution's go to the
  :class:`~circnn.rtl.map_writer.MapWriter` (channel-last map, max-pooling
  fused), which owns ``dst``'s write port and read port for the layer (the
  reader reads another buffer).

``done`` pulses on the clock after the layer's last output has been written
(for a dense layer, two clocks after the core's last output was taken: the
core's outputs pass a register slice).
IN is released as soon as the reader is done with it.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import Buffer, NetworkConfig

from .activation_buffer import ActivationBuffer, BufferAddress
from .arith import mul_const
from .credit_queue import CreditQueue, queue_depth
from .delay import delay
from .layer_shape import layer_shape_layout
from .map_writer import MapWriter
from .output_stage import layer_output_layout
from .patch_addresses import PatchAddresses
from .real_fft import real_input_layout
from .stream_register import StreamRegister

__all__ = ["LayerController"]


def _read_layout(net: NetworkConfig) -> data.StructLayout:
    """A word read for the core, with what the pair assembler does with it."""
    width = net.engine.fft_config.width
    return data.StructLayout({"x0": signed(width), "x1": signed(width),
                              "single": 1,      # one value: the half ``half`` (else the pair)
                              "half": 1,
                              "zero": 1,        # padding: 0 instead of what was read
                              "last": 1})       # the patch's (the row's data's) last read


class LayerController(wiring.Component):
    def __init__(self, net: NetworkConfig):
        self.net = net
        eng = net.engine
        self._address = BufferAddress(net)
        pair = real_input_layout(eng.fft_config)
        out = layer_output_layout(eng)
        super().__init__({
            "host_i": In(stream.Signature(pair)),
            "host_o": Out(stream.Signature(out)),
            "core_i": Out(stream.Signature(pair)),
            "core_o": In(stream.Signature(out)),
            "accept_input": In(1),                  # the network is running
            "in_pairs": In(range(net.stride + 1)),  # pairs per input vector
            "in_full": Out(1),
            "start": In(1),
            "src": In(Buffer), "dst": In(Buffer),
            "q": In(range(eng.max_q + 1)), "p": In(range(eng.max_p + 1)),
            "shape": In(layer_shape_layout(net)),
            "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        net, eng = self.net, self.net.engine
        N, B = eng.half, eng.batch
        images = net.images
        log_n = N.bit_length() - 1
        pair = real_input_layout(eng.fft_config)
        value = pair.members["x0"]
        shape = self.shape
        # `start` is registered here: it leaves the network controller's state machine,
        # far away, and fans out to every counter of this level (the layer's
        # registers and shape are steady from `start` until `done`)
        start = Signal()
        m.d.sync += start.eq(self.start)
        # the layer's shape, latched on `start` (the descriptor's registers are far
        # away, and the writer compares against them every clock)
        ws = Signal(layer_shape_layout(net))
        with m.If(start):
            m.d.sync += ws.eq(shape)
        bufs = {}
        for name in ("in", "a", "b"):
            bufs[name] = m.submodules[f"buf_{name}"] = ActivationBuffer(net, value)
        latency = bufs["in"].latency
        # a credit per read in flight: the request register, the buffer's latency,
        # then the queue
        read_layout = _read_layout(net)
        m.submodules.read_queue = rqueue = CreditQueue(read_layout, queue_depth(latency + 1))

        # --- IN: filled by the host ------------------------------------
        in_pos = Signal(range(net.stride + 1))
        in_vec = Signal(range(max(2, images)))
        in_full = Signal()
        release_in = Signal()
        host_take = Signal()
        # in_pairs is set while the network checks its table, before input is
        # accepted; in_last follows it a clock later, and so does acceptance
        in_last = Signal(range(net.stride + 1))
        accepted = Signal()
        m.d.sync += [in_last.eq(self.in_pairs - 1), accepted.eq(self.accept_input)]
        m.d.comb += [
            self.host_i.ready.eq(self.accept_input & accepted & ~in_full),
            host_take.eq(self.host_i.valid & self.host_i.ready),
            self.in_full.eq(in_full),
        ]
        # the write is registered and lands a clock after the take (the host stream's
        # valid comes from outside); IN is read only after in_full has crossed
        # the network controller, clocks later
        in_write = bufs["in"]
        in_take = Signal()
        m.d.sync += [in_write.wr_addr.eq(self._address(in_pos, in_vec)),
                     in_write.wr_data[0].eq(self.host_i.payload.x0),
                     in_write.wr_data[1].eq(self.host_i.payload.x1),
                     in_take.eq(host_take)]
        m.d.comb += in_write.wr_en.eq(Cat(in_take, in_take))
        with m.If(host_take):
            m.d.sync += in_pos.eq(in_pos + 1)
            with m.If(in_pos == in_last):
                m.d.sync += [in_pos.eq(0), in_vec.eq(in_vec + 1)]
                with m.If(in_vec == images - 1):
                    m.d.sync += [in_vec.eq(0), in_full.eq(1)]
        release_in_d = Signal()     # registered: the reader's counters are far from IN's
        m.d.sync += release_in_d.eq(release_in)
        with m.If(release_in_d):
            m.d.sync += in_full.eq(0)

        # --- reader: src buffer -> read requests -------------------------
        src = Signal(Buffer)
        dst = Signal(Buffer)
        conv = Signal()
        # without convolution (NetworkConfig.convolution), every convolution path is
        # constant and yosys removes it
        shape_conv = shape.conv if net.convolution else Const(0)
        q_last = Signal(range(eng.max_q * N))       # pairs per row, less one
        p_pairs = Signal(range(eng.max_p * N + 1))
        r_img = Signal(range(max(2, images)))
        with m.If(start):
            m.d.sync += [src.eq(self.src), dst.eq(self.dst), conv.eq(shape_conv),
                         q_last.eq((self.q << log_n) - 1), p_pairs.eq(self.p << log_n),
                         r_img.eq(0)]

        # a read request: address and what the assembler does with the word
        req_word = Signal(self._address.word_bits)
        req_single, req_half, req_zero, req_last = Signal(), Signal(), Signal(), Signal()
        issue = Signal()
        reads_done = Signal()       # the layer's last request is issued this clock
        m.d.comb += rqueue.admit.eq(issue)

        # dense rows: the first in_values values of each image, in order
        d_pos = Signal(range(net.stride + 1))
        # the word before the image's last (wraps when the image is one word, then
        # unused), and whether it is one word: "d_pos + 1 is the last" becomes
        # an equality of registers, no adder before it.  The image has
        # (in_values + 1) / 2 words, so the one before its last is
        # (in_values - 3) / 2 (floored): one subtraction from `shape`, not two
        d_before_last = Signal(range(net.stride + 1))
        d_one_word = Signal()
        d_at_last = Signal()
        d_odd = Signal()
        # convolution rows: the patch walker, on values (C odd) or on pairs (C even)
        pa = m.submodules.patches = PatchAddresses(net.patch)
        pair_mode = Signal()
        m.d.comb += [
            pa.h.eq(ws.h), pa.w.eq(ws.w),
            pa.c.eq(Mux(pair_mode, ws.c >> 1, ws.c)),
            pa.kh.eq(ws.kh), pa.kw.eq(ws.kw), pa.sh.eq(ws.sh), pa.sw.eq(ws.sw),
            pa.ph.eq(ws.ph), pa.pw.eq(ws.pw),
        ]
        # the walker's words pass a register slice: its index sum and padding compares
        # stay beside it, the reader's request logic sees registers
        walk = m.submodules.patch_link = StreamRegister(pa.o.payload.shape())
        wiring.connect(m, pa.o, walk.i)
        index = walk.o.payload.index
        # in_values <= 2 (the image is one word) from its bits, not a compare:
        # a carry chain here was shared by synthesis with the network
        # controller's checks of the same value and routed across the chip
        one_word = (shape.in_values[2:] == 0) & ~(shape.in_values[0] & shape.in_values[1])
        with m.FSM(name="reader"):
            with m.State("IDLE"):
                with m.If(start):
                    m.d.sync += [pair_mode.eq(~shape.c[0]), d_pos.eq(0),
                                 d_before_last.eq((shape.in_values - 3) >> 1),
                                 d_one_word.eq(one_word), d_at_last.eq(one_word),
                                 d_odd.eq(shape.in_values[0])]
                    with m.If(shape_conv):
                        m.next = "CONV_START"
                    with m.Else():
                        m.next = "DENSE"
            with m.State("DENSE"):
                m.d.comb += [issue.eq(rqueue.can_admit), req_word.eq(d_pos),
                             req_single.eq(d_at_last & d_odd), req_last.eq(d_at_last)]
                with m.If(issue):
                    m.d.sync += [d_pos.eq(d_pos + 1), d_at_last.eq(d_pos == d_before_last)]
                    with m.If(d_at_last):
                        m.d.sync += [d_pos.eq(0), d_at_last.eq(d_one_word), r_img.eq(r_img + 1)]
                        with m.If(r_img == images - 1):
                            m.d.comb += reads_done.eq(1)
                            m.next = "IDLE"
            with m.State("CONV_START"):
                m.d.comb += pa.start.eq(1)
                m.next = "CONV"
            with m.State("CONV"):
                m.d.comb += [
                    walk.o.ready.eq(rqueue.can_admit), issue.eq(walk.o.valid & rqueue.can_admit),
                    req_word.eq(Mux(pair_mode, index, index >> 1)), req_half.eq(index[0]),
                    req_single.eq(~pair_mode), req_zero.eq(walk.o.payload.zero),
                    req_last.eq(walk.o.payload.last),
                ]
                with m.If(issue & walk.o.payload.final):
                    m.d.sync += r_img.eq(r_img + 1)
                    with m.If(r_img == images - 1):
                        m.d.comb += reads_done.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "CONV_START"
        m.d.comb += release_in.eq(reads_done & (src == Buffer.IN))
        # the request is registered before it addresses the buffers (the walker's
        # index sum is far from them); the buffers' read data leaves registers
        # (BlockRAM); the source select and the request's flags travel beside it
        # into the queue
        read_word = Signal(self._address.word_bits)
        read_img = Signal.like(r_img)
        m.d.sync += [read_word.eq(req_word), read_img.eq(r_img)]
        read_addr = self._address(read_word, read_img)
        read_valid = delay(m, issue, latency + 1, "read_valid")
        read_src = delay(m, src, latency + 1, "read_src")
        meta = delay(m, Cat(req_single, req_half, req_zero, req_last), latency + 1, "read_meta")
        held = {name: buf.rd_data for name, buf in bufs.items()}
        for h in range(2):
            m.d.comb += rqueue.i.payload[f"x{h}"].eq(
                Mux(read_src == Buffer.A, held["a"][h],
                    Mux(read_src == Buffer.B, held["b"][h], held["in"][h])))
        m.d.comb += [rqueue.i.valid.eq(read_valid),
                     Cat(rqueue.i.payload.single, rqueue.i.payload.half, rqueue.i.payload.zero,
                         rqueue.i.payload.last).eq(meta)]

        # --- pair assembler: read words -> the core's rows ------------------
        e = rqueue.o.payload
        v_lo = Signal(value)
        v_hi = Signal(value)
        m.d.comb += [v_lo.eq(Mux(e.zero, 0, Mux(e.single & e.half, e.x1, e.x0))),
                     v_hi.eq(Mux(e.zero, 0, e.x1))]
        pending = Signal()              # a single value waits for its partner
        pend_val = Signal(value)
        padding = Signal()              # the row's data is done: zeros up to q*k
        row_pos = Signal(range(eng.max_q * N))
        emits = Signal()                # the head of the queue makes a pair
        m.d.comb += emits.eq(~e.single | pending | e.last)
        # the rows leave through a register slice: the core's input queue counts
        # credits on its valid, far away
        m.submodules.row_link = row_link = StreamRegister(pair)
        wiring.connect(m, row_link.o, wiring.flipped(self.core_i))
        core_i = row_link.i
        m.d.comb += [
            core_i.valid.eq(padding | (rqueue.o.valid & emits)),
            core_i.payload.x0.eq(Mux(padding, 0, Mux(e.single & pending, pend_val, v_lo))),
            core_i.payload.x1.eq(Mux(padding, 0,
                                     Mux(e.single, Mux(pending, v_lo, 0), v_hi))),
            rqueue.o.ready.eq(~padding & (core_i.ready | ~emits)),
        ]
        with m.If(rqueue.o.valid & rqueue.o.ready):
            m.d.sync += [pending.eq(e.single & ~pending & ~e.last), pend_val.eq(v_lo)]
        with m.If(core_i.valid & core_i.ready):
            m.d.sync += row_pos.eq(row_pos + 1)
            with m.If(row_pos == q_last):
                m.d.sync += [row_pos.eq(0), padding.eq(0)]
            with m.Elif(~padding & e.last):
                m.d.sync += padding.eq(1)

        # --- writer: core -> dst buffer or the host ----------------------
        # the core's outputs arrive through a register slice (the writers' ready
        # decisions stay here, the core's output queue sees a register)
        m.submodules.out_link = out_link = StreamRegister(self.core_o.payload.shape())
        wiring.connect(m, wiring.flipped(self.core_o), out_link.i)
        core_o = out_link.o
        out = core_o.payload
        to_host = dst == Buffer.OUT
        n = Signal(range(max(2, N)))
        moved = Signal()
        # a convolution's pairs go to the map writer through a register slice: its
        # queue's level (the writer's decisions) stays there, and the core side's
        # ready is a flip-flop of the slice
        m.submodules.map_writer = mw = MapWriter(net, value, latency)
        m.submodules.map_link = map_link = StreamRegister(mw.i.payload.shape())
        wiring.connect(m, map_link.o, mw.i)
        to_map = map_link.i
        m.d.comb += [
            self.host_o.payload.eq(out),
            self.host_o.valid.eq(core_o.valid & to_host),
            core_o.ready.eq(Mux(to_host, self.host_o.ready, Mux(conv, to_map.ready, 1))),
            moved.eq(core_o.valid & core_o.ready),
        ]
        # a batch is B rows: p*k/2 pairs per row; a layer is `rows` batches
        written = Signal(range(eng.batch * eng.max_p * N + 1))
        # the batch's output count less two, latched (p_pairs is set on `start`,
        # and the first output arrives many clocks later): "the next word ends
        # the batch" is then formed as a word moves, into `at_batch_end`, a
        # register (the compare, the batch count's enable and its route are no
        # longer in one clock)
        before_last_written = Signal(range(eng.batch * eng.max_p * N + 1))
        m.d.sync += before_last_written.eq(mul_const(p_pairs, B) - 2)
        batches = Signal.like(ws.rows, name="batches")
        rows_last = Signal.like(ws.rows, name="rows_last")
        m.d.sync += rows_last.eq(ws.rows - 1)
        # whether the core batch under way is the layer's last, registered: it is
        # read only at the batch's last word, at least two clocks after `batches`
        # last changed (a batch has p*k/2*B >= 2 words)
        on_last_batch = Signal()
        m.d.sync += on_last_batch.eq(batches == rows_last)
        # the word offered ends its batch (its layer): flags of the word, from
        # registers (the map writer's queue takes them whether or not it is ready)
        # (written == last_written, kept as a register: a batch has two words or
        # more, so after its first word and after its last the flag is 0)
        at_batch_end = Signal()
        at_layer_end = at_batch_end & on_last_batch
        batch_end = moved & at_batch_end
        last_moved = moved & at_layer_end
        with m.If(start):
            m.d.sync += [batches.eq(0), written.eq(0), n.eq(0), at_batch_end.eq(0)]
        with m.If(moved):
            m.d.sync += [n.eq(Mux(out.last, 0, n + 1)), written.eq(written + 1),
                         at_batch_end.eq(written == before_last_written)]
            with m.If(batch_end):
                m.d.sync += [written.eq(0), batches.eq(batches + 1), at_batch_end.eq(0)]
        m.d.comb += [
            mw.shape.eq(ws), mw.start.eq(start),
            to_map.payload.y0.eq(out.y0), to_map.payload.y1.eq(out.y1),
            to_map.payload.vector.eq(out.vector),
            to_map.payload.channel.eq(Cat(Const(0, 1), n, out.block)),      # block*k + 2n
            to_map.payload.batch_last.eq(at_batch_end), to_map.payload.layer_last.eq(at_layer_end),
            to_map.valid.eq(conv & core_o.valid),
            mw.rd_data.eq(Mux(dst == Buffer.A, bufs["a"].rd_data, bufs["b"].rd_data)),
        ]
        # done is registered (it travels to the network controller's counters); a
        # convolution is done when its last write has landed
        # (a dense layer's last write lands a clock after it moved: see below)
        dense_done = delay(m, last_moved, 2, "dense_done")
        m.d.comb += self.done.eq(Mux(conv, mw.done, dense_done))

        # dense: each pair as it moves, at (core batch * B + vector, block*k/2 + n)
        # (`batches` counts the layer's core batches)
        if net.layer_batches == 1:
            dense_image = out.vector
        elif B & (B - 1) == 0:
            dense_image = Cat(out.vector[:B.bit_length() - 1], batches)
        else:
            dense_image = mul_const(batches, B) + out.vector
        # the write is registered and lands a clock after the pair moved: `moved`
        # depends on the host stream's ready, which must not reach the block
        # RAMs' write enables in the same clock
        dense_addr = Signal(self._address.bits, name="dense_addr")
        dense_y = Signal(data.ArrayLayout(value, 2), name="dense_y")
        m.d.sync += [dense_addr.eq(self._address((out.block << log_n) | n, dense_image)),
                     dense_y[0].eq(out.y0), dense_y[1].eq(out.y1)]
        for name in ("a", "b"):
            buf = bufs[name]
            mine = dst == Buffer[name.upper()]
            dense_en = Signal(name=f"dense_en_{name}")
            m.d.sync += dense_en.eq(moved & ~conv & mine)
            m.d.comb += [
                buf.wr_addr.eq(Mux(conv, mw.wr_addr, dense_addr)),
                buf.wr_data[0].eq(Mux(conv, mw.wr_data[0], dense_y[0])),
                buf.wr_data[1].eq(Mux(conv, mw.wr_data[1], dense_y[1])),
                buf.wr_en.eq(Mux(conv, Mux(mine, mw.wr_en, 0), Cat(dense_en, dense_en))),
            ]
        # read ports: the reader's, except on the buffer the writer pools into
        for name, buf in bufs.items():
            mine = (dst == Buffer[name.upper()]) if name != "in" else Const(0)
            m.d.comb += buf.rd_addr.eq(Mux(mine & conv, mw.rd_addr, read_addr))
        return m
