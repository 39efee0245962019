"""``MapWriter``: places a convolution's output pairs into a channel-last feature
map, with max-pooling fused.

Input: the core's output pairs, tagged with their ``vector`` (the row of the
batch), ``channel`` (of ``y0``: ``block*k + 2n``, even), ``batch_last`` (the
batch's last pair) and ``layer_last`` (the layer's).  A batch is B consecutive
patch rows (output pixels, raster order, image after image, over the
network batch's ``layer_batches`` x B images); the core gives
them pass by pass (one block of output channels), vector by vector.

Without pooling a pair's channels below C_out (``shape.c_out``) go to value
``pixel*C_out + channel`` of its image's map.  With pooling they go into every
pooling window holding the pixel (at most two per direction, since a window is
at most twice its stride): the window's first pixel writes, later ones
read-modify-write the maximum.

Pipeline (``L`` = the buffer's read latency):

* **row state**: the pixel of the row, its windows (``targets``) and their
  value offsets, moved when the vector tag changes (back to the batch's first
  row for a new pass, on past the batch after its last pair); a move costs 3
  clocks in which no pair is taken;
* **op list**: per row, the writes (ops) a pair makes, in order: for each
  target window ``t`` the word holding ``y0`` and, when the window's base is
  odd, the next word for ``y1``;
* **pair**: a pair taken from a 4-deep queue issues its ops one a clock;
* **write pipeline**, no stall: the op's word is read (clock 1), its data is
  there L clocks later, compared (clock L + 2), the larger chosen (L + 3) and
  written (L + 4).

Hazards: two ops writing one value are of the same image, window and channel,
hence different pixels, hence different rows.  So the first pair of a row
waits (with pooling) until every op of the rows before it has been written
before its first read: at most L clocks beyond the row move's 3.  Within a
row no two ops write the same value.

``done`` pulses on the clock after the layer's last write lands.
"""

from amaranth.hdl import Array, Cat, Module, Mux, Signal, Value
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import NetworkConfig

from .activation_buffer import BufferAddress
from .delay import delay
from .layer_shape import count_bits, layer_shape_layout

__all__ = ["MapWriter", "map_pair_layout"]

#: ops a pair may make: two target windows per direction, two words per window
MAX_OPS = 8


def map_pair_layout(net: NetworkConfig, value) -> data.StructLayout:
    eng = net.engine
    return data.StructLayout({"y0": value, "y1": value, "vector": range(max(2, eng.batch)),
                              "channel": range(eng.max_p * eng.k + 1),
                              "batch_last": 1, "layer_last": 1})


def _write_op_layout(address: BufferAddress, value) -> data.StructLayout:
    return data.StructLayout({
        "valid": 1, "addr": address.bits, "en": 2,
        "val": data.ArrayLayout(value, 2),
        "first": 1,          # the window's first pixel: a plain write
        "end": 1,            # the layer's last op
    })


def _biased(value):
    """A signed value as offset binary (the sign bit inverted): unsigned
    comparison of two such gives the signed order, one carry chain and its
    carry out, with no sign correction after it."""
    value = Value.cast(value)
    return Cat(value[:-1], ~value[-1])


