"""Run a compiled network on the RTL: the ``rtl`` backend of ``circnn demo``.

:func:`run_network_rtl` is the seam between the demo and the hardware.  Its
contract is what the demo relies on, whatever the body does:

* in:  the compiled network (the layer programs of
  :func:`circnn.compiler.compile_network`, or the steps of
  :func:`circnn.compiler.compile_cnn`), the
  :class:`~circnn.config.EngineConfig` they were compiled for, the first
  layer's input codes (integers: ``(N, q0*k)`` for an MLP, ``(N, H*W*C)`` for a
  CNN) and an optional ``progress`` callable that receives one-line status
  messages;
* out: the last layer's output codes ``(N, p_last*k)`` *as the RTL produced
  them* (the same shape and meaning as the bit-true model's), and a ``stats``
  dict with at least ``method``, ``rows``, ``cycles_per_inference`` (steady
  state, clock cycles per inference for the whole network),
  ``mac_bound_cycles`` (= ``ideal_cycles_per_inference``), ``layer_cycles`` and
  ``layer_mac_bound_cycles`` (per descriptor), ``layers_run`` and ``layers``
  (one dict per descriptor).

The body runs the whole network through the ``accelerator`` design in one
cocotb simulation on Verilator or Icarus (:func:`circnn.sim.harness.accelerator.simulate_network`):
``network_config_for`` sizes the accelerator for the network (memories,
descriptor table, activation buffers, patch walker), the descriptors and
batch count are written through the host bus, every row streams in, and the
figures come from the accelerator's own counters: BATCH_CYCLES (the last
batch's period) for ``cycles_per_inference`` and each descriptor's
LAYER_CYCLES (last batch) for ``layer_cycles``.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["run_network_rtl", "METHOD"]

#: How the body simulates the network (recorded in the report).
METHOD = "accelerator (one whole-network simulation)"


def run_network_rtl(layers, eng, x_codes, progress=None, simulator: str = "verilator",
                    layer_batches: int = 1) -> tuple[np.ndarray, dict]:
    """RTL output codes of the whole network for input codes ``x_codes``; ``(y_codes, stats)``.

    The simulation's files go to ``demo`` under ``build/`` (or
    ``$CIRCNN_BUILD``).  Outputs are recorded, not checked: the caller
    compares them with the bit-true model (the demo's ``rtl_golden_mismatches``).
    """
    from circnn.compiler import network_config_for
    from circnn.sim.harness.accelerator import simulate_network

    x = np.asarray(x_codes, dtype=np.int64)
    if x.ndim != 2:
        raise ValueError(f"expected input codes of shape (N, values), got {x.shape}")
    t0 = time.monotonic()
    net = network_config_for(layers, eng, layer_batches)
    y, st = simulate_network(net, layers, x, name="demo", progress=progress,
                             simulator=simulator)
    descriptors = []
    for i, (run, cycles, bound) in enumerate(zip(st["layers_run"], st["layer_cycles"],
                                                 st["layer_mac_bound_cycles"])):
        descriptors.append({"descriptor": i, "runs": run, "rows": int(st["rows"]),
                            "cycles_per_row": cycles, "ideal_cycles_per_row": bound})
    stats = {
        "method": METHOD,
        "rows": int(st["rows"]),
        "cycles_per_inference": float(st["cycles_per_inference"]),
        "cycles_per_inference_whole_run": float(st["cycles_per_inference_whole_run"]),
        "ideal_cycles_per_inference": int(st["mac_bound_cycles"]),
        "accelerator_cycles": int(st["cycles"]),
        "wall_time_s": round(time.monotonic() - t0, 1),
        **{key: st[key] for key in ("accelerator", "mac_bound_cycles", "layer_cycles",
                                    "layer_mac_bound_cycles", "layer_pe_utilisation",
                                    "layers_run", "simulator",
                                    "sim_clocks", "sim_wall_s", "build_wall_s", "build_cached")},
        "layers": descriptors,
    }
    return y, stats
