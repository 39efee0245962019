# amaranth: UnusedElaboratable=no
"""``DenseOutputBuffer`` (rtl/dense_output.py) alone in the Amaranth simulator.

The testbench plays the drain (element writes on ``wr``, one per clock with
idle clocks, claiming and landing banks of the output :class:`BankPair`,
restated in ``component_support.BankPairModel``) and the host (taking ``o``
with per-clock and bursty back-pressure).  Reference: hand-built from the
documented output order, in plain Python: for each batch, vector by vector,
pair ``i`` of a vector is ``(y[2i], y[2i+1])`` tagged ``block = i // (k/2)``,
``vector`` and ``last`` on the block's final pair, up to the last pair of
block ``ceil(m/k) - 1``, with elements ``>= m`` zero whatever the memory holds
(the testbench writes garbage there on purpose).
"""

import random

import pytest
from amaranth.sim import Simulator

from circnn.config import DenseConfig
from circnn.rtl.dense_drain import output_write_layout
from circnn.rtl.dense_output import DenseOutputBuffer, dense_output_layout

from component_support import BankPairModel, pack
from streams import StallPattern, check_stream, receive


def _bits(n):
    return max(1, (n - 1).bit_length())


def expected_words(cfg, m, batches):
    """The output stream for ``batches[batch][b][e]`` (elements of each vector)."""
    layout = dense_output_layout(cfg)
    half = cfg.k // 2
    pairs = -(-m // cfg.k) * half
    words = []
    for vectors in batches:
        for b, y in enumerate(vectors):
            for i in range(pairs):
                e0, e1 = 2 * i, 2 * i + 1
                words.append(pack(layout, {
                    "y0": y[e0] if e0 < m else 0, "y1": y[e1] if e1 < m else 0,
                    "block": i // half, "vector": b, "last": int(i % half == half - 1)}))
    return words


def run_output_buffer(cfg, m, n_batches, seed, *, write_idle, sink):
    rng = random.Random(seed)
    B, k = cfg.batch, cfg.k
    lo, hi = -(1 << (cfg.act_width - 1)), (1 << (cfg.act_width - 1)) - 1
    padded = -(-m // k) * k
    # batches[batch][b][e]: e < m real, m <= e < padded garbage the buffer must mask
    batches = [[[rng.randint(lo, hi) or 1 for _ in range(padded)] for _ in range(B)]
               for _ in range(n_batches)]
    pbits, bbits = _bits(cfg.max_p * cfg.half), _bits(B)
    assert pbits + bbits + 1 == output_write_layout(cfg).size - cfg.act_width - 2

    dut = DenseOutputBuffer(cfg)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    rules = check_stream(sim, dut.o, "o")
    banks = BankPairModel("output banks", landing=True)
    expected = expected_words(cfg, m, batches)
    problems = []

    async def drain(ctx):
        """The writer side: each batch's elements (real and garbage) in random order."""
        ctx.set(dut.m, m)
        ctx.set(dut.lin_end, padded // 2 - 1)
        idle = StallPattern(*write_idle, rng=random.Random(rng.random()))
        batch, writes, bank = 0, [], None
        for clock in range(20_000):
            if banks.releases == n_batches:
                break
            banks.drive_reader(ctx, dut.reader)
            commit = land = False
            ctx.set(dut.wr.en, 0)
            if not writes and batch < n_batches and banks.free:
                writes = [(b, e, batches[batch][b][e]) for b in range(B) for e in range(padded)]
                rng.shuffle(writes)
                bank, batch, commit = banks.w_bank, batch + 1, True
            if writes and (commit or not idle.next()):
                if not banks.writable(bank):
                    problems.append(f"clock {clock}: testbench writes bank {bank} it does not own")
                b, e, value = writes.pop()
                ctx.set(dut.wr.addr, (e >> 1) | (b << pbits) | (bank << (pbits + bbits)))
                ctx.set(dut.wr.data, value)
                ctx.set(dut.wr.en, 1 << (e & 1))
                land = not writes           # the batch's last write lands with it
            _, _, release = await ctx.tick().sample(dut.reader.release)
            banks.step(clock, commit=commit, land=land, release=release)
        else:
            problems.append(f"only {banks.releases} of {n_batches} banks released")

    async def host(ctx):
        await receive(ctx, dut.o, len(expected), StallPattern(*sink, rng=random.Random(rng.random())),
                      timeout=20_000)

    sim.add_testbench(drain)
    sim.add_testbench(host)
    sim.run()
    rules.check()
    assert not problems, problems
    banks.check()
    rules.check_words(expected)
    assert banks.releases == n_batches


CASES = [  # k, B, max_out, m: m inside a block, m a multiple of k, k = 2 (a block is one pair), m = 1
    (4, 2, 10, 7),
    (8, 1, 16, 16),
    (2, 3, 5, 5),
    (4, 4, 12, 1),
    (8, 2, 20, 13),
]


@pytest.mark.parametrize("k,batch,max_out,m", CASES)
@pytest.mark.parametrize("burst", [1, 5])
def test_output_buffer_emits_tagged_blocks(k, batch, max_out, m, burst, seed):
    cfg = DenseConfig(act_width=8, weight_width=8, mults=2, batch=batch, max_in=4,
                      max_out=max_out, k=k)
    run_output_buffer(cfg, m, 4, seed, write_idle=(0.3, burst), sink=(0.4, burst))


def test_output_buffer_full_rate(seed):
    """No idle writes, no back-pressure: banks back to back."""
    cfg = DenseConfig(act_width=10, weight_width=8, mults=2, batch=2, max_in=4, max_out=12, k=4)
    run_output_buffer(cfg, 11, 5, seed, write_idle=(0.0, 1), sink=(0.0, 1))


def test_output_buffer_long_stalls(seed):
    """Long runs of back-pressure: the credit queue must hold every read in flight."""
    cfg = DenseConfig(act_width=8, weight_width=8, mults=2, batch=2, max_in=4, max_out=16, k=8)
    run_output_buffer(cfg, 14, 3, seed, write_idle=(0.1, 1), sink=(0.7, 12))
