# amaranth: UnusedElaboratable=no
"""``FrameReorder`` (Amaranth simulator) against :func:`circnn.sim.model.real_fft.reorder_permutation`.

Frames of ``depth`` words go in with random idle clocks and come out with
random back-pressure (per-clock draws and bursts); output word ``a`` of
each frame must be input word ``perm[a]`` (``bit_reverse`` and
``natural``), with ``last`` on exactly each frame's final word, for a plain
shape (carried as ``data``) and a struct layout (its fields plus ``last``).
Both streams are watched by the protocol checker.  Flow control, from the
docstring: ``i.ready`` falls only while two whole frames are written and not
yet read out; back to back, one word per clock passes in and out; a frame
starts leaving one clock after its last word was written.  (The cocotb
bench in ``tests/test_real_ifft.py`` stays as it is.)
"""

import random

import pytest
from amaranth.hdl import Const, signed
from amaranth.lib import data
from amaranth.sim import Simulator

from circnn.errors import ParameterError
from circnn.rtl.reorder import FrameReorder
from circnn.sim.model.real_fft import reorder_permutation

from streams import StallPattern, check_stream, receive, send

WIDTH = 12


def run_reorder(dut, words, idle, stall):
    """Stream ``words``; returns (i rules, o rules, per-clock (i.valid, i.ready,
    o.valid, o.ready) samples)."""
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    i_rules = check_stream(sim, dut.i, "i")
    o_rules = check_stream(sim, dut.o, "o")
    clocks = []

    async def watch(ctx):
        async for _, _, iv, ir, ov, orr in ctx.tick().sample(dut.i.valid, dut.i.ready,
                                                            dut.o.valid, dut.o.ready):
            clocks.append((iv, ir, ov, orr))

    async def producer(ctx):
        await send(ctx, dut.i, words, idle)

    async def consumer(ctx):
        await receive(ctx, dut.o, len(words), stall, timeout=30 * len(words) + 1000)
    sim.add_testbench(watch, background=True)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    i_rules.check()
    o_rules.check()
    i_rules.check_words(words)
    return i_rules, o_rules, clocks


def expected_words(frames, depth, order):
    perm = reorder_permutation(depth, order)
    return [(frame[int(perm[a])], int(a == depth - 1)) for frame in frames for a in range(depth)]


def check_ready_rule(clocks, depth):
    """``i.ready`` low only while two whole frames are in and not yet all out."""
    words_in = words_out = 0
    for n, (iv, ir, ov, orr) in enumerate(clocks):
        if not ir:
            held = words_in // depth - words_out // depth
            assert held >= 2, f"clock {n}: i.ready low with {held} whole frame(s) held"
        words_in += iv and ir
        words_out += ov and orr


