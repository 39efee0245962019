"""Run a compiled network on the RTL: the ``rtl`` backend of ``circnn demo``.

:func:`run_network_rtl` is the seam between the demo and the hardware.  Its
contract is what the demo relies on, whatever the body does:

* in:  the compiled layer programs (:func:`circnn.compiler.compile_network`),
  the :class:`~circnn.sim.model.layer.EngineConfig` they were compiled for,
  the first layer's input codes ``(N, q0*k)`` (integers, as
  :func:`circnn.compiler.quantize_inputs` makes them) and an optional
  ``progress`` callable that receives one-line status messages;
* out: the last layer's output codes ``(N, p_last*k)`` *as the RTL produced
  them* (the same shape and meaning as
  :func:`circnn.sim.model.network.network_forward`), and a ``stats`` dict
  with at least ``method``, ``rows``, ``cycles_per_inference`` (clock cycles
  per input vector for the whole network), ``ideal_cycles_per_inference``
  and ``layers`` (one dict per layer).

The body runs the whole network through the ``accelerator`` design in one
cocotb simulation on Verilator or Icarus (:func:`circnn.sim.harness.accelerator.simulate_network`):
``network_config_for`` sizes the memories for every layer, the descriptors
and batch count are written through the host bus, every row streams in, and
``cycles_per_inference`` is the accelerator's own busy-clock counter over the
rows (layer switches, buffer moves and pipeline fill included); each layer's
clocks come from its LAYER_CYCLES counter (last batch, per row).
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["run_network_rtl", "METHOD"]

#: How the body simulates the network (recorded in the report).
METHOD = "accelerator (one whole-network simulation)"


def run_network_rtl(programs, eng, x_codes, progress=None,
                    simulator: str = "verilator") -> tuple[np.ndarray, dict]:
    """RTL output codes of the whole network for input codes ``x_codes``; ``(y_codes, stats)``.

    The simulation's files go to ``demo`` under ``build/`` (or
    ``$CIRCNN_BUILD``).  Outputs are recorded, not checked: the caller
    compares them with the bit-true model (the demo's ``rtl_golden_mismatches``).
    """
    from circnn.compiler import network_config_for
    from circnn.sim.harness.accelerator import simulate_network
    from circnn.sim.model.network import check_chain

    check_chain(programs, eng)
    x = np.asarray(x_codes, dtype=np.int64)
    if x.ndim != 2 or x.shape[1] != programs[0].q * eng.k:
        raise ValueError(f"expected input codes of shape (N, {programs[0].q * eng.k}), "
                         f"got {x.shape}")
    t0 = time.monotonic()
    net = network_config_for(programs, eng)
    y, st = simulate_network(net, programs, x, name="demo", progress=progress,
                             simulator=simulator)
    B, N, P = eng.batch, eng.half, eng.pes
    layers = []
    for i, prog in enumerate(programs):
        ideal = -(-prog.p // P) * prog.q * N
        layers.append({
            "layer": i, "p": prog.p, "q": prog.q, "rows": int(st["rows"]),
            "cycles_per_row": st["layer_cycles"][i] / B,   # last batch, per row
            "ideal_cycles_per_row": ideal,
        })
    stats = {
        "method": METHOD,
        "rows": int(st["rows"]),
        "cycles_per_inference": float(st["cycles_per_inference"]),
        "ideal_cycles_per_inference": int(sum(l["ideal_cycles_per_row"] for l in layers)),
        "accelerator_cycles": int(st["cycles"]),
        "wall_time_s": round(time.monotonic() - t0, 1),
        **{key: st[key] for key in ("simulator", "sim_clocks", "sim_wall_s", "build_wall_s",
                                    "build_cached")},
        "layers": layers,
    }
    return y, stats
