"""``circnn perf-network``: whole inferences on the accelerator against the MAC bound.

Three networks, their weights random (the cycles do not depend on them), each
simulated on the whole accelerator (cocotb, Verilator or Icarus) in steady
state: ``BATCH_CYCLES`` over the network batch, the period of the last batch
of several back to back, every output word compared with the golden model.

* the digits MLP, 64-128-10, k = 8, P = 4, B = 4;
* a 64-256-128-10 MLP, k = 16, P = 4, B = 4;
* the digits CNN (8x8x1; conv 3x3x16, conv 3x3x32 + maxpool 2x2, dense 128,
  dense 10), k = 16, P = 4, B = 2.

Each runs with one batch per layer (``layer_batches`` = 1) and with the
larger network batch its goal is measured at.  Per layer: cycles per
inference, its MAC bound (output pixels x ceil(p/P) x q x k/2), the
overhead (cycles less the bound) and the PE utilisation (useful complex MACs,
output pixels x p x q x k/2, over P x cycles).  Goals: at least 85 % of the
MAC bound for the two MLPs, 80 % for the CNN.

Output: a Markdown table on stdout, ``network.md`` and ``network.json`` in
``--out`` (default ``build/perf-network``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["NETWORKS", "run_perf_network", "render_markdown"]

WIDTH = 16
PES = 4


@dataclass(frozen=True)
class NetworkCase:
    name: str
    k: int
    batch: int
    layer_batches: tuple[int, ...]
    goal: float                   # fraction of the MAC bound, at the last layer_batches
    sizes: tuple[int, ...] = ()   # an MLP's layer widths; () for the digits CNN
    batches: int = 3              # network batches simulated (the last one is measured)

    def bundle(self, seed: int):
        if not self.sizes:
            from circnn.cnn_training import CNN_SPEC, cnn_network, cnn_to_bundle
            return cnn_to_bundle(cnn_network((8, 8, 1), CNN_SPEC, self.k, seed=seed))
        from circnn.training import circulant_network, to_bundle
        return to_bundle(circulant_network(list(self.sizes), self.k, seed=seed))


NETWORKS = (
    NetworkCase("digits MLP 64-128-10", k=8, batch=4, layer_batches=(1, 8), goal=0.85,
                sizes=(64, 128, 10)),
    NetworkCase("MLP 64-256-128-10", k=16, batch=4, layer_batches=(1, 8), goal=0.85,
                sizes=(64, 256, 128, 10)),
    NetworkCase("digits CNN", k=16, batch=2, layer_batches=(1, 2), goal=0.80),
)


def _inputs(bundle, rows: int, seed: int) -> np.ndarray:
    """Rows of the network's input values (a map flattened channel-last) in [0, 1)."""
    first = bundle.layers[0]
    values = int(np.prod(first.in_shape)) if first.kind == "conv2d" else first.n_in
    return np.random.default_rng(seed).uniform(0, 1, (rows, values))


def measure(case: NetworkCase, layer_batches: int, *, seed: int, simulator: str, say) -> dict:
    """One network at one ``layer_batches``: steady-state cycles, per layer."""
    from circnn.config import EngineConfig
    from circnn.infer import infer_rtl
    bundle = case.bundle(seed)
    weighted = [l for l in bundle.layers if l.kind != "maxpool2d"]
    eng = EngineConfig(k=case.k, pes=PES, batch=case.batch, act_width=WIDTH, weight_width=WIDTH,
                       ifft_width=WIDTH, twiddle_width=WIDTH, max_q=max(l.q for l in weighted),
                       max_p=max(l.p for l in weighted))
    rows = case.batches * layer_batches * case.batch
    x = _inputs(bundle, rows, seed)
    t0 = time.monotonic()
    result = infer_rtl(bundle, eng, x, x, name=f"perf_network_{case.k}_{len(weighted)}",
                       simulator=simulator, keep_files=False, layer_batches=layer_batches,
                       progress=say)
    s = result.stats
    layers = []
    for run, cycles, bound, util in zip(s["layers_run"], s["layer_cycles"],
                                        s["layer_mac_bound_cycles"], s["layer_pe_utilisation"]):
        layers.append({"layer": run, "cycles_per_inference": cycles, "mac_bound_cycles": bound,
                       "overhead_cycles": round(cycles - bound, 2),
                       "pe_utilisation": util})
    cycles = s["cycles_per_inference"]
    return {"network": case.name, "k": case.k, "pes": PES, "batch": case.batch,
            "layer_batches": layer_batches, "images_per_batch": layer_batches * case.batch,
            "rows": rows, "cycles_per_inference": cycles,
            "mac_bound_cycles": s["mac_bound_cycles"],
            "fraction_of_mac_bound": round(s["mac_bound_cycles"] / cycles, 4),
            "goal": case.goal, "rtl_golden_mismatches": s["rtl_golden_mismatches"],
            "layers": layers, "simulator": simulator,
            "wall_s": round(time.monotonic() - t0, 1)}


def run_perf_network(*, out: Path, simulator: str = "verilator", seed: int = 0,
                     quick: bool = False, say=lambda msg: None) -> dict:
    """Every network at each of its ``layer_batches`` (``quick``: the largest only)."""
    out.mkdir(parents=True, exist_ok=True)
    points, failures = [], []
    for case in NETWORKS:
        for m in (case.layer_batches[-1:] if quick else case.layer_batches):
            say(f"{case.name}: layer_batches {m}")
            p = measure(case, m, seed=seed, simulator=simulator, say=say)
            points.append(p)
            # the goal is judged at the larger network batch only
            if m == case.layer_batches[-1] and p["fraction_of_mac_bound"] < case.goal:
                failures.append(f"{case.name}: {100 * p['fraction_of_mac_bound']:.1f}% of "
                                f"the MAC bound (goal {100 * case.goal:.0f}%)")
    failures += [f"{p['network']} (layer_batches {p['layer_batches']}): "
                 f"{p['rtl_golden_mismatches']} output words differ from golden"
                 for p in points if p["rtl_golden_mismatches"]]
    result = {"points": points, "failures": failures, "seed": seed}
    (out / "network.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "network.md").write_text(render_markdown(result))
    return result


def render_markdown(result: dict) -> str:
    lines = ["# Whole inferences against the MAC bound (steady state, per inference)", "",
             "| network | B | layer_batches | cycles | MAC bound | % of bound | goal |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for p in result["points"]:
        lines.append(f"| {p['network']} (k={p['k']}, P={p['pes']}) | {p['batch']} | "
                     f"{p['layer_batches']} | {p['cycles_per_inference']:.1f} | "
                     f"{p['mac_bound_cycles']} | {100 * p['fraction_of_mac_bound']:.1f}% | "
                     f"{100 * p['goal']:.0f}% |")
    lines += ["", "Per layer (cycles per inference; overhead = cycles - MAC bound; PE "
                  "utilisation = useful complex MACs / (P x cycles)):", "",
              "| network | layer_batches | layer | cycles | MAC bound | overhead | PE util. |",
              "| --- | ---: | --- | ---: | ---: | ---: | ---: |"]
    for p in result["points"]:
        for layer in p["layers"]:
            lines.append(f"| {p['network']} | {p['layer_batches']} | {layer['layer']} | "
                         f"{layer['cycles_per_inference']:.1f} | {layer['mac_bound_cycles']} | "
                         f"{layer['overhead_cycles']:.1f} | "
                         f"{100 * layer['pe_utilisation']:.1f}% |")
    lines.append("")
    lines += [f"FAILED: {f}" for f in result["failures"]] or ["every goal met"]
    return "\n".join(lines) + "\n"
