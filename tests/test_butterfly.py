# amaranth: UnusedElaboratable=no
"""``ButterflyStage`` (Amaranth simulator) against :func:`circnn.sim.model.fft.butterfly`.

Frames of ``2D`` internal-width samples go in with random idle clocks
(per-clock draws and runs); the output stream must be, frame after frame,
the ``D`` rounded half-sums then the ``D`` rounded half-differences of
``butterfly(x[:D], x[D:])``, with the frame's ``inv`` flag.  Timing: each
half-sum leaves ``latency`` clocks (2, 3 with ``half_even``) after its
second-half sample; when
the input idles at a frame boundary the pending differences drain on their
own, one per clock, and nothing else comes out.  With the stage's
:class:`TwiddleStage` behind it (none for ``D = 1``), whole ``N``-sample
frames must match :func:`circnn.sim.model.fft.fft_stage`.
"""

import random

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator

from circnn.config import FFTConfig
from circnn.rtl.butterfly import ButterflyStage
from circnn.rtl.twiddle import TwiddleStage
from circnn.sim.model.fft import butterfly, fft_stage

from streams import StallPattern


def random_frames(rng, cfg, count, length):
    """``count`` frames of ``length`` (re, im) samples over the full internal range,
    corners first, each with a random ``inv``."""
    iw = cfg.internal_width
    lo, hi = -(1 << (iw - 1)), (1 << (iw - 1)) - 1
    frames = [([lo] * length, [lo] * length, 0), ([hi] * length, [lo] * length, 1),
              ([hi] * (length // 2) + [lo] * (length // 2), [lo] * (length // 2) + [hi] * (length // 2), 0)]
    while len(frames) < count:
        frames.append(([rng.randint(lo, hi) for _ in range(length)],
                       [rng.randint(lo, hi) for _ in range(length)], rng.randint(0, 1)))
    return frames[:count]


def stream_through(dut_in, dut_out, top, frames, idle, tail):
    """Send the frames' samples on ``dut_in`` (idle clocks from ``idle``); record every
    ``dut_out`` word with its clock, and the clock of every input sample."""
    sim = Simulator(top)
    sim.add_clock(1e-8)
    ins, outs = [], []

    async def bench(ctx):
        clock = 0
        samples = [(re, im, inv) for fre, fim, inv in frames for re, im in zip(fre, fim)]
        todo = list(reversed(samples))
        quiet = 0
        while todo or quiet < tail:
            send = bool(todo) and not idle.next()
            if send:
                re, im, inv = todo.pop()
                ctx.set(dut_in.payload.re, re)
                ctx.set(dut_in.payload.im, im)
                ctx.set(dut_in.payload.inv, inv)
                ins.append(clock)
            ctx.set(dut_in.valid, send)
            _, _, valid, re, im, inv = await ctx.tick().sample(
                dut_out.valid, dut_out.payload.re, dut_out.payload.im, dut_out.payload.inv)
            if valid:
                outs.append((clock, (re, im, inv)))
            quiet = 0 if todo else quiet + 1
            clock += 1
    sim.add_testbench(bench)
    sim.run()
    return ins, outs


def expected_butterfly(frames, cfg, D):
    want = []
    for re, im, inv in frames:
        re, im = np.array(re, dtype=np.int64), np.array(im, dtype=np.int64)
        s, d = butterfly((re[:D], im[:D]), (re[D:], im[D:]), cfg)
        want += [(int(a), int(b), inv) for a, b in zip(*s)]
        want += [(int(a), int(b), inv) for a, b in zip(*d)]
    return want


CONFIGS = [
    # points, width, rounding, stage (span D = points >> (stage + 1))
    (8, 8, "half_up", 0),       # D = 4
    (8, 8, "truncate", 1),      # D = 2
    (8, 9, "half_even", 2),     # D = 1
    (16, 12, "half_up", 0),     # D = 8
    (16, 18, "half_even", 1),   # D = 4, 19-bit internal width
    (4, 10, "truncate", 0),     # D = 2
]
IDLE = [(0.0, 1), (0.3, 1), (0.5, 4), (0.7, 12)]


@pytest.mark.parametrize("points,width,rounding,stage", CONFIGS)
@pytest.mark.parametrize("idle", IDLE)
def test_sums_then_differences(points, width, rounding, stage, idle, seed):
    rng = random.Random(seed)
    cfg = FFTConfig(points, width, 16, rounding)
    D = cfg.span(stage)
    dut = ButterflyStage(cfg, stage)
    assert dut.span == D and dut.latency == (3 if rounding == "half_even" else 2)
    frames = random_frames(rng, cfg, 24, 2 * D)
    ins, outs = stream_through(dut.i, dut.o, dut, frames, StallPattern(*idle, rng=rng), 4 * D + 4)
    got = [w for _, w in outs]
    want = expected_butterfly(frames, cfg, D)
    assert len(got) == len(want), f"{len(got)} words out, expected {len(want)}"
    bad = [(n, g, w) for n, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not bad, f"{len(bad)} wrong words (n, got, expected), first {bad[:3]}"
    # each half-sum leaves `latency` clocks after its second-half sample
    for f in range(len(frames)):
        for j in range(D):
            in_clock = ins[f * 2 * D + D + j]
            out_clock = outs[f * 2 * D + j][0]
            assert out_clock == in_clock + dut.latency, (f, j, in_clock, out_clock)
    # the last frame's differences drain on their own, one per clock
    last_sum = outs[-D - 1][0]
    assert [c for c, _ in outs[-D:]] == list(range(last_sum + 1, last_sum + 1 + D))


@pytest.mark.parametrize("points,stage", [(8, 0), (16, 1), (8, 2)])
def test_drain_at_every_frame_boundary(points, stage, seed):
    # frames separated by idle gaps longer than D: every frame's differences
    # come out during its gap, before the next frame starts
    rng = random.Random(seed)
    cfg = FFTConfig(points, 8, 8, "half_up")
    D = cfg.span(stage)
    dut = ButterflyStage(cfg, stage)
    frames = random_frames(rng, cfg, 6, 2 * D)

    class Gaps:          # 2D samples, then D + 3 idle clocks
        def __init__(self):
            self.n = 0

        def next(self):
            self.n += 1
            return (self.n - 1) % (3 * D + 3) >= 2 * D
    ins, outs = stream_through(dut.i, dut.o, dut, frames, Gaps(), 4 * D + 4)
    assert [w for _, w in outs] == expected_butterfly(frames, cfg, D)
    for f in range(len(frames)):
        frame_out = [c for c, _ in outs[f * 2 * D:(f + 1) * 2 * D]]
        next_in = ins[(f + 1) * 2 * D] if f + 1 < len(frames) else float("inf")
        assert frame_out[-1] < next_in, f"frame {f} still draining when the next one arrived"
        assert frame_out[D:] == list(range(frame_out[D - 1] + 1, frame_out[D - 1] + 1 + D))


def test_idle_mid_frame_does_not_drain(seed):
    # a pause in the middle of a frame's first half must not emit the
    # previous frame's differences early, nor anything else
    rng = random.Random(seed)
    cfg = FFTConfig(16, 8, 8, "half_up")
    D = cfg.span(0)
    dut = ButterflyStage(cfg, 0)
    frames = random_frames(rng, cfg, 3, 2 * D)

    class MidPause:      # frame 0 and 3 samples of frame 1, 20 idle clocks, the rest
        def __init__(self):
            self.n = 0

        def next(self):
            self.n += 1
            return 2 * D + 3 < self.n <= 2 * D + 23
    ins, outs = stream_through(dut.i, dut.o, dut, frames, MidPause(), 4 * D + 4)
    assert [w for _, w in outs] == expected_butterfly(frames, cfg, D)
    pause = range(ins[2 * D + 2] + dut.latency + 1, ins[2 * D + 3] + dut.latency)
    assert not [c for c, _ in outs if c in pause], "output while paused mid-frame"


@pytest.mark.parametrize("points,width,twiddle_width,rounding", [
    (8, 8, 8, "half_up"), (16, 12, 12, "half_even"), (16, 18, 18, "truncate"),
    (32, 16, 16, "half_up")])
def test_stage_with_twiddles_matches_fft_stage(points, width, twiddle_width, rounding, seed):
    rng = random.Random(seed)
    cfg = FFTConfig(points, width, twiddle_width, rounding)
    for stage in range(cfg.stages):
        D = cfg.span(stage)
        top = Module()
        bf = top.submodules.bf = ButterflyStage(cfg, stage)
        if D >= 2:
            tw = top.submodules.tw = TwiddleStage(cfg, stage)
            top.d.comb += [tw.i.valid.eq(bf.o.valid), tw.i.payload.eq(bf.o.payload)]
            out = tw.o
        else:
            out = bf.o
        frames = random_frames(rng, cfg, 6, points)
        ins, outs = stream_through(bf.i, out, top, frames, StallPattern(0.3, 3, rng), 4 * points)
        re = np.array([f[0] for f in frames], dtype=np.int64)
        im = np.array([f[1] for f in frames], dtype=np.int64)
        want_re, want_im = fft_stage((re, im), stage, cfg)
        want = [(int(a), int(b), f[2]) for f, ra, ia in zip(frames, want_re, want_im)
                for a, b in zip(ra, ia)]
        got = [w for _, w in outs]
        assert len(got) == len(want), (stage, len(got), len(want))
        bad = [(n, g, w) for n, (g, w) in enumerate(zip(got, want)) if g != w]
        assert not bad, f"stage {stage}: {len(bad)} wrong, first {bad[:3]}"
