"""``MapGeometry``: the sizes a convolution layer's descriptor implies, formed by counting.

From a ``conv2d`` descriptor's geometry (input map H x W x C, kernel, stride,
padding, optional max-pooling, C_out = ``out_features``) it forms, with no
multiplier and no divider (one addition per value per clock):

* ``out_h``, ``out_w``: the convolution's output side, ``(H + 2*PH - KH) // SH + 1``;
* ``pool_h``, ``pool_w``: the pooled side ``(out - PK) // PS + 1`` (equal to the
  output side without pooling), and ``pool_fits`` (the pooling window fits);
* ``in_map`` = H*W*C, ``patch`` = KH*KW*C, ``rows`` = out_h*out_w (patch rows per
  image), ``pool_row`` = pool_w*C_out, ``out_map`` = the values written per
  image, pool_h*pool_w*C_out (without pooling the pooled side is the output side).

Its NumPy twin is :func:`circnn.sim.model.conv.output_side` with the products
written out.  Protocol: the inputs are read while ``start`` is high and must
stay stable until ``done``; each field must already be in its range (the
network controller checks ranges first: sides and channels at least 1, kernel
no larger than the padded map).  ``done`` rises at most
8*max(side + padding, kernel) + 10 clocks after ``start`` (the inputs are
latched, then four counting loops, each as long as its longest side, each
step two clocks: its compares are registered; 66 clocks for the digits
CNN's second convolution) and
stays high until the next ``start``; the outputs are valid while it is
high.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from circnn.config import NetworkConfig

__all__ = ["MapGeometry"]


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


class MapGeometry(wiring.Component):
    def __init__(self, net: NetworkConfig):
        self.net = net
        cfg, eng = net.patch, net.engine
        side = range(cfg.max_side + 1)
        kern = range(cfg.max_kernel + 1)
        out_side = range(cfg.max_side + cfg.max_padding + 1)
        channels_out = max(cfg.max_channels, eng.max_p * eng.k)
        #: bits of a value count of one map (inputs, patches, outputs)
        self.count_bits = _bits((cfg.max_side + cfg.max_padding) ** 2
                                * max(cfg.max_channels, channels_out) + 1) + 1
        count = self.count_bits
        super().__init__({
            "start": In(1),
            "h": In(side), "w": In(side), "c": In(range(cfg.max_channels + 1)),
            "kh": In(kern), "kw": In(kern), "sh": In(range(cfg.max_stride + 1)),
            "sw": In(range(cfg.max_stride + 1)), "ph": In(range(cfg.max_padding + 1)),
            "pw": In(range(cfg.max_padding + 1)), "c_out": In(range(channels_out + 1)),
            "pool": In(1), "pool_kh": In(kern), "pool_kw": In(kern),
            "pool_sh": In(range(cfg.max_stride + 1)), "pool_sw": In(range(cfg.max_stride + 1)),
            "done": Out(1),
            # an output side is at most the input side plus the padding (padding < kernel)
            "out_h": Out(out_side), "out_w": Out(out_side), "pool_h": Out(out_side),
            "pool_w": Out(out_side),
            "pool_fits": Out(1),
            "in_map": Out(count), "patch": Out(count), "rows": Out(count),
            "pool_row": Out(count), "out_map": Out(count),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.net.patch
        count = self.count_bits
        t = Signal(range(cfg.max_side + cfg.max_padding + cfg.max_kernel + 2))
        # window ends of the running divisions (count windows while they fit)
        span = cfg.max_side + 2 * cfg.max_padding + 2 * cfg.max_stride + cfg.max_kernel + 1
        end_h, end_w = Signal(range(span)), Signal(range(span))
        limit_h, limit_w = Signal(range(span)), Signal(range(span))
        # every input latched on `start`: the fields come from the descriptor
        # register, far away, and must not reach the adders and compares in the
        # same clock (they hold still while the unit runs)
        h, w, c, kh, kw, ph, pw, c_out = (
            Signal.like(getattr(self, n), name=f"{n}_l")
            for n in ("h", "w", "c", "kh", "kw", "ph", "pw", "c_out"))
        sh, sw = Signal.like(self.sh, name="sh_l"), Signal.like(self.sw, name="sw_l")
        pool_kh, pool_kw = (Signal.like(self.pool_kh, name="pool_kh_l"),
                            Signal.like(self.pool_kw, name="pool_kw_l"))
        pool_sh, pool_sw = (Signal.like(self.pool_sh, name="pool_sh_l"),
                            Signal.like(self.pool_sw, name="pool_sw_l"))
        wc, kwc = Signal(count), Signal(count)

        # every loop acts on every other clock: on the first its compares land in
        # registers (the limits come from far away), on the second it counts
        act = Signal()
        fit_h, fit_w = Signal(), Signal()
        more_row, more_map = Signal(), Signal()
        in_loop = Signal()
        with m.If(in_loop):
            m.d.sync += act.eq(~act)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [
                        self.done.eq(0), self.out_h.eq(0), self.out_w.eq(0), act.eq(0),
                        h.eq(self.h), w.eq(self.w), c.eq(self.c), kh.eq(self.kh),
                        kw.eq(self.kw), ph.eq(self.ph), pw.eq(self.pw), c_out.eq(self.c_out),
                        sh.eq(self.sh), sw.eq(self.sw),
                        pool_kh.eq(Mux(self.pool, self.pool_kh, 1)),
                        pool_kw.eq(Mux(self.pool, self.pool_kw, 1)),
                        pool_sh.eq(Mux(self.pool, self.pool_sh, 1)),
                        pool_sw.eq(Mux(self.pool, self.pool_sw, 1)),
                    ]
                    m.next = "LIMITS"
            with m.State("LIMITS"):
                m.d.sync += [end_h.eq(kh), end_w.eq(kw),
                             limit_h.eq(h + 2 * ph), limit_w.eq(w + 2 * pw)]
                m.next = "CONV_SIDES"
            # out = how many windows fit: window ends KH, KH+SH, ... up to H+2*PH
            with m.State("CONV_SIDES"):
                m.d.comb += in_loop.eq(1)
                with m.If(~act):
                    m.d.sync += [fit_h.eq(end_h <= limit_h), fit_w.eq(end_w <= limit_w)]
                with m.Else():
                    with m.If(fit_h):
                        m.d.sync += [self.out_h.eq(self.out_h + 1), end_h.eq(end_h + sh)]
                    with m.If(fit_w):
                        m.d.sync += [self.out_w.eq(self.out_w + 1), end_w.eq(end_w + sw)]
                    with m.If(~fit_h & ~fit_w):
                        m.d.sync += [self.pool_h.eq(0), self.pool_w.eq(0),
                                     end_h.eq(pool_kh), end_w.eq(pool_kw)]
                        m.next = "POOL_SIDES"
            with m.State("POOL_SIDES"):
                m.d.comb += in_loop.eq(1)
                with m.If(~act):
                    m.d.sync += [fit_h.eq(end_h <= self.out_h), fit_w.eq(end_w <= self.out_w),
                                 self.pool_fits.eq((pool_kh <= self.out_h)
                                                   & (pool_kw <= self.out_w))]
                with m.Else():
                    with m.If(fit_h):
                        m.d.sync += [self.pool_h.eq(self.pool_h + 1), end_h.eq(end_h + pool_sh)]
                    with m.If(fit_w):
                        m.d.sync += [self.pool_w.eq(self.pool_w + 1), end_w.eq(end_w + pool_sw)]
                    with m.If(~fit_h & ~fit_w):
                        m.d.sync += [t.eq(0), wc.eq(0), kwc.eq(0), self.pool_row.eq(0)]
                        m.next = "ROW_PRODUCTS"
            # products by repeated addition: first the row lengths in values ...
            with m.State("ROW_PRODUCTS"):
                m.d.comb += in_loop.eq(1)
                with m.If(~act):
                    m.d.sync += [fit_w.eq(t < w), fit_h.eq(t < kw),
                                 more_map.eq(t < self.pool_w),
                                 more_row.eq((t < w) | (t < kw) | (t < self.out_w))]
                with m.Else():
                    m.d.sync += t.eq(t + 1)
                    with m.If(fit_w):
                        m.d.sync += wc.eq(wc + c)
                    with m.If(fit_h):
                        m.d.sync += kwc.eq(kwc + c)
                    with m.If(more_map):
                        m.d.sync += self.pool_row.eq(self.pool_row + c_out)
                    with m.If(~more_row):
                        m.d.sync += [t.eq(0), self.in_map.eq(0), self.patch.eq(0),
                                     self.rows.eq(0), self.out_map.eq(0)]
                        m.next = "MAP_PRODUCTS"
            # ... then the maps, row length times rows
            with m.State("MAP_PRODUCTS"):
                m.d.comb += in_loop.eq(1)
                with m.If(~act):
                    m.d.sync += [fit_h.eq(t < h), fit_w.eq(t < kh),
                                 more_row.eq(t < self.out_h), more_map.eq(t < self.pool_h)]
                with m.Else():
                    m.d.sync += t.eq(t + 1)
                    with m.If(fit_h):
                        m.d.sync += self.in_map.eq(self.in_map + wc)
                    with m.If(fit_w):
                        m.d.sync += self.patch.eq(self.patch + kwc)
                    with m.If(more_row):
                        m.d.sync += self.rows.eq(self.rows + self.out_w)
                    with m.If(more_map):
                        m.d.sync += self.out_map.eq(self.out_map + self.pool_row)
                    with m.If(~fit_h & ~fit_w & ~more_row):
                        m.d.sync += self.done.eq(1)
                        m.next = "IDLE"
        return m
