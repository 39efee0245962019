"""``PatchAddresses``: the im2col address generator of a convolution layer.

For a channel-last feature map (H, W, C) stored value by value at index
``(y*W + x)*C + c``, it emits, patch row by patch row (output pixel (oy, ox)
in row-major order), the KH*KW*C values of each patch in (kh, kw, c) order:
the index of input pixel (oy*SH + kh - PH, ox*SW + kw - PW), channel c, or
``zero`` set (and index 0) when that pixel lies in the padding (the reader
supplies 0; zeros are never stored).  ``last`` marks the last value of a patch row,
``final`` the last value of the map.  Its NumPy twin is
:func:`circnn.sim.model.conv.patch_indices`.

Protocol: the geometry (``h``, ``w``, ``c``, ``kh``, ``kw``, ``sh``, ``sw``,
``ph``, ``pw``) is read on the clock ``start`` is high; it must be valid
(the network controller checks descriptors: kernel no larger than the
padded map, stride >= 1, padding below the kernel).  A set-up forms the
index strides by repeated addition; ``o.valid`` rises max(W, SW, PW) +
max(SH, PH) + 8 clocks after the clock on which ``start`` is high (for the
digits CNN's first layer, 17).  The walker steps only while its output
queue (a :class:`~circnn.rtl.credit_queue.CreditQueue` of six words) has a
credit free, so its step enables start at flip-flops, never at the
consumer's ``ready``; ``o`` is the queue's head (``o.valid`` and
``o.payload`` leave registers, ``o.valid`` never depends on ``o.ready``),
one value a clock at full rate.
``busy`` is high from the clock after ``start`` until the final value is
taken.  No division and no multiplier in the loop: the last
window of a row or column is found by the sign of its distance to a limit
formed once (a running value), and the pixel, its position and its index are running values
(index = y*W*C + x*C + c, two additions).
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import PatchConfig

from .credit_queue import CreditQueue, queue_depth
from .one_hot_fsm import OneHotFSM

__all__ = ["PatchAddresses", "patch_address_layout"]


def patch_address_layout(cfg: PatchConfig) -> data.StructLayout:
    return data.StructLayout({"index": cfg.index_bits, "zero": 1, "last": 1, "final": 1})


class PatchAddresses(wiring.Component):
    def __init__(self, cfg: PatchConfig):
        self.cfg = cfg
        side = range(1, cfg.max_side + 1)
        super().__init__({
            "start": In(1),
            "h": In(side), "w": In(side), "c": In(range(1, cfg.max_channels + 1)),
            "kh": In(range(1, cfg.max_kernel + 1)), "kw": In(range(1, cfg.max_kernel + 1)),
            "sh": In(range(1, cfg.max_stride + 1)), "sw": In(range(1, cfg.max_stride + 1)),
            "ph": In(range(cfg.max_padding + 1)), "pw": In(range(cfg.max_padding + 1)),
            "busy": Out(1),
            "o": Out(stream.Signature(patch_address_layout(cfg))),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        # signed widths: positions run from -padding to side + padding, index sums
        # from -padding*W*C to the map's size
        pos = signed((cfg.max_side + cfg.max_padding + cfg.max_stride + cfg.max_kernel)
                     .bit_length() + 1)
        idx = signed(cfg.index_bits + (cfg.max_stride * cfg.max_kernel).bit_length() + 2)

        g = {name: Signal.like(getattr(self, name), name=f"g_{name}")
             for name in ("h", "w", "c", "kh", "kw", "sh", "sw", "ph", "pw")}
        # formed once per layer (set-up clocks): index strides and loop limits
        wc, swc, pwc, shwc, phwc = (Signal(idx, name=n) for n in
                                    ("wc", "swc", "pwc", "shwc", "phwc"))
        t = Signal(range(max(cfg.max_side, cfg.max_stride, cfg.max_padding) + 2))
        # the counts less two: "the next channel (kernel column, row) is the last"
        # is then an equality of registers, no adder before it (wraps for a count
        # of 1, where the `only_*` flag decides instead)
        c_before_last = Signal.like(g["c"])
        # and the count less three: "the channel after this one is the one before
        # the last" is then formed a step ahead into `c_at_before_last`, so a step's
        # next-flags (`e2`..`e4`) start at flip-flops, with no compare before them
        c_before_before_last = Signal.like(g["c"])
        c_at_before_last, two_c = Signal(), Signal()     # c == C - 2; C == 2
        kw_before_last, kh_before_last = Signal.like(g["kw"]), Signal.like(g["kh"])
        # window origin (oy*SH - PH, ox*SW - PW); the current pixel (y, x) inside it;
        # the channel; and the index parts y*W*C (of the origin and of the pixel) and
        # x*C, all kept as running values so that the loop needs no multiplier
        ybase, xbase, y, x = (Signal(pos, name=n) for n in ("ybase", "xbase", "y", "x"))
        kh, kw = Signal(range(cfg.max_kernel)), Signal(range(cfg.max_kernel))
        c = Signal(range(cfg.max_channels))
        ybase_i, xbase_i, row_i, col_i = (Signal(idx, name=n) for n in
                                          ("ybase_i", "xbase_i", "row_i", "col_i"))
        # the next window's origin and index part (origin + stride), kept beside
        # them, and the first window's (-padding) formed once: a window's move
        # loads registers, its adders feed only these (no adder, no negation in
        # front of the position multiplexers)
        ybase_n, xbase_n, y_first, x_first, y_first_n, x_first_n = (
            Signal(pos, name=n) for n in
            ("ybase_n", "xbase_n", "y_first", "x_first", "y_first_n", "x_first_n"))
        ybase_i_n, xbase_i_n, row_first, col_first, row_first_n, col_first_n = (
            Signal(idx, name=n) for n in
            ("ybase_i_n", "xbase_i_n", "row_first", "col_first", "row_first_n", "col_first_n"))

        index = Signal(idx)
        inside = Signal()
        m.d.comb += [
            index.eq(row_i + col_i + c),
            inside.eq((y >= 0) & (y < g["h"]) & (x >= 0) & (x < g["w"])),
        ]
        # the channel (kernel column, kernel row) is its last: registers, set as the
        # counter moves, so that a step's decisions start at flip-flops
        last_c, last_kw, last_kh = Signal(), Signal(), Signal()
        only_c, only_kw, only_kh = Signal(), Signal(), Signal()     # C (KW, KH) of 1
        # the window is the last of its row (column) when its origin has passed the
        # limit: gap = limit - origin, kept as a running value, is negative (a
        # register's sign bit, so the consumer's decisions on `final` start at
        # registers)
        x_gap, y_gap, x_gap0 = Signal(pos), Signal(pos), Signal(pos)
        # the next window's gap, kept beside it (and the first window's next)
        x_gap_n, x_gap0_n = Signal(pos), Signal(pos)
        last_ox, last_oy = x_gap[-1], y_gap[-1]
        # how far a step carries, as registers kept equal to the products of the
        # flags above (so a step's enables are the step and one flip-flop):
        # e2 = last_c & last_kw (a kernel row ends), e3 = e2 & last_kh (the patch
        # row ends), e4 = e3 & last_ox (the row of windows ends)
        e2, e3, e4 = Signal(), Signal(), Signal()
        row_end = e3
        final = e4 & last_oy

        # the value at the walker's position, into an output register on every
        # clock: the index sum and the padding compares stay beside the counters
        word = Signal(patch_address_layout(cfg))
        m.d.comb += [
            word.index.eq(Mux(inside, index, 0)), word.zero.eq(~inside),
            word.last.eq(row_end), word.final.eq(final),
        ]
        # the walker moves only when its output queue has a credit free for the
        # word (CreditQueue): `can_admit` is a flip-flop, so the step's ~100
        # register enables start at that flip-flop and at the RUN flag, never at
        # the consumer's `ready`; the word is registered, then queued
        queue = m.submodules.queue = CreditQueue(patch_address_layout(cfg), queue_depth(1))
        out_valid = Signal()
        out_word = Signal(patch_address_layout(cfg))
        m.d.sync += [out_valid.eq(0), out_word.eq(word)]
        m.d.comb += [queue.i.valid.eq(out_valid), queue.i.payload.eq(out_word)]
        wiring.connect(m, queue.o, wiring.flipped(self.o))
        # from the final word's admission until it leaves on `o`
        draining = Signal()
        with m.If(self.o.valid & self.o.ready & self.o.payload.final):
            m.d.sync += draining.eq(0)

        # one flip-flop per state (OneHotFSM): a step's enables start at the RUN
        # flag, not at a decode of a state register
        fsm = OneHotFSM(m, ("IDLE", "STRIDES", "ROW_STRIDES", "LIMITS", "ORIGIN", "RUN"),
                        name="walk")
        with fsm.state("IDLE"):
            m.d.comb += self.busy.eq(draining)
            with m.If(self.start):
                m.d.sync += [g[name].eq(getattr(self, name)) for name in g]
                m.d.sync += [t.eq(0), wc.eq(0), swc.eq(0), pwc.eq(0), shwc.eq(0),
                             phwc.eq(0)]
                fsm.next("STRIDES")
        # the index strides W*C, SW*C, PW*C, then SH*W*C and PH*W*C, by repeated
        # addition (one per clock): no multiplier on any path
        with fsm.state("STRIDES"):
            m.d.comb += self.busy.eq(1)
            m.d.sync += t.eq(t + 1)
            with m.If(t < g["w"]):
                m.d.sync += wc.eq(wc + g["c"])
            with m.If(t < g["sw"]):
                m.d.sync += swc.eq(swc + g["c"])
            with m.If(t < g["pw"]):
                m.d.sync += pwc.eq(pwc + g["c"])
            with m.If((t >= g["w"]) & (t >= g["sw"]) & (t >= g["pw"])):
                m.d.sync += t.eq(0)
                fsm.next("ROW_STRIDES")
        with fsm.state("ROW_STRIDES"):
            m.d.comb += self.busy.eq(1)
            m.d.sync += t.eq(t + 1)
            with m.If(t < g["sh"]):
                m.d.sync += shwc.eq(shwc + wc)
            with m.If(t < g["ph"]):
                m.d.sync += phwc.eq(phwc + wc)
            with m.If((t >= g["sh"]) & (t >= g["ph"])):
                fsm.next("LIMITS")
        with fsm.state("LIMITS"):
            m.d.comb += self.busy.eq(1)
            # the loop limits and the count-of-one flags, a clock before ORIGIN
            # forms the carry flags from them (registers into registers)
            m.d.sync += [
                c_before_last.eq(g["c"] - 2), c_before_before_last.eq(g["c"] - 3),
                kw_before_last.eq(g["kw"] - 2), kh_before_last.eq(g["kh"] - 2),
                only_c.eq(g["c"] == 1), only_kw.eq(g["kw"] == 1), only_kh.eq(g["kh"] == 1),
                two_c.eq(g["c"] == 2),
            ]
            # the gaps of the first window (origin -padding) to the limits
            m.d.sync += [x_gap0.eq(g["w"] + 2 * g["pw"] - g["sw"] - g["kw"]),
                         x_gap0_n.eq(g["w"] + 2 * g["pw"] - 2 * g["sw"] - g["kw"]),
                         y_gap.eq(g["h"] + 2 * g["ph"] - g["sh"] - g["kh"]),
                         # the first window of a row (column) and the one after it
                         x_first.eq(-g["pw"]), x_first_n.eq(g["sw"] - g["pw"]),
                         y_first.eq(-g["ph"]), y_first_n.eq(g["sh"] - g["ph"]),
                         col_first.eq(-pwc), col_first_n.eq(swc - pwc),
                         row_first.eq(-phwc), row_first_n.eq(shwc - phwc)]
            fsm.next("ORIGIN")
        with fsm.state("ORIGIN"):
            m.d.comb += self.busy.eq(1)
            m.d.sync += [
                x_gap.eq(x_gap0), x_gap_n.eq(x_gap0_n),
                e2.eq(only_c & only_kw), e3.eq(only_c & only_kw & only_kh),
                e4.eq(only_c & only_kw & only_kh & x_gap0[-1]),
                c_at_before_last.eq(two_c),
                ybase.eq(y_first), xbase.eq(x_first), y.eq(y_first), x.eq(x_first),
                ybase_n.eq(y_first_n), xbase_n.eq(x_first_n),
                ybase_i_n.eq(row_first_n), xbase_i_n.eq(col_first_n),
                kh.eq(0), kw.eq(0), c.eq(0),
                last_c.eq(only_c), last_kw.eq(only_kw), last_kh.eq(only_kh),
                ybase_i.eq(row_first), row_i.eq(row_first), xbase_i.eq(col_first),
                col_i.eq(col_first),
            ]
            fsm.next("RUN")
        # the flags after a step, formed outside the state machine (no state flag in
        # their cones), from registers: the enables below do not wait for them
        nxt_c, nxt_kw, nxt_kh, nxt_ox = Signal(), Signal(), Signal(), Signal()
        m.d.comb += [
            nxt_c.eq(Mux(last_c, only_c, c_at_before_last)),
            nxt_kw.eq(Mux(last_c, Mux(e2, only_kw, kw == kw_before_last), last_kw)),
            nxt_kh.eq(Mux(e2, Mux(e3, only_kh, kh == kh_before_last), last_kh)),
            nxt_ox.eq(Mux(e3, Mux(e4, x_gap0[-1], x_gap_n[-1]), last_ox)),
        ]
        with fsm.state("RUN"):
            advance = queue.can_admit
            m.d.comb += [self.busy.eq(1), queue.admit.eq(advance)]
            with m.If(advance):
                m.d.sync += [out_valid.eq(1),
                             c.eq(Mux(last_c, 0, c + 1)), last_c.eq(nxt_c),
                             # c + 1 is C - 2 when c is C - 3; after the last
                             # channel c is 0, C - 2 when C is 2
                             c_at_before_last.eq(Mux(last_c, two_c, c == c_before_before_last)),
                             last_kw.eq(nxt_kw), last_kh.eq(nxt_kh),
                             e2.eq(nxt_c & nxt_kw), e3.eq(nxt_c & nxt_kw & nxt_kh),
                             e4.eq(nxt_c & nxt_kw & nxt_kh & nxt_ox)]
            # a step at the last channel: the next kernel column (one pixel
            # right), or back to the window's left edge (e2), or to the next
            # window's (e3), or to the first window of the next row (e4)
            with m.If(advance & last_c):
                m.d.sync += [
                    kw.eq(Mux(e2, 0, kw + 1)),
                    x.eq(Mux(~e2, x + 1, Mux(~e3, xbase, Mux(~e4, xbase_n, x_first)))),
                    col_i.eq(Mux(~e2, col_i + g["c"],
                                 Mux(~e3, xbase_i, Mux(~e4, xbase_i_n, col_first)))),
                ]
            # the next kernel row (one row down), or back to the window's top (e3),
            # or to the next row of windows' (e4)
            with m.If(advance & e2):
                m.d.sync += [
                    kh.eq(Mux(e3, 0, kh + 1)),
                    y.eq(Mux(~e3, y + 1, Mux(~e4, ybase, ybase_n))),
                    row_i.eq(Mux(~e3, row_i + wc, Mux(~e4, ybase_i, ybase_i_n))),
                ]
            # the next window of the row, or the row's first (e4)
            with m.If(advance & e3):
                m.d.sync += [
                    xbase.eq(Mux(e4, x_first, xbase_n)),
                    xbase_n.eq(Mux(e4, x_first_n, xbase_n + g["sw"])),
                    x_gap.eq(Mux(e4, x_gap0, x_gap_n)),
                    x_gap_n.eq(Mux(e4, x_gap0_n, x_gap_n - g["sw"])),
                    xbase_i.eq(Mux(e4, col_first, xbase_i_n)),
                    xbase_i_n.eq(Mux(e4, col_first_n, xbase_i_n + swc)),
                ]
            # the next row of windows
            with m.If(advance & e4):
                m.d.sync += [y_gap.eq(y_gap - g["sh"]),
                             ybase.eq(ybase_n), ybase_n.eq(ybase_n + g["sh"]),
                             ybase_i.eq(ybase_i_n), ybase_i_n.eq(ybase_i_n + shwc)]
                with m.If(last_oy):
                    m.d.sync += draining.eq(1)
                    fsm.next("IDLE")
        return m
