# amaranth: UnusedElaboratable=no
"""``OutputStage`` (rtl/output_stage.py) alone in the Amaranth simulator, against the
model's :func:`circnn.sim.model.layer.output_stage` and the ``out_features`` mask of
:func:`~circnn.sim.model.layer.layer_forward`.

Blocks of k/2 inverse-FFT words (``x0, x1``, ``last`` on the block's last word) go
in on ``i`` and their (block, vector) tags on ``tag``, each stream with its own idle
clocks, while ``o`` is back-pressured (per-clock draws and long runs).  Every output
word (``y0, y1``, block, vector, last) is compared with the model: bias from the
bias memory at ``b_base`` (preloaded at elaboration, junk around the layer's
pairs), ReLU or none, ``out_shift`` right or negative (a left shift, saturating),
samples from ``out_features`` on forced to zero; and ``saturations`` with the
model's count.  Between two phases the bench rewrites bias pairs through ``load``
(``LoadTarget.BIASES``; writes with another target must not land) and changes the
configuration; the second phase must use the new biases.
"""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from circnn.config import EngineConfig, LoadTarget
from circnn.rtl.drain import tag_layout
from circnn.rtl.output_stage import OutputStage, ifft_output_layout, layer_output_layout
from circnn.sim.model.layer import output_stage

from component_refs import pack, random_codes, run_sim
from streams import StallPattern, check_stream, receive, send

# k, B, p, b_base, rounding, phases [(relu, out_shift, out_features)], i idle, tag idle,
# o stall
CASES = [
    (8, 2, 3, 5, "half_up", [(True, 3, 24), (False, -3, 19)], (0.3, 1), (0.5, 6), (0.3, 1)),
    (4, 1, 3, 0, "half_even", [(False, 0, 7), (True, -8, 12)], (0.5, 8), (0.2, 1), (0.6, 10)),
    (8, 3, 2, 9, "half_even", [(True, 12, 13), (False, 2, 16)], (0.0, 1), (0.0, 1), (0.8, 20)),
    (16, 1, 2, 3, "truncate", [(False, 4, 25), (True, 1, 32)], (0.2, 1), (0.3, 4), (0.2, 1)),
]


