# amaranth: UnusedElaboratable=no
"""``CirculantPE`` (rtl/pe.py) alone in the Amaranth simulator, against the model's
:func:`circnn.sim.model.layer.spectrum_mac` (exact integers).

The bench issues the passes of one output block as the loop nest says
(``component_refs.mac_passes``: j, f, b; ``first`` on j = 0, ``real_pair`` on word 0),
with the spectrum and weight words beside each step and idle clocks between steps
(per-clock draws and runs; junk on ``x``/``w`` while idle).  Three passes go into
banks 0, 1, 0: the second pass runs while the first one's bank is read out through
``rd_addr``/``rd_data`` (two clocks), and the third overwrites bank 0 only after that
read.  Every accumulator word of every pass is compared with ``spectrum_mac``;
``pass_done`` must pulse once per pass, ``ComplexMultiplier.latency + 1`` clocks after
the pass's last step (the product's write, then the registered pulse), and reading
from that very clock must already see the final sums.  Operands include the extreme
codes (lo * lo products) so that the accumulator width is exercised.
"""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from circnn.config import EngineConfig
from circnn.rtl.complex_mult import ComplexMultiplier
from circnn.rtl.pe import CirculantPE
from circnn.sim.model.layer import spectrum_mac

from component_refs import mac_passes, random_codes, run_sim
from streams import StallPattern

# k, B, q, max_q, (idle rate, burst)
CASES = [
    (4, 1, 3, 3, (0.0, 1)),
    (4, 1, 1, 2, (0.3, 1)),
    (8, 3, 2, 4, (0.3, 1)),
    (8, 3, 3, 3, (0.4, 5)),
    (8, 2, 4, 4, (0.0, 1)),
    (16, 1, 2, 2, (0.2, 3)),
]


@pytest.mark.parametrize("k,batch,q,max_q,idle", CASES)
def test_pe_accumulates_spectrum_mac(k, batch, q, max_q, idle, seed):
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)
    eng = EngineConfig(k=k, pes=1, batch=batch, max_q=max_q, max_p=2, act_width=8,
                       weight_width=8, ifft_width=8, twiddle_width=8)
    N, B = eng.half, eng.batch
    L = ComplexMultiplier.latency
    dut = CirculantPE(eng)
    bits = max(1, (B * N - 1).bit_length())      # each bank padded to a power of two

    banks = [0, 1, 0]
    n_pass = len(banks)
    # pass data: spectra (B, q, N) and one output block's weights (1, q, N)
    X = [(random_codes(rng, eng.spectrum_width, (B, q, N)),
          random_codes(rng, eng.spectrum_width, (B, q, N))) for _ in banks]
    W = [(random_codes(rng, eng.weight_width, (1, q, N)),
          random_codes(rng, eng.weight_width, (1, q, N))) for _ in banks]
    expected = [spectrum_mac(X[n], *W[n]) for n in range(n_pass)]     # (B, 1, N) each
    # one pass of the loop nest; its addresses index X and W
    template = mac_passes(1, q, N, B, 1)[0]

    idle_pattern = StallPattern(idle[0], idle[1], prng)
    last_step_clock = {}
    done_clocks = []
    read_back = {}          # pass -> {acc_addr: (re, im)}
    read_done = [False] * n_pass

    async def stepper(ctx):
        clock = 0
        for n, bank in enumerate(banks):
            if n >= 2:
                # the bank is reused: wait until the reader has taken its results
                while not read_done[n - 2]:
                    ctx.set(dut.step.valid, 0)
                    await ctx.tick()
                    clock += 1
            for s in template:
                while idle_pattern.next():
                    ctx.set(dut.step.valid, 0)
                    ctx.set(dut.x.re, prng.randrange(-100, 100))
                    ctx.set(dut.x.im, prng.randrange(-100, 100))
                    ctx.set(dut.w.re, prng.randrange(-100, 100))
                    ctx.set(dut.w.im, prng.randrange(-100, 100))
                    await ctx.tick()
                    clock += 1
                b, rest = divmod(s["x_addr"], q * N)
                j, f = divmod(rest, N)
                ctx.set(dut.step.valid, 1)
                for field in ("acc_addr", "first", "real_pair", "end_of_pass"):
                    ctx.set(getattr(dut.step.payload, field), s[field])
                ctx.set(dut.step.payload.w_addr, s["w_addr"])
                ctx.set(dut.step.payload.x_addr, s["x_addr"])
                ctx.set(dut.step.payload.bank, bank)
                ctx.set(dut.step.payload.active_pes, 1)
                ctx.set(dut.x.re, int(X[n][0][b, j, f]))
                ctx.set(dut.x.im, int(X[n][1][b, j, f]))
                ctx.set(dut.w.re, int(W[n][0][0, j, f]))
                ctx.set(dut.w.im, int(W[n][1][0, j, f]))
                await ctx.tick()
                clock += 1
            last_step_clock[n] = clock - 1
        ctx.set(dut.step.valid, 0)

    async def reader(ctx):
        clock = 0
        for n, bank in enumerate(banks):
            # wait for the pass's landing pulse, and read from that very clock on
            while len(done_clocks) <= n and not ctx.get(dut.pass_done):
                await ctx.tick()
                clock += 1
                assert clock < 1000, f"pass {n}: no pass_done"
            # one address per clock (shuffled), its data two clocks later
            addrs = list(range(B * N))
            prng.shuffle(addrs)
            words = {}
            for i, a in enumerate(addrs + [None]):
                if a is not None:
                    ctx.set(dut.rd_addr, a | (bank << bits))
                await ctx.tick()
                clock += 1
                if i >= 1:
                    words[addrs[i - 1]] = (ctx.get(dut.rd_data.re), ctx.get(dut.rd_data.im))
            read_back[n] = words
            read_done[n] = True

    async def monitor(ctx):
        clock = 0
        async for _, _, done in ctx.tick().sample(dut.pass_done):
            if done:
                done_clocks.append(clock)
            clock += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(monitor, background=True)
    sim.add_testbench(stepper)
    sim.add_testbench(reader)
    run_sim(sim, 2_000)
    for n in range(n_pass):
        exp_re, exp_im = expected[n]
        for b in range(B):
            for f in range(N):
                got = read_back[n].get(b * N + f)
                want = (int(exp_re[b, 0, f]), int(exp_im[b, 0, f]))
                assert got == want, (f"pass {n} (bank {banks[n]}), vector {b}, word {f}: "
                                     f"PE {got}, spectrum_mac {want} (seed={seed})")
    assert done_clocks == [last_step_clock[n] + L + 1 for n in range(n_pass)], \
        f"pass_done at clocks {done_clocks}, last steps at {last_step_clock} (L={L})"
