# amaranth: UnusedElaboratable=no
"""``DenseDrain`` (rtl/dense_drain.py) alone in the Amaranth simulator.

The testbench plays the MAC array (the finished-sum memory behind
``rd_addr``/``rd_data``, one clock of read latency, and the writer side of
the sums' :class:`BankPair`: claim, fill, land a few clocks later) and the
output buffer (the reader side of the output :class:`BankPair`, releasing a
landed bank after a random delay); both pairs are restated in plain Python
(``component_support.BankPairModel``), which flags every protocol slip.

Reference: for every pass ``g`` of every batch, vector ``b`` and multiplier
``mult``, row ``g*M + mult`` is written (``wr``) only if ``row < m``, as
``sat(round((acc + bias[row]) [ReLU] / 2**out_shift))`` computed with
:func:`circnn.sim.model.fixedpoint.requantize` (and ``round_shift`` for the
saturation count), into element ``row`` of vector ``b`` of the batch's output
bank: ``wr.addr = {bank, vector, row // 2}`` as the output buffer reads it
(the pair field ``ceil(max_out/k) * k/2`` pairs wide, then ``ceil(log2 B)``
vector bits, then the bank), lane ``row % 2`` in ``wr.en``.  Also checked: one sums release per pass, one output commit and one
landing per batch (landing no earlier than the batch's last write), writes
only into banks the drain owns, and the ``saturations`` counter.
"""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from circnn.config import DenseConfig, LoadTarget
from circnn.rtl.dense_drain import DenseDrain
from circnn.sim.model.fixedpoint import int_range, requantize, round_shift

from component_support import BankPairModel
from streams import StallPattern


def _bits(n):
    return max(1, (n - 1).bit_length())


def reference(cfg, m, relu, out_shift, bias, passes):
    """``{batch: {(b, row): y}}``, the writes in order, and the saturation count."""
    outputs, order, saturated = {}, [], 0
    for batch, g, accs in passes:
        for b, sums in enumerate(accs):
            for mult, acc in enumerate(sums):
                row = g * cfg.mults + mult
                if row >= m:
                    continue
                s = int(acc) + int(bias[row])
                if relu:
                    s = max(s, 0)
                y = int(requantize(np.array([s]), out_shift, cfg.act_width, cfg.rounding)[0])
                saturated += y != int(round_shift(np.array([s]), out_shift, cfg.rounding)[0])
                outputs.setdefault(batch, {})[(b, row)] = y
                order.append((batch % 2, b, row, y))
    return outputs, order, saturated