def blocks_of(rng, eng, p, runs=2):
    """Tags in drain order (pass, vector, PE block) for ``runs`` layer runs, and each
    block's k inverse-FFT samples."""
    P = 2
    tags = []
    for _ in range(runs):
        for g in range(-(-p // P)):
            for b in range(eng.batch):
                tags += [(i, b) for i in range(g * P, min(p, g * P + P))]
    x = random_codes(rng, eng.ifft_out_width, (len(tags), eng.k), corners=0.25)
    return tags, x


@pytest.mark.parametrize("k,batch,p,b_base,rounding,phases,i_idle,tag_idle,o_stall", CASES)
def test_output_stage_matches_model(k, batch, p, b_base, rounding, phases, i_idle, tag_idle,
                                    o_stall, seed):
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)
    eng = EngineConfig(k=k, batch=batch, max_q=2, max_p=p, act_width=8, weight_width=8,
                       ifft_width=8, twiddle_width=8, rounding=rounding,
                       bias_depth=b_base + p * k // 2 + 3)
    N = eng.half
    # the bias memory: the layer's pairs at b_base, junk around them
    bias_mem = random_codes(rng, eng.bias_width, (eng.bias_words, 2), corners=0.25)
    dut = OutputStage(eng, bias_mem)
    # run-time rewrites between the phases: (target, pair, b0, b1)
    rewrites = [(LoadTarget.BIASES, b_base + int(a), *(int(v) for v in
                 random_codes(rng, eng.bias_width, 2, corners=0.5)))
                for a in rng.choice(p * N, size=min(6, p * N), replace=False)]
    decoys = [(LoadTarget.WEIGHTS, b_base + a, 1, -1) for a in range(2)] + \
             [(LoadTarget.REGISTERS, b_base + 2, 5, 5)]
    bw = eng.bias_width
    mask = (1 << bw) - 1

    in_layout, tag_lay, out_layout = ifft_output_layout(eng), tag_layout(eng), layer_output_layout(eng)
    phase_data = [blocks_of(rng, eng, p) for _ in phases]
    expected, exp_sat = [], 0
    mem = bias_mem.copy()
    for ph, (relu, out_shift, out_features) in enumerate(phases):
        if ph == 1:
            for _, a, b0, b1 in rewrites:
                mem[a] = (b0, b1)
        tags, x = phase_data[ph]
        blocks = np.array([i for i, _ in tags])
        # bias[i*k + 2n + e] = pair b_base + i*N + n, element e
        bias = mem[b_base + blocks[:, None] * N + np.arange(N)[None, :]].reshape(len(tags), k)
        y, sat = output_stage(x, bias, relu, out_shift, eng)
        exp_sat += sat
        element = blocks[:, None] * k + np.arange(k)[None, :]
        y[element >= out_features] = 0          # past the layer's real width
        for t, (i, b) in enumerate(tags):
            for n in range(N):
                expected.append((int(y[t, 2 * n]), int(y[t, 2 * n + 1]), i, b, int(n == N - 1)))
    assert exp_sat > 0, "no saturating sample: the stimulus misses the saturation path"

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    i_stream = check_stream(sim, dut.i, "i")
    tag_stream = check_stream(sim, dut.tag, "tag")
    o_stream = check_stream(sim, dut.o, "o")
    go = [True] + [False] * (len(phases) - 1)
    received = [0]
    counts = [len(tags) * N for tags, _ in phase_data]
    sat_seen = []

    async def control(ctx):
        ctx.set(dut.b_base, b_base)
        for ph, (relu, out_shift, out_features) in enumerate(phases):
            if ph:
                while received[0] < sum(counts[:ph]):     # the stage has emptied
                    await ctx.tick()
                for target, a, b0, b1 in (rewrites + decoys if ph == 1 else []):
                    ctx.set(dut.load.en, 1)
                    ctx.set(dut.load.target, target)
                    ctx.set(dut.load.addr, a)
                    ctx.set(dut.load.data, (b0 & mask) | ((b1 & mask) << bw))
                    await ctx.tick()
                ctx.set(dut.load.en, 0)
            ctx.set(dut.relu, relu)
            ctx.set(dut.out_shift, out_shift)
            ctx.set(dut.out_features, out_features)
            for _ in range(2):
                await ctx.tick()
            go[ph] = True
        while received[0] < sum(counts):
            await ctx.tick()
        for _ in range(4):
            await ctx.tick()
            assert not ctx.get(dut.o.valid), "an output word beyond the last"
        sat_seen.append(ctx.get(dut.saturations))

    async def word_source(ctx):
        pattern = StallPattern(i_idle[0], i_idle[1], prng)
        for ph, (tags, x) in enumerate(phase_data):
            while not go[ph]:
                await ctx.tick()
            words = [pack(in_layout, x0=int(x[t, 2 * n]), x1=int(x[t, 2 * n + 1]),
                          last=int(n == N - 1)) for t in range(len(tags)) for n in range(N)]
            await send(ctx, dut.i, words, pattern)

    async def tag_source(ctx):
        pattern = StallPattern(tag_idle[0], tag_idle[1], prng)
        for ph, (tags, _) in enumerate(phase_data):
            while not go[ph]:
                await ctx.tick()
            await send(ctx, dut.tag, [pack(tag_lay, block=i, vector=b) for i, b in tags], pattern)

    async def sink(ctx):
        pattern = StallPattern(o_stall[0], o_stall[1], prng)
        for ph in range(len(phases)):
            await receive(ctx, dut.o, counts[ph], pattern, timeout=4_000)
            received[0] += counts[ph]

    sim.add_testbench(control)
    sim.add_testbench(word_source)
    sim.add_testbench(tag_source)
    sim.add_testbench(sink)
    run_sim(sim, 4_000)
    for s in (i_stream, tag_stream, o_stream):
        s.check()
    got = []
    for raw in o_stream.words:
        w = out_layout.from_bits(raw)
        got.append((int(w.y0), int(w.y1), int(w.block), int(w.vector), int(w.last)))
    for n, (g, e) in enumerate(zip(got, expected)):
        assert g == e, (f"word {n}: stage (y0, y1, block, vector, last) {g}, model {e} "
                        f"(seed={seed})")
    assert len(got) == len(expected)
    assert sat_seen == [exp_sat], f"saturations {sat_seen}, model {exp_sat} (seed={seed})"
