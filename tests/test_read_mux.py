# amaranth: UnusedElaboratable=no
"""``registered_read_mux`` (Amaranth simulator): a word of many, three clocks later.

Reference: a Python dict of the words (sparse addresses spread over several
16-address groups, like the accelerator's status registers, layer counters
and descriptor table) and the history of what was selected.  Random reads
(every clock, with gaps) of known and unknown addresses while the words
change: the output must be the word at the address as it was when
``enable`` was high, three clocks after, zero for an address of no word, and
must hold while ``enable`` is low.
"""

import random

from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from circnn.rtl.read_mux import READ_MUX_LATENCY, registered_read_mux

ADDRESSES = [0, 1, 2, 3, 7, 8, 0x40, 0x41, 0x43, 0x100, 0x101, 0x11f, 0x120, 0x13e, 0x1ff,
             # more groups than the second level ORs into one register (8)
             0x200, 0x215, 0x22a, 0x23f, 0x250, 0x26c, 0x271, 0x28e]
WIDTH = 32


def test_reads_the_word_at_the_address_three_clocks_later(seed):
    rng = random.Random(seed)
    m = Module()
    select = Signal(22)
    enable = Signal()
    words = {a: Signal(WIDTH, name=f"w{a:x}") for a in ADDRESSES}
    out = registered_read_mux(m, select, enable, words, WIDTH, "rd")
    assert READ_MUX_LATENCY == 3
    sim = Simulator(m)
    sim.add_clock(1e-8)
    bad = []

    async def bench(ctx):
        expected = 0          # what the output holds
        pending = []          # (clock it is due, value)
        for clock in range(600):
            values = {a: rng.getrandbits(WIDTH) for a in ADDRESSES}
            for a, sig in words.items():
                ctx.set(sig, values[a])
            addr = rng.choice(ADDRESSES + [4, 0x42, 0x150, 0x3fffff, rng.getrandbits(22)])
            read = rng.random() < 0.6
            ctx.set(select, addr)
            ctx.set(enable, read)
            if read:
                pending.append((clock + READ_MUX_LATENCY, values.get(addr, 0)))
            await ctx.tick()
            while pending and pending[0][0] <= clock + 1:
                expected = pending.pop(0)[1]
            got = ctx.get(out)
            if got != expected:
                bad.append((clock, hex(addr), got, expected))

    sim.add_testbench(bench)
    sim.run()
    assert not bad, bad[:5]
