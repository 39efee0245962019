# amaranth: UnusedElaboratable=no
"""``AccumulatorDrain`` (rtl/drain.py) alone in the Amaranth simulator, against the
model's :func:`circnn.sim.model.layer.requantize_spectrum`.

The bench plays the PE array and the accumulator banks: pass g of a layer run lands
its accumulators (B x P x k/2 words: PE n holds block g*P + n at ``b*k/2 + f``) in
bank g % 2 once that bank has been released, a random time later, and says so on
``banks.ready`` (registered, as :class:`BankPair` does); ``rd_data`` follows
``rd_addr`` by the PE's two clocks; a released bank is overwritten with junk at
once, and so are the PEs beyond the pass's active ones, so a read outside the rules
shows.  Checked: every word on ``o`` (in drain order: pass, vector, active PE, word)
is ``requantize_spectrum`` of its accumulator (saturations included), the tags on
``tag`` are (block, vector) in the same order, the ``saturations`` count equals the
model's, and each bank is released once.  ``o`` and ``tag`` are back-pressured
independently (per-clock draws and long runs), and ``p`` / ``acc_shift`` change
between two phases, with words at the rounding boundaries and saturating ones.
One case holds ``tag`` off at the start: the drain must stop after
``TAG_QUEUE_DEPTH - 1`` blocks (no tag lost), then go on.
"""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from circnn.config import EngineConfig
from circnn.rtl.drain import TAG_QUEUE_DEPTH, AccumulatorDrain, tag_layout
from circnn.rtl.complex import complex_layout
from circnn.sim.model.fixedpoint import int_range
from circnn.sim.model.layer import requantize_spectrum

from component_refs import random_codes, run_sim
from streams import StallPattern, check_stream, receive

# k, P, B, max_p, rounding, phases [(p, acc_shift offset, runs)], o stall (rate, burst),
# tag stall (rate, burst, clocks the tag sink holds off at the start);
# acc_shift = acc_width - ifft_width - offset (offset > 0: some words saturate)
CASES = [
    (4, 2, 1, 3, "half_up", [(3, 2, 2), (2, 11, 1)], (0.3, 1), (0.5, 6, 0)),
    (8, 3, 3, 4, "half_even", [(4, 1, 1), (1, 4, 2)], (0.5, 8), (0.2, 1, 0)),
    (8, 4, 2, 6, "half_up", [(6, 3, 2), (2, 0, 1)], (0.2, 1), (0.8, 20, 150)),  # tag starved
    (4, 1, 2, 3, "truncate", [(3, 2, 1), (2, 6, 1)], (0.0, 1), (0.0, 1, 0)),
]


def accumulators(rng, eng, p, acc_shift, runs):
    """``runs`` (re, im) arrays (B, p, N): full-range words, words near the IFFT range's
    edges and rounding boundaries."""
    B, N = eng.batch, eng.half
    lo, hi = int_range(eng.acc_width)
    out = []
    for _ in range(runs):
        parts = []
        for _ in range(2):
            full = random_codes(rng, eng.acc_width, (B, p, N))
            # inside the IFFT's range after the shift, and exactly on a rounding tie
            edge = (rng.integers(-(1 << (eng.ifft_width - 1)), 1 << (eng.ifft_width - 1),
                                 size=(B, p, N)) << acc_shift)
            tie = edge + (1 << acc_shift >> 1) * rng.choice([-1, 1], size=(B, p, N))
            pick = rng.integers(0, 3, size=(B, p, N))
            # one full-scale word in every array, so that a shift with offset > 0
            # saturates at least once whatever the draws
            extreme = rng.integers(full.size)
            full.flat[extreme] = rng.choice([lo, hi])
            pick.flat[extreme] = 0
            parts.append(np.clip(np.where(pick == 0, full, np.where(pick == 1, edge, tie)),
                                 lo, hi).astype(np.int64))
        out.append(tuple(parts))
    return out


