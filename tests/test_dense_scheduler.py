# amaranth: UnusedElaboratable=no
"""``DenseScheduler`` (rtl/dense_scheduler.py) alone in the Amaranth simulator.

The testbench plays the input batch buffer (the writer side of the inputs'
:class:`BankPair`: a batch loaded after a random time, then committed), the
MAC array (a pass's sum bank lands some clocks after its ``end_of_pass``
step) and the drain (a landed sum bank is released after a random time);
both bank pairs are restated in plain Python
(``component_support.BankPairModel``), which flags every protocol slip.

Reference: ``component_support.dense_loop_nest``, an independent enumeration
of the documented loop nest (for each batch: pass ``g``, input element ``j``,
vector ``b``).  Checked: every issued step, field by field and in order; one
sum-bank claim per pass, made while the bank is free, before the pass's
first step and never two passes ahead; every step issued while its batch's
input bank is ready and its pass's bank is claimed; one input release per
batch, after the batch's last step and before the next batch's first; and,
with banks and inputs always available, passes and batches back to back
(a step on every clock).
"""

import random

import pytest
from amaranth.hdl import Value
from amaranth.sim import Simulator

from circnn.config import DenseConfig
from circnn.rtl.dense_scheduler import DenseScheduler, dense_step_layout

from component_support import BankPairModel, dense_loop_nest, pack, unpack
from streams import StallPattern, check_stream

FIELDS = ("x_addr", "lane", "w_addr", "first", "last", "end_of_pass", "b", "bank", "active")