@pytest.mark.parametrize("depth", [2, 8, 16])
@pytest.mark.parametrize("order", ["bit_reverse", "natural"])
@pytest.mark.parametrize("idle,stall", [
    ((0.3, 1), (0.3, 1)),           # per-clock draws
    ((0.2, 5), (0.6, 12)),          # long stalls: both banks fill, the writer waits
    ((0.7, 10), (0.1, 1)),          # a slow source: the reader waits
])
def test_plain_shape(depth, order, idle, stall, seed):
    rng = random.Random(seed)
    dut = FrameReorder(depth, signed(WIDTH), order)
    frames = [[rng.randint(-(1 << (WIDTH - 1)), (1 << (WIDTH - 1)) - 1) for _ in range(depth)]
              for _ in range(max(6, 160 // depth))]
    words = [w for f in frames for w in f]       # a signed payload: signed words
    _, o_rules, clocks = run_reorder(dut, words, StallPattern(*idle, rng=rng),
                                     StallPattern(*stall, rng=rng))
    layout = dut.o.payload.shape()
    got = [(int(layout.from_bits(w).data), int(layout.from_bits(w).last)) for w in o_rules.words]
    want = expected_words(frames, depth, order)
    assert len(got) == len(want), f"{len(got)} words out, expected {len(want)}"
    bad = [(n, g, w) for n, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not bad, f"{len(bad)} wrong (n, got, expected), first {bad[:3]}"
    check_ready_rule(clocks, depth)
    if stall[0] >= 0.5:
        assert any(not ir for _, ir, _, _ in clocks), "the writer never had to wait"


@pytest.mark.parametrize("order", ["bit_reverse", "natural"])
def test_struct_layout(order, seed):
    rng = random.Random(seed)
    layout = data.StructLayout({"x0": signed(7), "x1": signed(7)})
    dut = FrameReorder(4, layout, order)
    out_layout = dut.o.payload.shape()
    assert dict(out_layout.members) == {"x0": signed(7), "x1": signed(7), "last": 1}
    frames = [[(rng.randint(-64, 63), rng.randint(-64, 63)) for _ in range(4)] for _ in range(30)]
    words = [Const.cast(layout.const({"x0": a, "x1": b})).value for f in frames for a, b in f]
    _, o_rules, clocks = run_reorder(dut, words, StallPattern(0.4, 3, rng),
                                     StallPattern(0.5, 4, rng))
    got = []
    for w in o_rules.words:
        v = out_layout.from_bits(w)
        got.append(((int(v.x0), int(v.x1)), int(v.last)))
    assert got == expected_words(frames, 4, order)
    check_ready_rule(clocks, 4)


@pytest.mark.parametrize("depth,order", [(8, "bit_reverse"), (4, "natural"), (2, "bit_reverse")])
def test_back_to_back_one_word_per_clock(depth, order, seed):
    rng = random.Random(seed)
    dut = FrameReorder(depth, WIDTH, order)
    frames = [[rng.randrange(1 << WIDTH) for _ in range(depth)] for _ in range(12)]
    words = [w for f in frames for w in f]
    _, o_rules, clocks = run_reorder(dut, words, None, None)
    assert [(w & ((1 << WIDTH) - 1), w >> WIDTH) for w in o_rules.words] == \
        expected_words(frames, depth, order)
    ins = [n for n, (iv, ir, _, _) in enumerate(clocks) if iv and ir]
    outs = [n for n, (_, _, ov, orr) in enumerate(clocks) if ov and orr]
    assert ins == list(range(ins[0], ins[0] + len(words))), "the input waited"
    assert outs == list(range(outs[0], outs[0] + len(words))), "a gap in the output"
    # a frame starts leaving one clock after its last word was written: the
    # last word is written at the edge ending clock ins[depth - 1], the first
    # output word is valid from the clock after the next
    first_valid = next(n for n, (_, _, ov, _) in enumerate(clocks) if ov)
    assert first_valid == ins[depth - 1] + 2


def test_output_valid_does_not_wait_for_ready(seed):
    # with the consumer stalled, a frame's first word is offered and held
    rng = random.Random(seed)
    dut = FrameReorder(4, 8, "bit_reverse")
    frames = [[rng.randrange(256) for _ in range(4)] for _ in range(3)]
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    o_rules = check_stream(sim, dut.o, "o")
    seen = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 0)
        await send(ctx, dut.i, [w for f in frames[:2] for w in f])
        for _ in range(6):
            await ctx.tick()
        seen.append((ctx.get(dut.o.valid), ctx.get(dut.i.ready)))
        ctx.set(dut.o.ready, 1)
        seen.append(ctx.get(dut.o.valid))
        words = await receive(ctx, dut.o, 8)
        seen.append(words)
    sim.add_testbench(bench)
    sim.run()
    o_rules.check()
    perm = reorder_permutation(4, "bit_reverse")
    assert seen[0] == (1, 0)            # word offered; both banks full, writer held
    assert seen[1] == 1
    assert [w & 0xFF for w in seen[2]] == [frames[f][int(perm[a])] for f in range(2) for a in range(4)]


def test_permutations_by_hand():
    assert list(reorder_permutation(8, "bit_reverse")) == [0, 4, 2, 6, 1, 5, 3, 7]
    assert list(reorder_permutation(4, "natural")) == [0, 1, 2, 3]


def test_rejects_bad_arguments():
    for depth in (12, 1, 1 << 17, True):
        with pytest.raises(ParameterError, match="depth"):
            FrameReorder(depth, signed(8))
    with pytest.raises(ParameterError, match="order"):
        FrameReorder(8, signed(8), order="gray")
    with pytest.raises(ValueError, match="last"):
        FrameReorder(8, data.StructLayout({"a": 4, "last": 1}))
    with pytest.raises(TypeError, match="layout"):
        FrameReorder(8, "wide")
