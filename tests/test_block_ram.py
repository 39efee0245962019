# amaranth: UnusedElaboratable=no
"""``BlockRAM``: a plain memory with ``latency`` clocks of read delay (Amaranth
simulator), and the same words at the same cycles on both targets (Icarus, with
circnn's behavioural DP16KD model)."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from circnn.config import ECP5Target
from circnn.errors import ParameterError
from circnn.rtl.block_ram import BlockRAM
from circnn.sim.harness.runner import run_bench

from platforms import OnPlatform


@pytest.mark.parametrize("width,depth,latency", [
    (8, 5000, 3), (32, 8192, 3), (16, 100, 2), (12, 1024, 2), (5, 1025, 3), (6, 9000, 4),
    (4, 65 * 1024, 5)])
def test_reads_what_was_written(width, depth, latency, seed):
    rng = np.random.default_rng(seed)
    init = [int(v) for v in rng.integers(0, 1 << width, depth - depth // 3)]
    dut = BlockRAM(width, depth, init)
    assert dut.latency == latency
    mem = init + [0] * (depth - len(init))
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    bad, checked = [], []

    async def bench(ctx):
        expected = []       # (clock the word is due, word)
        for clock in range(1500):
            addr = int(rng.integers(0, depth))
            ctx.set(dut.rd_addr, addr)
            expected.append((clock + latency, mem[addr]))
            write = bool(rng.integers(0, 2))
            waddr, wdata = int(rng.integers(0, depth)), int(rng.integers(0, 1 << width))
            ctx.set(dut.wr_en, write)
            ctx.set(dut.wr_addr, waddr)
            ctx.set(dut.wr_data, wdata)
            await ctx.tick()
            if write:
                mem[waddr] = wdata
            while expected and expected[0][0] == clock + 1:
                due, word = expected.pop(0)
                checked.append(word)
                if ctx.get(dut.rd_data) != word:
                    bad.append((clock, word, ctx.get(dut.rd_data)))
    sim.add_testbench(bench)
    sim.run()
    assert len(checked) > 1000 and not bad, bad[:5]


@pytest.mark.parametrize("kwargs,name", [
    (dict(shape=8, depth=0), "depth")])
def test_rejects_bad_parameters(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        BlockRAM(**kwargs)


class BothTargets(wiring.Component):
    def __init__(self, width, depth, init):
        self.rams = [BlockRAM(width, depth, init) for _ in range(2)]
        bits = self.rams[0].addr_bits
        super().__init__({"rd_addr": In(bits), "wr_addr": In(bits), "wr_data": In(width),
                          "wr_en": In(1), "rd_generic": Out(width), "rd_ecp5": Out(width)})

    def elaborate(self, platform):
        m = Module()
        for ram, out, name, platform in zip(self.rams, (self.rd_generic, self.rd_ecp5),
                                            ("generic", "ecp5"), (None, ECP5Target())):
            m.submodules[name] = OnPlatform(ram, platform)
            m.d.comb += [ram.rd_addr.eq(self.rd_addr), ram.wr_addr.eq(self.wr_addr),
                         ram.wr_data.eq(self.wr_data), ram.wr_en.eq(self.wr_en), out.eq(ram.rd_data)]
        return m


@pytest.mark.parametrize("width,depth", [(32, 2500), (18, 1024), (7, 300), (20, 9000)])
def test_targets_agree(width, depth, seed):
    rng = np.random.default_rng(seed)
    init = [int(v) for v in rng.integers(0, 1 << width, depth // 2)]
    dut = BothTargets(width, depth, init)
    run_bench(dut, name=f"block_ram_{width}x{depth}", test_module="circnn.sim.benches.block_ram_bench",
              config=dict(seed=seed, width=width, depth=depth, init=init, count=3000,
                          latency=dut.rams[0].latency), target="ecp5")
