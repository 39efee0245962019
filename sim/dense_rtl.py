"""Run one compiled dense layer on the RTL: ``DenseLayer`` under cocotb on Icarus.

The dense twin of :func:`circnn.sim.layer_rtl.simulate_layer` (``circnn
infer --backend rtl-dense`` and ``tests/test_dense.py`` use it): it writes
the program and the input codes for :mod:`circnn.sim.benches.dense_bench`,
elaborates ``DenseLayer`` with the program as its initial memory and
register contents, runs every row through it in one simulation and reads
back the output codes and the bench's cycle and activity counts.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time

import numpy as np

from .cocotb_runner import _slug, build_root, run_bench
from .dense_model import DenseConfig, DenseProgram, ideal_dense_cycles_per_row, save_dense_program
from .fixedpoint import int_range
from .layer_rtl import _PhaseWatcher

__all__ = ["simulate_dense"]


def simulate_dense(cfg: DenseConfig, prog: DenseProgram, x_codes, *, name: str,
                   idle: float = 0.0, stall: float = 0.0, seed: int = 0, compare: bool = True,
                   progress=None, keep_files: bool = True,
                   via_load: bool = False) -> tuple[np.ndarray, dict]:
    """Simulate ``DenseLayer(cfg, prog)`` on integer inputs ``x_codes`` (N, n).

    Arguments and results as :func:`circnn.sim.layer_rtl.simulate_layer`: rows
    are padded with zero rows to a multiple of ``cfg.batch`` (their outputs
    dropped); returns the output codes (N, m) and the statistics ``cycles``
    (first input accepted to last output), ``mac_steps``, ``pe_steps``
    (multiply-accumulates issued), ``pe_utilisation`` (pe_steps / (M *
    cycles)), ``out_saturations``, ``rows``, ``padded_rows``,
    ``cycles_per_row`` and ``ideal_cycles_per_row`` (``ceil(m/M) * n``).

    With ``via_load`` the layer is elaborated without the program (its
    memories empty, its registers at their maximum shape) and the bench
    writes the program through the ``load`` port before the first input.
    """
    from circnn.rtl.dense import DenseLayer

    x = np.asarray(x_codes)
    if x.ndim != 2 or x.shape[1] != prog.n or x.shape[0] == 0:
        raise ValueError(f"expected input codes of shape (N >= 1, {prog.n}), got {x.shape}")
    if x.dtype.kind not in "iu":
        raise ValueError(f"expected integer input codes, got dtype {x.dtype}")
    lo, hi = int_range(cfg.act_width)
    if x.min() < lo or x.max() > hi:
        raise ValueError(f"input codes outside the {cfg.act_width}-bit range {lo}..{hi}")
    for label, v in (("idle", idle), ("stall", stall)):
        if not 0.0 <= v < 1.0:
            raise ValueError(f"{label} must be in [0, 1), not {v}")
    rows = x.shape[0]
    padded = -(-rows // cfg.batch) * cfg.batch
    x_run = np.zeros((padded, x.shape[1]), dtype=np.int64)
    x_run[:rows] = x

    say = progress or (lambda msg: None)
    folder = build_root() / "programs"
    folder.mkdir(parents=True, exist_ok=True)
    # (the files are named apart from simulate_layer's, which share the folder)
    bench_name = f"dense_{name}"
    program_path = folder / f"{bench_name}.npz"
    stats_path = folder / f"{bench_name}.stats.json"
    outputs_path = folder / f"{bench_name}.y.npy"
    for stale in (stats_path, outputs_path):
        stale.unlink(missing_ok=True)
    save_dense_program(program_path, cfg, prog, x=x_run)

    say(f"elaborating DenseLayer (M={cfg.mults}, B={cfg.batch}, m={prog.m}, n={prog.n})")
    t0 = time.monotonic()
    watcher = (_PhaseWatcher(build_root() / "sim" / _slug(bench_name), say, padded) if progress
               else contextlib.nullcontext())
    with watcher:
        run_bench(DenseLayer(cfg, None if via_load else prog), name=bench_name,
                  test_module="circnn.sim.benches.dense_bench",
                  config=dict(program=str(program_path), idle=idle, stall=stall, seed=seed,
                              stats=str(stats_path), outputs=str(outputs_path), compare=compare,
                              via_load=via_load))
    say(f"simulation finished ({time.monotonic() - t0:.1f} s for elaboration, build and run)")

    y = np.load(outputs_path, allow_pickle=False)[:rows]
    stats = json.loads(stats_path.read_text())
    if not keep_files:
        for f in (program_path, stats_path, outputs_path):
            f.unlink(missing_ok=True)
        shutil.rmtree(build_root() / "sim" / _slug(bench_name), ignore_errors=True)
    stats.update(rows=rows, padded_rows=padded - rows,
                 cycles_per_row=stats["cycles"] / rows,
                 ideal_cycles_per_row=ideal_dense_cycles_per_row(cfg, prog),
                 wall_time_s=time.monotonic() - t0)
    return y, stats
