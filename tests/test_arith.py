"""The RTL's fixed-point expressions (Amaranth simulator) == the NumPy toolkit, value for value.

``circnn.rtl.arith`` builds the rounding, saturation and constant
multiplication that every datapath stage uses; each is checked on corner
values and random ones against :mod:`circnn.sim.model.fixedpoint`.
"""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.sim import Simulator

from circnn.rtl.arith import mul_const, requantize, round_shift, saturate, saturates
from circnn.sim.model import fixedpoint as fx

ROUNDINGS = ["truncate", "half_up", "half_even"]


def _run(m, bench):
    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


def _values(rng, bits, count):
    lo, hi = fx.int_range(bits)
    corners = [lo, lo + 1, -1, 0, 1, hi - 1, hi]
    return corners + [int(v) for v in rng.integers(lo, hi + 1, count)]


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("shift", [0, 1, 3, 7])
def test_round_shift_and_requantize_match_toolkit(rounding, shift, seed):
    rng = np.random.default_rng(seed)
    v = Signal(signed(12))
    r, q, s = Signal(signed(14)), Signal(signed(6)), Signal()
    m = Module()
    m.d.comb += [r.eq(round_shift(v, shift, rounding)), q.eq(requantize(v, shift, 6, rounding)),
                 s.eq(saturates(round_shift(v, shift, rounding), 6))]
    bad = []

    async def bench(ctx):
        for a in _values(rng, 12, 600):
            ctx.set(v, a)
            want_r = int(fx.round_shift([a], shift, rounding)[0])
            want_q = int(fx.requantize([a], shift, 6, rounding)[0])
            got = (ctx.get(r), ctx.get(q), ctx.get(s))
            if got != (want_r, want_q, int(want_q != want_r)):
                bad.append((a, got, (want_r, want_q)))
    _run(m, bench)
    assert not bad, bad[:5]


def test_saturate_clamps_to_the_register():
    v, o = Signal(signed(10)), Signal(signed(4))
    m = Module()
    m.d.comb += o.eq(saturate(v, 4))
    got = {}

    async def bench(ctx):
        for a in (-512, -9, -8, -1, 0, 7, 8, 511):
            ctx.set(v, a)
            got[a] = ctx.get(o)
    _run(m, bench)
    assert got == {-512: -8, -9: -8, -8: -8, -1: -1, 0: 0, 7: 7, 8: 7, 511: 7}


@pytest.mark.parametrize("constant", [0, 1, 3, 5, 16, 255, 1000])
def test_mul_const_multiplies(constant, seed):
    rng = np.random.default_rng(seed)
    v, o = Signal(10), Signal(24)
    m = Module()
    m.d.comb += o.eq(mul_const(v, constant))
    bad = []

    async def bench(ctx):
        for a in [0, 1, 1023] + [int(x) for x in rng.integers(0, 1024, 50)]:
            ctx.set(v, a)
            if ctx.get(o) != a * constant:
                bad.append((a, ctx.get(o)))
    _run(m, bench)
    assert not bad, bad[:5]
