"""The stream shell: a design's input and output streams driven in hardware, for long runs.

A cocotb bench that moves every word itself wakes Python twice a clock or
more; on Verilator that, not the design, sets the pace (about 10,000 clocks
a second for the accelerator).  :class:`StreamShell` wraps a design whose
input stream ``i`` and output stream ``o`` carry the data, and drives them
from file-backed memories (``stream_files.v``): the bench writes the input
words to ``stream_in.hex``, starts the shell and waits for ``shell_done``
(one wake-up), then has the output words written to ``stream_out.hex``.
Every other port of the design (configuration buses, counters) stays a port
of the shell, under the same name.

What the Python drivers did per clock, the shell does in hardware:

* the source offers word after word, idle on the clocks its
  :class:`~circnn.sim.benches.patterns.StallPattern` (two thresholds, drawn
  against a 32-bit LFSR: ``shell_idle_enter`` / ``shell_idle_stay``, out of
  65536) says, and holds ``valid`` and the word until accepted;
* the sink stalls the same way (``shell_stall_*``) and stores each word it
  accepts, in order;
* a monitor counts breaches of the stream rules on ``o`` (``valid`` falling,
  or the payload changing, before the word was taken): ``shell_violations``;
* counters give ``shell_sent``, ``shell_received``, the clock of the first
  input and the last output transfer (``shell_first_in``,
  ``shell_last_out``, counted from the start), and ``shell_done``.

Protocol: ``shell_load`` high for one clock reads the input file; set
``shell_n_in`` / ``shell_n_out`` (words in and out), the patterns and
``shell_seed``, then ``shell_start`` high for one clock starts a run
(clearing the counters); ``shell_done`` rises one clock after the last
output word; ``shell_dump`` high for one clock writes the output file.
A reset stops a run; the input memory keeps its words.
"""

from __future__ import annotations

from pathlib import Path

from amaranth.hdl import ClockSignal, Instance, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["StreamShell", "SHELL_SOURCES", "SHELL_MODULES", "shell_addr_bits", "LFSR_TAPS"]

#: the Verilog of the file-backed memories, a source of every shell build
SHELL_SOURCES = (Path(__file__).resolve().parent / "stream_files.v",)
#: the modules of SHELL_SOURCES: the input memory, the output memory
SHELL_MODULES = ("circnn_stream_source", "circnn_stream_sink")
#: x^32 + x^22 + x^2 + x + 1, a maximal-length Galois LFSR
LFSR_TAPS = 0x80200003
_COUNT_BITS = 32


def shell_addr_bits(words: int, wanted: int | None = None) -> int:
    """Address bits of a shell memory for ``words`` words: powers of two from 1024
    up, so that runs of similar sizes share one build.  ``wanted``: a depth the
    caller asks for (so that runs of different sizes share one build); an
    AssertionError if ``words`` do not fit it."""
    least = max(10, (max(1, words) - 1).bit_length())
    if wanted is None:
        return least
    if wanted < least:
        raise AssertionError(f"{words} words do not fit a stream shell of {wanted} address bits")
    return wanted


class _Pattern:
    """A StallPattern in hardware: ``stalling`` this clock, from an LFSR and two
    16-bit thresholds (enter a run of stalls; stay in one)."""

    def __init__(self, m, name: str, seed: Value, enter: Value, stay: Value, start: Value):
        lfsr = Signal(32, name=f"{name}_lfsr", init=1)
        self.stalling = Signal(name=f"{name}_stalling")
        draw = lfsr[:16]
        with m.If(start):
            m.d.sync += lfsr.eq(seed | 1)
        with m.Else():
            m.d.sync += lfsr.eq((lfsr >> 1) ^ Mux(lfsr[0], LFSR_TAPS, 0))
        m.d.sync += self.stalling.eq(Mux(self.stalling, draw < stay, draw < enter))


