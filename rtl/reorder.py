"""``FrameReorder``: a two-bank frame buffer that permutes each frame of a stream.

Model twin: :func:`circnn.sim.model.real_fft.reorder_permutation` (output
word a of a frame is input word ``perm[a]``).

Frames of ``depth`` words are written into one bank while the other bank is
read out in sequence; with ``order="bit_reverse"`` input word p is written
at address ``bit_reverse(p)`` (the reversal is wiring: the position
counter's bits in reverse order), so a bit-reversed FFT frame comes out in
natural order.  ``order="natural"`` is a plain double buffer.

* ``i``: stream of ``layout`` payloads (frames are counted, no ``last``);
* ``o``: the same fields plus ``last`` on each frame's final word (a
  ``StructLayout`` input is extended with a ``last`` field; any other shape
  is carried as field ``data``);
* throughput: one word per clock in and out, back to back; latency: a
  frame starts leaving one clock after its last word was written;
* full back-pressure: ``i.ready`` falls only while both banks hold frames
  not yet read out; ``o.valid`` is a register (never waits for ``o.ready``).
"""

from amaranth.hdl import Cat, Module, Shape, Signal, Value
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import REORDER_ORDERS, check_choice, check_power_of_two

from .bank_pair import BankPair

__all__ = ["FrameReorder", "reorder_output_layout"]


def reorder_output_layout(layout) -> data.StructLayout:
    """``layout``'s fields plus ``last`` (or ``{data, last}`` for a non-struct shape)."""
    if isinstance(layout, data.StructLayout):
        fields = dict(layout.members)
        if "last" in fields:
            raise ValueError("layout already has a field named 'last'")
        return data.StructLayout({**fields, "last": 1})
    return data.StructLayout({"data": layout, "last": 1})


class FrameReorder(wiring.Component):
    """Two-bank frame buffer: frames of ``depth`` words in, permuted frames with ``last`` out."""

    def __init__(self, depth: int, layout, order: str = "bit_reverse"):
        self.depth = check_power_of_two("depth", depth, 2, 1 << 16)
        self.order = check_choice("order", order, REORDER_ORDERS)
        try:
            Shape.cast(layout)
        except TypeError as exc:
            raise TypeError(f"layout must be a shape-castable object, not {layout!r}") from exc
        self.layout = layout
        self.out_layout = reorder_output_layout(layout)
        super().__init__({
            "i": In(stream.Signature(layout)),
            "o": Out(stream.Signature(self.out_layout)),
        })

    def elaborate(self, platform):
        m = Module()
        depth = self.depth
        bits = depth.bit_length() - 1
        width = Shape.cast(self.layout).width

        m.submodules.buf = buf = memory.Memory(shape=width, depth=2 * depth, init=[])
        m.submodules.banks = banks = BankPair()
        wr = buf.write_port()
        rd = buf.read_port()

        # --- writer --------------------------------------------------------
        wpos = Signal(bits)
        if self.order == "bit_reverse":
            waddr = Cat(*[wpos[b] for b in reversed(range(bits))])  # wiring only
        else:
            waddr = wpos
        accept = Signal()
        m.d.comb += [
            self.i.ready.eq(banks.writer.free),
            accept.eq(self.i.valid & self.i.ready),
            wr.addr.eq(Cat(waddr, banks.writer.bank)),
            wr.data.eq(Value.cast(self.i.payload)),
            wr.en.eq(accept),
            banks.writer.commit.eq(accept & (wpos == depth - 1)),
        ]
        with m.If(accept):
            m.d.sync += wpos.eq(wpos + 1)

        # --- reader: the read port's data register is the output register --
        rpos = Signal(bits)
        out_valid = Signal()
        out_last = Signal()
        advance = Signal()   # the output register may take a new word
        issue = Signal()
        m.d.comb += [
            advance.eq(~out_valid | self.o.ready),
            issue.eq(advance & banks.reader.ready),
            rd.addr.eq(Cat(rpos, banks.reader.bank)),
            rd.en.eq(advance),   # holds the data while the output is stalled
            banks.reader.release.eq(issue & (rpos == depth - 1)),
        ]
        with m.If(advance):
            m.d.sync += [out_valid.eq(issue), out_last.eq(rpos == depth - 1)]
        with m.If(issue):
            m.d.sync += rpos.eq(rpos + 1)

        out = self.o.payload   # the input's bits come first, then ``last``
        m.d.comb += [out.as_value()[:width].eq(rd.data), out.last.eq(out_last),
                     self.o.valid.eq(out_valid)]
        return m
