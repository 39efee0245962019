# amaranth: UnusedElaboratable=no
"""``SaturationCounter`` (Amaranth simulator): words clamped, counted two clocks later.

Reference: a Python running sum of the flags of the words with ``valid``
high (flags of words without ``valid`` must not count), compared with
``count`` ``latency`` clocks after each word, every clock.
"""

import random

from amaranth.sim import Simulator

from circnn.rtl.saturation_counter import SaturationCounter


def test_counts_the_flags_of_valid_words(seed):
    rng = random.Random(seed)
    dut = SaturationCounter()
    assert dut.latency == 2
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    bad = []

    async def bench(ctx):
        totals = [0]          # the count after each clock's word
        for clock in range(500):
            valid = rng.random() < 0.7
            flags = rng.getrandbits(2)
            ctx.set(dut.valid, valid)
            ctx.set(dut.saturated, flags)
            totals.append(totals[-1] + (bin(flags).count("1") if valid else 0))
            await ctx.tick()
            # after this clock's edge: the words up to latency - 1 clocks ago count
            want = totals[max(0, len(totals) - dut.latency)]
            got = ctx.get(dut.count)
            if got != want:
                bad.append((clock, got, want))

    sim.add_testbench(bench)
    sim.run()
    assert not bad, bad[:5]