def run_drain(cfg, m, relu, out_shift, n_batches, seed, *, fill=(0.2, 1), take=(0.3, 1),
              bias_by_load=False):
    rng = random.Random(seed)
    M, B = cfg.mults, cfg.batch
    alo, ahi = int_range(cfg.acc_width)
    blo, bhi = int_range(cfg.bias_width)
    bias = [rng.randint(blo // 4, bhi // 4) for _ in range(cfg.max_out)]

    def acc():      # full-scale sums (they saturate) and small ones (they do not)
        v = rng.randint(alo, ahi)
        return v if rng.random() < 0.4 else v >> rng.randint(4, 8)
    groups = -(-m // M)
    passes = [(batch, g, [[acc() for _ in range(M)] for _ in range(B)])
              for batch in range(n_batches) for g in range(groups)]
    outputs, order, saturated = reference(cfg, m, relu, out_shift, bias, passes)

    dut = DenseDrain(cfg, None if bias_by_load else bias)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sums = BankPairModel("sum banks", landing=True)
    outs = BankPairModel("output banks", landing=True)
    bbits, pbits = _bits(B), _bits(cfg.max_p * cfg.half)
    problems, writes, write_clocks, land_clocks = [], [], [], []
    state = {}

    async def bench(ctx):
        ctx.set(dut.m, m)
        ctx.set(dut.relu, int(relu))
        ctx.set(dut.out_shift, out_shift)
        if bias_by_load:
            ctx.set(dut.load.target, LoadTarget.BIASES)
            for row, value in enumerate(bias):
                ctx.set(dut.load.en, 1)
                ctx.set(dut.load.addr, row)
                ctx.set(dut.load.data, value & ((1 << cfg.bias_width) - 1))
                await ctx.tick()
            ctx.set(dut.load.en, 0)
        fill_idle = StallPattern(*fill, rng=random.Random(rng.random()))
        take_idle = StallPattern(*take, rng=random.Random(rng.random()))
        sum_mem = [[[0] * M for _ in range(B)] for _ in range(2)]
        out_mem = [{}, {}]
        rd_next = [0] * M
        to_fill, land_due = 0, []
        batch_read = 0
        for clock in range(5_000):
            if outs.releases == n_batches and sums.releases == len(passes):
                break
            sums.drive_reader(ctx, dut.sums)
            outs.drive_writer(ctx, dut.out)
            ctx.set(dut.rd_data, rd_next)
            # the MAC side: claim a free bank, fill it, land it 1..4 clocks later
            commit_s = False
            if to_fill < len(passes) and sums.free and not fill_idle.next():
                sum_mem[sums.w_bank] = [list(v) for v in passes[to_fill][2]]
                to_fill, commit_s = to_fill + 1, True
                land_due.append(max([clock + rng.randint(1, 4)] + [t + 1 for t in land_due[-1:]]))
            land_s = bool(land_due) and land_due[0] == clock
            if land_s:
                land_due.pop(0)
            # the output buffer side: take a landed batch, check it, release it
            release_o = False
            if outs.reader_ready and not take_idle.next():
                got, want = out_mem[outs.r_bank], outputs[batch_read]
                if got != want:
                    bad = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
                    problems.append(f"batch {batch_read}: {len(bad)} elements differ, first "
                                    f"(b, row) = {bad[0]}: {got.get(bad[0])} != {want.get(bad[0])}")
                out_mem[outs.r_bank] = {}
                batch_read, release_o = batch_read + 1, True
            _, _, rd_addr, s_rel, o_commit, o_land, wr_addr, wr_data, wr_en = await ctx.tick().sample(
                dut.rd_addr, dut.sums.release, dut.out.commit, dut.landed.land,
                dut.wr.addr, dut.wr.data, dut.wr.en)
            b, bank = rd_addr & ((1 << bbits) - 1), rd_addr >> bbits
            rd_next = sum_mem[bank][b] if b < B else [rng.randint(alo, ahi) for _ in range(M)]
            if wr_en:
                if wr_en not in (1, 2):
                    problems.append(f"clock {clock}: wr.en = {wr_en}")
                pair = wr_addr & ((1 << pbits) - 1)
                wb = (wr_addr >> pbits) & ((1 << bbits) - 1)
                obank = wr_addr >> (pbits + bbits)
                row = 2 * pair + (wr_en == 2)
                if not outs.writable(obank):
                    problems.append(f"clock {clock}: write into output bank {obank}, the reader's")
                out_mem[obank][(wb, row)] = wr_data
                writes.append((obank, wb, row, wr_data))
                write_clocks.append(clock)
            if o_land:
                land_clocks.append(clock)
            sums.step(clock, commit=commit_s, land=land_s, release=s_rel)
            outs.step(clock, commit=o_commit, land=o_land, release=release_o)
        else:
            problems.append(f"timeout: {sums.releases} of {len(passes)} passes drained, "
                            f"{outs.releases} of {n_batches} batches out")
        for _ in range(8):
            await ctx.tick()
        state["saturations"] = ctx.get(dut.saturations)

    sim.add_testbench(bench)
    sim.run()
    assert not problems, problems[:3]
    sums.check()
    outs.check()
    assert writes == order
    assert sums.releases == len(passes) and sums.lands == len(passes)
    assert outs.commits == n_batches and outs.lands == n_batches and len(land_clocks) == n_batches
    # each batch lands no earlier than its last write (the writes are in batch order)
    per_batch = B * m
    for batch, clock in enumerate(land_clocks):
        last_write = write_clocks[(batch + 1) * per_batch - 1]
        assert clock >= last_write, f"batch {batch} landed at clock {clock}, last write {last_write}"
    assert state["saturations"] == saturated
    return saturated


CASES = [  # M, B, max_out, m, relu, out_shift, rounding
    (2, 2, 7, 7, True, 11, "half_up"),          # m not a multiple of M: a dropped row
    (3, 1, 8, 7, False, 9, "half_even"),
    (4, 3, 9, 5, True, -2, "truncate"),         # left shift; 3 rows of the 2nd pass dropped
    (1, 2, 4, 3, False, 0, "half_up"),
    (2, 1, 12, 1, False, 7, "half_even"),       # m = 1: one row kept of two
    (4, 2, 8, 8, False, 13, "half_up"),
]


@pytest.mark.parametrize("mults,batch,max_out,m,relu,out_shift,rounding", CASES)
def test_drain_requantises_each_row(mults, batch, max_out, m, relu, out_shift, rounding, seed):
    cfg = DenseConfig(act_width=8, weight_width=8, rounding=rounding, mults=mults, batch=batch,
                      max_in=8, max_out=max_out, k=4)
    run_drain(cfg, m, relu, out_shift, 3, seed, fill=(0.3, 1), take=(0.3, 1))


@pytest.mark.parametrize("burst", [1, 6])
def test_drain_with_slow_banks(burst, seed):
    """Sum banks landing late and output banks released late, in runs."""
    cfg = DenseConfig(act_width=9, weight_width=7, mults=3, batch=2, max_in=6, max_out=10, k=4)
    saturated = run_drain(cfg, 10, True, 7, 4, seed, fill=(0.5, burst), take=(0.6, burst))
    assert saturated > 0        # the counter is exercised


def test_drain_full_rate(seed):
    """Sums always there, outputs always taken: passes drain back to back."""
    cfg = DenseConfig(act_width=8, weight_width=8, mults=2, batch=3, max_in=8, max_out=9, k=4)
    run_drain(cfg, 9, False, 8, 4, seed, fill=(0.0, 1), take=(0.0, 1))


def test_drain_biases_loaded_at_run_time(seed):
    cfg = DenseConfig(act_width=8, weight_width=8, mults=2, batch=2, max_in=8, max_out=6, k=4)
    run_drain(cfg, 5, True, 9, 2, seed, bias_by_load=True)


@pytest.mark.parametrize("mults,batch,max_out,k,m", [
    (4, 2, 10, 32, 10),     # ten outputs on an engine emitting blocks of 32
    (1, 4, 2, 8, 2),
    (2, 1, 4, 16, 3),
])
def test_drain_few_outputs_in_long_blocks(mults, batch, max_out, k, m, seed):
    """max_out well below the output block: the output buffer's pair field
    (``ceil(max_out/k) * k/2`` pairs a vector) is wider than the rows need, and
    the vector and bank fields of ``wr.addr`` must still sit above all of it."""
    cfg = DenseConfig(act_width=8, weight_width=8, mults=mults, batch=batch, max_in=4,
                      max_out=max_out, k=k)
    run_drain(cfg, m, False, 9, 3, seed, fill=(0.2, 1), take=(0.2, 1))
