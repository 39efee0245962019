# amaranth: UnusedElaboratable=no
"""``PatchAddresses`` (Amaranth simulator) against its NumPy twin
:func:`circnn.sim.model.conv.patch_indices`, which is itself checked against
:func:`im2col` of a numbered map and against hand-worked values.  Every emitted
word is compared (index, zero, last, final), under random back-pressure, for
random geometries: kernels 1x1 to 5x5, strides 1 and 2, padding 0 to 2, channel
counts 1, 3 and multiples of 4; two layers back to back in one simulation."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from circnn.config import PatchConfig
from circnn.rtl.patch_addresses import PatchAddresses, patch_address_layout
from circnn.sim.model.conv import output_side, patch_indices

from component_support import unpack
from streams import StallPattern, check_stream, receive

CFG = PatchConfig(max_side=12, max_channels=16, max_kernel=5, max_stride=2, max_padding=2)


def test_the_twin_on_hand_worked_values():
    # a 3x3 map of 2 channels, 2x2 kernel, padding 1: the first patch row (output 0, 0)
    # covers pixels (-1,-1) (-1,0) (0,-1) (0,0): six zeros, then pixel (0, 0)
    index, zero = patch_indices((3, 3, 2), (2, 2), (1, 1), (1, 1))
    assert index.shape == (16, 8)
    assert zero[0].tolist() == [True] * 6 + [False] * 2
    assert index[0].tolist() == [0] * 6 + [0, 1]
    # output (1, 1) covers pixels (0,0) (0,1) (1,0) (1,1): indices (y*3 + x)*2 + c
    assert index[5].tolist() == [0, 1, 2, 3, 6, 7, 8, 9] and not zero[5].any()
    # stride 2, no padding, 1x1 kernel: pixels (0,0) (0,2) (2,0) (2,2)
    index, zero = patch_indices((3, 3, 1), (1, 1), (2, 2))
    assert index[:, 0].tolist() == [0, 2, 6, 8] and not zero.any()


def expected_words(geometry):
    (h, w, c), (kh, kw), (sh, sw), (ph, pw) = geometry
    index, zero = patch_indices((h, w, c), (kh, kw), (sh, sw), (ph, pw))
    rows, width = index.shape
    assert rows == output_side(h, kh, sh, ph) * output_side(w, kw, sw, pw)
    last = np.zeros_like(zero)
    last[:, -1] = True
    final = np.zeros_like(zero)
    final[-1, -1] = True
    return list(zip(index.ravel().tolist(), zero.ravel().astype(int).tolist(),
                    last.ravel().astype(int).tolist(), final.ravel().astype(int).tolist()))


def random_geometry(rng):
    kh, kw = (int(v) for v in rng.integers(1, 6, size=2))
    sh, sw = (int(v) for v in rng.integers(1, 3, size=2))
    ph, pw = (int(rng.integers(0, min(2, k - 1) + 1)) for k in (kh, kw))
    h = int(rng.integers(max(1, kh - 2 * ph), 9))
    w = int(rng.integers(max(1, kw - 2 * pw), 9))
    c = int(rng.choice([1, 3, 4, 8, 16]))
    return (h, w, c), (kh, kw), (sh, sw), (ph, pw)


def run(geometries, seed, stall=0.3):
    dut = PatchAddresses(CFG)
    layout = patch_address_layout(CFG)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    rules = check_stream(sim, dut.o, "o")
    got = []

    async def bench(ctx):
        for n, ((h, w, c), (kh, kw), (sh, sw), (ph, pw)) in enumerate(geometries):
            for name, value in zip(("h", "w", "c", "kh", "kw", "sh", "sw", "ph", "pw"),
                                   (h, w, c, kh, kw, sh, sw, ph, pw)):
                ctx.set(getattr(dut, name), value)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            count = len(expected_words(geometries[n]))
            words = await receive(ctx, dut.o, count,
                                  StallPattern(stall, 3, random.Random(seed + n)))
            got.append([tuple(int(getattr(unpack(layout, word), f)) for f in
                              ("index", "zero", "last", "final")) for word in words])
            for _ in range(3):                   # idle after the final value
                _, _, busy, valid = await ctx.tick().sample(dut.busy, dut.o.valid)
            assert not busy and not valid
    sim.add_testbench(bench)
    sim.run()
    rules.check()
    return got


def test_generator_equals_the_twin_for_random_geometries(seed):
    rng = np.random.default_rng(seed)
    geometries = [random_geometry(rng) for _ in range(6)]
    got = run(geometries, seed)
    for geometry, words in zip(geometries, got):
        assert words == expected_words(geometry), geometry


@pytest.mark.parametrize("geometry", [
    ((8, 8, 1), (3, 3), (1, 1), (1, 1)),       # the digits CNN's first layer
    ((4, 4, 16), (5, 5), (1, 1), (2, 2)),      # a kernel larger than the map, padded
    ((12, 12, 3), (1, 1), (2, 2), (0, 0)),     # the largest map, 1x1 stride 2
    ((5, 7, 4), (2, 3), (2, 1), (0, 1)),       # asymmetric everything
    ((3, 4, 2), (2, 2), (1, 1), (0, 0)),       # two channels (C - 2 is 0)
    ((4, 3, 3), (2, 1), (1, 2), (1, 0)),       # three channels (C - 3 is 0)
])
def test_generator_corner_geometries(geometry, seed):
    (words,) = run([geometry], seed, stall=0.0)
    assert words == expected_words(geometry)


@pytest.mark.parametrize("geometry", [(8, 8, 1, 3, 3, 1, 1, 1, 1), (5, 7, 4, 2, 3, 2, 1, 0, 1),
                                      (4, 4, 16, 5, 5, 1, 1, 2, 2), (1, 1, 1, 1, 1, 1, 1, 0, 0)])
def test_first_value_latency(geometry):
    """``o.valid`` rises max(W, SW, PW) + max(SH, PH) + 8 clocks after ``start``, as
    documented; ``busy`` from the clock after ``start``."""
    h, w, c, kh, kw, sh, sw, ph, pw = geometry
    dut = PatchAddresses(CFG)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    seen = {}

    async def bench(ctx):
        for name, value in zip(("h", "w", "c", "kh", "kw", "sh", "sw", "ph", "pw"), geometry):
            ctx.set(getattr(dut, name), value)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        for clock in range(1, 200):
            _, _, valid, busy = await ctx.tick().sample(dut.o.valid, dut.busy)
            seen.setdefault("busy", clock if busy else None)
            if valid:
                seen["valid"] = clock
                break
    sim.add_testbench(bench)
    sim.run()
    assert seen["busy"] == 1
    assert seen["valid"] == max(w, sw, pw) + max(sh, ph) + 8
