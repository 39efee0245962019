# amaranth: UnusedElaboratable=no
"""``StreamRegister`` (Amaranth simulator): every word passes, in order, under random
stalls on both sides; one word a clock when neither side stalls; the stream rules
(valid held until taken, payload steady) on both sides."""

import random

import pytest
from amaranth.sim import Simulator

from circnn.rtl.stream_register import StreamRegister

from streams import StallPattern, check_stream, receive, send


@pytest.mark.parametrize("rates", [(0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.4, 0.4)])
def test_every_word_in_order(rates, seed):
    rng = random.Random(seed)
    dut = StreamRegister(12)
    words = [rng.randrange(1 << 12) for _ in range(300)]
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    rules = {name: check_stream(sim, getattr(dut, name), name) for name in ("i", "o")}
    result = {}

    async def source(ctx):
        await send(ctx, dut.i, words, StallPattern(rates[0], 2, rng=random.Random(rng.random())))

    async def sink(ctx):
        result["words"] = await receive(ctx, dut.o, len(words),
                                        StallPattern(rates[1], 2, rng=random.Random(rng.random())))

    async def clock(ctx):
        result["clocks"] = 0
        while "words" not in result:
            await ctx.tick()
            result["clocks"] += 1

    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.add_testbench(clock, background=True)
    sim.run()
    for r in rules.values():
        r.check()
    assert result["words"] == words
    if rates == (0.0, 0.0):
        # full rate: the words plus the slice's one clock of latency (and the
        # receiver's last clock)
        assert result["clocks"] <= len(words) + 3, result["clocks"]