def run_scheduler(cfg, layers, seed, *, load=(0.3, 1), drain=(0.3, 1), land_latency=(1, 6)):
    """``layers``: ``(m, n, n_batches)`` run one after the other (the
    configuration changes only once the scheduler has released every batch).
    Returns the clocks of the issued steps."""
    rng = random.Random(seed)
    M, B = cfg.mults, cfg.batch
    expected, bank = [], 0
    for m, n, n_batches in layers:
        passes = dense_loop_nest(M, B, m, n, n_batches, first_bank=bank)
        bank ^= len(passes) % 2
        expected.append(passes)

    dut = DenseScheduler(cfg)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    layout = dense_step_layout(cfg)
    rules = check_stream(sim, dut.step, "step")
    inputs = BankPairModel("input banks", landing=False)
    sums = BankPairModel("sum banks", landing=True)
    problems, issued = [], []

    async def bench(ctx):
        load_idle = StallPattern(*load, rng=random.Random(rng.random()))
        drain_idle = StallPattern(*drain, rng=random.Random(rng.random()))
        clock = 0
        for li, (m, n, n_batches) in enumerate(layers):
            passes = expected[li]
            ctx.set(dut.m, m)
            ctx.set(dut.n_last, n - 1)
            ctx.set(dut.n_pairs, -(-n // 2))
            steps = [(p, s) for p, (_, _, _, ss) in enumerate(passes) for s in ss]
            first_commit = sums.commits
            first_release = inputs.releases
            loaded, at, land_due = 0, 0, []
            commit_clock, first_step, last_step = {}, {}, {}
            release_clock = []
            start = clock
            while inputs.releases - first_release < n_batches or sums.releases < sums.commits:
                if clock - start > 20_000:
                    problems.append(f"layer {li}: timeout, {at} of {len(steps)} steps")
                    return
                inputs.drive_reader(ctx, dut.inputs)
                sums.drive_writer(ctx, dut.banks)
                commit_in = False
                if loaded < n_batches and inputs.free and not load_idle.next():
                    loaded, commit_in = loaded + 1, True
                land = bool(land_due) and land_due[0] == clock
                if land:
                    land_due.pop(0)
                release_s = sums.reader_ready and not drain_idle.next()
                _, _, valid, payload, release_in, commit_s = await ctx.tick().sample(
                    dut.step.valid, Value.cast(dut.step.payload), dut.inputs.release,
                    dut.banks.commit)
                if valid:
                    got = unpack(layout, payload)
                    got = {f: int(got[f]) for f in FIELDS}
                    if at >= len(steps):
                        problems.append(f"clock {clock}: a step after the last one: {got}")
                        return
                    p, want = steps[at]
                    if got != want:
                        problems.append(f"clock {clock}: step {at} (pass {p}) is {got}, "
                                        f"expected {want}")
                        return
                    batch = passes[p][0]
                    if not inputs.reader_ready or inputs.releases - first_release != batch:
                        problems.append(f"clock {clock}: step {at} of batch {batch} without "
                                        f"its input bank")
                    if p not in commit_clock:
                        problems.append(f"clock {clock}: pass {p} steps before its claim")
                    first_step.setdefault(p, clock)
                    last_step[p] = clock
                    issued.append(clock)
                    at += 1
                    if got["end_of_pass"]:
                        land_due.append(max([clock + rng.randint(*land_latency)]
                                            + [t + 1 for t in land_due[-1:]]))
                if commit_s:
                    k = sums.commits - first_commit
                    commit_clock[k] = clock
                    if k < len(passes) and sums.w_bank != passes[k][2]:
                        problems.append(f"clock {clock}: pass {k} claims bank {sums.w_bank}")
                    if k > 0 and k - 1 not in first_step:
                        problems.append(f"clock {clock}: pass {k} claimed before pass {k - 1} began")
                if release_in:
                    release_clock.append(clock)
                inputs.step(clock, commit=commit_in, release=release_in)
                sums.step(clock, commit=commit_s, land=land, release=release_s)
                clock += 1
            if at != len(steps):
                problems.append(f"layer {li}: {at} of {len(steps)} steps issued")
            if sums.commits - first_commit != len(passes):
                problems.append(f"layer {li}: {sums.commits - first_commit} claims for "
                                f"{len(passes)} passes")
            if len(release_clock) != n_batches:
                problems.append(f"layer {li}: {len(release_clock)} input releases for "
                                f"{n_batches} batches")
            # each batch's input is released after its last step, before the next batch's first
            per_batch = len(passes) // n_batches
            for batch, rc in enumerate(release_clock[:n_batches]):
                last = last_step.get((batch + 1) * per_batch - 1)
                nxt = first_step.get((batch + 1) * per_batch)
                if last is None or rc < last or (nxt is not None and rc >= nxt):
                    problems.append(f"layer {li}: batch {batch} released at clock {rc}, "
                                    f"its last step at {last}, the next batch's first at {nxt}")
            for _ in range(3):      # quiet: nothing more is issued
                _, _, valid, commit_s = await ctx.tick().sample(dut.step.valid, dut.banks.commit)
                if valid or commit_s:
                    problems.append(f"layer {li}: activity after the last batch")
                clock += 1

    sim.add_testbench(bench)
    sim.run()
    assert not problems, problems[:3]
    rules.check()
    inputs.check()
    sums.check()
    want = [pack(layout, step) for passes in expected for _, _, _, steps in passes for step in steps]
    rules.check_words(want)
    assert len(issued) == len(want)
    return issued


CASES = [  # M, B, max_in, max_out, n, m
    (2, 2, 5, 5, 5, 5),      # n odd, m not a multiple of M
    (4, 1, 8, 8, 8, 8),
    (3, 3, 6, 7, 4, 7),      # n < max_in
    (1, 2, 4, 3, 1, 3),      # n = 1
    (4, 2, 6, 6, 3, 3),      # m < M: one pass per batch, one multiplier idle
    (2, 1, 3, 9, 3, 9),
    (2, 1, 2, 5, 1, 5),      # one step per pass: every step also claims the next bank
]


@pytest.mark.parametrize("mults,batch,max_in,max_out,n,m", CASES)
@pytest.mark.parametrize("burst", [1, 5])
def test_scheduler_issues_the_loop_nest(mults, batch, max_in, max_out, n, m, burst, seed):
    cfg = DenseConfig(act_width=8, weight_width=8, mults=mults, batch=batch, max_in=max_in,
                      max_out=max_out, k=4)
    run_scheduler(cfg, [(m, n, 3)], seed, load=(0.4, burst), drain=(0.5, burst))


@pytest.mark.parametrize("mults,batch,n,m", [(2, 2, 3, 7), (3, 1, 4, 9), (2, 3, 1, 4), (4, 2, 2, 3)])
def test_scheduler_back_to_back(mults, batch, n, m, seed):
    """Inputs always loaded, sum banks landing and drained at once: a step on every clock,
    across passes and batches (each pass is >= 3 steps, the banks' round trip)."""
    cfg = DenseConfig(act_width=8, weight_width=8, mults=mults, batch=batch, max_in=max(n, 2),
                      max_out=m, k=4)
    assert n * batch >= 3
    clocks = run_scheduler(cfg, [(m, n, 4)], seed, load=(0.0, 1), drain=(0.0, 1),
                           land_latency=(1, 1))
    gaps = [b - a for a, b in zip(clocks, clocks[1:]) if b - a != 1]
    assert not gaps, f"{len(gaps)} gaps between steps, clocks {clocks}"


def test_scheduler_waits_for_slow_inputs_and_banks(seed):
    """Long runs of missing input batches and undrained banks (idle, then resumed)."""
    cfg = DenseConfig(act_width=8, weight_width=8, mults=2, batch=2, max_in=5, max_out=6, k=4)
    run_scheduler(cfg, [(6, 5, 4)], seed, load=(0.85, 20), drain=(0.8, 15), land_latency=(1, 9))


def test_scheduler_reconfigured_between_layers(seed):
    """Three layers of different shapes in one run; the bank alternation goes on."""
    cfg = DenseConfig(act_width=8, weight_width=8, mults=3, batch=2, max_in=7, max_out=10, k=4)
    run_scheduler(cfg, [(10, 7, 2), (2, 1, 3), (5, 4, 2)], seed, load=(0.3, 3), drain=(0.3, 1))
