"""cocotb bench: ECP5 MULT18X18D instance (behavioural primitive model) and the
generic registered product side by side: same word at the same cycle."""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from circnn.sim.harness.runner import bench_config
from circnn.sim.benches.streams import to_signed

LATENCY = 3


@cocotb.test()
async def targets_agree_cycle_for_cycle(dut):
    cfg = bench_config()
    seed, aw, bw = cfg["seed"], cfg["a_width"], cfg["b_width"]
    dut._log.info(f"seed={seed} a_width={aw} b_width={bw}")
    rng = np.random.default_rng(seed)
    alo, ahi = -(1 << (aw - 1)), (1 << (aw - 1)) - 1
    blo, bhi = -(1 << (bw - 1)), (1 << (bw - 1)) - 1
    corners = [(alo, blo), (alo, bhi), (ahi, blo), (ahi, bhi), (0, blo), (alo, 0), (-1, -1), (1, -1)]
    a = [c[0] for c in corners] + rng.integers(alo, ahi + 1, cfg["count"]).tolist()
    b = [c[1] for c in corners] + rng.integers(blo, bhi + 1, cfg["count"]).tolist()
    ce = [1] * len(corners) + (rng.random(cfg["count"]) > 0.2).astype(int).tolist()

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)
    # Drive one operand pair per cycle; model the 3-stage pipeline with CE.
    stages = [None] * LATENCY
    checked = 0
    pw = aw + bw
    for t in range(len(a) + LATENCY + 2):
        if t < len(a):
            dut.a.value = a[t] & ((1 << aw) - 1)
            dut.b.value = b[t] & ((1 << bw) - 1)
            dut.ce.value = ce[t]
            inp, en = (a[t], b[t]), ce[t]
        else:
            dut.ce.value = 1
            inp, en = None, 1
        await ReadOnly()
        p_gen = to_signed(int(dut.p_generic.value.to_unsigned()), pw)
        p_dsp = to_signed(int(dut.p_ecp5.value.to_unsigned()), pw)
        assert p_gen == p_dsp, f"cycle {t}: generic {p_gen} != ecp5 {p_dsp} (seed={seed})"
        if stages[-1] is not None:
            x, y = stages[-1]
            assert p_gen == x * y, f"cycle {t}: product of {x}*{y} is {p_gen} (seed={seed})"
            checked += 1
        await RisingEdge(dut.clk)
        if en:
            stages = [inp] + stages[:-1]
    assert checked >= cfg["count"] * 0.7
    dut._log.info(f"{checked} products checked on both targets")
