"""cocotb bench: ``BlockRAM`` on both targets side by side (the ECP5 one through the
behavioural DP16KD model): the same word at the same cycle, and the word a plain
memory holds."""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from circnn.sim.harness.runner import bench_config


@cocotb.test()
async def targets_agree_cycle_for_cycle(dut):
    cfg = bench_config()
    seed, width, depth, latency = cfg["seed"], cfg["width"], cfg["depth"], cfg["latency"]
    dut._log.info(f"seed={seed} width={width} depth={depth}")
    rng = np.random.default_rng(seed)
    mem = list(cfg["init"]) + [0] * (depth - len(cfg["init"]))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 0
    dut.wr_en.value = 0
    await ClockCycles(dut.clk, 2)
    due = {}            # clock -> word the read issued `latency` clocks before returns
    checked = 0
    for t in range(cfg["count"]):
        addr = int(rng.integers(0, depth))
        write = bool(rng.integers(0, 2))
        waddr = int(rng.integers(0, depth))
        if write and waddr == addr:
            waddr = (addr + 1) % depth      # same-clock read of the written word: not defined
        wdata = int(rng.integers(0, 1 << width))
        dut.rd_addr.value = addr
        dut.wr_en.value = int(write)
        dut.wr_addr.value = waddr
        dut.wr_data.value = wdata
        due[t + latency] = mem[addr]
        await ReadOnly()
        if t in due:
            generic = int(dut.rd_generic.value.to_unsigned())
            ecp5 = int(dut.rd_ecp5.value.to_unsigned())
            assert generic == ecp5 == due[t], \
                f"clock {t}: generic {generic:#x}, ecp5 {ecp5:#x}, expected {due[t]:#x} (seed={seed})"
            checked += 1
        await RisingEdge(dut.clk)
        if write:
            mem[waddr] = wdata
    assert checked >= cfg["count"] - latency
    dut._log.info(f"{checked} reads checked on both targets")
