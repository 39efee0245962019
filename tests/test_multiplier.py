# amaranth: UnusedElaboratable=no
"""Both multiplier targets give the same words at the same cycle (ECP5 primitive
simulated with circnn's behavioural MULT18X18D model)."""

import pytest
from amaranth.hdl import Module, signed
from amaranth.sim import Simulator
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from circnn.config import ECP5Target
from circnn.errors import ParameterError
from circnn.rtl.multiplier import Multiplier
from circnn.sim.harness.runner import run_bench

from platforms import OnPlatform


class BothTargets(wiring.Component):
    def __init__(self, aw, bw):
        self.aw, self.bw = aw, bw
        super().__init__({"a": In(signed(aw)), "b": In(signed(bw)), "ce": In(1),
                          "p_generic": Out(signed(aw + bw)), "p_ecp5": Out(signed(aw + bw))})

    def elaborate(self, platform):
        m = Module()
        for name, target, out in (("gen", None, self.p_generic), ("dsp", ECP5Target(), self.p_ecp5)):
            mul = Multiplier(self.aw, self.bw)
            m.submodules[name] = OnPlatform(mul, target)
            m.d.comb += [mul.a.eq(self.a), mul.b.eq(self.b), mul.ce.eq(self.ce), out.eq(mul.p)]
        return m


def test_declared_latency_is_the_measured_one():
    # every pipeline that uses a Multiplier delays its control by `latency`:
    # measure it (generic target in the Amaranth simulator; the ECP5 instance
    # is checked cycle for cycle against it by test_targets_agree)
    dut = Multiplier(8, 8)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    seen = []

    async def bench(ctx):
        ctx.set(dut.a, 0)
        ctx.set(dut.b, 0)
        for _ in range(5):
            await ctx.tick()
        ctx.set(dut.a, -7)
        ctx.set(dut.b, 9)
        for clock in range(1, 8):
            await ctx.tick()
            ctx.set(dut.a, 0)
            seen.append((clock, ctx.get(dut.p)))
    sim.add_testbench(bench)
    sim.run()
    arrival = next(clock for clock, p in seen if p == -63)
    assert arrival == dut.latency, seen


@pytest.mark.parametrize("aw,bw", [(18, 18), (16, 16), (18, 9), (5, 17)])
def test_targets_agree(aw, bw, seed):
    run_bench(BothTargets(aw, bw), name=f"multiplier_{aw}x{bw}",
              test_module="circnn.sim.benches.multiplier_bench",
              config=dict(seed=seed, a_width=aw, b_width=bw, count=500), target="ecp5")


@pytest.mark.parametrize("kwargs,name", [
    (dict(a_width=19, b_width=8), "a_width"), (dict(a_width=8, b_width=1), "b_width")])
def test_rejects_operands_that_do_not_fit(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        Multiplier(**kwargs)