class StreamShell(wiring.Component):
    """``dut`` with its streams ``i`` and ``o`` driven from and into files.

    ``addr_bits``: the input and output memories hold ``2**addr_bits`` words
    (:func:`shell_addr_bits`).  Latency: a word accepted by ``dut.o`` is in
    the output memory at the next clock.
    """

    def __init__(self, dut, *, addr_bits: int, src: str = "i", sink: str = "o"):
        self.dut = dut
        self.src, self.sink = src, sink
        self.addr_bits = addr_bits
        members = {name: member for name, member in dut.signature.members.items()
                   if name not in (src, sink)}
        members.update({
            "shell_load": In(1), "shell_start": In(1), "shell_dump": In(1),
            "shell_n_in": In(_COUNT_BITS), "shell_n_out": In(_COUNT_BITS),
            "shell_seed": In(32),
            "shell_idle_enter": In(16), "shell_idle_stay": In(16),
            "shell_stall_enter": In(16), "shell_stall_stay": In(16),
            "shell_done": Out(1), "shell_sent": Out(_COUNT_BITS),
            "shell_received": Out(_COUNT_BITS), "shell_first_in": Out(_COUNT_BITS),
            "shell_last_out": Out(_COUNT_BITS), "shell_violations": Out(16),
        })
        super().__init__(members)

    def describe(self) -> dict:
        """What the bench's driver needs to know of this shell (``shell`` in its
        configuration): memory address bits, input and output word widths."""
        i, o = getattr(self.dut, self.src), getattr(self.dut, self.sink)
        return {"addr_bits": self.addr_bits, "in_width": len(Value.cast(i.payload)),
                "out_width": len(Value.cast(o.payload))}

    def elaborate(self, platform):
        m = Module()
        dut = m.submodules.dut = self.dut
        self._forward(m)
        i, o = getattr(dut, self.src), getattr(dut, self.sink)
        in_payload, out_payload = Value.cast(i.payload), Value.cast(o.payload)
        ab = self.addr_bits

        running = Signal()
        cycle = Signal(_COUNT_BITS)
        with m.If(self.shell_start):
            m.d.sync += [running.eq(1), cycle.eq(0), self.shell_sent.eq(0),
                         self.shell_received.eq(0), self.shell_first_in.eq(0),
                         self.shell_last_out.eq(0), self.shell_violations.eq(0)]
        with m.Elif(running):
            m.d.sync += cycle.eq(cycle + 1)

        idle = _Pattern(m, "idle", self.shell_seed, self.shell_idle_enter, self.shell_idle_stay,
                        self.shell_start)
        stall = _Pattern(m, "stall", self.shell_seed ^ 0x5A5A_5A5A, self.shell_stall_enter,
                         self.shell_stall_stay, self.shell_start)

        # source: the word at `sent` is on the memory's output (a registered read of
        # the next index when a word is taken this clock)
        word = Signal(len(in_payload))
        offering = Signal()
        fire_in = Signal()
        more = running & (self.shell_sent < self.shell_n_in)
        m.d.comb += [
            i.valid.eq(~self.shell_start & (offering | (more & ~idle.stalling))),
            in_payload.eq(word),
            fire_in.eq(i.valid & i.ready),
        ]
        m.d.sync += offering.eq(i.valid & ~i.ready & ~self.shell_start)
        read_addr = Mux(self.shell_start, 0, Mux(fire_in, self.shell_sent + 1, self.shell_sent))
        m.submodules.source = Instance(
            SHELL_MODULES[0], p_WIDTH=len(in_payload), p_ADDR_BITS=ab,
            i_clk=ClockSignal(), i_load=self.shell_load, i_addr=read_addr[:ab], o_data=word)
        with m.If(fire_in & ~self.shell_start):
            m.d.sync += self.shell_sent.eq(self.shell_sent + 1)
            with m.If(self.shell_sent == 0):
                m.d.sync += self.shell_first_in.eq(cycle)

        # sink: store every word taken, in order
        fire_out = Signal()
        m.d.comb += [
            o.ready.eq(running & (self.shell_received < self.shell_n_out) & ~stall.stalling),
            fire_out.eq(o.valid & o.ready),
        ]
        m.submodules.sink = Instance(
            SHELL_MODULES[1], p_WIDTH=len(out_payload), p_ADDR_BITS=ab,
            i_clk=ClockSignal(), i_we=fire_out, i_addr=self.shell_received[:ab],
            i_data=out_payload, i_dump=self.shell_dump, i_count=self.shell_received[:ab + 1])
        with m.If(fire_out & ~self.shell_start):
            m.d.sync += [self.shell_received.eq(self.shell_received + 1),
                         self.shell_last_out.eq(cycle)]
        m.d.comb += self.shell_done.eq(running & (self.shell_received == self.shell_n_out))

        # monitor of o: a word offered and not taken must stay offered, unchanged
        waiting = Signal()
        held = Signal.like(out_payload)
        m.d.sync += [waiting.eq(o.valid & ~o.ready), held.eq(out_payload)]
        broken = running & waiting & (~o.valid | (out_payload != held))
        with m.If(broken & ~self.shell_start & (self.shell_violations != 0xFFFF)):
            m.d.sync += self.shell_violations.eq(self.shell_violations + 1)
        return m

    def _forward(self, m) -> None:
        """Every member of the design but its two streams, as the shell's own port."""
        for name, member in self.dut.signature.members.items():
            if name in (self.src, self.sink):
                continue
            outer, inner = getattr(self, name), getattr(self.dut, name)
            if not member.is_port:
                wiring.connect(m, wiring.flipped(outer), inner)
            elif member.flow == In:
                m.d.comb += inner.eq(outer)
            else:
                m.d.comb += outer.eq(inner)

