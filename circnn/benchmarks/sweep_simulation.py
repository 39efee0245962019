"""RTL simulation of one ``circnn bench`` point: its steady-state clocks per vector.

A random layer of the point's size is compiled for its engine and run on 1
and on :data:`SIM_VECTORS` vectors (cocotb on Verilator or Icarus, outputs checked word
for word against the bit-true model); the difference of the two runs is the
steady-state cost of a vector, which is what the cycle formula claims.
"""

from __future__ import annotations

import time

import numpy as np

from .sweep_points import WIDTH, BenchPoint, formula_cycles

__all__ = ["simulate_point", "sim_clocks", "SIM_VECTORS"]

SIM_VECTORS = 3


def _circulant_case(pt: BenchPoint, rng, simulator: str):
    from circnn.config import EngineConfig

    from .layer_perf import random_layer_program

    eng = EngineConfig(k=pt.k, act_width=WIDTH, weight_width=WIDTH, ifft_width=WIDTH,
                       twiddle_width=WIDTH, pes=pt.pes, batch=1,
                       max_q=pt.n // pt.k, max_p=pt.m // pt.k)
    prog, x = random_layer_program(rng, eng, pt.m // pt.k, pt.n // pt.k, SIM_VECTORS)
    from circnn.sim.harness.layer import simulate_layer
    return lambda rows, name, progress: simulate_layer(eng, prog, x[:rows], name=name,
                                                       progress=progress, keep_files=False,
                                                       simulator=simulator)


def _dense_case(pt: BenchPoint, rng, simulator: str):
    from circnn.compiler import compile_dense, quantize_dense_inputs
    from circnn.config import DenseConfig
    from circnn.sim.harness.dense import simulate_dense

    cfg = DenseConfig(act_width=WIDTH, weight_width=WIDTH, mults=pt.pes, batch=1,
                      max_in=pt.n, max_out=pt.m, k=min(pt.k, 256))
    w = rng.normal(size=(pt.m, pt.n)) * np.sqrt(2.0 / pt.n)
    b = rng.normal(size=pt.m) * 0.1
    calib = rng.uniform(-1, 1, size=(64, pt.n))
    prog = compile_dense(w, b, "relu", cfg, calibration=calib)
    x = quantize_dense_inputs(rng.uniform(-1, 1, size=(SIM_VECTORS, pt.n)), prog.in_frac, cfg, pt.n)
    return lambda rows, name, progress: simulate_dense(cfg, prog, x[:rows], name=name,
                                                       progress=progress, keep_files=False,
                                                       simulator=simulator)


def simulate_point(pt: BenchPoint, say, seed: int = 0, simulator: str = "verilator") -> dict:
    """Steady-state clocks per vector in RTL: (C_N - C_1) / (N - 1), N = SIM_VECTORS."""
    rng = np.random.default_rng(seed)
    run = (_circulant_case if pt.engine == "circulant" else _dense_case)(pt, rng, simulator)
    progress = lambda msg: say(f"    {msg}")
    t0 = time.monotonic()
    _, one = run(1, f"bench_{pt.name}_v1", progress)
    _, many = run(SIM_VECTORS, f"bench_{pt.name}_v{SIM_VECTORS}", progress)
    steady = (many["cycles"] - one["cycles"]) / (SIM_VECTORS - 1)
    ideal = formula_cycles(pt)
    return {"steady_cycles": steady, "latency_cycles": one["cycles"], "formula_cycles": ideal,
            "rel_diff": (steady - ideal) / ideal, "vectors": SIM_VECTORS,
            "wall_s": round(time.monotonic() - t0, 1), "seed": seed, "simulator": simulator,
            "sim_clocks": one["sim_clocks"] + many["sim_clocks"]}


def sim_clocks(pt: BenchPoint) -> int:
    """Clocks the two simulations of a point take, roughly."""
    c = formula_cycles(pt)
    fill = (pt.n + pt.m) * 2 + 400
    return c * (1 + SIM_VECTORS) + 2 * fill
