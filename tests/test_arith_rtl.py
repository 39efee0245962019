"""Runtime-shift rounding in RTL (Amaranth simulator) == the fixed-point toolkit."""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.sim import Simulator

from circnn.rtl.arith import requantize_pipeline, round_shift_var
from circnn.sim.fixedpoint import requantize, round_shift

ROUNDINGS = ["truncate", "half_up", "half_even"]


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_round_shift_var_matches_toolkit(rounding, seed):
    v, s, o = Signal(signed(12)), Signal(signed(5)), Signal(signed(24))
    m = Module()
    m.d.comb += o.eq(round_shift_var(v, s, rounding, max_left=4))
    sim = Simulator(m)
    bad = []

    async def bench(ctx):
        rng = np.random.default_rng(seed)
        for _ in range(2000):
            a, b = int(rng.integers(-2048, 2048)), int(rng.integers(-4, 12))
            ctx.set(v, a)
            ctx.set(s, b)
            if ctx.get(o) != int(round_shift([a], b, rounding)[0]):
                bad.append((a, b, ctx.get(o)))
    sim.add_testbench(bench)
    sim.run()
    assert not bad, bad[:5]


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("shift", [-4, 0, 1, 5, 13])
def test_requantize_pipeline_matches_toolkit(rounding, shift, seed):
    v, s = Signal(signed(20)), Signal(signed(6))
    m = Module()
    out, sat, latency = requantize_pipeline(m, v, s, 10, rounding, max_left=4)
    sim = Simulator(m)
    sim.add_clock(1e-8)
    bad, checked = [], []

    async def bench(ctx):
        rng = np.random.default_rng(seed)
        ctx.set(s, shift)
        await ctx.tick()
        sent = []
        corners = [-(1 << 19), (1 << 19) - 1, 0, -1, 1 << max(0, shift - 1)]
        for n in range(800):
            a = corners[n] if n < len(corners) else int(rng.integers(-(1 << 19), 1 << 19))
            ctx.set(v, a)
            sent.append(a)
            await ctx.tick()
            if len(sent) >= latency:
                a0 = sent[-latency]
                r = int(round_shift([a0], shift, rounding)[0])
                expect = int(requantize([a0], shift, 10, rounding)[0])
                checked.append(a0)
                if ctx.get(out) != expect or ctx.get(sat) != int(r != expect):
                    bad.append((a0, ctx.get(out), expect))
    sim.add_testbench(bench)
    sim.run()
    assert len(checked) > 700 and not bad, bad[:5]
