# amaranth: UnusedElaboratable=no
"""``SpectrumPairStage`` (:mod:`circnn.rtl.spectrum_pair`) through its two subclasses,
in the Amaranth simulator, word for word against the bit-true model.

* :class:`~circnn.rtl.real_fft.RealSpectrumPost`: bit-reversed ``Z/N``
  frames in, packed natural-order ``X/k`` frames out; reference
  :func:`circnn.sim.model.real_fft.real_spectrum_post` of the natural-order
  frames (reordered by hand with :func:`circnn.config.bit_reverse`);
* :class:`~circnn.rtl.real_ifft.RealSpectrumPre`: packed natural-order
  spectra in, ``Z/2`` frames out; reference
  :func:`circnn.sim.model.real_fft.real_spectrum_pre`.

Frames go in with random idle clocks and the output is stalled at random,
both as per-clock draws and in bursts; both streams are watched by the
protocol checker, ``last`` must mark exactly each frame's final word, and
with neither idle nor stalls one word leaves per clock.
"""

import math
import random

import numpy as np
import pytest
from amaranth.hdl import Const
from amaranth.sim import Simulator

from circnn.config import RealFFTConfig, RealIFFTConfig, bit_reverse
from circnn.rtl.real_fft import RealSpectrumPost
from circnn.rtl.real_ifft import RealSpectrumPre
from circnn.sim.model.real_fft import real_spectrum_post, real_spectrum_pre

from streams import StallPattern, check_stream, receive, send


def pack(layout, **fields):
    return Const.cast(layout.const(fields)).value


def unpack(layout, raw):
    view = layout.from_bits(raw)
    return {name: int(getattr(view, name)) for name, _ in layout}


