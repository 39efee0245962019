"""Run one compiled dense layer on the RTL: ``DenseLayer`` under cocotb, on Verilator or Icarus.

The dense twin of :func:`circnn.sim.harness.layer.simulate_layer` (``circnn
infer --backend rtl-dense`` and ``tests/test_dense.py`` use it): it writes
the program and the input codes for :mod:`circnn.sim.benches.dense_bench`,
elaborates ``DenseLayer`` in a stream shell, loads the program through the
``load`` port (or elaborates it in), runs every row through it in one
simulation and reads back the output codes and the bench's cycle and
activity counts.
"""

from __future__ import annotations

import numpy as np

from circnn.config import DenseConfig
from circnn.rtl.dense import DenseLayer
from circnn.sim.model.dense import DenseProgram, ideal_dense_cycles_per_row

from .layer import run_program_bench
from .program_files import save_dense_program
from .simulators import require_simulator, suite_simulator

__all__ = ["simulate_dense"]


def simulate_dense(cfg: DenseConfig, prog: DenseProgram, x_codes, *, name: str,
                   idle: float = 0.0, stall: float = 0.0, burst: float = 1.0, seed: int = 0,
                   compare: bool = True, progress=None, keep_files: bool = True,
                   via_load: bool = True, simulator: str | None = None,
                   prefer: str = "icarus") -> tuple[np.ndarray, dict]:
    """Simulate ``DenseLayer(cfg, prog)`` on integer inputs ``x_codes`` (N, n).

    Arguments and results as :func:`circnn.sim.harness.layer.simulate_layer`: rows
    are padded with zero rows to a multiple of ``cfg.batch`` (their outputs
    dropped); returns the output codes (N, m) and the statistics ``cycles``
    (first input accepted to last output), ``mac_steps``, ``pe_steps``
    (multiply-accumulates issued), ``pe_utilisation`` (pe_steps / (M *
    cycles)), ``out_saturations``, ``rows``, ``padded_rows``,
    ``cycles_per_row`` and ``ideal_cycles_per_row`` (``ceil(m/M) * n``).

    With ``via_load`` the layer is elaborated without the program (its
    memories empty, its registers at their maximum shape) and the bench
    writes the program through the ``load`` port before the first input, so
    that one simulator build serves every program of the configuration.
    ``simulator``: as for :func:`~circnn.sim.harness.layer.simulate_layer`.
    """
    simulator = simulator or suite_simulator(prefer)
    require_simulator(simulator)
    return run_program_bench(
        (DenseLayer(cfg) if via_load else
         DenseLayer(cfg, registers=prog.registers(), memory=prog.memory_image(cfg))),
        bench_name=f"dense_{name}",
        test_module="circnn.sim.benches.dense_bench", x_codes=x_codes, n_in=prog.n,
        act_width=cfg.act_width, batch=cfg.batch,
        save=lambda path, x_run: save_dense_program(path, cfg, prog, x=x_run),
        describe=f"DenseLayer (M={cfg.mults}, B={cfg.batch}, m={prog.m}, n={prog.n})",
        ideal_per_row=ideal_dense_cycles_per_row(cfg, prog), idle=idle, stall=stall,
        burst=burst, seed=seed,
        compare=compare, progress=progress, keep_files=keep_files, simulator=simulator,
        extra_config={"via_load": via_load},
        words_out=len(np.asarray(x_codes)) * -(-prog.m // cfg.k) * cfg.half)
