"""The outputs of ``circnn bench``: ``bench.json``, ``bench.md`` and the plots."""

from __future__ import annotations

import json
from pathlib import Path

from .sweep_plots import plot
from .sweep_points import FORMULA_TOLERANCE, TARGET_K, TARGET_SIZE

__all__ = ["render_markdown", "write_outputs"]


def _f(v, fmt="{:.0f}"):
    return "-" if v is None else fmt.format(v)


def render_markdown(result: dict) -> str:
    L = ["# circnn bench: block-circulant engine against the dense baseline", "",
         f"{result['device']}, yosys synth_ecp5 + nextpnr-ecp5 --out-of-context, target "
         f"{result['freq_target_mhz']} MHz; {result['width']}-bit activations and weights, B = 1.", "",
         "cycles: steady-state clocks per input vector; *rtl* = simulated (cocotb on "
         f"{result.get('simulator', 'icarus')}, every "
         "output word checked against the bit-true model), *formula* = "
         f"{result['formulas']['circulant_cycles']} (circulant) or "
         f"{result['formulas']['dense_cycles']} (dense), used once checked within "
         f"{100 * FORMULA_TOLERANCE:.0f}% of simulation on the same engine.  GOPS are "
         "dense-equivalent (2mn per vector).", "",
         "| engine | m x n | k | P / M | MULT18 | LUT4 | FF | DP16KD | Fmax MHz | cycles | source "
         "| weight bits | GOPS | GOPS/MULT18 | GOPS/kLUT4 | note |",
         "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: "
         "| ---: | ---: | --- |"]
    for p in result["points"]:
        note = ""
        if p.get("fits") is False:
            note = f"does not fit: {p['does_not_fit']} ({p['fit_source']})"
        elif p.get("synth_error"):
            note = (p["synth_error"] if "skipped" in p["synth_error"]
                    else f"synthesis failed: {p['synth_error'][:80]}")
        if p["cycles_source"] == "rtl":
            note = (note + "; " if note else "") + f"formula {100 * p['formula_rel_diff']:+.2f}%"
        elif not p.get("formula_checked"):
            note = (note + "; " if note else "") + "formula not checked in simulation"
        if p.get("sim_error"):
            note += f"; simulation failed: {p['sim_error'][:60]}"
        k = p["k"] if p["engine"] == "circulant" else "-"
        L.append(f"| {p['engine']} | {p['m']}x{p['n']} | {k} | {p['pes']} | {_f(p['mult18'])} "
                 f"| {_f(p['lut4'])} | {_f(p['ff'])} | {_f(p['dp16kd'])} | {_f(p['fmax_mhz'], '{:.1f}')} "
                 f"| {_f(p['cycles'], '{:.1f}')} | {p['cycles_source']} | {p['weight_bits']} "
                 f"| {_f(p['gops'], '{:.2f}')} | {_f(p['gops_per_mult18'], '{:.3f}')} "
                 f"| {_f(p['gops_per_klut4'], '{:.3f}')} | {note} |")
    L += ["", "## Circulant / dense, same MULT18 budget (dense M = the circulant point's MULT18)", "",
          "| circulant point | MULT18 | GOPS/MULT18 | GOPS/kLUT4 | weight bits | cycles | dense basis |",
          "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for c in result["comparisons"]:
        L.append(f"| {c['circulant']} | {c['mult18']} | {_f(c['gops_per_mult18_ratio'], '{:.2f}x')} "
                 f"| {_f(c['gops_per_klut4_ratio'], '{:.2f}x')} | {c['weight_bits_ratio']:.2f}x "
                 f"| {c['cycles_ratio']:.2f}x | {c['dense_basis'] or '-'} |")
    if result["targets"]:
        L += ["", f"## Targets (k = {TARGET_K}, {TARGET_SIZE}x{TARGET_SIZE})", ""]
        for t in result["targets"]:
            g = t["gops_per_mult18_ratio"]
            L.append(f"- {t['circulant']} ({t['mult18']} MULT18): GOPS/MULT18 "
                     f"{_f(g, '{:.2f}')}x vs target {t['gops_target']:.0f}x -> "
                     f"{'met' if t['gops_met'] else 'NOT met' if t['gops_met'] is False else 'not measured'}; "
                     f"weight storage {t['weight_bits_ratio']:.1f}x smaller vs target "
                     f"{t['storage_target']:.0f}x -> {'met' if t['storage_met'] else 'NOT met'}")
    L.append("")
    return "\n".join(L)


def write_outputs(out: Path, result: dict, say=print) -> None:
    (out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    md = render_markdown(result)
    (out / "bench.md").write_text(md)
    say(md)
    try:
        plot(out, result)
    except Exception as exc:  # plots are a convenience; the JSON and table are the result
        say(f"plots not written: {exc}")