class MapWriter(wiring.Component):
    def __init__(self, net: NetworkConfig, value, latency: int):
        self.net = net
        self.value = value
        self.latency = latency
        self.address = BufferAddress(net)
        pair = data.ArrayLayout(value, 2)
        super().__init__({
            "i": In(stream.Signature(map_pair_layout(net, value))),
            "shape": In(layer_shape_layout(net)),     # steady during the layer
            "start": In(1),
            "rd_addr": Out(self.address.bits),
            "rd_data": In(pair),
            "wr_addr": Out(self.address.bits),
            "wr_data": Out(pair),
            "wr_en": Out(2),
            "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        net = self.net
        L = self.latency
        images = net.images     # the network batch's images, the row state's range
        value = self.value
        count = count_bits(net)
        ws = self.shape

        # --- the queue: keeps the writer's decisions off the core's ready ------
        # keep0/keep1: the channel (+1) is below C_out; new_row: the pair's vector
        # differs from the pair's before it (0 after a batch's last pair and at the
        # layer's start), formed as the pair enters, so that the row-move decision
        # at the queue's head compares nothing
        entry = data.StructLayout({**map_pair_layout(net, value).members,
                                   "keep0": 1, "keep1": 1, "new_row": 1})
        m.submodules.queue = wq = fifo.SyncFIFOBuffered(width=entry.size, depth=4)
        entry_in = Signal(entry)
        i = self.i.payload
        in_vec = Signal.like(i.vector)      # the vector new_row compares with
        m.d.comb += [
            entry_in.y0.eq(i.y0), entry_in.y1.eq(i.y1), entry_in.vector.eq(i.vector),
            entry_in.channel.eq(i.channel), entry_in.batch_last.eq(i.batch_last),
            entry_in.layer_last.eq(i.layer_last),
            entry_in.keep0.eq(i.channel < ws.c_out), entry_in.keep1.eq(i.channel + 1 < ws.c_out),
            entry_in.new_row.eq(i.vector != in_vec),
            wq.w_data.eq(entry_in), wq.w_en.eq(self.i.valid), self.i.ready.eq(wq.w_rdy),
        ]
        with m.If(self.start):
            m.d.sync += in_vec.eq(0)
        with m.Elif(self.i.valid & self.i.ready):
            m.d.sync += in_vec.eq(Mux(i.batch_last, 0, i.vector))
        e = entry(wq.r_data)

        # --- row state: the output pixel (x, y) of image `img`, its value offset
        # pixel*C_out, and per direction its pooling window (pu: the last window
        # holding it, ph: its place in that window's stride, off: the window's
        # value offset in the pooled map)
        side = range(net.patch.max_side + net.patch.max_padding + 1)
        phase = range(net.patch.max_stride + 1)

        def row_state(name):
            return {
                "img": Signal(range(max(2, images) + 1), name=f"{name}_img"),
                "pix": Signal(count, name=f"{name}_pix"),
                "x": Signal(side, name=f"{name}_x"), "y": Signal(side, name=f"{name}_y"),
                "phx": Signal(phase, name=f"{name}_phx"), "phy": Signal(phase, name=f"{name}_phy"),
                "pux": Signal(side, name=f"{name}_pux"), "puy": Signal(side, name=f"{name}_puy"),
                "offx": Signal(count, name=f"{name}_offx"),
                "offy": Signal(count, name=f"{name}_offy"),
            }
        cur, saved = row_state("row"), row_state("batch_row")
        # the next row's state, registered two clocks behind `cur` (its wrap compares
        # a clock behind, then the sums: the row state moves at most every fourth
        # clock)
        nxt_c = {key: Signal.like(sig, name=f"next_c_{key}") for key, sig in cur.items()}
        nxt = {key: Signal.like(sig, name=f"next_{key}") for key, sig in cur.items()}
        m.d.sync += [nxt[key].eq(nxt_c[key]) for key in cur]
        # the limits the row state is compared with, less one, in registers
        out_w_last, out_h_last = Signal.like(ws.out_w), Signal.like(ws.out_h)
        psw_last, psh_last = Signal.like(ws.pool_sw), Signal.like(ws.pool_sh)
        m.d.sync += [out_w_last.eq(ws.out_w - 1), out_h_last.eq(ws.out_h - 1),
                     psw_last.eq(ws.pool_sw - 1), psh_last.eq(ws.pool_sh - 1)]
        x_wrap, y_wrap, phx_wrap, phy_wrap = Signal(), Signal(), Signal(), Signal()
        m.d.sync += [x_wrap.eq(cur["x"] == out_w_last), y_wrap.eq(cur["y"] == out_h_last),
                     phx_wrap.eq(cur["phx"] == psw_last), phy_wrap.eq(cur["phy"] == psh_last)]
        m.d.comb += [sig.eq(cur[key]) for key, sig in nxt_c.items()]

        def step(axis, ph_wrap, pool_step):
            """The next pixel along ``axis``: the window place moves on, and the window
            with it every pool stride pixels."""
            ph, pu, off = cur[f"ph{axis}"], cur[f"pu{axis}"], cur[f"off{axis}"]
            m.d.comb += [nxt_c[axis].eq(cur[axis] + 1), nxt_c[f"ph{axis}"].eq(ph + 1)]
            with m.If(ph_wrap):
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
                step("y", phy_wrap, ws.pool_row)
        with m.Else():
            step("x", phx_wrap, ws.c_out)

        # the row state follows the pairs leaving the queue: it steps to the next
        # row when the vector tag changes, back to the batch's first row when a
        # pass starts again, and on past the batch after its last pair
        # (the head's `new_row` holds until it is taken: `moved` says the row state
        # has moved for it already)
        moved = Signal()
        new_batch = Signal()
        advance = Signal()          # a clock spent moving the row state
        m.d.comb += advance.eq(new_batch | (wq.r_rdy & e.new_row & ~moved))
        with m.If(self.start):
            m.d.sync += [sig.eq(0) for sig in list(cur.values()) + list(saved.values())]
            m.d.sync += [moved.eq(0), new_batch.eq(0)]
        with m.Elif(advance):
            with m.If(new_batch):
                m.d.sync += [cur[key].eq(nxt[key]) for key in cur]
                m.d.sync += [saved[key].eq(nxt[key]) for key in cur]
                m.d.sync += new_batch.eq(0)
            with m.Else():
                m.d.sync += moved.eq(1)
                with m.If(e.vector == 0):
                    m.d.sync += [cur[key].eq(saved[key]) for key in cur]
                with m.Else():
                    m.d.sync += [cur[key].eq(nxt[key]) for key in cur]

        # the pooling windows holding the pixel, two per direction at most: target
        # t = 2*ty + tx is window (pu_y - ty, pu_x - tx).  Registered from the row
        # state a clock after it moves (`stale`), the row's op list and window
        # offsets a clock later (`stale2`)
        pool = ws.pool
        in_y0 = cur["puy"] < ws.pool_h
        in_x0 = cur["pux"] < ws.pool_w
        in_y1 = (cur["puy"] != 0) & (cur["phy"] + ws.pool_sh < ws.pool_kh)
        in_x1 = (cur["pux"] != 0) & (cur["phx"] + ws.pool_sw < ws.pool_kw)
        row_targets = Signal(4)
        row_base = [Signal(count, name=f"row_base{t}") for t in range(4)]
        row_first = Signal()        # the pixel opens its window, target 0
        stale, stale2 = Signal(), Signal()
        m.d.sync += [
            stale.eq(advance | self.start), stale2.eq(stale),
            row_targets.eq(Mux(pool, Cat(in_y0 & in_x0, in_y0 & in_x1, in_y1 & in_x0,
                                         in_y1 & in_x1), 1)),
            row_first.eq(~pool | ((cur["phx"] == 0) & (cur["phy"] == 0))),
        ]
        # window t's value offset: the two directions' offsets a clock after the move,
        # their sums (`row_base`) a clock later; the parities (`row_odd`, for the op
        # list) directly
        off_y = [Signal(count, name=f"row_off_y{ty}") for ty in range(2)]
        off_x = [Signal(count, name=f"row_off_x{tx}") for tx in range(2)]
        pix = Signal(count)
        row_odd = Signal(4)
        m.d.sync += [off_y[0].eq(cur["offy"]), off_y[1].eq(cur["offy"] - ws.pool_row),
                     off_x[0].eq(cur["offx"]), off_x[1].eq(cur["offx"] - ws.c_out),
                     pix.eq(cur["pix"])]
        for t, base in enumerate(row_base):
            ty, tx = t >> 1, t & 1
            pooled = off_y[ty] + off_x[tx]
            odd = (cur["offy"][0] ^ (ws.pool_row[0] if ty else 0)
                   ^ cur["offx"][0] ^ (ws.c_out[0] if tx else 0))
            m.d.sync += [base.eq(Mux(pool, pooled, pix) if t == 0 else pooled),
                         row_odd[t].eq(Mux(pool, odd, cur["pix"][0]) if t == 0 else odd)]

        # the row's op list: op slot s = 2t + part (part 1: the next word, for y1,
        # when window t's base is odd), compacted in slot order
        slots = Cat(*[Cat(row_targets[t], row_targets[t] & row_odd[t]) for t in range(4)])
        row_list = [Signal(3, name=f"row_op{n}") for n in range(MAX_OPS)]
        row_more = Signal(MAX_OPS)      # bit n: the list has an op n
        # (a table of the 8-bit slot mask: logic, no adders)
        with m.Switch(slots):
            for mask in range(1 << MAX_OPS):
                listed = [slot for slot in range(MAX_OPS) if mask >> slot & 1]
                with m.Case(mask):
                    m.d.sync += [row_list[n].eq(listed[n] if n < len(listed) else 0)
                                 for n in range(MAX_OPS)]
                    m.d.sync += row_more.eq((1 << len(listed)) - 1)

        # --- the pair: taken from the queue with its row's ops; issues one a clock
        p_valid = Signal()
        p_list = [Signal(3, name=f"pair_op{n}") for n in range(MAX_OPS)]
        p_more = Signal(MAX_OPS)
        p_y = [Signal(value, name="pair_y0"), Signal(value, name="pair_y1")]
        p_keep1, p_first, p_end, p_null = Signal(), Signal(), Signal(), Signal()
        p_img = Signal(range(max(2, images)))
        p_word = [Signal(self.address.word_bits, name=f"pair_word{t}") for t in range(4)]
        p_odd = Signal(4)
        last_op = ~p_more[1]
        # a row's first pair waits for the rows before it to be written (pooling):
        # `drain` counts the clocks until the last op issued has been written.  What
        # `take` waits for is in registers: `settled` (the row state's moves are two
        # clocks behind) and `drained` (no write in flight, or no pooling)
        fresh = Signal()
        drain = Signal(range(L + 3))
        settled, drained = Signal(), Signal()
        m.d.sync += [settled.eq(~(advance | self.start | stale)),
                     drained.eq(~pool | (~p_valid & (drain <= 1)))]
        take = Signal()
        free = Signal()             # the pair's slot is free for the next clock
        m.d.comb += free.eq(~p_valid | last_op)
        m.d.comb += [
            take.eq(wq.r_rdy & ~advance & settled & free & (~fresh | drained)),
            wq.r_en.eq(take),
        ]
        with m.If(p_valid):
            m.d.sync += drain.eq(L + 2)
        with m.Elif(drain != 0):
            m.d.sync += drain.eq(drain - 1)
        with m.If(advance):
            m.d.sync += fresh.eq(1)
        half_channel = e.channel >> 1          # the channel is even
        writes = Signal()
        m.d.comb += writes.eq(e.keep0 & row_more[0])
        # the pair's data registers load whenever its slot is free, taken or not
        # (p_valid says whether they hold a pair): `take`, a few levels of logic
        # from the queue's head, then drives a handful of flip-flops, not the
        # whole pair
        with m.If(free):
            m.d.sync += [
                p_null.eq(~writes),
                p_y[0].eq(e.y0), p_y[1].eq(e.y1), p_keep1.eq(e.keep1), p_first.eq(row_first),
                p_end.eq(e.layer_last), p_img.eq(cur["img"]), p_odd.eq(row_odd),
                p_more.eq(Mux(writes, row_more, 1)),
            ]
            m.d.sync += [p_list[n].eq(Mux(writes, row_list[n], 0)) for n in range(MAX_OPS)]
            m.d.sync += [p_word[t].eq((row_base[t] >> 1) + half_channel) for t in range(4)]
        with m.Else():
            m.d.sync += [p_list[n].eq(p_list[n + 1]) for n in range(MAX_OPS - 1)]
            m.d.sync += [p_list[-1].eq(0), p_more.eq(p_more >> 1)]
        with m.If(take):
            # a pair of channels beyond C_out, or of a pixel in no pooling window,
            # is dropped, unless it ends the layer: then it issues one op that
            # writes nothing
            m.d.sync += [p_valid.eq(writes | e.layer_last), new_batch.eq(e.batch_last),
                         fresh.eq(0), moved.eq(0)]
        with m.Elif(p_valid & last_op):
            m.d.sync += p_valid.eq(0)
        with m.If(self.start):
            m.d.sync += [p_valid.eq(0), fresh.eq(0)]

        # the op at the head of the list: the word holding y0 in window t (part 0;
        # both values, or y0 alone into half 1 when the base is odd) or the next
        # word (part 1: y1 into half 0)
        head = p_list[0]
        part, t = head[0], head[1:3]
        odd = Array(p_odd)[t]
        op = Signal(_write_op_layout(self.address, value))
        m.d.comb += [
            op.valid.eq(p_valid),
            op.addr.eq(self.address(Array(p_word)[t] + part, p_img)),
            op.en.eq(Mux(p_null, 0, Mux(part, Cat(p_keep1, 0),
                                        Mux(odd, 0b10, Cat(1, p_keep1))))),
            op.val[0].eq(Mux(part, p_y[1], p_y[0])),
            op.val[1].eq(Mux(odd, p_y[0], p_y[1])),
            op.first.eq(p_first & (t == 0)),
            op.end.eq(p_end & last_op),
        ]

        # --- the write pipeline: read at clock 1, data at 1 + L, compared at 2 + L,
        # the larger chosen at 3 + L, written at 4 + L
        op_layout = _write_op_layout(self.address, value)
        reading = delay(m, op.as_value(), 1, "op_read")
        m.d.comb += self.rd_addr.eq(op_layout(reading).addr)
        comparing = op_layout(delay(m, reading, L + 1, "op_compare"))
        choosing = op_layout(delay(m, comparing.as_value(), 1, "op_choose"))
        old = Signal(data.ArrayLayout(value, 2))
        old_chosen = Signal(data.ArrayLayout(value, 2))
        newer = Signal(2)       # the op's value is kept (a plain write, or the larger)
        m.d.sync += [old.eq(self.rd_data), old_chosen.eq(old)]
        m.d.sync += [newer[h].eq(comparing.first | (_biased(comparing.val[h]) > _biased(old[h])))
                     for h in range(2)]
        w_en = Signal(2)
        w_end = Signal()
        m.d.sync += [self.wr_addr.eq(choosing.addr),
                     w_en.eq(Mux(choosing.valid, choosing.en, 0)),
                     w_end.eq(choosing.valid & choosing.end)]
        m.d.sync += [self.wr_data[h].eq(Mux(newer[h], choosing.val[h], old_chosen[h]))
                     for h in range(2)]
        m.d.comb += self.wr_en.eq(w_en)
        # registered: the write lands as done rises
        m.d.sync += self.done.eq(w_end)
        return m
