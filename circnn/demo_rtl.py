"""Run a compiled network on the RTL: the ``rtl`` backend of ``circnn demo``.

:func:`run_network_rtl` is the seam between the demo and the hardware.  Its
contract is what the demo relies on, whatever the body does:

* in:  the compiled layer programs (:func:`circnn.compiler.compile_network`),
  the :class:`~circnn.sim.layer_model.EngineConfig` they were compiled for,
  the first layer's input codes ``(N, q0*k)`` (integers, as
  :func:`circnn.compiler.quantize_inputs` makes them) and an optional
  ``progress`` callable that receives one-line status messages;
* out: the last layer's output codes ``(N, p_last*k)`` *as the RTL produced
  them* (the same shape and meaning as
  :func:`circnn.sim.network_model.network_forward`), and a ``stats`` dict
  with at least ``cycles_per_inference`` (clock cycles per input vector for
  the whole network), ``method``, ``rows`` and ``layers`` (one dict per
  layer).

The body today runs **layer after layer**: one cocotb + Icarus simulation of
the ``CirculantLayer`` engine per layer (:func:`circnn.sim.layer_rtl.
simulate_layer`), each streaming every row, with that layer's program as the
engine's initial memory and register contents; layer i's RTL output codes are
layer i+1's input codes.  The cycles of a layer are counted by the bench from
the first input word accepted to the last output word delivered, so the
per-vector figure is the streaming throughput with the pipeline fill spread
over the N rows; ``cycles_per_inference`` is their sum over the layers.  It
does not include reprogramming the engine between layers (weights, bias,
shape registers): that is the network controller's job, which is being
written.  When it exists, the body of :func:`run_network_rtl` becomes a
single whole-network simulation of it (same arguments, same outputs, with
``method`` changed and the layer-switch cost then measured, not left out);
nothing in the demo has to change.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["run_network_rtl", "METHOD"]

#: How the current body simulates the network (recorded in the report).
METHOD = "layer-by-layer"


def run_network_rtl(programs, eng, x_codes, progress=None, *, name: str = "demo",
                    keep_files: bool = True) -> tuple[np.ndarray, dict]:
    """RTL output codes of the whole network for input codes ``x_codes``; ``(y_codes, stats)``.

    ``name`` prefixes the simulation build directories (``build/sim/layer_<name>_l<i>``,
    or under ``$CIRCNN_BUILD``), so concurrent runs must use distinct names.
    Outputs are recorded, not checked: the caller compares them with the
    bit-true model (the demo's ``rtl_golden_mismatches``).
    """
    from circnn.sim.layer_rtl import simulate_layer
    from circnn.sim.network_model import check_chain

    check_chain(programs, eng)
    say = progress or (lambda msg: None)
    x = np.asarray(x_codes, dtype=np.int64)
    if x.ndim != 2 or x.shape[1] != programs[0].q * eng.k:
        raise ValueError(f"expected input codes of shape (N, {programs[0].q * eng.k}), "
                         f"got {x.shape}")
    layers = []
    t0 = time.monotonic()
    for i, prog in enumerate(programs):
        tag = f"layer {i + 1}/{len(programs)}"
        say(f"{tag}: {x.shape[0]} rows, p={prog.p}, q={prog.q}")
        y, st = simulate_layer(eng, prog, x, name=f"{name}_l{i}", compare=False,
                               progress=lambda msg, tag=tag: say(f"{tag}: {msg}"),
                               keep_files=keep_files)
        layers.append({
            "layer": i, "p": prog.p, "q": prog.q, "rows": int(st["rows"]),
            "cycles": int(st["cycles"]), "cycles_per_row": float(st["cycles_per_row"]),
            "ideal_cycles_per_row": int(st["ideal_cycles_per_row"]),
            "pe_utilisation": float(st["pe_utilisation"]),
            "acc_saturations": int(st["acc_saturations"]),
            "out_saturations": int(st["out_saturations"]),
            "wall_time_s": round(float(st["wall_time_s"]), 1),
            "outputs": y,
        })
        x = np.asarray(y, dtype=np.int64)
    stats = {
        "method": METHOD,
        "rows": int(x.shape[0]),
        "cycles_per_inference": float(sum(l["cycles_per_row"] for l in layers)),
        "ideal_cycles_per_inference": int(sum(l["ideal_cycles_per_row"] for l in layers)),
        "layer_switch_cycles": None,   # not modelled layer by layer (see the module doc)
        "wall_time_s": round(time.monotonic() - t0, 1),
        "layers": layers,
    }
    return x, stats
