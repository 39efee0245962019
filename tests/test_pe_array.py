# amaranth: UnusedElaboratable=no
"""``PEArray`` (rtl/pe_array.py) alone in the Amaranth simulator, against the model's
:func:`circnn.sim.model.layer.spectrum_mac`.

The weight banks are initialised from a :class:`MemoryImage` laid out by
:func:`circnn.sim.model.layer.weight_bank_images` (at a non-zero ``w_base``, with
junk below it); the bench issues the steps of every pass as the loop nest says
(``component_refs.mac_passes``), with idle clocks between steps, and plays the
spectrum buffer: the word of a step's ``x_addr`` appears on ``x`` exactly
``x_latency`` clocks after the step (junk on the other clocks).  Pass g
accumulates in bank g % 2; each bank is read out (``rd_addr``/``rd_data``, every PE
at once) from the clock of ``landed.land`` on, while the next pass runs, and a bank
is reused only once it has been read.  Every active PE's accumulators are compared
with ``spectrum_mac`` for blocks g*P + n.

The run-time ``load`` port (:mod:`circnn.rtl.load`, ``LoadTarget.WEIGHTS``) rewrites
weight words before the passes; the reference weights are edited the same way.
Writes with another target, or to another PE, must leave the banks alone.
"""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from circnn.config import EngineConfig, LoadTarget, MemoryImage
from circnn.rtl.pe_array import PEArray
from circnn.sim.model.layer import (LayerProgram, bias_pairs, input_spectra, spectrum_mac,
                                    weight_bank_images)

from component_refs import mac_passes, random_codes, run_sim
from layer_cases import compiled_case
from streams import StallPattern

# k, P, B, p, q, x_latency, w_base, (idle rate, burst), compiled?
CASES = [
    (4, 2, 1, 3, 2, 2, 0, (0.0, 1), True),
    (8, 3, 3, 4, 2, 1, 5, (0.3, 1), False),
    (8, 2, 2, 5, 3, 3, 3, (0.4, 6), True),
    (4, 4, 3, 2, 3, 2, 7, (0.2, 1), False),      # p < P: half the PEs idle
]


def make_program(rng, eng, p, q, compiled):
    """A layer program and B input vectors' spectra (B, q, k/2)."""
    if compiled:
        _, prog, x = compiled_case(rng, eng, p, q, eng.batch)
        return prog, input_spectra(x, eng)
    N = eng.half
    prog = LayerProgram(weight_re=random_codes(rng, eng.weight_width, (p, q, N)),
                        weight_im=random_codes(rng, eng.weight_width, (p, q, N)),
                        bias=np.zeros(p * eng.k, dtype=np.int64), acc_shift=0, out_shift=0,
                        relu=False)
    spectra = (random_codes(rng, eng.spectrum_width, (eng.batch, q, N)),
               random_codes(rng, eng.spectrum_width, (eng.batch, q, N)))
    return prog, spectra


def image_at(prog, eng, w_base, rng):
    """The program's weight banks at ``w_base``, random junk below it."""
    banks = []
    for re, im in weight_bank_images(prog, eng):
        junk = random_codes(rng, eng.weight_width, (2, w_base))
        banks.append((np.concatenate([junk[0], re]), np.concatenate([junk[1], im])))
    return MemoryImage(tuple(banks), bias_pairs(prog))


def run_array(eng, prog, spectra, w_base, x_latency, idle, seed, loads=()):
    """Run every pass of ``prog`` on a PEArray; returns ({(g, n): (re, im) arrays}, lands).

    ``loads``: (target, pe, addr, re, im) writes through ``load`` before the passes.
    """
    prng = random.Random(seed)
    N, B, P = eng.half, eng.batch, eng.pes
    dut = PEArray(eng, image_at(prog, eng, w_base, np.random.default_rng(seed + 1)),
                  x_latency=x_latency)
    bits = dut.pe_addr_bits - 1
    passes = mac_passes(prog.p, prog.q, N, B, P)
    x_re, x_im = (np.asarray(a).reshape(-1) for a in spectra)   # x_addr = (b*q + j)*N + f
    idle_pattern = StallPattern(idle[0], idle[1], prng)
    read_done = [False] * len(passes)
    results = {}
    lands = []
    ww = eng.weight_width
    mask = (1 << ww) - 1

    async def stepper(ctx):
        ctx.set(dut.w_base, w_base)
        for target, pe, addr, re, im in loads:
            ctx.set(dut.load.en, 1)
            ctx.set(dut.load.target, target)
            ctx.set(dut.load.pe, pe)
            ctx.set(dut.load.addr, addr)
            ctx.set(dut.load.data, (re & mask) | ((im & mask) << ww))   # {re, im}, LSB first
            await ctx.tick()
        ctx.set(dut.load.en, 0)
        for _ in range(3):
            await ctx.tick()
        in_flight = [None] * x_latency      # x_addr of the steps of the last x_latency clocks
        for g, steps in enumerate(passes):
            if g >= 2:
                while not read_done[g - 2]:          # the bank is reused: wait for its reader
                    in_flight.append(None)
                    a = in_flight.pop(0)
                    set_x(ctx, a)
                    ctx.set(dut.step.valid, 0)
                    await ctx.tick()
            for s in steps:
                while idle_pattern.next():
                    in_flight.append(None)
                    set_x(ctx, in_flight.pop(0))
                    ctx.set(dut.step.valid, 0)
                    await ctx.tick()
                ctx.set(dut.step.valid, 1)
                for field, value in s.items():
                    ctx.set(getattr(dut.step.payload, field), value)
                in_flight.append(s["x_addr"])
                set_x(ctx, in_flight.pop(0))
                await ctx.tick()
        ctx.set(dut.step.valid, 0)
        for _ in range(x_latency):
            in_flight.append(None)
            set_x(ctx, in_flight.pop(0))
            await ctx.tick()

    def set_x(ctx, a):
        if a is None:   # junk where no step's word is due
            ctx.set(dut.x.re, prng.randrange(-50, 50))
            ctx.set(dut.x.im, prng.randrange(-50, 50))
        else:
            ctx.set(dut.x.re, int(x_re[a]))
            ctx.set(dut.x.im, int(x_im[a]))

    async def reader(ctx):
        for g, steps in enumerate(passes):
            while len(lands) <= g and not ctx.get(dut.landed.land):
                await ctx.tick()
            bank = g % 2
            addrs = list(range(B * N))
            prng.shuffle(addrs)
            words = {}
            for i, a in enumerate(addrs + [None]):
                if a is not None:
                    ctx.set(dut.rd_addr, a | (bank << bits))
                await ctx.tick()
                if i >= 1:
                    words[addrs[i - 1]] = [(ctx.get(dut.rd_data[n].re), ctx.get(dut.rd_data[n].im))
                                           for n in range(P)]
            for n in range(steps[0]["active_pes"]):
                results[(g, n)] = (np.array([[words[b * N + f][n][0] for f in range(N)]
                                             for b in range(B)]),
                                   np.array([[words[b * N + f][n][1] for f in range(N)]
                                             for b in range(B)]))
            read_done[g] = True

    async def monitor(ctx):
        clock = 0
        async for _, _, land in ctx.tick().sample(dut.landed.land):
            if land:
                lands.append(clock)
            clock += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(monitor, background=True)
    sim.add_testbench(stepper)
    sim.add_testbench(reader)
    run_sim(sim, 2_000)
    assert len(lands) == len(passes), f"{len(lands)} landing pulses for {len(passes)} passes"
    return results


