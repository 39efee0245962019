# amaranth: UnusedElaboratable=no
"""``Requantizer`` (Amaranth simulator) == the fixed-point toolkit's ``requantize``, word for word.

Random words with bursts of idle clocks, at run-time shifts from the
largest left shift to the largest right shift; the shift changes between
bursts, as it does between layers.  The value, the saturation flag and the
valid bit are all checked, ``Requantizer.latency`` clocks after the input.
"""

import numpy as np
import pytest
from amaranth.sim import Simulator

from circnn.config import RequantizerConfig
from circnn.errors import ParameterError
from circnn.rtl.requantize import Requantizer
from circnn.sim.model import fixedpoint as fx


@pytest.mark.parametrize("in_width,out_width,max_shift,max_left", [
    (20, 10, 13, 4), (12, 12, 11, 0), (38, 16, 37, 0), (22, 16, 21, 8), (10, 4, 9, 2)])
@pytest.mark.parametrize("rounding", ["truncate", "half_up", "half_even"])
def test_requantizer_matches_toolkit(in_width, out_width, max_shift, max_left, rounding, seed):
    cfg = RequantizerConfig(in_width=in_width, out_width=out_width, max_shift=max_shift,
                            max_left=max_left, rounding=rounding)
    dut = Requantizer(cfg)
    rng = np.random.default_rng(seed)
    lo, hi = fx.int_range(in_width)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sent, got = [], []

    async def bench(ctx):
        shifts = [-max_left, 0, 1, max_shift] + [int(s) for s in rng.integers(-max_left, max_shift + 1, 6)]
        for shift in shifts:
            ctx.set(dut.i.valid, 0)
            ctx.set(dut.shift, shift)
            for _ in range(Requantizer.latency + 1):      # the pipeline empties, the shift settles
                await ctx.tick()
                if ctx.get(dut.o.valid):
                    got.append((ctx.get(dut.o.payload.value), ctx.get(dut.o.payload.saturated)))
            half = 1 << max(0, shift - 1)
            corners = [lo, hi, 0, -1, 1, half, -half, half + 1, 3 * half]
            words = [c for c in corners if lo <= c <= hi] + [int(v) for v in rng.integers(lo, hi + 1, 60)]
            for word in words:
                while rng.random() < 0.2:            # idle clocks in runs
                    ctx.set(dut.i.valid, 0)
                    await ctx.tick()
                    if ctx.get(dut.o.valid):
                        got.append((ctx.get(dut.o.payload.value), ctx.get(dut.o.payload.saturated)))
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload, word)
                sent.append((word, shift))
                await ctx.tick()
                if ctx.get(dut.o.valid):
                    got.append((ctx.get(dut.o.payload.value), ctx.get(dut.o.payload.saturated)))
        ctx.set(dut.i.valid, 0)
        for _ in range(Requantizer.latency + 1):
            await ctx.tick()
            if ctx.get(dut.o.valid):
                got.append((ctx.get(dut.o.payload.value), ctx.get(dut.o.payload.saturated)))
    sim.add_testbench(bench)
    sim.run()
    expect = []
    for word, shift in sent:
        r = int(fx.round_shift([word], shift, rounding)[0])
        q = int(fx.requantize([word], shift, out_width, rounding)[0])
        expect.append((q, int(q != r)))
    assert len(got) == len(sent), f"{len(got)} words out for {len(sent)} in (seed={seed})"
    bad = [(i, g, e, sent[i]) for i, (g, e) in enumerate(zip(got, expect)) if g != e]
    assert not bad, f"{len(bad)} words differ, first {bad[0]} (seed={seed})"


@pytest.mark.parametrize("kwargs,name", [
    (dict(in_width=1), "in_width"), (dict(out_width=99), "out_width"),
    (dict(in_width=16, max_shift=16), "max_shift"), (dict(max_left=9), "max_left"),
    (dict(rounding="nearest"), "rounding")])
def test_requantizer_config_rejects_bad_parameters(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        RequantizerConfig(**kwargs)


def test_requantizer_takes_only_its_config():
    with pytest.raises(TypeError):
        Requantizer(16)
