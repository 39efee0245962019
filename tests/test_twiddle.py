# amaranth: UnusedElaboratable=no
"""``TwiddleStage`` (Amaranth simulator) against :func:`circnn.sim.model.fft.twiddle_multiply`.

A stage of span ``D`` sees frames of ``D`` sums (passed through unchanged)
and ``D`` differences; difference ``n`` must come out as
``twiddle_multiply(d, n * N / (2D), cfg)``.  Both kinds of stage are
checked: the multiplier stage (``D >= 4``: ROM, complex multiplier,
rounding, ``latency_of = 1 + 6 + 1 = 8`` clocks) and the trivial ``D = 2``
stage (twiddles 1 and -j only, ``latency_of = 1``).  Samples go in with
random idle clocks (per-clock draws and runs), corner values of the range
a stage can see included (:func:`value_range`); every output word must leave exactly ``latency_of`` clocks after
its input, with its ``inv`` flag, and nothing else may come out.
"""

import math
import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from circnn.config import FFTConfig
from circnn.rtl.twiddle import TwiddleStage, stage_twiddles
from circnn.sim.model.fft import twiddle_multiply

from streams import StallPattern


def run_stage(dut, samples, idle, tail):
    """Samples (re, im, inv) in; returns (input clocks, [(clock, word)] out)."""
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    ins, outs = [], []

    async def bench(ctx):
        todo = list(reversed(samples))
        clock = quiet = 0
        while todo or quiet < tail:
            send = bool(todo) and not idle.next()
            if send:
                re, im, inv = todo.pop()
                ctx.set(dut.i.payload.re, re)
                ctx.set(dut.i.payload.im, im)
                ctx.set(dut.i.payload.inv, inv)
                ins.append(clock)
            else:       # garbage on an idle clock must not matter
                ctx.set(dut.i.payload.re, -1)
                ctx.set(dut.i.payload.im, 1)
            ctx.set(dut.i.valid, send)
            _, _, valid, re, im, inv = await ctx.tick().sample(
                dut.o.valid, dut.o.payload.re, dut.o.payload.im, dut.o.payload.inv)
            if valid:
                outs.append((clock, (re, im, inv)))
            quiet = 0 if todo else quiet + 1
            clock += 1
    sim.add_testbench(bench)
    sim.run()
    return ins, outs


def value_range(cfg):
    """The component range of the samples a stage sees.

    With no rounding before the multiplier the whole internal range; with
    it (``width = 18``), the range the FFT's scaling keeps every
    intermediate value in (``docs/fft.md``: below ``sqrt(2) * 2^(width-1)
    + log2 N``), since the rounded operand must fit the 18-bit multiplier.
    """
    iw = cfg.internal_width
    if cfg.mult_shift == 0:
        return -(1 << (iw - 1)), (1 << (iw - 1)) - 1
    bound = math.floor(math.sqrt(2) * (1 << (cfg.width - 1))) + cfg.stages
    return -bound, bound


def frames_for(rng, cfg, D, count):
    lo, hi = value_range(cfg)
    values = [lo, hi, 0, 1, -1, lo + 1]
    pairs = [(v, w) for w in values for v in values]     # every corner pair
    frames = [[(v, w, k % 2) for v, w in pairs[k * 2 * D:(k + 1) * 2 * D]]
              for k in range(len(pairs) // (2 * D))]
    while len(frames) < count:
        inv = rng.randint(0, 1)
        frames.append([(rng.randint(lo, hi), rng.randint(lo, hi), inv) for _ in range(2 * D)])
    return frames


def expected(frames, cfg, D):
    step = cfg.points // (2 * D)
    want = []
    for frame in frames:
        want += frame[:D]
        d_re = np.array([s[0] for s in frame[D:]], dtype=np.int64)
        d_im = np.array([s[1] for s in frame[D:]], dtype=np.int64)
        p_re, p_im = twiddle_multiply((d_re, d_im), np.arange(D) * step, cfg)
        want += [(int(a), int(b), s[2]) for a, b, s in zip(p_re, p_im, frame[D:])]
    return want


CONFIGS = [
    # points, width, twiddle_width, rounding, stage
    (8, 8, 8, "half_up", 0),            # D = 4: multiplier
    (8, 12, 10, "truncate", 1),         # D = 2: trivial
    (16, 16, 16, "half_even", 0),       # D = 8
    (16, 16, 16, "half_up", 1),         # D = 4
    (16, 18, 18, "half_up", 0),         # 19-bit internal width: rounded before the multiplier
    (16, 18, 14, "truncate", 2),        # D = 2 at 19 bits
    (32, 10, 12, "half_even", 1),       # D = 8
    (4, 8, 8, "half_up", 0),            # D = 2, the only stage with twiddles
]
IDLE = [(0.0, 1), (0.35, 1), (0.5, 6)]


@pytest.mark.parametrize("points,width,twiddle_width,rounding,stage", CONFIGS)
@pytest.mark.parametrize("idle", IDLE)
def test_matches_twiddle_multiply(points, width, twiddle_width, rounding, stage, idle, seed):
    rng = random.Random(seed)
    cfg = FFTConfig(points, width, twiddle_width, rounding)
    D = cfg.span(stage)
    latency = 8 if D >= 4 else 1
    assert TwiddleStage.latency_of(cfg, stage) == latency
    dut = TwiddleStage(cfg, stage)
    assert dut.latency == latency and dut.span == D
    frames = frames_for(rng, cfg, D, 16)
    samples = [s for f in frames for s in f]
    ins, outs = run_stage(dut, samples, StallPattern(*idle, rng=rng), latency + 4)
    want = expected(frames, cfg, D)
    got = [w for _, w in outs]
    assert len(got) == len(want), f"{len(got)} words out, expected {len(want)}"
    bad = [(n, samples[n], g, w) for n, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not bad, f"{len(bad)} wrong (n, in, got, expected), first {bad[:3]}"
    lag = [c - i for (c, _), i in zip(outs, ins)]
    assert set(lag) == {latency}, f"output clocks minus input clocks: {sorted(set(lag))}"


def test_latencies_of_every_stage():
    cfg = FFTConfig(64, 16, 16)
    assert [TwiddleStage.latency_of(cfg, s) for s in range(cfg.stages - 1)] == [8, 8, 8, 8, 1]
    assert TwiddleStage.FULL_LATENCY == 8


def test_rom_holds_the_stage_twiddles():
    # W_2D^n for n = 0..D-1, from the N-point table: spot values by hand
    cfg = FFTConfig(16, 16, 16)
    codes = stage_twiddles(cfg, 1)            # D = 4: W_8^0..3
    full = (1 << 15) - 1                      # +1.0 saturated
    r = round(2 ** 15 * 2 ** -0.5)
    assert codes == [(full, 0), (r, -r), (0, -(1 << 15)), (-r, -r)]


def test_d1_stage_refused():
    cfg = FFTConfig(8, 8, 8)
    with pytest.raises(ValueError, match="D = 1"):
        TwiddleStage(cfg, 2)