def compare(results, prog, spectra, eng, seed, weights=None):
    w_re, w_im = weights if weights is not None else (prog.weight_re, prog.weight_im)
    acc_re, acc_im = spectrum_mac(spectra, w_re, w_im)      # (B, p, N)
    P = eng.pes
    assert len(results) == prog.p
    for (g, n), (re, im) in results.items():
        i = g * P + n
        for name, got, want in (("re", re, acc_re[:, i, :]), ("im", im, acc_im[:, i, :])):
            bad = np.argwhere(got != want)
            assert not bad.size, (f"block {i} (pass {g}, PE {n}) {name}[b, f] at {bad[0].tolist()}: "
                                  f"array {got[tuple(bad[0])]}, spectrum_mac "
                                  f"{want[tuple(bad[0])]} (seed={seed})")


@pytest.mark.parametrize("k,pes,batch,p,q,x_latency,w_base,idle,compiled", CASES)
def test_pe_array_matches_spectrum_mac(k, pes, batch, p, q, x_latency, w_base, idle, compiled,
                                       seed):
    rng = np.random.default_rng(seed)
    groups = -(-p // pes)
    eng = EngineConfig(k=k, pes=pes, batch=batch, max_q=q, max_p=p, act_width=8,
                       weight_width=8, ifft_width=8, twiddle_width=8,
                       weight_depth=w_base + groups * q * k // 2)
    prog, spectra = make_program(rng, eng, p, q, compiled)
    results = run_array(eng, prog, spectra, w_base, x_latency, idle, seed)
    compare(results, prog, spectra, eng, seed)


def test_pe_array_load_rewrites_weight_words(seed):
    rng = np.random.default_rng(seed)
    k, pes, batch, p, q, w_base = 8, 2, 2, 3, 2, 4
    N = k // 2
    eng = EngineConfig(k=k, pes=pes, batch=batch, max_q=q, max_p=p, act_width=8,
                       weight_width=8, ifft_width=8, twiddle_width=8,
                       weight_depth=w_base + 2 * q * N)
    prog, spectra = make_program(rng, eng, p, q, False)
    w_re, w_im = prog.weight_re.copy(), prog.weight_im.copy()
    loads = []
    # (block i, input block j, word f) = PE i % P, word (g*q + j)*N + f, g = i // P
    cells = [(i, j, f) for i in range(p) for j in range(q) for f in range(N)]
    picked = [cells[c] for c in rng.choice(len(cells), size=8, replace=False)]
    lo, hi = -(1 << (eng.weight_width - 1)), (1 << (eng.weight_width - 1)) - 1
    for i, j, f in picked:
        re, im = (int(v) for v in rng.integers(lo, hi + 1, size=2))
        addr = w_base + ((i // pes) * q + j) * N + f
        loads.append((LoadTarget.WEIGHTS, i % pes, addr, re, im))
        w_re[i, j, f], w_im[i, j, f] = re, im
    # decoys: the same addresses with another target must not reach the weight banks
    for i, j, f in picked[:3]:
        addr = w_base + ((i // pes) * q + j) * N + f
        loads.append((LoadTarget.BIASES, i % pes, addr, 11, -7))
        loads.append((LoadTarget.REGISTERS, i % pes, addr, -3, 5))
    # the first picked word rewritten in the other PE only: its own copy stays
    i, j, f = picked[0]
    other = (i % pes) ^ 1
    addr = w_base + ((i // pes) * q + j) * N + f
    loads.append((LoadTarget.WEIGHTS, other, addr, 17, -17))
    if (i // pes) * pes + other < p:
        w_re[(i // pes) * pes + other, j, f], w_im[(i // pes) * pes + other, j, f] = 17, -17
    assert (w_re != prog.weight_re).any() or (w_im != prog.weight_im).any()
    results = run_array(eng, prog, spectra, w_base, 2, (0.2, 1), seed, loads=loads)
    compare(results, prog, spectra, eng, seed, weights=(w_re, w_im))