def frames_in_range(rng, n, count, lo, hi):
    """Corner frames (both extremes, alternating, an impulse) then random ones."""
    frames = [([lo] * n, [lo] * n), ([hi] * n, [hi] * n), ([hi] * n, [lo] * n),
              ([lo, hi] * (n // 2), [hi, lo] * (n // 2)),
              ([hi] + [0] * (n - 1), [lo] + [0] * (n - 1))]
    while len(frames) < count:
        frames.append(([rng.randint(lo, hi) for _ in range(n)],
                       [rng.randint(lo, hi) for _ in range(n)]))
    return frames[:count]


def run_stage(dut, in_words, out_count, idle, stall):
    """Stream raw input words; return (i rules, o rules)."""
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    i_rules = check_stream(sim, dut.i, "i")
    o_rules = check_stream(sim, dut.o, "o")

    async def producer(ctx):
        await send(ctx, dut.i, in_words, idle)

    async def consumer(ctx):
        await receive(ctx, dut.o, out_count, stall, timeout=20 * out_count + 1000)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    i_rules.check()
    o_rules.check()
    i_rules.check_words(in_words)
    return i_rules, o_rules


def compare(o_rules, layout, want_re, want_im, N):
    got = [unpack(layout, w) for w in o_rules.words]
    want = [dict(re=int(r), im=int(i), last=int(n % N == N - 1))
            for n, (r, i) in enumerate(zip(np.ravel(want_re), np.ravel(want_im)))]
    assert len(got) == len(want), f"{len(got)} words out, expected {len(want)}"
    bad = [(n, g, w) for n, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not bad, f"{len(bad)} wrong words (n, got, expected), first {bad[:3]}"


PATTERNS = [
    ((0.0, 1), (0.0, 1)),
    ((0.3, 1), (0.3, 1)),          # per-clock draws
    ((0.4, 6), (0.6, 10)),         # bursts: the output queue fills up
    ((0.7, 15), (0.2, 3)),
]

POST = [
    # points k, width, twiddle_width, rounding
    (4, 8, 8, "half_up"),          # N = 2, the smallest pair stage
    (8, 12, 10, "truncate"),
    (16, 16, 16, "half_even"),
    (16, 18, 18, "half_up"),       # 19-bit values, rounded before the multiplier
    (32, 10, 12, "half_up"),
]

PRE = [
    (4, 8, 8, "half_up"),
    (8, 12, 12, "half_even"),
    (16, 16, 16, "truncate"),
    (16, 17, 17, "half_up"),       # the widest packed words (18-bit Z/2)
    (32, 9, 10, "half_even"),
]


def post_range(cfg):
    """The components a ``Z/N`` frame can have: the whole ``width + 1``-bit range when
    no rounding precedes the multiplier, else the FFT's bound (``docs/fft.md``:
    below ``sqrt(2) * 2^(width-1) + log2 N``), since the rounded operand must fit 18 bits."""
    iw = cfg.internal_width
    if cfg.mult_shift == 0:
        return -(1 << (iw - 1)), (1 << (iw - 1)) - 1
    bound = math.floor(math.sqrt(2) * (1 << (cfg.width - 1))) + cfg.core.stages
    return -bound, bound


@pytest.mark.parametrize("points,width,twiddle_width,rounding", POST)
@pytest.mark.parametrize("idle,stall", PATTERNS)
def test_real_spectrum_post(points, width, twiddle_width, rounding, idle, stall, seed):
    rng = random.Random(seed)
    cfg = RealFFTConfig(points, width, twiddle_width, rounding)
    N = cfg.half
    dut = RealSpectrumPost(cfg)
    frames = frames_in_range(rng, N, 12, *post_range(cfg))
    rev = bit_reverse(N)
    in_layout, out_layout = dut.i.payload.shape(), dut.o.payload.shape()
    words = []
    for re, im in frames:           # position p carries Z[rev[p]]
        words += [pack(in_layout, re=re[rev[p]], im=im[rev[p]], inverse=0, last=int(p == N - 1))
                  for p in range(N)]
    _, o_rules = run_stage(dut, words, len(words), StallPattern(*idle, rng=rng),
                           StallPattern(*stall, rng=rng))
    z = (np.array([f[0] for f in frames], dtype=np.int64),
         np.array([f[1] for f in frames], dtype=np.int64))
    compare(o_rules, out_layout, *real_spectrum_post(z, cfg), N)


@pytest.mark.parametrize("points,width,twiddle_width,rounding", PRE)
@pytest.mark.parametrize("idle,stall", PATTERNS)
def test_real_spectrum_pre(points, width, twiddle_width, rounding, idle, stall, seed):
    rng = random.Random(seed)
    cfg = RealIFFTConfig(points, width, twiddle_width, rounding)
    N = cfg.half
    dut = RealSpectrumPre(cfg)
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    frames = frames_in_range(rng, N, 12, lo, hi)
    in_layout, out_layout = dut.i.payload.shape(), dut.o.payload.shape()
    words = [pack(in_layout, re=r, im=i) for re, im in frames for r, i in zip(re, im)]
    _, o_rules = run_stage(dut, words, len(words), StallPattern(*idle, rng=rng),
                           StallPattern(*stall, rng=rng))
    packed = (np.array([f[0] for f in frames], dtype=np.int64),
              np.array([f[1] for f in frames], dtype=np.int64))
    compare(o_rules, out_layout, *real_spectrum_pre(packed, cfg), N)


@pytest.mark.parametrize("make", ["post", "pre"])
@pytest.mark.parametrize("points", [4, 16])
def test_one_word_per_clock(make, points, seed):
    # back to back, never stalled: F frames leave within F*N clocks plus the
    # first frame's fill (N), the pipeline (10 clocks) and a few for the queue
    rng = random.Random(seed)
    frames_count = 10
    if make == "post":
        cfg = RealFFTConfig(points, 12, 12)
        dut = RealSpectrumPost(cfg)
        fields = lambda r, i, p: dict(re=r, im=i, inverse=0, last=int(p == cfg.half - 1))
    else:
        cfg = RealIFFTConfig(points, 12, 12)
        dut = RealSpectrumPre(cfg)
        fields = lambda r, i, p: dict(re=r, im=i)
    N = cfg.half
    layout = dut.i.payload.shape()
    words = [pack(layout, **fields(rng.randint(-2048, 2047), rng.randint(-2048, 2047), p))
             for _ in range(frames_count) for p in range(N)]
    i_rules, o_rules = run_stage(dut, words, len(words), None, None)
    assert len(o_rules.words) == len(words)
    assert o_rules.clocks <= frames_count * N + N + 10 + 4, o_rules.clocks


def test_post_by_hand():
    # k = 4 (N = 2), z = x[2n] + j x[2n+1]: Z/2 of x = (a, b, c, d) is
    # Z[0] = ((a+c) + j(b+d))/2, Z[1] = ((a-c) + j(b-d))/2; X[0]/4 = (a+b+c+d)/4,
    # X[2]/4 = (a-b+c-d)/4, X[1]/4 = ((a-c) - j(b-d))/4
    cfg = RealFFTConfig(4, 8, 8, "half_up")
    x = [40, 12, -8, 20]
    a, b, c, d = x
    z = (np.array([[(a + c) // 2, (a - c) // 2]]), np.array([[(b + d) // 2, (b - d) // 2]]))
    re, im = real_spectrum_post(z, cfg)
    assert (int(re[0, 0]), int(im[0, 0])) == ((a + b + c + d) // 4, (a - b + c - d) // 4)
    assert (int(re[0, 1]), int(im[0, 1])) == ((a - c) // 4, -(b - d) // 4)
    dut = RealSpectrumPost(cfg)
    layout = dut.i.payload.shape()
    # bit-reversed order of 2 points is natural order
    words = [pack(layout, re=int(z[0][0, p]), im=int(z[1][0, p]), inverse=0, last=p)
             for p in range(2)]
    _, o_rules = run_stage(dut, words, 2, None, None)
    got = [unpack(dut.o.payload.shape(), w) for w in o_rules.words]
    assert got == [dict(re=16, im=0, last=0), dict(re=12, im=2, last=1)]


def test_components_take_only_their_config():
    with pytest.raises(TypeError):
        RealSpectrumPre(RealFFTConfig(16))
