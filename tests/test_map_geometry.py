# amaranth: UnusedElaboratable=no
"""``MapGeometry`` (Amaranth simulator): the sizes of a convolution, formed by counting,
against :func:`circnn.sim.model.conv.output_side` and the products written out, for
random geometries with and without pooling (strides 1 to 3, padding up to 2, odd
channel counts), several in one simulation, and its documented latency."""

import random

import pytest
from amaranth.sim import Simulator

from circnn.config import EngineConfig, NetworkConfig, PatchConfig
from circnn.rtl.map_geometry import MapGeometry
from circnn.sim.model.conv import output_side

NET = NetworkConfig(EngineConfig(k=8, max_q=8, max_p=4), max_map=4096,
                    patch=PatchConfig(max_side=12, max_channels=16, max_kernel=5, max_stride=3,
                                      max_padding=2))


def expected(g):
    oh = output_side(g["h"], g["kh"], g["sh"], g["ph"])
    ow = output_side(g["w"], g["kw"], g["sw"], g["pw"])
    if g["pool"]:
        fits = g["pool_kh"] <= oh and g["pool_kw"] <= ow
        ph = output_side(oh, g["pool_kh"], g["pool_sh"]) if fits else None
        pw = output_side(ow, g["pool_kw"], g["pool_sw"]) if fits else None
    else:
        fits, ph, pw = True, oh, ow
    out = {"out_h": oh, "out_w": ow, "pool_fits": int(fits),
           "in_map": g["h"] * g["w"] * g["c"], "patch": g["kh"] * g["kw"] * g["c"],
           "rows": oh * ow}
    if fits:
        out.update(pool_h=ph, pool_w=pw, pool_row=pw * g["c_out"],
                   out_map=ph * pw * g["c_out"])
    return out


def random_geometry(rng):
    kh, kw = rng.randint(1, 5), rng.randint(1, 5)
    g = {"kh": kh, "kw": kw, "sh": rng.randint(1, 3), "sw": rng.randint(1, 3),
         "ph": rng.randint(0, min(2, kh - 1)), "pw": rng.randint(0, min(2, kw - 1)),
         "c": rng.choice([1, 3, 5, 8, 16]), "c_out": rng.randint(1, 32),
         "pool": rng.randint(0, 1), "pool_kh": rng.randint(1, 4), "pool_kw": rng.randint(1, 4),
         "pool_sh": rng.randint(1, 3), "pool_sw": rng.randint(1, 3)}
    g["h"] = rng.randint(max(1, kh - 2 * g["ph"]), 12)
    g["w"] = rng.randint(max(1, kw - 2 * g["pw"]), 12)
    return g


@pytest.mark.parametrize("count", [30])
def test_sizes_by_counting_equal_the_formulas(count, seed):
    rng = random.Random(seed)
    cases = [random_geometry(rng) for _ in range(count)]
    # by hand: the digits CNN's second convolution, pooled 2x2/2
    cases.insert(0, {"h": 8, "w": 8, "c": 16, "kh": 3, "kw": 3, "sh": 1, "sw": 1, "ph": 1,
                     "pw": 1, "c_out": 32, "pool": 1, "pool_kh": 2, "pool_kw": 2, "pool_sh": 2,
                     "pool_sw": 2})
    dut = MapGeometry(NET)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    problems, latencies = [], []

    async def bench(ctx):
        for g in cases:
            for name, value in g.items():
                ctx.set(getattr(dut, name), value)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            clocks = 1
            while not ctx.get(dut.done):
                await ctx.tick()
                clocks += 1
                assert clocks < 500, f"no done for {g}"
            latencies.append(clocks)
            want = expected(g)
            got = {name: ctx.get(getattr(dut, name)) for name in want}
            if got != want:
                problems.append((g, got, want))
    sim.add_testbench(bench)
    sim.run()
    assert not problems, problems[:2]
    # the documented bound: 8*max(side + padding, kernel) + 10 clocks at most
    bound = [8 * max(g["h"] + g["ph"], g["w"] + g["pw"], g["kh"], g["kw"]) + 10 for g in cases]
    assert all(c <= b for c, b in zip(latencies, bound)), list(zip(latencies, bound))
    print(f"seed={seed}: {len(cases)} geometries, latency {min(latencies)}..{max(latencies)} "
          f"clocks (digits conv: {latencies[0]})")
