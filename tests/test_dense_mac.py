# amaranth: UnusedElaboratable=no
"""``DenseMACArray`` (rtl/dense_mac.py) alone in the Amaranth simulator.

The testbench issues the steps of the documented loop nest (for each batch,
pass ``g``, input element ``j``, vector ``b``), with idle clocks between and
inside passes and random payloads on idle clocks, plays the batch buffer
(``x`` follows the step's ``x_addr`` by ``x_latency`` clocks) and, on every
``landed.land`` pulse, reads the pass's B finished sums through
``rd_addr``/``rd_data`` (a pass does not reuse a bank before the sums of the
pass two before it were read, as the sum :class:`BankPair` ensures).

Reference: the weight banks are preloaded from
:func:`circnn.sim.model.dense.dense_weight_images` (or written through
``load``), and every finished sum must equal ``W @ x`` computed with NumPy
int64 (zero for the rows past ``m`` of the last pass, whose bank words are
zero); one landing per pass.
"""

import random
from collections import deque

import numpy as np
import pytest
from amaranth.hdl import Value
from amaranth.sim import Simulator

from circnn.config import DenseConfig, DenseMemoryImage, LoadTarget
from circnn.rtl.dense_mac import DenseMACArray
from circnn.rtl.dense_scheduler import dense_step_layout
from circnn.sim.model.dense import DenseProgram, dense_weight_images
from circnn.sim.model.fixedpoint import int_range

from component_support import dense_loop_nest, pack, unpack
from streams import StallPattern, check_stream


def _bits(n):
    return max(1, (n - 1).bit_length())


