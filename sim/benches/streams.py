"""amaranth.lib.stream drivers for cocotb benches.

``StreamSource`` drives ``<prefix>__valid``/``__payload`` with optional
random idle cycles; ``StreamSink`` drives ``<prefix>__ready`` with optional
random back-pressure and records every transferred payload.  Both act in
the same phase of each clock (just after the rising edge) and sample the
handshake in the read-only phase before the next edge, so a transfer is
counted exactly when the hardware sees one.
"""

from __future__ import annotations

import random

import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

__all__ = ["StreamSource", "StreamSink", "pack_fields", "unpack_fields", "to_signed", "pair_words",
           "reset", "start_clock_and_reset", "transfer"]


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


async def reset(dut, cycles: int = 3) -> None:
    """Hold ``rst`` for ``cycles`` clocks with both streams (and ``load``, if any) idle."""
    dut.rst.value = 1
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    if hasattr(dut, "load"):
        dut.load.value = 0
    await ClockCycles(dut.clk, cycles)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 1)


async def start_clock_and_reset(dut) -> None:
    """Start a 100 MHz clock on ``dut.clk`` and reset the design."""
    import cocotb
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    await reset(dut)


class StreamSource:
    def __init__(self, dut, prefix: str, clk, *, idle: float = 0.0, rng: random.Random | None = None):
        self.valid = getattr(dut, f"{prefix}__valid")
        self.payload = getattr(dut, f"{prefix}__payload")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.width = len(self.payload)
        self.clk = clk
        self.idle = idle
        self.rng = rng or random.Random(0)
        self.sent = 0
        self.valid.value = 0

    async def send(self, words):
        """Send every word (an unsigned int of the payload width) in order."""
        mask = (1 << self.width) - 1
        for word in words:
            while self.idle and self.rng.random() < self.idle:
                self.valid.value = 0
                await RisingEdge(self.clk)
            self.valid.value = 1
            self.payload.value = int(word) & mask
            while True:
                await ReadOnly()
                fired = bool(self.ready.value)
                await RisingEdge(self.clk)
                if fired:
                    self.sent += 1
                    break
        self.valid.value = 0


class StreamSink:
    def __init__(self, dut, prefix: str, clk, *, stall: float = 0.0, rng: random.Random | None = None):
        self.valid = getattr(dut, f"{prefix}__valid")
        self.payload = getattr(dut, f"{prefix}__payload")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.clk = clk
        self.stall = stall
        self.rng = rng or random.Random(1)
        self.words: list[int] = []
        self.ready.value = 0

    async def receive(self, count: int):
        """Accept ``count`` words (unsigned ints), stalling at random."""
        while len(self.words) < count:
            ready = not (self.stall and self.rng.random() < self.stall)
            self.ready.value = int(ready)
            await ReadOnly()
            if ready and self.valid.value:
                self.words.append(int(self.payload.value.to_unsigned()))
            await RisingEdge(self.clk)
        self.ready.value = 0
        return self.words


async def transfer(dut, clk, words, count: int, *, src: str = "i", sink: str = "o",
                   idle: float = 0.0, stall: float = 0.0, rng: random.Random | None = None,
                   stats: dict | None = None) -> list[int]:
    """Send ``words`` into stream ``src`` and collect ``count`` words from ``sink``.

    One coroutine drives both ends (two simulator waits per clock instead of
    four), with the same idle/stall behaviour as StreamSource/StreamSink.
    ``stats`` (if given) receives the clock index of the first input and
    last output transfer (``first_in``, ``last_out``) counted from the call.
    """
    rng = rng or random.Random(0)
    s_valid, s_payload, s_ready = (getattr(dut, f"{src}__{n}") for n in ("valid", "payload", "ready"))
    k_valid, k_payload, k_ready = (getattr(dut, f"{sink}__{n}") for n in ("valid", "payload", "ready"))
    mask = (1 << len(s_payload)) - 1
    words = list(words)
    got: list[int] = []
    i = 0
    offering = False
    cycle = 0
    while len(got) < count:
        if i < len(words):
            if not offering:
                offering = not (idle and rng.random() < idle)
                if offering:
                    s_payload.value = int(words[i]) & mask
            s_valid.value = int(offering)
        else:
            s_valid.value = 0
            offering = False
        ready = not (stall and rng.random() < stall)
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
    return got
