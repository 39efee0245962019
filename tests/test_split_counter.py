# amaranth: UnusedElaboratable=no
"""``SplitCounter`` (Amaranth simulator) against a plain Python counter, clock by clock.

The reference is the documented rule: load takes the constant, else inc adds
one modulo 2**width, shown on the next clock.  Random inc/load sequences are
applied at small widths (so that both halves wrap many times) and at 32 bits
with load values just below a wrap of the low half and of the whole counter;
``value`` is compared at every clock.
"""

import random

import pytest
from amaranth.sim import Simulator

from circnn.config import ParameterError
from circnn.rtl.split_counter import SplitCounter


def run(width, load_value, events):
    """``events``: a list of (inc, load) per clock; returns the value seen at each clock."""
    dut = SplitCounter(width, load_value=load_value)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    seen = []

    async def bench(ctx):
        for inc, load in events:
            seen.append(ctx.get(dut.value))
            ctx.set(dut.inc, inc)
            ctx.set(dut.load, load)
            await ctx.tick()
        seen.append(ctx.get(dut.value))
    sim.add_testbench(bench)
    sim.run()
    return seen


def reference(width, load_value, events):
    value, seen = 0, [0]
    for inc, load in events:
        if load:
            value = load_value
        elif inc:
            value = (value + 1) % (1 << width)
        seen.append(value)
    return seen


@pytest.mark.parametrize("width,load_value", [
    (2, 0), (3, 5), (5, 0), (6, 62), (7, 1),
    (32, (1 << 32) - 1), (32, (1 << 16) - 3), (32, (1 << 32) - 40), (32, 0x1234FFF0),
])
def test_matches_plain_counter(width, load_value, seed):
    rng = random.Random(seed)
    events = []
    for _ in range(700 if width < 32 else 300):
        # mostly counting, now and then a pause or a load
        r = rng.random()
        events.append((int(r < 0.85), int(r > 0.97)))
    events[0] = (0, 1)      # start from the load value (a near-wrap one at 32 bits)
    got, want = run(width, load_value, events), reference(width, load_value, events)
    bad = [(n, g, w) for n, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not bad, f"{len(bad)} mismatches, first (clock, got, want): {bad[:3]}"
    # the sequence crossed the low half's wrap at least once
    low_bits = (width + 1) // 2
    assert any(w >> low_bits != v >> low_bits for v, w in zip(want, want[1:]))


@pytest.mark.parametrize("width,load_value", [(1, 0), (8, 256), (8, -1)])
def test_parameters_checked(width, load_value):
    with pytest.raises(ParameterError):
        SplitCounter(width, load_value=load_value)
