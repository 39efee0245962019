"""``LayerController``: the layer level of the hierarchical controller.

It owns the activation buffers and moves one layer's data around the layer
core (:class:`circnn.rtl.layer.CirculantLayer`, whose own scheduler is the
PE level):

* **IN**: the host's input stream fills it with a batch (B inputs of
  ``in_pairs`` activation pairs) whenever it is empty, also while earlier
  inferences compute, so the next batch's input streams in early;
* **A**, **B**: ping-pong buffers between layers.

Every buffer holds, per image (input vector) ``b``, a region of ``stride``
words (a power of two: address ``{b, word}``, no multiplier); a word is a
pair of values (``x0`` at value index 2*word, ``x1`` at 2*word + 1), each
half written on its own.  A dense vector is stored as its values in order, a
feature map channel-last, value ``(y*W + x)*C + c``.

On ``start`` (``shape`` describes the layer, :func:`layer_shape_layout`):

* the **reader** streams B x rows x q*k/2 pairs from buffer ``src`` into the
  core.  A dense layer's row is an image's first ``in_values`` values (a
  map read flattened in (h, w, c) order); a convolution's rows are the im2col
  patches of each output pixel (:class:`~circnn.rtl.patch_addresses.PatchAddresses`),
  image after image, read a pair per clock when C is even (a pair never
  straddles pixels) and a value per clock when C is odd; padding values are
  zeros inserted, never read, and every row ends with zeros up to q*k values;
* the **writer** places every output pair the core produces: a dense
  layer's at ``(vector, block * k/2 + n)`` of buffer ``dst`` or on the host
  output stream when ``dst`` is OUT; a convolution's output channels below
  C_out (``out_features``) at value ``pixel * C_out + channel`` of the image's
  map, or, with max-pooling fused, into every pooling window holding the
  pixel: the window's first pixel writes, later ones read, compare and write
  back the maximum (read-modify-write, ``latency + 3`` clocks each; the
  buffer's read port is free, the reader reads another buffer).  Pairs
  that straddle two words (odd C_out) are written half by half.

``done`` pulses on the clock after the layer's last output has been placed.
IN is released as soon as the reader is done with it.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import Buffer, NetworkConfig

from .arith import mul_const
from .block_ram import BlockRAM
from .credit_queue import CreditQueue, queue_depth
from .delay import delay
from .output_stage import layer_output_layout
from .patch_addresses import PatchAddresses
from .real_fft import real_input_layout

__all__ = ["LayerController", "layer_shape_layout"]


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


def _count_bits(net: NetworkConfig) -> int:
    """Bits of a value count or offset inside one image's region of a buffer."""
    return _bits(2 * net.stride + 1) + 1


def layer_shape_layout(net: NetworkConfig) -> data.StructLayout:
    """What the layer level needs of a layer, beyond the core's registers: the
    network controller drives it from the descriptor and its geometry unit."""
    pc, eng = net.patch, net.engine
    side = range(pc.max_side + 1)
    out_side = range(pc.max_side + pc.max_padding + 1)
    kern = range(pc.max_kernel + 1)
    stride = range(pc.max_stride + 1)
    count = _count_bits(net)
    return data.StructLayout({
        "conv": 1,
        "h": side, "w": side, "c": range(pc.max_channels + 1),
        "kh": kern, "kw": kern, "sh": stride, "sw": stride,
        "ph": range(pc.max_padding + 1), "pw": range(pc.max_padding + 1),
        "in_values": count,                 # dense: values read per vector
        "c_out": range(eng.max_p * eng.k + 1),
        "out_h": out_side, "out_w": out_side,
        "rows": 24,                         # patch rows per image (1: dense)
        "pool": 1, "pool_kh": kern, "pool_kw": kern, "pool_sh": stride, "pool_sw": stride,
        "pool_h": out_side, "pool_w": out_side,     # the pooled map's sides
        "pool_row": count,                  # values per row of the pooled map
    })


