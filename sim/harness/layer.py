"""Run one compiled layer on the RTL: ``CirculantLayer`` under cocotb, on Verilator or Icarus.

:func:`simulate_layer` is the reusable entry point (``circnn infer --backend
rtl`` and the layer regressions use it): it writes the program and the input
codes for the bench (:mod:`circnn.sim.benches.layer_bench`), elaborates the
layer inside a :class:`~.stream_shell.StreamShell` (which streams the rows in
and the outputs out in hardware), loads the program through the layer's
``load`` port (or elaborates it in, ``via_load=False``), runs every input
row through it in one simulation, and reads back the output codes the RTL
produced, with the bench's cycle and activity counts and the simulation's
own figures (:class:`~.runner.BenchRun`).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from circnn.config import EngineConfig
from circnn.rtl.layer import CirculantLayer
from circnn.sim.model.fixedpoint import int_range
from circnn.sim.model.layer import LayerProgram

from .program_files import save_program
from .runner import build_root, run_bench, slug
from .simulators import require_simulator, suite_simulator
from .stream_shell import StreamShell, shell_addr_bits

__all__ = ["simulate_layer", "ideal_cycles_per_row", "remove_run_files", "run_figures"]


def ideal_cycles_per_row(eng: EngineConfig, prog: LayerProgram) -> int:
    """MAC-bound clocks per input vector: ``ceil(p/P) * q * k/2``."""
    return -(-prog.p // eng.pes) * prog.q * eng.half


def remove_run_files(*paths: Path) -> None:
    """Remove the files and folders of a simulation run (missing ones are fine)."""
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def simulate_layer(eng: EngineConfig, prog: LayerProgram, x_codes, *, name: str,
                   idle: float = 0.0, stall: float = 0.0, burst: float = 1.0, seed: int = 0,
                   compare: bool = True, progress=None, keep_files: bool = True,
                   simulator: str | None = None, via_load: bool = True,
                   prefer: str = "icarus", addr_bits: int | None = None
                   ) -> tuple[np.ndarray, dict]:
    """Simulate ``CirculantLayer(eng, prog)`` on integer inputs ``x_codes`` (N, q*k).

    All rows go through one simulation; the row count is padded with zero
    rows to a multiple of ``eng.batch`` and their outputs dropped.  ``idle``
    / ``stall`` are the fractions of source idle clocks and sink
    back-pressure clocks, in runs of ``burst`` clocks on average.  With
    ``compare`` the bench also checks every output word, the saturation
    counts and the MAC steps against the bit-true model
    (and the run fails on a difference); without it the outputs are only
    recorded.  ``progress`` (optional) receives one-line progress messages.
    ``name`` identifies the run's files under ``build_root()`` (unique per
    concurrent run; files of an earlier run of the same name are replaced).
    With ``keep_files`` false they are removed when the run ends, however it
    ends (success, failure, ``KeyboardInterrupt``, SIGTERM under the command
    line); with ``keep_files`` true they stay, and a failed run's error
    names its simulation log.  A missing simulator is refused
    (:func:`~circnn.sim.harness.runner.require_simulator`) before anything
    is built or written.

    ``simulator``: ``verilator`` or ``icarus`` (None: ``$SIM``, else ``prefer``).
    ``via_load``: the layer is elaborated without the program, which the
    bench writes through the ``load`` port, so that one simulator build
    serves every program of the engine; false: the program is elaborated in.
    ``addr_bits``: the stream shell's memory depth (None: the least for these
    rows); runs that give the same value (and engine) share one build.

    Returns the output codes (N, p*k) as the RTL produced them and the
    bench's statistics: ``cycles`` (first input accepted to last output),
    ``mac_steps``, ``pe_steps``, ``pe_utilisation`` (pe_steps / (P*cycles)),
    saturation counts, plus ``rows``, ``padded_rows``, ``cycles_per_row``,
    ``ideal_cycles_per_row`` and the simulation's ``simulator``,
    ``sim_clocks``, ``sim_wall_s``, ``build_wall_s``, ``build_cached``.
    """
    simulator = simulator or suite_simulator(prefer)
    require_simulator(simulator)
    return run_program_bench(
        CirculantLayer(eng) if via_load else
        CirculantLayer(eng, registers=prog.registers(), memory=prog.memory_image(eng)),
        bench_name=f"layer_{name}",
        test_module="circnn.sim.benches.layer_bench", x_codes=x_codes, n_in=prog.q * eng.k,
        act_width=eng.act_width, batch=eng.batch,
        save=lambda path, x_run: save_program(path, eng, prog, x=x_run),
        describe=f"CirculantLayer (k={eng.k}, P={eng.pes}, B={eng.batch}, p={prog.p}, q={prog.q})",
        ideal_per_row=ideal_cycles_per_row(eng, prog), idle=idle, stall=stall, burst=burst,
        seed=seed, compare=compare, progress=progress, keep_files=keep_files,
        simulator=simulator, extra_config={"via_load": via_load}, addr_bits=addr_bits,
        words_out=len(np.asarray(x_codes)) * prog.p * eng.half)


def run_program_bench(component, *, bench_name: str, test_module: str, x_codes, n_in: int,
                      act_width: int, batch: int, save, describe: str, ideal_per_row: int,
                      idle: float = 0.0, stall: float = 0.0, burst: float = 1.0, seed: int = 0,
                      compare: bool = True, progress=None, keep_files: bool = True,
                      extra_config: dict | None = None, simulator: str = "verilator",
                      words_out: int = 0, addr_bits: int | None = None):
    """The shared body of the one-layer simulations (circulant and dense engines).

    Checks the input codes, pads the rows to a multiple of ``batch`` with
    zero rows, writes the program (``save(path, padded_codes)``), runs the
    bench on ``component`` inside a stream shell deep enough for the rows'
    words in and the ``words_out`` words out (counted before padding) and
    returns the outputs of the real rows and the bench's statistics with
    ``rows``, ``padded_rows``, ``cycles_per_row``, ``ideal_cycles_per_row``,
    ``wall_time_s`` and the run's figures (:func:`run_figures`) added.  The
    files of the run (``build_root()/programs/<bench_name>.*`` and
    ``build_root()/sim/<bench_name>/``) are removed at the end, however the
    run ends, unless ``keep_files``.
    """
    require_simulator(simulator)
    x = np.asarray(x_codes)
    if x.ndim != 2 or x.shape[1] != n_in or x.shape[0] == 0:
        raise ValueError(f"expected input codes of shape (N >= 1, {n_in}), got {x.shape}")
    if x.dtype.kind not in "iu":
        raise ValueError(f"expected integer input codes, got dtype {x.dtype}")
    lo, hi = int_range(act_width)
    if x.min() < lo or x.max() > hi:
        raise ValueError(f"input codes outside the {act_width}-bit range {lo}..{hi}")
    for label, v in (("idle", idle), ("stall", stall)):
        if not 0.0 <= v < 1.0:
            raise ValueError(f"{label} must be in [0, 1), not {v}")
    rows = x.shape[0]
    padded = -(-rows // batch) * batch
    x_run = np.zeros((padded, x.shape[1]), dtype=np.int64)
    x_run[:rows] = x

    say = progress or (lambda msg: None)
    folder = build_root() / "programs"
    program_path = folder / f"{bench_name}.npz"
    stats_path = folder / f"{bench_name}.stats.json"
    outputs_path = folder / f"{bench_name}.y.npy"
    sim_dir = build_root() / "sim" / slug(bench_name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in (program_path, stats_path, outputs_path):   # an earlier run's
            stale.unlink(missing_ok=True)
        save(program_path, x_run)

        say(f"simulating {describe} on {simulator}: {padded} rows")
        t0 = time.monotonic()
        words_in = padded * -(-n_in // 2)
        words_out = -(-words_out * padded // rows)
        shell = StreamShell(component, addr_bits=shell_addr_bits(max(words_in, words_out),
                                                                 addr_bits))
        run = run_bench(shell, name=bench_name, test_module=test_module, simulator=simulator,
                        progress=say,
                        config=dict(program=str(program_path), idle=idle, stall=stall,
                                    burst=burst, seed=seed, stats=str(stats_path),
                                    outputs=str(outputs_path), compare=compare,
                                    **(extra_config or {})))
        say(f"simulation finished: {run.clocks} clocks in {run.sim_s:.1f} s on {simulator} "
            f"({time.monotonic() - t0:.1f} s with elaboration and build)")

        y = np.load(outputs_path, allow_pickle=False)[:rows]
        stats = json.loads(stats_path.read_text())
    finally:
        if not keep_files:
            remove_run_files(program_path, stats_path, outputs_path, sim_dir)
    stats.update(rows=rows, padded_rows=padded - rows,
                 cycles_per_row=stats["cycles"] / rows,
                 ideal_cycles_per_row=ideal_per_row,
                 wall_time_s=time.monotonic() - t0, **run_figures(run))
    return y, stats


def run_figures(run) -> dict:
    """A :class:`~.runner.BenchRun`'s figures as a simulation's statistics report them."""
    return {"simulator": run.simulator, "sim_clocks": run.clocks, "sim_wall_s": run.sim_s,
            "build_wall_s": run.build_s, "build_cached": run.build_cached,
            "elaborate_wall_s": run.elaborate_s}
