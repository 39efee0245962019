"""The demo's report: the summary table, ``report.md`` and ``report.json``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .config import DEVICE, SPEED, WIDTH

__all__ = ["REQUIRED_KEYS", "summary_rows", "render_markdown", "write_report", "print_summary"]

#: Keys that report.json always holds (values may be null when a step is skipped).
REQUIRED_KEYS = (
    "accuracy_dense_float", "accuracy_float", "accuracy_golden", "accuracy_rtl",
    "rtl_golden_mismatches", "compression_ratio", "weight_bits", "cycles_per_inference",
    "fmax_mhz", "inferences_per_second", "lut4", "ff", "mult18", "dp16kd",
    "network", "mac_bound_cycles", "layer_cycles",
)


def _fmt(value, spec: str = "", unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and not math.isfinite(value):
        return "n/a"
    return f"{value:{spec}}{unit}"


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.2f} %"


def summary_rows(r: dict) -> list[tuple[str, str]]:
    """The summary table (printed, and the head of report.md)."""
    synth = r.get("synthesis") or {}
    design = synth.get("design", "skipped")
    if r["rtl_rows"] == 0:
        rtl_label, words, cycles, sim = "accuracy, RTL (skipped)", "n/a", "n/a", "skipped"
    else:
        rtl_label = f"accuracy, RTL ({r.get('simulator') or 'icarus'})" + (
            "" if r["rtl_rows"] == r["n_test"] else f", first {r['rtl_rows']} rows")
        words = f"{r['rtl_golden_mismatches']} of {r['rtl_output_words']}"
        cycles = (f"{r['cycles_per_inference']:.1f} (MAC bound {r['mac_bound_cycles']}, "
                  f"{r['rtl_method']})")
        rtl = r["rtl"]
        build = "build cached" if rtl["build_cached"] else f"build {rtl['build_wall_s']:.1f} s"
        sim = (f"{rtl['simulator']}: {rtl['sim_clocks']:,} clocks in {rtl['sim_wall_s']:.1f} s "
               f"({build})")
    return [
        ("data set", f"{r['dataset']}: {r['n_train']} train / {r['n_test']} test rows"),
        ("network", f"{r['network']}, block size k = {r['k']}"),
        ("accuracy, dense baseline (float)", _pct(r["accuracy_dense_float"])),
        ("accuracy, block-circulant (float)", _pct(r["accuracy_float"])),
        ("accuracy, 16-bit golden model", _pct(r["accuracy_golden"])),
        (rtl_label, _pct(r["accuracy_rtl"])),
        ("RTL vs golden: differing output words", words),
        ("weights: dense / block-circulant",
         f"{r['weights_dense']} / {r['weights_circulant']} values"),
        ("compression ratio (weight matrices)", f"{r['compression_ratio']:.2f}x "
         f"({r['compression_ratio_vs_dense_baseline']:.2f}x vs the dense baseline's weights)"),
        ("weight storage, engine / dense", f"{r['weight_bits']} / {r['weight_bits_dense']} bits"),
        ("cycles per inference (RTL)", cycles),
        ("RTL simulation", sim),
        (f"Fmax post-route ({design}, {DEVICE}-{SPEED})", _fmt(r["fmax_mhz"], ".1f", " MHz")),
        ("inferences per second", _fmt(r["inferences_per_second"], ",.0f")),
        ("LUT4 / FF / MULT18X18D / DP16KD",
         " / ".join(_fmt(r[key]) for key in ("lut4", "ff", "mult18", "dp16kd"))),
        ("wall time", f"{r['timings_s']['total']:.1f} s"),
    ]


def _table(rows) -> str:
    w = max(len(a) for a, _ in rows)
    v = max(len(b) for _, b in rows)
    lines = [f"| {'metric':{w}} | {'value':{v}} |", f"| {'-' * w} | {'-' * v} |"]
    lines += [f"| {a:{w}} | {b:{v}} |" for a, b in rows]
    return "\n".join(lines)


def render_markdown(r: dict) -> str:
    out = ["# circnn demo report", "",
           f"Block-circulant network on {r['dataset_description']}; engine k = {r['k']}, "
           f"{WIDTH}-bit datapath, P = {r['engine']['pes']} PEs, batch B = {r['engine']['batch']}, "
           f"max_q = {r['engine']['max_q']}, max_p = {r['engine']['max_p']}.", "",
           "## Summary", "", _table(summary_rows(r)), ""]
    out += ["## Targets", "", "| target | value | met |", "| --- | --- | --- |"]
    out += [f"| {t['target']} | {t['value']} | {'yes' if t['met'] else ('n/a' if t['met'] is None else '**no**')} |"
            for t in r["targets"]]
    out += ["", "## Layers (compiled formats, golden-vs-float error on the calibration rows, RTL cycles)", "",
            "| layer | p x q blocks | input | weights | acc shift | bias | output | out shift "
            "| rel. RMS error | saturations (acc/out) | RTL cycles per inference (MAC bound) |",
            "| --- | --- | --- | --- | ---: | --- | --- | ---: | ---: | --- | --- |"]
    for l in r["layers"]:
        rt = l.get("rtl") or {}
        out.append(
            f"| {l['layer']} | {l['p']} x {l['q']} | {l['input_format']} | {l['weight_format']} "
            f"| {l['accumulator_shift']} | {l['bias_format']} | {l['output_format']} "
            f"| {l['output_shift']} | {100 * l.get('relative_rms_error', float('nan')):.3f} % "
            f"| {l.get('acc_saturations', 'n/a')}/{l.get('out_saturations', 'n/a')} "
            f"| {_fmt(rt.get('cycles_per_row'), '.1f')} ({_fmt(rt.get('ideal_cycles_per_row'))}) |")
    out += ["", "## Accuracy against block size", "",
            "| k | weights | compression | float | golden (16-bit) |", "| ---: | ---: | ---: | ---: | ---: |"]
    out += [f"| {s['k']} | {s['weights']} | {s['compression_ratio']:.2f}x | {_pct(s['accuracy_float'])} "
            f"| {_pct(s['accuracy_golden'])} |" for s in r["sweep"]]
    out += ["", f"![accuracy against block size]({r['files']['accuracy_plot']})", ""]
    if r["files"]["confusion_plot"]:
        out += [f"![RTL confusion matrix]({r['files']['confusion_plot']})", ""]
    if r["files"].get("layer_cycles_plot"):
        out += [f"![cycles per layer against the MAC bound]({r['files']['layer_cycles_plot']})",
                ""]
    synth = r.get("synthesis")
    out += ["## ECP5 build", ""]
    if synth is None:
        out += ["Skipped (`--skip-synth`).", ""]
    elif synth.get("error"):
        out += [f"Failed: `{synth['error']}`", ""]
    else:
        params = ", ".join(f"{k}={v}" for k, v in synth["params"].items())
        out += [f"Design `{synth['design']}` ({params}) on {synth['device']}-{synth['speed']} "
                f"{synth['package']}, target {synth['freq_target_mhz']} MHz: Fmax "
                f"{_fmt(synth['fmax_mhz'], '.1f')} MHz (timing {'met' if synth['timing_met'] else 'not met'}), "
                f"LUT4 {synth['lut4']}, FF {synth['ff']}, MULT18X18D {synth['mult18']}, "
                f"DP16KD {synth['dp16kd']}.", ""]
        if synth.get("note"):
            out += [synth["note"], ""]
    out += ["## Notes", ""] + [f"- {n}" for n in r["notes"]] + [""]
    out += ["## Time per step", "", "| step | seconds |", "| --- | ---: |"]
    out += [f"| {k} | {v:.1f} |" for k, v in r["timings_s"].items()]
    return "\n".join(out) + "\n"


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_report(out: Path, report: dict) -> None:
    """``report.json`` and ``report.md`` in ``out``."""
    (out / "report.json").write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
    (out / "report.md").write_text(render_markdown(report))


def print_summary(out: Path, report: dict) -> None:
    """The summary table on stdout, the targets missed and where the files are."""
    print(f"\ncircnn demo: {report['dataset_description']}")
    print(_table(summary_rows(report)))
    for t in report["targets"]:
        if t["met"] is False:
            print(f"target missed: {t['target']} ({t['value']})")
    pictures = [report["files"][key] for key in ("accuracy_plot", "confusion_plot",
                                                 "layer_cycles_plot") if report["files"].get(key)]
    print(f"report: {out / 'report.md'}, {out / 'report.json'}; pictures: "
          + ", ".join(str(out / name) for name in pictures))
