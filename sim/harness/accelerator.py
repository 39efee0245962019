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

from circnn.config import HostRegister, NetworkConfig
from circnn.rtl.accelerator import Accelerator
from circnn.sim.model.accelerator import (build_image, host_writes, mac_bound_cycles, stage_name,
                                          useful_mac_steps)
from circnn.sim.model.cnn import cnn_forward
from circnn.sim.model.layer import LayerProgram
from circnn.sim.model.network import network_forward

from .layer import remove_run_files, run_figures
from .prebuilt import PrebuiltDesign, VerilogModule, check_module
from .runner import build_root, run_bench, slug
from .simulators import require_simulator, suite_simulator
from .stream_shell import StreamShell, shell_addr_bits

__all__ = ["simulate_network"]


def model_forward(layers: list, x_codes, eng) -> np.ndarray:
    """The bit-true model's output codes for ``layers`` (programs of a dense network
    or steps of a convolutional one)."""
    if all(isinstance(layer, LayerProgram) for layer in layers):
        return network_forward(x_codes, layers, eng)
    return cnn_forward(x_codes, layers, eng)


def simulate_network(net: NetworkConfig, programs: list, x_codes, *, name: str,
                     idle: float = 0.0, stall: float = 0.0, burst: float = 1.0, seed: int = 0,
                     compare: bool = False, progress=None, keep_files: bool = True,
                     simulator: str | None = None, prefer: str = "verilator",
                     addr_bits: int | None = None, verilog: VerilogModule | None = None,
                     program: list | None = None,
                     target: str = "generic") -> tuple[np.ndarray, dict]:
    """Output codes (N, p_last*k) of the RTL, and its statistics.

    ``programs``: the :class:`LayerProgram` of a dense network, or the steps of a
    convolutional one (:func:`circnn.compiler.compile_cnn`); ``x_codes`` the first
    layer's input codes (N, q0*k), or (N, H*W*C) for a map.

    Rows are padded with zero rows to a multiple of the network batch
    (``net.images`` = ``layer_batches`` x B; their outputs dropped).  Statistics: ``accelerator`` (every parameter of ``net``),
    ``cycles`` (the accelerator's busy clocks), ``cycles_per_inference`` (the
    steady state: the last batch's period, BATCH_CYCLES, over its
    ``net.images`` inputs),
    ``cycles_per_inference_whole_run`` (busy clocks over the padded rows, the
    first batch's input included), ``layer_cycles`` (each descriptor's clocks
    in the last batch, per input; raw in ``layer_cycles_last_batch``),
    ``mac_bound_cycles`` and ``layer_mac_bound_cycles`` (output pixels x
    ceil(p/P) x q x k/2, per inference), ``layers_run`` (what each descriptor
    runs), and the stream-measured cycles.  With ``compare`` the bench also checks every
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

    A build folder's run (``circnn infer --build``) gives ``verilog``, the
    accelerator's Verilog as ``circnn build`` wrote it for ``net`` (elaborated
    for ``target``): that file is simulated in the shell instead of an
    elaboration (:class:`~.prebuilt.PrebuiltDesign`, its ports checked first),
    and ``program``, the build's host-bus writes (``program.bin``), replayed in
    their order and followed by the write of ``N_BATCHES`` for these rows,
    instead of the writes of :func:`host_writes`.
    """
    simulator = simulator or suite_simulator(prefer)
    require_simulator(simulator)
    eng = net.engine
    x = np.asarray(x_codes, dtype=np.int64)
    rows = x.shape[0]
    images = net.images
    padded = -(-rows // images) * images
    if padded != rows:
        x = np.concatenate([x, np.zeros((padded - rows, x.shape[1]), dtype=np.int64)])
    image = build_image(programs, net)
    last = image.programs[-1]
    # weights, biases and descriptors go through the host bus, so that the Verilog
    # depends on the configuration only and one simulator build serves every network
    batches = padded // images
    writes = np.array(host_writes(image, weights=True, n_batches=batches) if program is None
                      else [*program, (int(HostRegister.N_BATCHES), batches)], dtype=np.int64)
    verilog_files, toplevel = (), "top"
    if verilog is not None:                 # a file of other ports is refused before any work
        check_module(Accelerator(net), verilog)
        verilog_files, toplevel = (verilog,), "top" if verilog.top != "top" else "shell_top"
    expected = model_forward(programs, x, eng) if compare else np.zeros(
        (padded, last.p * eng.k), dtype=np.int64)
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
        entry = dict(name="run", batch=eng.batch, k=eng.k, p=last.p, max_p=eng.max_p,
                     layers=image.n_layers, compare=compare, outputs=str(outputs),
                     mac_bound_clocks=padded * sum(mac_bound_cycles(image.stages, eng)))
        t0 = time.monotonic()
        if progress:
            progress(f"simulating the accelerator on {simulator}: {image.n_layers} layers, "
                     f"{rows} rows (batch {images}) in one simulation")
        words_in = padded * -(-x.shape[1] // 2)
        words_out = padded * last.p * eng.half
        dut = Accelerator(net) if verilog is None else \
            PrebuiltDesign.replacing(Accelerator(net), verilog)
        shell = StreamShell(dut, addr_bits=shell_addr_bits(max(words_in, words_out), addr_bits))
        run = run_bench(shell, name=bench_name,
                        test_module="circnn.sim.benches.accelerator_bench",
                        simulator=simulator, progress=progress, target=target,
                        verilog_files=verilog_files, toplevel=toplevel,
                        config=dict(data=str(data), runs=[entry], idle=idle, stall=stall,
                                    burst=burst, seed=seed, stats=str(stats_path)))
        y = np.load(outputs)[:rows]
        stats = json.loads(stats_path.read_text())["run"]
    finally:
        if not keep_files:
            remove_run_files(work, build_root() / "sim" / slug(bench_name))
    bounds = mac_bound_cycles(image.stages, eng)
    last_batch = stats.pop("layer_cycles_last_batch")
    per_inference = [c / images for c in last_batch]
    stats.update(
        rows=rows, padded_rows=padded - rows, seconds=round(time.monotonic() - t0, 1),
        accelerator=net.to_dict(),
        # steady state: the period of the last batch (its input streamed in while the
        # batch before computed), per inference; and the whole run's busy clocks per row
        cycles_per_inference=stats["batch_cycles"] / images,
        cycles_per_inference_whole_run=stats.pop("cycles_per_inference"),
        layer_cycles_last_batch=last_batch,
        layer_cycles=per_inference,
        mac_bound_cycles=int(sum(bounds)), layer_mac_bound_cycles=bounds,
        # useful complex MACs over P x the layer's clocks (measured per inference)
        layer_pe_utilisation=[round(u / (eng.pes * c), 4) if c else 0.0
                              for u, c in zip(useful_mac_steps(image.stages, eng), per_inference)],
        layers_run=[stage_name(stage) for stage in image.stages],
        **run_figures(run))
    if progress:
        progress(f"simulation finished: {run.clocks} clocks in {run.sim_s:.1f} s on "
                 f"{simulator} ({stats['seconds']} s with elaboration and build)")
    return y, stats
