"""Run a whole compiled network through the Accelerator RTL in one simulation.

The entry point the ``rtl`` backend of ``circnn infer`` and ``circnn demo``
use for networks of any depth: the network's memories are given at
elaboration, its registers are written through the host bus, every input
row streams through in batches, and the outputs come back as codes with the
accelerator's own cycle counters.
"""

from __future__ import annotations

import json
import shutil
import time

import numpy as np

from circnn.config import NetworkConfig
from circnn.rtl.accelerator import Accelerator
from circnn.sim.model.accelerator import build_image, host_writes
from circnn.sim.model.layer import LayerProgram
from circnn.sim.model.network import network_forward

from .layer import remove_run_files, run_figures
from .runner import build_root, run_bench, slug
from .simulators import require_simulator, suite_simulator
from .stream_shell import StreamShell, shell_addr_bits

__all__ = ["simulate_network"]


def simulate_network(net: NetworkConfig, programs: list[LayerProgram], x_codes, *, name: str,
                     idle: float = 0.0, stall: float = 0.0, burst: float = 1.0, seed: int = 0,
                     compare: bool = False, progress=None, keep_files: bool = True,
                     simulator: str | None = None, prefer: str = "verilator",
                     addr_bits: int | None = None) -> tuple[np.ndarray, dict]:
    """Output codes (N, p_last*k) of the RTL, and its statistics.

    Rows are padded with zero rows to a multiple of the batch (their outputs
    dropped).  Statistics: ``cycles`` (the accelerator's busy clocks),
    ``cycles_per_inference`` (over the padded rows, i.e. what the hardware
    did), ``layer_cycles`` (each layer's clocks in the last batch), and the
    stream-measured cycles.  With ``compare`` the bench also checks every
    output word against :func:`network_forward`.

    ``name`` identifies the run's files, ``build_root()/network_runs/<name>/``
    and ``build_root()/sim/network_<name>/`` (unique per concurrent run;
    those of an earlier run of the same name are replaced).  With
    ``keep_files`` false both are removed when the run ends, however it ends
    (success, failure, ``KeyboardInterrupt``, SIGTERM under the command
    line); with ``keep_files`` true they stay.  A missing simulator is
    refused before anything is computed or written.  ``simulator``:
    ``verilator`` or ``icarus`` (None: ``$SIM``, else ``prefer``); the
    statistics include the run's figures
    (:func:`~circnn.sim.harness.layer.run_figures`).  ``addr_bits``: the
    stream shell's memory depth (None: the least for these rows); runs that
    give the same value (and configuration) share one build.

    The accelerator is elaborated from the configuration alone, in a
    :class:`~.stream_shell.StreamShell`; weights, biases and descriptors go
    through the host bus, so one simulator build serves every network of a
    configuration.
    """
    simulator = simulator or suite_simulator(prefer)
    require_simulator(simulator)
    eng = net.engine
    x = np.asarray(x_codes, dtype=np.int64)
    rows = x.shape[0]
    padded = -(-rows // eng.batch) * eng.batch
    if padded != rows:
        x = np.concatenate([x, np.zeros((padded - rows, x.shape[1]), dtype=np.int64)])
    image = build_image(programs, net)
    # weights, biases and descriptors go through the host bus, so that the Verilog
    # depends on the configuration only and one simulator build serves every network
    writes = np.array(host_writes(image, weights=True, n_batches=padded // eng.batch),
                      dtype=np.int64)
    expected = network_forward(x, programs, eng) if compare else np.zeros(
        (padded, programs[-1].p * eng.k), dtype=np.int64)
    work = build_root() / "network_runs" / slug(name)
    bench_name = f"network_{name}"
    try:
        if work.exists():                       # an earlier run's
            shutil.rmtree(work)
        work.mkdir(parents=True)
        data = work / "data.npz"
        np.savez(data, run_writes=writes, run_x=x, run_expected=expected)
        outputs = work / "outputs.npy"
        stats_path = work / "stats.json"
        entry = dict(name="run", batch=eng.batch, k=eng.k, p=programs[-1].p, max_p=eng.max_p,
                     layers=len(programs), compare=compare, outputs=str(outputs))
        t0 = time.monotonic()
        if progress:
            progress(f"simulating the accelerator on {simulator}: {len(programs)} layers, "
                     f"{rows} rows (batch {eng.batch}) in one simulation")
        words_in = padded * -(-programs[0].q * eng.k // 2)
        words_out = padded * programs[-1].p * eng.half
        shell = StreamShell(Accelerator(net),
                            addr_bits=shell_addr_bits(max(words_in, words_out), addr_bits))
        run = run_bench(shell, name=bench_name,
                        test_module="circnn.sim.benches.accelerator_bench",
                        simulator=simulator, progress=progress,
                        config=dict(data=str(data), runs=[entry], idle=idle, stall=stall,
                                    burst=burst, seed=seed, stats=str(stats_path)))
        y = np.load(outputs)[:rows]
        stats = json.loads(stats_path.read_text())["run"]
    finally:
        if not keep_files:
            remove_run_files(work, build_root() / "sim" / slug(bench_name))
    stats.update(rows=rows, padded_rows=padded, seconds=round(time.monotonic() - t0, 1),
                 layer_cycles=stats.pop("layer_cycles_last_batch"), **run_figures(run))
    if progress:
        progress(f"simulation finished: {run.clocks} clocks in {run.sim_s:.1f} s on "
                 f"{simulator} ({stats['seconds']} s with elaboration and build)")
    return y, stats
