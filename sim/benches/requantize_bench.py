"""cocotb bench: the streaming requantiser against the fixed-point toolkit."""

import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, with_timeout

from circnn.sim.cocotb_runner import bench_config
from circnn.sim.fixedpoint import int_range, requantize, round_shift, saturate
from circnn.sim.benches.streams import StreamSink, StreamSource, unpack_fields


def stimulus(cfg, rng):
    lo, hi = int_range(cfg["in_width"])
    s = cfg["shift"]
    corners = [lo, lo + 1, hi, hi - 1, 0, 1, -1]
    if s > 0:
        half = 1 << (s - 1)
        # exact ties, one below and above, on both signs and at odd/even quotients
        for q in (-3, -2, -1, 0, 1, 2, 3):
            for d in (-1, 0, 1):
                v = (q << s) + half + d
                if lo <= v <= hi:
                    corners.append(v)
    randoms = rng.integers(lo, hi + 1, size=cfg["count"]).tolist()
    return corners + randoms


@cocotb.test()
async def requantize_matches_model(dut):
    cfg = bench_config()
    seed = cfg["seed"]
    dut._log.info(f"seed={seed} config={cfg}")
    rng = np.random.default_rng(seed)
    py = random.Random(seed)
    words = stimulus(cfg, rng)

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    src = StreamSource(dut, "i", dut.clk, idle=cfg.get("idle", 0.0), rng=py)
    sink = StreamSink(dut, "o", dut.clk, stall=cfg.get("stall", 0.0), rng=py)
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0

    cocotb.start_soon(src.send(words))
    got = await with_timeout(sink.receive(len(words)), 200 * len(words) + 1000, "ns")

    ow = cfg["out_width"]
    expect = requantize(np.array(words), cfg["shift"], ow, cfg["rounding"])
    rounded = round_shift(np.array(words), cfg["shift"], cfg["rounding"])
    expect_sat = (saturate(rounded, ow) != rounded).astype(int)
    fields = [unpack_fields(w, [ow, 1], [True, False]) for w in got]
    values = np.array([f[0] for f in fields])
    sats = np.array([f[1] for f in fields])
    mismatches = np.flatnonzero((values != expect) | (sats != expect_sat))
    if len(mismatches):
        i = mismatches[0]
        raise AssertionError(f"{len(mismatches)} of {len(words)} words differ; first at {i}: "
                             f"in={words[i]} got={values[i]} sat={sats[i]} "
                             f"expected={expect[i]} sat={expect_sat[i]} (seed={seed})")
    assert len(got) == len(words)
    dut._log.info(f"{len(words)} words equal to the model, {int(sats.sum())} saturated")