def run_mac(cfg, m, n, n_batches, seed, *, x_latency=2, idle=(0.2, 1), by_load=False,
            full_scale=False):
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)
    M, B = cfg.mults, cfg.batch
    wlo, whi = int_range(cfg.weight_width)
    xlo, xhi = int_range(cfg.act_width)
    W = rng.integers(wlo, whi + 1, size=(m, n))
    X = rng.integers(xlo, xhi + 1, size=(n_batches, B, n))
    if full_scale:      # the largest sum: every product (-2**a) * (-2**w)
        W[0, :] = wlo
        X[0, 0, :] = xlo
    prog = DenseProgram(weight=W, bias=np.zeros(m, dtype=np.int64), out_shift=0, relu=False)
    images = dense_weight_images(prog, cfg)
    memory = DenseMemoryImage(tuple(images), np.zeros(m, dtype=np.int64))
    # the reference: W (padded with zero rows to whole passes) times x, in int64
    groups = -(-m // M)
    w_pad = np.zeros((groups * M, n), dtype=np.int64)
    w_pad[:m] = W
    expect = {}     # (pass index) -> (B, M) sums
    passes = dense_loop_nest(M, B, m, n, n_batches)
    for p, (batch, g, bank, _) in enumerate(passes):
        expect[p] = (X[batch].astype(np.int64) @ w_pad[g * M:(g + 1) * M].T)
    if full_scale:
        assert abs(int(expect[0][0][0])) == n * abs(wlo * xlo)
    # the batch buffer: pair i of vector b at b * n_pairs + i, padding lane random
    n_pairs = -(-n // 2)
    buffers = []
    for batch in range(n_batches):
        words = []
        for b in range(B):
            v = [int(e) for e in X[batch, b]] + [prng.randint(xlo, xhi) or 1]
            words += [[v[2 * i], v[2 * i + 1]] for i in range(n_pairs)]
        buffers.append(words)

    dut = DenseMACArray(cfg, None if by_load else memory, x_latency=x_latency)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    slayout = dense_step_layout(cfg)
    rules = check_stream(sim, dut.step, "step")
    sum_layout = dut.rd_data.shape()
    bbits = _bits(B)
    problems, lands, checked = [], [], []

    async def bench(ctx):
        if by_load:
            ctx.set(dut.load.target, LoadTarget.WEIGHTS)
            for mult, image in enumerate(images):
                for addr, w in enumerate(image):
                    ctx.set(dut.load.en, 1)
                    ctx.set(dut.load.pe, mult)
                    ctx.set(dut.load.addr, addr)
                    ctx.set(dut.load.data, int(w) & ((1 << cfg.weight_width) - 1))
                    await ctx.tick()
            ctx.set(dut.load.en, 0)
        gaps = StallPattern(*idle, rng=random.Random(prng.random()))
        history = []                  # (batch, x_addr) on the step port, clock by clock
        p_issue, s_issue = 0, 0
        reads, pending, read_count = deque(), None, {}
        for clock in range(20_000):
            if len(read_count) == len(passes) and all(c == B for c in read_count.values()) \
                    and pending is None:
                break
            # a step (a pass waits until the bank it reuses was read)
            valid = False
            if p_issue < len(passes) and (p_issue < 2 or read_count.get(p_issue - 2) == B) \
                    and not gaps.next():
                batch, _, _, steps = passes[p_issue]
                step, valid = steps[s_issue], True
                s_issue += 1
                if s_issue == len(steps):
                    p_issue, s_issue = p_issue + 1, 0
            else:     # idle: the payload is random, and must be ignored
                batch = prng.randrange(n_batches)
                step = {"x_addr": prng.randrange(B * n_pairs), "lane": prng.randrange(2),
                        "w_addr": prng.randrange(len(images[0])), "first": prng.randrange(2),
                        "last": prng.randrange(2), "end_of_pass": prng.randrange(2),
                        "b": prng.randrange(B), "bank": prng.randrange(2), "active": 0}
            ctx.set(dut.step.valid, int(valid))
            ctx.set(Value.cast(dut.step.payload), pack(slayout, step))
            history.append((batch, step["x_addr"]))
            # the batch buffer's read data, x_latency clocks after the address
            if clock >= x_latency:
                hb, ha = history[clock - x_latency]
                ctx.set(dut.x, buffers[hb][ha])
            # reading the finished sums of a landed pass
            current = reads.popleft() if reads else None
            if current is not None:
                p, b = current
                ctx.set(dut.rd_addr, b | (passes[p][2] << bbits))
            _, _, land, rd_data = await ctx.tick().sample(dut.landed.land,
                                                           Value.cast(dut.rd_data))
            if pending is not None:
                p, b = pending
                got = [int(v) for v in unpack(sum_layout, rd_data)]
                want = [int(v) for v in expect[p][b]]
                checked.append(p)
                if got != want:
                    problems.append(f"pass {p} (batch {passes[p][0]}, g {passes[p][1]}) "
                                    f"vector {b}: {got} != {want}")
                read_count[p] = read_count.get(p, 0) + 1
            pending = current
            if land:
                p = len(lands)
                lands.append(clock)
                if p >= len(passes):
                    problems.append(f"clock {clock}: a landing after the last pass")
                else:
                    reads.extend((p, b) for b in range(B))
        else:
            problems.append(f"timeout: {len(lands)} of {len(passes)} passes landed")

    sim.add_testbench(bench)
    sim.run()
    assert not problems, problems[:3]
    rules.check()
    rules.check_words(pack(slayout, step) for *_, steps in passes for step in steps)
    assert len(lands) == len(passes)
    assert sorted(set(checked)) == list(range(len(passes)))


CASES = [  # M, B, max_in, max_out, n, m, x_latency
    (2, 2, 5, 3, 5, 3, 2),         # n odd (a padding lane), m not a multiple of M
    (4, 1, 8, 8, 8, 8, 2),
    (3, 3, 6, 7, 4, 7, 3),         # a deeper batch buffer; n < max_in
    (1, 2, 3, 4, 1, 4, 2),         # n = 1: first and last on every step
    (2, 4, 7, 5, 7, 2, 1),         # m = M: one pass per batch; x one clock after the step
    (2, 2, 4, 4, 3, 4, 4),         # x as late as from the deepest batch buffer
]


@pytest.mark.parametrize("mults,batch,max_in,max_out,n,m,x_latency", CASES)
@pytest.mark.parametrize("burst", [1, 4])
def test_mac_sums_equal_w_times_x(mults, batch, max_in, max_out, n, m, x_latency, burst, seed):
    cfg = DenseConfig(act_width=8, weight_width=8, mults=mults, batch=batch, max_in=max_in,
                      max_out=max_out, k=4)
    run_mac(cfg, m, n, 3, seed, x_latency=x_latency, idle=(0.3, burst))


def test_mac_back_to_back_steps(seed):
    """A step on every clock, passes back to back (the scheduler's full rate)."""
    cfg = DenseConfig(act_width=8, weight_width=8, mults=2, batch=3, max_in=6, max_out=6, k=4)
    run_mac(cfg, 6, 6, 3, seed, idle=(0.0, 1))


def test_mac_full_scale_sums(seed):
    """Every product at its most negative operands: the accumulator width is exact."""
    cfg = DenseConfig(act_width=10, weight_width=9, mults=2, batch=2, max_in=9, max_out=3, k=4)
    run_mac(cfg, 3, 9, 2, seed, idle=(0.1, 1), full_scale=True)


def test_mac_weights_loaded_at_run_time(seed):
    cfg = DenseConfig(act_width=8, weight_width=7, mults=3, batch=2, max_in=5, max_out=5, k=4)
    run_mac(cfg, 5, 5, 2, seed, idle=(0.2, 3), by_load=True)
