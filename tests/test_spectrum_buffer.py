# amaranth: UnusedElaboratable=no
"""``SpectrumBuffer`` (rtl/spectrum_buffer.py) alone in the Amaranth simulator, against
the words written (the buffer only stores :func:`input_spectra`; the reference is a
Python list of each batch).

Batches of B x q x k/2 packed words go in through the stream ``i`` (idle clocks as
per-clock draws and in runs); once ``reader.ready`` is high the bench reads the
batch back at random addresses (every address once, then random repeats; data
``latency`` clocks after the address), holds it for a random, sometimes long, time
and releases it.  Checked every clock against a Python count of full, unreleased
batches: ``reader.ready`` (at least one), ``reader.ready_next`` (two) and
``i.ready`` (low exactly while both banks are full: the writer stalls, which the
bench provokes by holding a run's first batch until the third one is offered); the
reader's bank alternates 0, 1, 0, ...; ``q`` changes between two runs.
"""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from circnn.config import EngineConfig
from circnn.rtl.complex import complex_layout
from circnn.rtl.spectrum_buffer import SpectrumBuffer

from component_refs import pack, random_codes, run_sim
from streams import StallPattern, check_stream, send

# k, B, max_q, runs [(q, batches)], writer idle (rate, burst), reader hold (rate, burst)
CASES = [
    (4, 1, 3, [(2, 4), (3, 3)], (0.3, 1), (0.8, 1)),
    (8, 3, 2, [(1, 3), (2, 3)], (0.5, 6), (0.9, 8)),
    (4, 3, 4, [(4, 2), (1, 4)], (0.0, 1), (0.6, 4)),
    (16, 1, 2, [(2, 3), (1, 3)], (0.2, 1), (0.5, 1)),
]


@pytest.mark.parametrize("k,batch,max_q,runs,idle,hold", CASES)
def test_spectrum_buffer_stores_batches(k, batch, max_q, runs, idle, hold, seed):
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)
    eng = EngineConfig(k=k, batch=batch, max_q=max_q, max_p=2, act_width=8, weight_width=8,
                       ifft_width=8, twiddle_width=8)
    N, B = eng.half, eng.batch
    dut = SpectrumBuffer(eng)
    assert dut.latency == 2           # one block RAM: memory and output register
    layout = complex_layout(eng.spectrum_width, last=1)
    sw = eng.spectrum_width
    # batches[r][n] = (re, im) arrays of length B*q*N, word order b, j, f
    batches = [[(random_codes(rng, sw, B * q * N), random_codes(rng, sw, B * q * N))
                for _ in range(count)] for q, count in runs]
    sizes = [B * q * N for q, _ in runs]
    writer_pattern = StallPattern(idle[0], idle[1], prng)
    hold_pattern = StallPattern(hold[0], hold[1], prng)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    stream = check_stream(sim, dut.i, "i")
    run_go = [True] + [False] * (len(runs) - 1)
    read_back = []          # (run, batch, {addr: (re, im)}, bank)
    state = {"full": 0, "released": 0, "accepted": 0, "run": 0}
    flag_errors = []
    stalled = [0]

    async def writer(ctx):
        for r, (q, count) in enumerate(runs):
            while not run_go[r]:
                await ctx.tick()
            ctx.set(dut.q, q)
            for _ in range(3):      # q is registered: set it well before the data
                await ctx.tick()
            words = []
            for re, im in batches[r]:
                for a in range(len(re)):
                    words.append(pack(layout, re=int(re[a]), im=int(im[a]),
                                      last=int(a % N == N - 1)))
            await send(ctx, dut.i, words, writer_pattern)

    async def reader(ctx):
        expect_bank = 0
        for r, (q, count) in enumerate(runs):
            size = sizes[r]
            for n in range(count):
                while not ctx.get(dut.reader.ready):
                    await ctx.tick()
                bank = ctx.get(dut.reader.bank)
                addrs = list(range(size))
                prng.shuffle(addrs)
                addrs += [prng.randrange(size) for _ in range(size // 2)]
                words = []
                # an address in clock c, its word in clock c + 2
                for i, a in enumerate(addrs + [None]):
                    if a is not None:
                        ctx.set(dut.rd_addr, a)
                    await ctx.tick()
                    if i >= 1:
                        words.append((addrs[i - 1], ctx.get(dut.rd_data.re),
                                      ctx.get(dut.rd_data.im)))
                read_back.append((r, n, words, bank, expect_bank))
                expect_bank ^= 1
                while hold_pattern.next():          # keep the bank a while (the writer fills up)
                    await ctx.tick()
                if n == 0 and count >= 3:
                    # keep the first until the writer has filled the other bank and
                    # offers a third batch: it must stall
                    before = stalled[0]
                    while stalled[0] == before:
                        await ctx.tick()
                    for _ in range(prng.randrange(0, 12)):
                        await ctx.tick()
                ctx.set(dut.reader.release, 1)
                await ctx.tick()
                ctx.set(dut.reader.release, 0)
            # the next run (a new layer, a new q) once everything has been read
            if r + 1 < len(runs):
                for _ in range(2):
                    await ctx.tick()
                run_go[r + 1] = True

    async def monitor(ctx):
        clock = 0
        async for _, _, valid, ready, release, r_ready, r_next in ctx.tick().sample(
                dut.i.valid, dut.i.ready, dut.reader.release, dut.reader.ready,
                dut.reader.ready_next):
            full = state["full"]
            want = (int(full < 2), int(full >= 1), int(full >= 2))
            got = (ready, r_ready, r_next)
            if got != want and len(flag_errors) < 5:
                flag_errors.append(f"clock {clock}: {full} full batches, (i.ready, ready, "
                                   f"ready_next) = {got}, expected {want}")
            if valid and not ready:
                stalled[0] += int(full == 2)
            if valid and ready:
                state["accepted"] += 1
                if state["accepted"] == sizes[state["run"]]:
                    state["accepted"] = 0
                    state["full"] += 1
            if release:
                state["full"] -= 1
                state["released"] += 1
                if state["released"] == runs[state["run"]][1]:
                    state["released"] = 0
                    state["run"] += 1
            clock += 1

    sim.add_testbench(monitor, background=True)
    sim.add_testbench(writer)
    sim.add_testbench(reader)
    run_sim(sim, 3_000)
    stream.check()
    assert not flag_errors, "; ".join(flag_errors) + f" (seed={seed})"
    assert stalled[0] > 0, "the writer never found both banks full: the stimulus is too gentle"
    total = sum(count for _, count in runs)
    assert len(read_back) == total
    assert len(stream.words) == sum(s * c for s, (_, c) in zip(sizes, runs))
    for r, n, words, bank, expect_bank in read_back:
        assert bank == expect_bank, f"run {r} batch {n}: read from bank {bank}, expected {expect_bank}"
        re, im = batches[r][n]
        for a, got_re, got_im in words:
            assert (got_re, got_im) == (int(re[a]), int(im[a])), \
                (f"run {r} batch {n} word {a}: read ({got_re}, {got_im}), written "
                 f"({int(re[a])}, {int(im[a])}) (seed={seed})")
