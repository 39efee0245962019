"""amaranth.lib.stream drivers for cocotb benches: clock and reset, word packing, and
:func:`transfer`, which feeds a DUT's input stream and drains its output stream.

The drivers act just after a rising edge and sample the handshake in the
read-only phase before the next one, so a transfer is counted exactly when
the hardware sees one; idle and back-pressure follow
:class:`~circnn.sim.benches.patterns.StallPattern` values (per-clock draws
or bursts) and a :class:`~circnn.sim.benches.monitor.StreamMonitor` checks the
stream rules on both streams.
"""

from __future__ import annotations

import random

import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from .monitor import StreamMonitor
from .patterns import StallPattern

__all__ = ["pack_fields", "unpack_fields", "to_signed", "pair_words", "reset",
           "start_clock_and_reset", "transfer"]


def to_signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def pack_fields(values, widths) -> int:
    """Concatenate fields LSB-first (as amaranth.lib.data lays out a struct)."""
    word, pos = 0, 0
    for v, w in zip(values, widths):
        word |= (int(v) & ((1 << w) - 1)) << pos
        pos += w
    return word


def unpack_fields(word: int, widths, signed=None) -> list[int]:
    """Split a struct word into fields, LSB-first; ``signed`` per field."""
    out, pos = [], 0
    signed = signed if signed is not None else [True] * len(widths)
    for w, s in zip(widths, signed):
        v = (word >> pos) & ((1 << w) - 1)
        out.append(to_signed(v, w) if s else v)
        pos += w
    return out


def pair_words(x, width: int) -> list[int]:
    """Rows (N, n) of activations -> ``(x[2i], x[2i+1])`` pair words, row after row
    (an odd n gets a zero pad)."""
    x = np.asarray(x, dtype=np.int64)
    if x.shape[1] % 2:
        x = np.concatenate([x, np.zeros((x.shape[0], 1), dtype=np.int64)], axis=1)
    return [pack_fields((row[2 * i], row[2 * i + 1]), (width, width))
            for row in x for i in range(x.shape[1] // 2)]


#: the inputs a reset holds low: both streams idle
STREAM_CONTROLS = ("i__valid", "o__ready")


async def reset(dut, cycles: int = 3, controls=STREAM_CONTROLS) -> None:
    """Hold ``rst`` for ``cycles`` clocks with ``controls`` (and ``load``, if any) low."""
    dut.rst.value = 1
    for name in controls:
        getattr(dut, name).value = 0
    if hasattr(dut, "load"):
        dut.load.value = 0
    await ClockCycles(dut.clk, cycles)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 1)


async def start_clock_and_reset(dut, controls=STREAM_CONTROLS) -> None:
    """Start a 100 MHz clock on ``dut.clk`` and reset the design."""
    import cocotb
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    await reset(dut, controls=controls)


async def transfer(dut, clk, words, count: int, *, src: str = "i", sink: str = "o",
                   idle: float = 0.0, stall: float = 0.0, burst: float = 1.0,
                   rng: random.Random | None = None, stats: dict | None = None) -> list[int]:
    """Send ``words`` into stream ``src`` and collect ``count`` words from ``sink``.

    One coroutine drives both ends (two simulator waits per clock).  The
    source is idle and the sink stalls as two :class:`StallPattern` objects say
    (``idle`` / ``stall`` of the clocks, in runs of ``burst`` clocks on
    average; ``burst == 1``: independent draws per clock).  A
    :class:`StreamMonitor` watches each stream meanwhile: a broken stream
    rule, or a word the hardware took or gave that the drivers did not see,
    fails the bench.  ``stats`` (if given) receives the clock index of the
    first input and last output transfer (``first_in``, ``last_out``)
    counted from the call.
    """
    rng = rng or random.Random(0)
    src_idle = StallPattern(idle, burst, rng)
    sink_stall = StallPattern(stall, burst, rng)
    s_valid, s_payload, s_ready = (getattr(dut, f"{src}__{n}") for n in ("valid", "payload", "ready"))
    k_valid, k_payload, k_ready = (getattr(dut, f"{sink}__{n}") for n in ("valid", "payload", "ready"))
    mask = (1 << len(s_payload)) - 1
    words = list(words)
    got: list[int] = []
    monitors = (StreamMonitor(dut, src, clk), StreamMonitor(dut, sink, clk))
    i = 0
    offering = False
    cycle = 0
    try:
        while len(got) < count:
            if i < len(words):
                if not offering:
                    offering = not src_idle.next()
                    if offering:
                        s_payload.value = int(words[i]) & mask
                s_valid.value = int(offering)
            else:
                s_valid.value = 0
                offering = False
            ready = not sink_stall.next()
            k_ready.value = int(ready)
            await ReadOnly()
            fired = offering and bool(s_ready.value)
            if ready and k_valid.value:
                got.append(int(k_payload.value.to_unsigned()))
                if stats is not None:
                    stats["last_out"] = cycle
            await RisingEdge(clk)
            if fired:
                if stats is not None and i == 0:
                    stats["first_in"] = cycle
                i += 1
                offering = False
            cycle += 1
        s_valid.value = 0
        k_ready.value = 0
    finally:
        for monitor in monitors:
            monitor.stop()
    for monitor in monitors:
        monitor.check()
    monitors[0].check_words(int(w) & mask for w in words[:i])
    monitors[1].check_words(got)
    return got