def _read_layout(net: NetworkConfig) -> data.StructLayout:
    """A word read for the core, with what the pair assembler does with it."""
    width = net.engine.fft_config.width
    return data.StructLayout({"x0": signed(width), "x1": signed(width),
                              "single": 1,      # one value: the half ``half`` (else the pair)
                              "half": 1,
                              "zero": 1,        # padding: 0 instead of what was read
                              "last": 1})       # the patch's (the row's data's) last read


class _Buffer:
    """An activation buffer: two half memories (even and odd values) of one address."""

    def __init__(self, m, name, shape, depth):
        self.halves = [BlockRAM(shape, depth) for _ in range(2)]
        for h, ram in enumerate(self.halves):
            m.submodules[f"buf_{name}{h}"] = ram
        self.latency = self.halves[0].latency


class LayerController(wiring.Component):
    def __init__(self, net: NetworkConfig):
        self.net = net
        eng = net.engine
        self.pos_bits = _bits(net.stride)
        self.vec_bits = _bits(eng.batch) if eng.batch > 1 else 0
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

    def _address(self, pos, vec):
        """``{vec, pos}``: ``pos`` zero-extended or cut to its field."""
        pos = Value.cast(pos).as_unsigned()
        pos = Cat(pos, Const(0, max(0, self.pos_bits - len(pos))))[:self.pos_bits]
        return Cat(pos, Value.cast(vec)[:self.vec_bits]) if self.vec_bits else pos

    def elaborate(self, platform):
        m = Module()
        net, eng = self.net, self.net.engine
        N, B = eng.half, eng.batch
        log_n = N.bit_length() - 1
        pair = real_input_layout(eng.fft_config)
        value = pair.members["x0"]
        depth = 1 << (self.pos_bits + self.vec_bits)
        count = _count_bits(net)
        shape = self.shape
        # the layer's shape, latched on `start` (the descriptor's registers are far
        # away, and the writer compares against them every clock)
        ws = Signal(layer_shape_layout(net))
        with m.If(self.start):
            m.d.sync += ws.eq(shape)
        bufs = {name: _Buffer(m, name, value, depth) for name in ("in", "a", "b")}
        latency = bufs["in"].latency
        # a credit per read in flight: the request register, the buffer's latency,
        # then the queue
        read_layout = _read_layout(net)
        m.submodules.read_queue = rqueue = CreditQueue(read_layout, queue_depth(latency + 1))

        # --- IN: filled by the host ------------------------------------
        in_pos = Signal(range(net.stride + 1))
        in_vec = Signal(range(max(2, B)))
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
        for h, ram in enumerate(bufs["in"].halves):
            m.d.comb += [ram.wr_addr.eq(self._address(in_pos, in_vec)),
                         ram.wr_data.eq(self.host_i.payload[f"x{h}"]), ram.wr_en.eq(host_take)]
        with m.If(host_take):
            m.d.sync += in_pos.eq(in_pos + 1)
            with m.If(in_pos == in_last):
                m.d.sync += [in_pos.eq(0), in_vec.eq(in_vec + 1)]
                with m.If(in_vec == B - 1):
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
        r_img = Signal(range(max(2, B)))
        with m.If(self.start):
            m.d.sync += [src.eq(self.src), dst.eq(self.dst), conv.eq(shape_conv),
                         q_last.eq((self.q << log_n) - 1), p_pairs.eq(self.p << log_n),
                         r_img.eq(0)]

        # a read request: address and what the assembler does with the word
        req_word = Signal(self.pos_bits)
        req_single, req_half, req_zero, req_last = Signal(), Signal(), Signal(), Signal()
        issue = Signal()
        reads_done = Signal()       # the layer's last request is issued this clock
        m.d.comb += rqueue.admit.eq(issue)

        # dense rows: the first in_values values of each image, in order
        d_pos = Signal(range(net.stride + 1))
        d_last = Signal(range(net.stride + 1))
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
        index = pa.o.payload.index
        with m.FSM(name="reader"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [pair_mode.eq(~shape.c[0]), d_pos.eq(0),
                                 d_last.eq(((shape.in_values + 1) >> 1) - 1),
                                 d_at_last.eq(shape.in_values <= 2), d_odd.eq(shape.in_values[0])]
                    with m.If(shape_conv):
                        m.next = "CONV_START"
                    with m.Else():
                        m.next = "DENSE"
            with m.State("DENSE"):
                m.d.comb += [issue.eq(rqueue.can_admit), req_word.eq(d_pos),
                             req_single.eq(d_at_last & d_odd), req_last.eq(d_at_last)]
                with m.If(issue):
                    m.d.sync += [d_pos.eq(d_pos + 1), d_at_last.eq(d_pos + 1 == d_last)]
                    with m.If(d_at_last):
                        m.d.sync += [d_pos.eq(0), d_at_last.eq(d_last == 0), r_img.eq(r_img + 1)]
                        with m.If(r_img == B - 1):
                            m.d.comb += reads_done.eq(1)
                            m.next = "IDLE"
            with m.State("CONV_START"):
                m.d.comb += pa.start.eq(1)
                m.next = "CONV"
            with m.State("CONV"):
                m.d.comb += [
                    pa.o.ready.eq(rqueue.can_admit), issue.eq(pa.o.valid & rqueue.can_admit),
                    req_word.eq(Mux(pair_mode, index, index >> 1)), req_half.eq(index[0]),
                    req_single.eq(~pair_mode), req_zero.eq(pa.o.payload.zero),
                    req_last.eq(pa.o.payload.last),
                ]
                with m.If(issue & pa.o.payload.final):
                    m.d.sync += r_img.eq(r_img + 1)
                    with m.If(r_img == B - 1):
                        m.d.comb += reads_done.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "CONV_START"
        m.d.comb += release_in.eq(reads_done & (src == Buffer.IN))
        # the request is registered before it addresses the buffers (the walker's
        # index sum is far from them); the buffers' read data leaves registers
        # (BlockRAM); the source select and the request's flags travel beside it
        # into the queue
        read_word = Signal(self.pos_bits)
        read_img = Signal.like(r_img)
        m.d.sync += [read_word.eq(req_word), read_img.eq(r_img)]
        read_addr = self._address(read_word, read_img)
        read_valid = delay(m, issue, latency + 1, "read_valid")
        read_src = delay(m, src, latency + 1, "read_src")
        meta = delay(m, Cat(req_single, req_half, req_zero, req_last), latency + 1, "read_meta")
        held = {name: [ram.rd_data for ram in buf.halves] for name, buf in bufs.items()}
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
        core_i = self.core_i
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
        out = self.core_o.payload
        to_host = dst == Buffer.OUT
        n = Signal(range(max(2, N)))
        moved = Signal()
        # a convolution's pairs wait in a short queue: its writer places a pair in one
        # or more clocks (odd C_out, pooling), and the queue keeps that decision off
        # the core's ready (both sides of the queue are registers)
        entry = data.StructLayout({"y0": value, "y1": value, "vector": out.vector.shape(),
                                   "channel": range(eng.max_p * eng.k + 1),
                                   "keep0": 1, "keep1": 1,     # channel (+1) below C_out
                                   "batch_last": 1, "layer_last": 1})
        m.submodules.write_queue = wq = fifo.SyncFIFOBuffered(width=entry.size, depth=4)
        m.d.comb += [
            self.host_o.payload.eq(out),
            self.host_o.valid.eq(self.core_o.valid & to_host),
            self.core_o.ready.eq(Mux(to_host, self.host_o.ready, Mux(conv, wq.w_rdy, 1))),
            moved.eq(self.core_o.valid & self.core_o.ready),
        ]
        # a batch is B rows: p*k/2 pairs per row; a layer is `rows` batches
        written = Signal(range(eng.batch * eng.max_p * N + 1))
        # the batch's output count less one, latched (p_pairs is set on
        # `start`, and the first output arrives many clocks later)
        last_written = Signal(range(eng.batch * eng.max_p * N + 1))
        m.d.sync += last_written.eq(mul_const(p_pairs, B) - 1)
        batches = Signal(24)
        rows_last = Signal(24)
        m.d.sync += rows_last.eq(ws.rows - 1)
        batch_end = moved & (written == last_written)
        last_moved = batch_end & (batches == rows_last)
        with m.If(self.start):
            m.d.sync += [batches.eq(0), written.eq(0), n.eq(0)]
        with m.If(moved):
            m.d.sync += [n.eq(Mux(out.last, 0, n + 1)), written.eq(written + 1)]
            with m.If(batch_end):
                m.d.sync += [written.eq(0), batches.eq(batches + 1)]
        entry_in = Signal(entry)
        m.d.comb += [
            entry_in.y0.eq(out.y0), entry_in.y1.eq(out.y1), entry_in.vector.eq(out.vector),
            entry_in.channel.eq(Cat(Const(0, 1), n, out.block)),      # block*k + 2n
            entry_in.keep0.eq(entry_in.channel < ws.c_out),
            entry_in.keep1.eq(entry_in.channel + 1 < ws.c_out),
            entry_in.batch_last.eq(batch_end), entry_in.layer_last.eq(last_moved),
            wq.w_data.eq(entry_in), wq.w_en.eq(conv & self.core_o.valid),
        ]
        e = entry(wq.r_data)

        # the convolution's row state: the output pixel (x, y) of image `img`,
        # its value offset pixel*C_out, and per direction its pooling window
        # (pu: the last window holding it, ph: its place in that window's
        # stride, off: the window's value offset in the pooled map)
        side = range(net.patch.max_side + net.patch.max_padding + 1)
        phase = range(net.patch.max_stride + 1)

        def row_state(name):
            return {
                "img": Signal(range(max(2, B) + 1), name=f"{name}_img"),
                "pix": Signal(count, name=f"{name}_pix"),
                "x": Signal(side, name=f"{name}_x"), "y": Signal(side, name=f"{name}_y"),
                "phx": Signal(phase, name=f"{name}_phx"), "phy": Signal(phase, name=f"{name}_phy"),
                "pux": Signal(side, name=f"{name}_pux"), "puy": Signal(side, name=f"{name}_puy"),
                "offx": Signal(count, name=f"{name}_offx"),
                "offy": Signal(count, name=f"{name}_offy"),
            }
        cur, saved = row_state("row"), row_state("batch_row")
        # the next row's state, registered a clock behind `cur` (the row state moves
        # at most every other clock: a move is followed by a `stale` clock)
        nxt_c = {key: Signal.like(sig, name=f"next_c_{key}") for key, sig in cur.items()}
        nxt = {key: Signal.like(sig, name=f"next_{key}") for key, sig in cur.items()}
        m.d.sync += [nxt[key].eq(nxt_c[key]) for key in cur]
        # the limits the row state is compared with, less one, in registers
        out_w_last, out_h_last = Signal.like(ws.out_w), Signal.like(ws.out_h)
        psw_last, psh_last = Signal.like(ws.pool_sw), Signal.like(ws.pool_sh)
        m.d.sync += [out_w_last.eq(ws.out_w - 1), out_h_last.eq(ws.out_h - 1),
                     psw_last.eq(ws.pool_sw - 1), psh_last.eq(ws.pool_sh - 1)]
        x_wrap = cur["x"] == out_w_last
        y_wrap = cur["y"] == out_h_last
        m.d.comb += [sig.eq(cur[key]) for key, sig in nxt_c.items()]

        def step(axis, stride_last, pool_step):
            """The next pixel along ``axis``: the window place moves on, and the window
            with it every pool stride pixels."""
            ph, pu, off = cur[f"ph{axis}"], cur[f"pu{axis}"], cur[f"off{axis}"]
            m.d.comb += [nxt_c[axis].eq(cur[axis] + 1), nxt_c[f"ph{axis}"].eq(ph + 1)]
            with m.If(ph == stride_last):
                m.d.comb += [nxt_c[f"ph{axis}"].eq(0), nxt_c[f"pu{axis}"].eq(pu + 1),
                             nxt_c[f"off{axis}"].eq(off + pool_step)]

        def restart(axis):
            m.d.comb += [nxt_c[axis].eq(0), nxt_c[f"ph{axis}"].eq(0), nxt_c[f"pu{axis}"].eq(0),
                         nxt_c[f"off{axis}"].eq(0)]

        m.d.comb += nxt_c["pix"].eq(cur["pix"] + ws.c_out)
        with m.If(x_wrap):
            restart("x")
            with m.If(y_wrap):
                restart("y")
                m.d.comb += [nxt_c["img"].eq(cur["img"] + 1), nxt_c["pix"].eq(0)]
            with m.Else():
                step("y", psh_last, ws.pool_row)
        with m.Else():
            step("x", psw_last, ws.c_out)

        # the row state follows the pairs leaving the queue: outputs come pass by
        # pass, vector by vector, so it steps to the next row when the vector tag
        # changes, back to the batch's first row when a pass starts again, and on
        # past the batch after its last pair
        cur_vec = Signal.like(out.vector)
        new_batch = Signal()
        advance = Signal()       # a clock spent moving the row state (conv)
        m.d.comb += advance.eq(conv & (new_batch | (wq.r_rdy & (e.vector != cur_vec))))
        with m.If(self.start):
            m.d.sync += [sig.eq(0) for sig in list(cur.values()) + list(saved.values())]
            m.d.sync += [cur_vec.eq(0), new_batch.eq(0)]
        with m.Elif(advance):
            with m.If(new_batch):
                m.d.sync += [cur[key].eq(nxt[key]) for key in cur]
                m.d.sync += [saved[key].eq(nxt[key]) for key in cur]
                m.d.sync += [cur_vec.eq(0), new_batch.eq(0)]
            with m.Else():
                m.d.sync += cur_vec.eq(e.vector)
                with m.If(e.vector == 0):
                    m.d.sync += [cur[key].eq(saved[key]) for key in cur]
                with m.Else():
                    m.d.sync += [cur[key].eq(nxt[key]) for key in cur]

        # the pooling windows holding the pixel, two per direction at most:
        # target t = 2*ty + tx, window (pu_y - ty, pu_x - tx).  Registered from the
        # row state (two clocks after it moves: `stale`, `stale2` hold the writer)
        pool = ws.pool
        in_y0 = cur["puy"] < ws.pool_h
        in_x0 = cur["pux"] < ws.pool_w
        in_y1 = (cur["puy"] != 0) & (cur["phy"] + ws.pool_sh < ws.pool_kh)
        in_x1 = (cur["pux"] != 0) & (cur["phx"] + ws.pool_sw < ws.pool_kw)
        row_targets = Signal(4)
        row_base = [Signal(count, name=f"row_base{t}") for t in range(4)]
        row_first = Signal()        # the pixel opens its window (0, 0)
        row_first_t = Signal(4)     # its first target (one-hot), a clock later still
        stale, stale2 = Signal(), Signal()
        m.d.sync += [
            stale.eq(advance | self.start), stale2.eq(stale),
            row_first_t.eq(row_targets & (-row_targets)[:4]),
            row_targets.eq(Mux(pool, Cat(in_y0 & in_x0, in_y0 & in_x1, in_y1 & in_x0,
                                         in_y1 & in_x1), 1)),
            row_first.eq(~pool | ((cur["phx"] == 0) & (cur["phy"] == 0))),
        ]
        for t, base in enumerate(row_base):
            ty, tx = t >> 1, t & 1
            pooled = (cur["offy"] - (ws.pool_row if ty else 0)
                      + (cur["offx"] - (ws.c_out if tx else 0)))
            m.d.sync += base.eq(Mux(pool, pooled, cur["pix"]) if t == 0 else pooled)

        # the pair being written (conv): taken from the queue into registers with its
        # words in each target window and the list of its writes ("ops": for target
        # t, op 2t writes the word holding the first value, op 2t+1 the next word
        # when the pair straddles two), then written op by op.  An op's write is
        # registered (it lands two clocks after the op fires) and so is the word it
        # reads, so a read-modify-write takes latency + 3 clocks: its data is that of
        # the read presented latency + 1 clocks before it fires, after every earlier
        # write has landed.
        h_valid = Signal()
        h_y = [Signal(value, name="held_y0"), Signal(value, name="held_y1")]
        h_word = [[Signal(self.pos_bits, name=f"held_word{t}_{q}") for q in range(2)]
                  for t in range(4)]
        h_odd = Signal(4)
        h_keep1 = Signal()
        h_first = Signal()
        h_last = Signal()               # the layer's last pair
        h_img = Signal(range(max(2, B)))
        ops_left = Signal(8)
        cur_op = Signal(8)              # the op being done: the lowest left (one-hot)
        # the current op, decoded into registers when it becomes current (keeps the
        # one-hot decoding off the write's data path)
        op_valid, op_first = Signal(), Signal()
        op_last = Signal()              # no op after this one
        op_word = Signal(self.pos_bits)
        # what the op writes: the half enables and the values (its pair's y0 and y1,
        # or y1 into half 0 of the next word, or y0 into half 1 when the first value's
        # index is odd)
        op_en = Signal(2)
        op_val = [Signal(value, name="op_val0"), Signal(value, name="op_val1")]

        def load_values(part: int, odd, y0, y1, keep_second):
            if part:
                m.d.sync += [op_en.eq(0b01), op_val[0].eq(y1)]
                return
            with m.If(odd):
                m.d.sync += [op_en.eq(0b10), op_val[1].eq(y0)]
            with m.Else():
                m.d.sync += [op_en.eq(Cat(1, keep_second)), op_val[0].eq(y0), op_val[1].eq(y1)]

        def lowest(bits):
            return bits & (-bits)[:len(bits)]

        def single(bits):
            return (bits & (bits - 1)[:len(bits)]) == 0

        def decode(bits, left, words, odds, first_flag):
            """Load the registers of op ``bits`` (one-hot, the lowest of ``left``) of a
            pair with these words."""
            m.d.sync += [op_valid.eq(bits != 0), op_first.eq(first_flag & (bits[0] | bits[1])),
                         op_last.eq(single(left))]
            for t in range(4):
                for q in range(2):
                    with m.If(bits[2 * t + q]):
                        m.d.sync += op_word.eq(words[t][q])
                        load_values(q, odds[t], h_y[0], h_y[1], h_keep1)

        rmw_wait = Signal(range(latency + 3))
        rest = Signal(8)
        m.d.comb += rest.eq(ops_left & ~cur_op)
        fire = Signal()
        m.d.comb += fire.eq(h_valid & op_valid & (op_first | (rmw_wait == latency + 2)))
        finished = Signal()
        m.d.comb += finished.eq(h_valid & (~op_valid | (fire & op_last)))
        take = Signal()
        m.d.comb += [take.eq(conv & wq.r_rdy & ~advance & ~stale & ~stale2
                             & (~h_valid | finished)),
                     wq.r_en.eq(take)]
        with m.If(h_valid & op_valid & ~op_first & (rmw_wait != latency + 2)):
            m.d.sync += rmw_wait.eq(rmw_wait + 1)
        keep0, keep1 = e.keep0, e.keep1
        # the channel is even: a value index's parity is its window base's
        ops = Signal(8)
        m.d.comb += ops.eq(Cat(*[Cat(row_targets[t] & keep0,
                                     row_targets[t] & keep0 & keep1 & row_base[t][0])
                                 for t in range(4)]))
        words = [[Signal(self.pos_bits, name=f"take_word{t}_{q}") for q in range(2)]
                 for t in range(4)]
        half_channel = e.channel >> 1          # the channel is even
        for t in range(4):
            m.d.comb += [words[t][0].eq((row_base[t] >> 1) + half_channel),
                         words[t][1].eq((row_base[t] >> 1) + half_channel + 1)]
        row_odd = Cat(*[base[0] for base in row_base])
        with m.If(take):
            m.d.sync += [h_valid.eq(1), h_y[0].eq(e.y0), h_y[1].eq(e.y1), h_keep1.eq(keep1),
                         h_first.eq(row_first), h_last.eq(e.layer_last), h_img.eq(cur["img"]),
                         new_batch.eq(e.batch_last), ops_left.eq(ops),
                         h_odd.eq(row_odd), rmw_wait.eq(0)]
            m.d.sync += [h_word[t][q].eq(words[t][q]) for t in range(4) for q in range(2)]
            # the first op: part 0 of the first target (its one-hot precomputed)
            m.d.sync += [cur_op.eq(Mux(keep0, Cat(*[Cat(row_first_t[t], 0) for t in range(4)]), 0)),
                         op_valid.eq(keep0 & (row_targets != 0)),
                         op_first.eq(row_first & row_first_t[0]), op_last.eq(single(ops))]
            for t in range(4):
                with m.If(row_first_t[t]):
                    m.d.sync += op_word.eq(words[t][0])
                    load_values(0, row_odd[t], e.y0, e.y1, keep1)
        with m.Elif(fire):
            m.d.sync += [rmw_wait.eq(0), ops_left.eq(rest), cur_op.eq(lowest(rest))]
            decode(lowest(rest), rest, h_word, h_odd, h_first)
        with m.Elif(finished):
            m.d.sync += h_valid.eq(0)
        with m.If(self.start):
            m.d.sync += h_valid.eq(0)
        # done is registered (it travels to the network controller's counters); a
        # convolution is done when its last pair has been placed
        m.d.sync += self.done.eq(Mux(conv, finished & h_last, last_moved))

        # the op's write (registered): the larger of the value and the word read
        # for a later pixel of a window
        op_addr = self._address(op_word, h_img)
        conv_addr = Signal.like(op_addr, name="conv_wr_addr")
        conv_en = Signal(2)
        conv_val = [Signal(value, name="conv_wr_val0"), Signal(value, name="conv_wr_val1")]
        old = Signal(2 * value.width)   # the word read from dst (registered)
        m.d.sync += [conv_addr.eq(op_addr), conv_en.eq(Mux(fire, op_en, 0))]
        for h in range(2):
            held = old[h * value.width:(h + 1) * value.width].as_signed()
            m.d.sync += conv_val[h].eq(Mux(op_first | (op_val[h] > held), op_val[h], held))

        # dense: each pair as it moves, at (vector, block*k/2 + n)
        dense_addr = self._address((out.block << log_n) | n, out.vector)
        for name in ("a", "b"):
            buf = bufs[name]
            mine = dst == Buffer[name.upper()]
            for h, ram in enumerate(buf.halves):
                m.d.comb += [
                    ram.wr_addr.eq(Mux(conv, conv_addr, dense_addr)),
                    ram.wr_data.eq(Mux(conv, conv_val[h], out[f"y{h}"])),
                    ram.wr_en.eq(mine & Mux(conv, conv_en[h], moved)),
                ]
        m.d.sync += old.eq(Mux(dst == Buffer.A,
                               Cat(*[ram.rd_data for ram in bufs["a"].halves]),
                               Cat(*[ram.rd_data for ram in bufs["b"].halves])))
        # read ports: the reader's, except on the buffer the writer pools into
        for name, buf in bufs.items():
            mine = (dst == Buffer[name.upper()]) if name != "in" else Const(0)
            for ram in buf.halves:
                m.d.comb += ram.rd_addr.eq(Mux(mine & conv, op_addr, read_addr))
        return m
