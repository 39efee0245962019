"""``circnn perf-sim``: how fast the RTL simulates, on Verilator and on Icarus Verilog.

What a user runs: ``circnn infer --backend rtl`` on the digits test split
(450 rows) with a 64-256-128-10 network at k = 16 (three block-circulant
layers, trained here for a few epochs), the whole network on the
accelerator in one simulation, every output word compared with the golden
model.  Each simulator runs it twice, as separate commands:

* **cold**: an empty build cache and an empty ccache (what a first run on
  a fresh machine pays: the C++ build of the accelerator on Verilator);
* **cached**: the same command again (the build reused).

Per run: the command's wall time, the build's and the simulation's own wall
times and simulated clocks (from ``--report``), clocks per second of
simulation, RTL accuracy and mismatches.  The ratio of Verilator's to
Icarus's clocks per second is the speed-up.

Output: a Markdown table on stdout, ``sim.md`` and ``sim.json`` in
``--out`` (default ``build/perf-sim``); the runs' files under it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["run_perf_sim", "render_markdown", "SIZES", "K", "TEST_ROWS"]

SIZES = (64, 256, 128, 10)
K = 16
#: the digits test split (the default 25 % of 1797 images)
TEST_ROWS = 450
#: --quick: rows of the test split simulated
QUICK_ROWS = 45
EPOCHS = 30
#: the issue's targets for the 450-row run on Verilator (seconds of wall time)
TARGET_CACHED_S, TARGET_COLD_S = 30.0, 90.0


def _train(out: Path, say) -> tuple[Path, np.ndarray, np.ndarray]:
    from circnn.bundle import save_bundle
    from circnn.datasets import load_digits_split
    from circnn.training import accuracy, circulant_network, to_bundle, train

    x_train, y_train, x_test, y_test = load_digits_split(seed=0)
    say(f"training {'-'.join(map(str, SIZES))} at k = {K} on the digits ({EPOCHS} epochs)")
    net = circulant_network(SIZES, K, seed=0)
    train(net, x_train, y_train, epochs=EPOCHS, seed=0)
    say(f"float accuracy on the test split: {accuracy(net, x_test, y_test):.4f}")
    model = out / "model.npz"
    save_bundle(model, to_bundle(net))
    return model, x_test, y_test


def _infer(model: Path, inputs: Path, outputs: Path, report: Path, simulator: str,
           env: dict) -> float:
    """``circnn infer --backend rtl`` as a separate command; its wall time."""
    cmd = [sys.executable, "-m", "circnn.cli", "infer", "--model", str(model), "--inputs",
           str(inputs), "--backend", "rtl", "--simulator", simulator, "--out", str(outputs),
           "--report", str(report), "--quiet"]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        from circnn.errors import CircnnError
        last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise CircnnError(f"perf-sim: circnn infer on {simulator} failed (exit "
                          f"{proc.returncode}): {last}")
    return wall


def run_perf_sim(*, out: Path, quick: bool = False, rows: int | None = None,
                 simulators=("verilator", "icarus"), say=print) -> dict:
    """Measure and write ``sim.json`` / ``sim.md``; the result as a dict."""
    rows = rows or (QUICK_ROWS if quick else TEST_ROWS)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for simulator in simulators:             # this command's own folders of an earlier run
        for name in ("cache", "ccache", "build"):
            shutil.rmtree(out / f"{name}-{simulator}", ignore_errors=True)
    model, x_test, y_test = _train(out, say)
    inputs = out / "x_test.npy"
    np.save(inputs, x_test[:rows])
    labels = y_test[:rows]

    runs = []
    for simulator in simulators:
        caches = {"CIRCNN_SIM_CACHE": str(out / f"cache-{simulator}"),
                  "CCACHE_DIR": str(out / f"ccache-{simulator}"),
                  "CIRCNN_BUILD": str(out / f"build-{simulator}")}
        for phase in ("cold", "cached"):
            say(f"{simulator}, {phase}: circnn infer --backend rtl on {rows} rows")
            outputs = out / f"y_{simulator}_{phase}.npy"
            report_path = out / f"report_{simulator}_{phase}.json"
            wall = _infer(model, inputs, outputs, report_path, simulator, caches)
            report = json.loads(report_path.read_text())
            y = np.load(outputs)
            run = dict(simulator=simulator, phase=phase, rows=rows, wall_s=round(wall, 2),
                       build_wall_s=report["build_wall_s"], sim_wall_s=report["sim_wall_s"],
                       sim_clocks=report["sim_clocks"],
                       clocks_per_s=round(report["sim_clocks"] / max(report["sim_wall_s"], 1e-9)),
                       build_cached=report["build_wall_s"] == 0,
                       golden_mismatches=report["rtl"]["golden_mismatches"],
                       cycles_per_inference=report["rtl"]["cycles_per_inference"],
                       accuracy=round(float(np.mean(np.argmax(y, axis=1) == labels)), 4))
            say(f"  {wall:.1f} s: build {run['build_wall_s']} s, simulation "
                f"{run['sim_wall_s']} s, {run['sim_clocks']} clocks")
            runs.append(run)

    def best(simulator):
        return max((r["clocks_per_s"] for r in runs if r["simulator"] == simulator), default=None)

    speedup = (round(best("verilator") / best("icarus"), 1)
               if best("verilator") and best("icarus") else None)
    result = {"network": "-".join(map(str, SIZES)), "k": K, "rows": rows, "quick": quick,
              "runs": runs, "verilator_over_icarus_clocks_per_s": speedup,
              "targets": {"cached_wall_s": TARGET_CACHED_S, "cold_wall_s": TARGET_COLD_S,
                          "apply_to_rows": TEST_ROWS}}
    (out / "sim.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "sim.md").write_text(render_markdown(result))
    return result


def render_markdown(result: dict) -> str:
    lines = [f"# RTL simulation speed: circnn infer --backend rtl, {result['network']} at "
             f"k = {result['k']}, {result['rows']} rows", "",
             "| simulator | run | wall (s) | build (s) | simulation (s) | clocks | clocks/s "
             "| cycles/inference | accuracy | mismatches |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["runs"]:
        lines.append(f"| {r['simulator']} | {r['phase']} | {r['wall_s']:.1f} | "
                     f"{r['build_wall_s']:.1f} | {r['sim_wall_s']:.1f} | {r['sim_clocks']:,} | "
                     f"{r['clocks_per_s']:,} | {r['cycles_per_inference']:.1f} | "
                     f"{r['accuracy']:.4f} | {r['golden_mismatches']} |")
    lines.append("")
    if result["verilator_over_icarus_clocks_per_s"]:
        lines.append(f"Verilator simulates {result['verilator_over_icarus_clocks_per_s']}x as "
                     f"many clocks per second as Icarus.")
    if result["rows"] == TEST_ROWS:
        for r in result["runs"]:
            if r["simulator"] == "verilator":
                target = TARGET_COLD_S if r["phase"] == "cold" else TARGET_CACHED_S
                verdict = "met" if r["wall_s"] < target else "NOT met"
                lines.append(f"Verilator {r['phase']}: {r['wall_s']:.1f} s against a target of "
                             f"{target:.0f} s: {verdict}.")
    return "\n".join(lines) + "\n"
