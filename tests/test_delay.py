# amaranth: UnusedElaboratable=no
"""``delay`` (Amaranth simulator): a value as it was N clocks ago.

Reference: a Python list of the values driven, clock by clock (before the
first clock the value "was" its initial value).  Plain signals, signed
signals and struct views (as the pipelines use it) are checked for
N = 0..6; N = 0 must return the value itself and a negative N is refused.
"""

import random

import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data
from amaranth.sim import Simulator

from circnn.rtl.delay import delay

MAX_N = 6


def run_delays(value, draw, clocks, init):
    """Delay ``value`` by 0..MAX_N in one module; drive ``draw()`` each clock and
    check every output against the history."""
    m = Module()
    outs = [delay(m, value, n, "x") for n in range(MAX_N + 1)]
    sim = Simulator(m)
    sim.add_clock(1e-8)
    bad, history = [], []

    async def bench(ctx):
        for clock in range(clocks):
            word = draw()
            ctx.set(value, word)
            history.append(word)
            for n, out in enumerate(outs):
                want = history[-1 - n] if n < len(history) else init
                got = ctx.get(out)
                if got != want:
                    bad.append((clock, n, got, want))
            await ctx.tick()
    sim.add_testbench(bench)
    sim.run()
    return outs, bad


@pytest.mark.parametrize("shape,init", [(8, 0), (8, 0xA5), (signed(5), -16), (1, 1)])
def test_value_as_it_was_n_clocks_ago(shape, init, seed):
    rng = random.Random(seed)
    value = Signal(shape, init=init)
    width, is_signed = value.shape().width, value.shape().signed
    lo = -(1 << (width - 1)) if is_signed else 0
    hi = (1 << (width - 1)) - 1 if is_signed else (1 << width) - 1
    outs, bad = run_delays(value, lambda: rng.randint(lo, hi), 300, init)
    assert not bad, f"{len(bad)} mismatches (clock, N, got, expected): {bad[:5]}"


def test_struct_view(seed):
    rng = random.Random(seed)
    layout = data.StructLayout({"re": signed(6), "im": signed(6), "inv": 1})
    value = Signal(layout)
    m = Module()
    outs = [delay(m, value, n, "d") for n in range(4)]
    for out in outs[1:]:
        assert isinstance(out, data.View) and out.shape() == layout
    sim = Simulator(m)
    sim.add_clock(1e-8)
    bad, history = [], []

    async def bench(ctx):
        for clock in range(200):
            word = (rng.randint(-32, 31), rng.randint(-32, 31), rng.randint(0, 1))
            ctx.set(value.re, word[0])
            ctx.set(value.im, word[1])
            ctx.set(value.inv, word[2])
            history.append(word)
            for n, out in enumerate(outs):
                want = history[-1 - n] if n < len(history) else (0, 0, 0)
                got = (ctx.get(out.re), ctx.get(out.im), ctx.get(out.inv))
                if got != want:
                    bad.append((clock, n, got, want))
            await ctx.tick()
    sim.add_testbench(bench)
    sim.run()
    assert not bad, bad[:5]


def test_zero_clocks_returns_the_value_itself():
    m = Module()
    s = Signal(4)
    assert delay(m, s, 0, "s") is s
    view = Signal(data.StructLayout({"a": 3}))
    assert delay(m, view, 0, "v") is view


def test_registers_are_named():
    m = Module()
    s = Signal(4)
    assert delay(m, s, 1, "ctl").name == "ctl_d1"
    assert delay(m, s, 3, "ctl").name == "ctl_d3"


@pytest.mark.parametrize("clocks", [-1, -5])
def test_negative_delay_refused(clocks):
    m = Module()
    with pytest.raises(ValueError, match="ctl"):
        delay(m, Signal(4), clocks, "ctl")


def test_enabled_delay_shifts_only_when_enabled(seed):
    # the FFT's delay lines: N enabled steps, whatever the clocks in between
    rng = random.Random(seed)
    m = Module()
    value, enable = Signal(8), Signal()
    out = delay(m, value, 3, "line", enable=enable, reset_less=True)
    sim = Simulator(m)
    sim.add_clock(1e-8)
    bad = []

    async def bench(ctx):
        shifted = []
        for clock in range(300):
            word, en = rng.randrange(256), rng.random() < 0.5
            ctx.set(value, word)
            ctx.set(enable, en)
            await ctx.tick()
            if en:
                shifted.append(word)
            if len(shifted) >= 3 and ctx.get(out) != shifted[-3]:
                bad.append((clock, ctx.get(out), shifted[-3]))
    sim.add_testbench(bench)
    sim.run()
    assert not bad, f"{bad[:3]} (seed={seed})"