@pytest.mark.parametrize("k,pes,batch,max_p,rounding,phases,o_stall,tag_stall", CASES)
def test_drain_matches_requantize_spectrum(k, pes, batch, max_p, rounding, phases, o_stall,
                                           tag_stall, seed):
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)
    eng = EngineConfig(k=k, pes=pes, batch=batch, max_q=2, max_p=max_p, act_width=8,
                       weight_width=8, ifft_width=8, twiddle_width=8, rounding=rounding)
    N, B, P = eng.half, eng.batch, eng.pes
    bank_bits = max(1, (B * N - 1).bit_length())
    dut = AccumulatorDrain(eng, bank_bits + 1)
    acc_lo, acc_hi = int_range(eng.acc_width)

    # the reference: per phase, the passes' PE contents and the words/tags they give
    phase_passes = []       # [[(pe_words, active)]], pe_words[n][b*N + f] = (re, im)
    exp_words, exp_tags, exp_sat = [], [], 0
    shifts = []
    for p, offset, runs in phases:
        acc_shift = eng.acc_width - eng.ifft_width - offset
        shifts.append(acc_shift)
        passes, words, tags = [], [], []
        for acc_re, acc_im in accumulators(rng, eng, p, acc_shift, runs):
            (a_re, a_im), sat = requantize_spectrum((acc_re, acc_im), acc_shift, eng)
            exp_sat += sat
            for g in range(-(-p // P)):
                active = min(P, p - g * P)
                pe_words = []
                for n in range(P):
                    if n < active:
                        i = g * P + n
                        pe_words.append({b * N + f: (int(acc_re[b, i, f]), int(acc_im[b, i, f]))
                                         for b in range(B) for f in range(N)})
                    else:       # an idle PE holds junk the drain must not send
                        pe_words.append({a: (prng.randint(acc_lo, acc_hi),
                                             prng.randint(acc_lo, acc_hi)) for a in range(B * N)})
                passes.append(pe_words)
                for b in range(B):
                    for n in range(active):
                        i = g * P + n
                        tags.append((i, b))
                        words += [(int(a_re[b, i, f]), int(a_im[b, i, f])) for f in range(N)]
        phase_passes.append(passes)
        exp_words.append(words)
        exp_tags.append(tags)
    assert exp_sat > 0, "no saturating word: the stimulus misses the saturation path"

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    o_stream = check_stream(sim, dut.o, "o")
    tag_stream = check_stream(sim, dut.tag, "tag")
    phase_done = {"o": -1, "tag": -1}
    releases = []
    got_words, got_tags = [], []

    def junk():
        return (prng.randint(acc_lo, acc_hi), prng.randint(acc_lo, acc_hi))

    async def pe_side(ctx):
        mem = [{a: junk() for a in range(2 << bank_bits)} for _ in range(P)]
        ready, r_bank, land_bank = [0, 0], 0, 0
        prev = [junk() for _ in range(P)]       # the word read at the previous edge
        land_pattern = StallPattern(0.6, 4, prng)
        clock = 0
        for ph, (p, _, _) in enumerate(phases):
            # between layers: the configuration changes while the drain is idle, a few
            # clocks before the layer's first pass can have landed
            ctx.set(dut.p, p)
            ctx.set(dut.acc_shift, shifts[ph])
            for _ in range(3):
                await ctx.tick()
                clock += 1
            todo = list(phase_passes[ph])
            released = 0
            while released < len(phase_passes[ph]):
                if todo and not ready[land_bank] and not land_pattern.next():
                    for n in range(P):            # the pass's sums land in its bank
                        for a, w in todo[0][n].items():
                            mem[n][a | (land_bank << bank_bits)] = w
                    todo.pop(0)
                    ready[land_bank] = 1
                    land_bank ^= 1
                ctx.set(dut.banks.bank, r_bank)
                ctx.set(dut.banks.ready, ready[r_bank])
                ctx.set(dut.banks.ready_next, ready[r_bank ^ 1])
                _, _, addr, release = await ctx.tick().sample(dut.rd_addr, dut.banks.release)
                clock += 1
                assert clock < 2_000
                # PE read port: the memory at this edge, then the PE's register
                now = [mem[n][addr] for n in range(P)]
                for n in range(P):
                    ctx.set(dut.rd_data[n].re, prev[n][0])
                    ctx.set(dut.rd_data[n].im, prev[n][1])
                prev = now
                if release:
                    releases.append((ph, clock - 1, r_bank))
                    assert ready[r_bank], f"clock {clock - 1}: released a bank that was not ready"
                    ready[r_bank] = 0
                    for n in range(P):            # the next pass starts writing it
                        for a in range(B * N):
                            mem[n][a | (r_bank << bank_bits)] = junk()
                    r_bank ^= 1
                    released += 1
            # wait for the phase's words to have left before the configuration changes
            while phase_done["o"] < ph or phase_done["tag"] < ph:
                ctx.set(dut.banks.ready, 0)
                ctx.set(dut.banks.ready_next, 0)
                _, _, release = await ctx.tick().sample(dut.banks.release)
                assert not release, "a release with no bank ready"
                for n in range(P):
                    ctx.set(dut.rd_data[n].re, prev[n][0])
                    ctx.set(dut.rd_data[n].im, prev[n][1])
                prev = [junk() for _ in range(P)]
                clock += 1
                assert clock < 2_000, "the drain's words never all arrived"

    o_layout, tag_lay = complex_layout(eng.ifft_width), tag_layout(eng)

    async def o_sink(ctx):
        pattern = StallPattern(o_stall[0], o_stall[1], prng)
        for ph in range(len(phases)):
            raw = await receive(ctx, dut.o, len(exp_words[ph]), pattern, timeout=2_000)
            for r in raw:
                w = o_layout.from_bits(r)
                got_words.append((ph, int(w.re), int(w.im)))
            phase_done["o"] = ph

    async def tag_sink(ctx):
        pattern = StallPattern(tag_stall[0], tag_stall[1], prng)
        for _ in range(tag_stall[2]):
            # no tag taken: the drain may send TAG_QUEUE_DEPTH - 1 blocks' words (a
            # tag per block, N clocks apart: the credit queue's registered view
            # keeps its last slot from a producer that does not admit every clock)
            await ctx.tick()
            assert len(o_stream.words) <= (TAG_QUEUE_DEPTH - 1) * N, \
                f"{len(o_stream.words)} words sent with no tag taken (tag queue: {TAG_QUEUE_DEPTH})"
        if tag_stall[2]:
            assert len(o_stream.words) == min(TAG_QUEUE_DEPTH - 1, len(exp_tags[0])) * N, \
                "the drain stopped before the tag queue was full"
        for ph in range(len(phases)):
            raw = await receive(ctx, dut.tag, len(exp_tags[ph]), pattern, timeout=2_000)
            for r in raw:
                t = tag_lay.from_bits(r)
                got_tags.append((ph, int(t.block), int(t.vector)))
            phase_done["tag"] = ph

    sat_seen = []

    async def finish(ctx):
        while phase_done["o"] < len(phases) - 1 or phase_done["tag"] < len(phases) - 1:
            await ctx.tick()
        for _ in range(8):      # nothing more may come out
            await ctx.tick()
            assert not ctx.get(dut.o.valid) and not ctx.get(dut.tag.valid), "extra output"
        sat_seen.append(ctx.get(dut.saturations))

    sim.add_testbench(pe_side)
    sim.add_testbench(o_sink)
    sim.add_testbench(tag_sink)
    sim.add_testbench(finish)
    run_sim(sim, 2_000)
    o_stream.check()
    tag_stream.check()

    want_words = [(ph, re, im) for ph, words in enumerate(exp_words) for re, im in words]
    for n, (g, e) in enumerate(zip(got_words, want_words)):
        assert g == e, f"word {n}: drain (phase, re, im) {g}, model {e} (seed={seed})"
    assert len(got_words) == len(want_words)
    want_tags = [(ph, i, b) for ph, tags in enumerate(exp_tags) for i, b in tags]
    assert got_tags == want_tags, f"tags {got_tags}, expected {want_tags} (seed={seed})"
    assert sat_seen == [exp_sat], f"saturations {sat_seen}, model {exp_sat} (seed={seed})"
    n_passes = sum(len(passes) for passes in phase_passes)
    assert len(releases) == n_passes, f"{len(releases)} releases for {n_passes} passes"
    assert [bank for _, _, bank in releases] == [n % 2 for n in range(n_passes)]
