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
padded map, stride >= 1, padding below the kernel).  Two set-up clocks
later the ``o`` stream offers the first value; ``o.valid`` never depends on
``o.ready``, and the stream holds each value until taken, one value a
clock at full rate.  ``busy`` is high from ``start`` until the final value
is taken.  No division and no multiplier in the loop: row ends are found
by comparing window positions, and indices are kept as running sums of
products formed once per layer.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import PatchConfig

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
        wc, swc, pwc, shwc = (Signal(idx, name=n) for n in ("wc", "swc", "pwc", "shwc"))
        # window origin (oy*SH - PH, ox*SW - PW), offsets inside it, channel
        ybase, xbase = Signal(pos), Signal(pos)
        kh, kw = Signal(range(cfg.max_kernel)), Signal(range(cfg.max_kernel))
        c = Signal(range(cfg.max_channels))
        # the same positions times the strides of the index: y*W*C and x*C parts
        ybase_i, kh_i, xbase_i, kw_i = (Signal(idx, name=n) for n in
                                        ("ybase_i", "kh_i", "xbase_i", "kw_i"))

        y = Signal(pos)
        x = Signal(pos)
        index = Signal(idx)
        m.d.comb += [
            y.eq(ybase + kh), x.eq(xbase + kw),
            index.eq(ybase_i + kh_i + xbase_i + kw_i + c),
        ]
        inside = (y >= 0) & (y < g["h"]) & (x >= 0) & (x < g["w"])
        last_c = c == g["c"] - 1
        last_kw = kw == g["kw"] - 1
        last_kh = kh == g["kh"] - 1
        # the next window would reach past the padded map: this is the last one
        last_ox = xbase + g["sw"] + g["kw"] > g["w"] + g["pw"]
        last_oy = ybase + g["sh"] + g["kh"] > g["h"] + g["ph"]
        row_end = last_c & last_kw & last_kh
        final = row_end & last_ox & last_oy

        payload = self.o.payload
        m.d.comb += [
            payload.index.eq(Mux(inside, index, 0)), payload.zero.eq(~inside),
            payload.last.eq(row_end), payload.final.eq(final),
        ]
        take = self.o.valid & self.o.ready

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [g[name].eq(getattr(self, name)) for name in g]
                    m.next = "PRODUCTS"
            with m.State("PRODUCTS"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [wc.eq(g["w"] * g["c"]), swc.eq(g["sw"] * g["c"]),
                             pwc.eq(g["pw"] * g["c"])]
                m.next = "ORIGIN"
            with m.State("ORIGIN"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [
                    shwc.eq(g["sh"] * wc),
                    ybase.eq(-g["ph"]), xbase.eq(-g["pw"]), kh.eq(0), kw.eq(0), c.eq(0),
                    ybase_i.eq(-(g["ph"] * wc)), xbase_i.eq(-pwc), kh_i.eq(0), kw_i.eq(0),
                ]
                m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += [self.busy.eq(1), self.o.valid.eq(1)]
                with m.If(take):
                    m.d.sync += c.eq(c + 1)
                    with m.If(last_c):
                        m.d.sync += [c.eq(0), kw.eq(kw + 1), kw_i.eq(kw_i + g["c"])]
                        with m.If(last_kw):
                            m.d.sync += [kw.eq(0), kw_i.eq(0), kh.eq(kh + 1), kh_i.eq(kh_i + wc)]
                            with m.If(last_kh):
                                m.d.sync += [kh.eq(0), kh_i.eq(0), xbase.eq(xbase + g["sw"]),
                                             xbase_i.eq(xbase_i + swc)]
                                with m.If(last_ox):
                                    m.d.sync += [xbase.eq(-g["pw"]), xbase_i.eq(-pwc),
                                                 ybase.eq(ybase + g["sh"]),
                                                 ybase_i.eq(ybase_i + shwc)]
                                    with m.If(last_oy):
                                        m.next = "IDLE"
        return m
