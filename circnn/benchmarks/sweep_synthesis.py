"""Synthesis of one ``circnn bench`` point, cached by design parameters and sources.

A point whose weight banks alone overflow the device's block RAMs is not
synthesised.  Otherwise ``circnn synth`` runs in a child process
(:func:`circnn.synth.synth_job.synth_in_child`) and its figures, or nextpnr's overflow,
are written to ``<point>.bench.json`` beside the build with the key they
were made under (design, parameters, target clock, :func:`sources_digest`);
a later sweep with the same key reuses them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from circnn.synth import synth_job

from .sweep_points import DEVICE, BenchPoint, estimate_weight_dp16kd

__all__ = ["synth_point", "sources_digest"]


def sources_digest() -> str:
    """A digest of every ``*.py`` file a synthesis result depends on: the RTL, the
    configuration and the flow (``rtl/``, ``circnn/`` and ``synth/``, subfolders too)."""
    root = Path(__file__).resolve().parents[2]
    h = hashlib.sha256()
    for folder in ("rtl", "circnn", "synth"):
        for f in sorted((root / folder).rglob("*.py")):
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def synth_point(pt: BenchPoint, out: Path, *, freq: float, timeout: float, fresh: bool, say,
                source_hash: str) -> dict:
    """Resources and Fmax of one point, or why it has none (``fits`` false / ``error``)."""
    pre = synth_job.overflow_of({"dp16kd": estimate_weight_dp16kd(pt),
                                 "mult18": pt.pes if pt.engine == "dense" else 0}, DEVICE)
    if pre:
        say(f"{pt.name}: does not fit ({synth_job.overflow_text(pre)}, estimated), not synthesised")
        return {"fits": False, "fit_source": "estimate (weight banks alone)", "overflow": pre}
    cache = out / f"{pt.name}.bench.json"
    key = {"design": pt.design, "params": pt.synth_params(), "freq": freq, "source": source_hash}
    if cache.exists() and not fresh:
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            say(f"{pt.name}: synthesis reused ({cache})")
            return cached["result"]
    say(f"{pt.name}: synthesis ({pt.design}, {pt.synth_params()}) @ {freq} MHz")
    r = synth_job.synth_in_child(pt.design, pt.synth_params(), out / f"{pt.name}.json", freq=freq,
                                 timeout=timeout, say=say, label=pt.name, device=DEVICE)
    if r["ok"]:
        over = synth_job.overflow_of(r, DEVICE)
        res = {"fits": not over, "fit_source": "nextpnr", **{k: r[k] for k in
               ("fmax_mhz", "timing_met", "lut4", "ff", "mult18", "dp16kd", "wall_s")}}
        if over:
            res["overflow"] = over
        say(f"{pt.name}: Fmax {r['fmax_mhz']} MHz, LUT4 {r['lut4']}, FF {r['ff']}, "
            f"MULT18 {r['mult18']}, DP16KD {r['dp16kd']} ({r['wall_s']:.0f} s)")
    elif r.get("overflow"):
        res = {"fits": False, "fit_source": "nextpnr", "overflow": r["overflow"], "wall_s": r["wall_s"]}
        say(f"{pt.name}: does not fit ({synth_job.overflow_text(r['overflow'])})")
    else:
        res = {"fits": None, "error": r["error"], "wall_s": r["wall_s"]}
        say(f"{pt.name}: synthesis FAILED: {r['error']}")
    if "error" not in res:
        cache.write_text(json.dumps({"key": key, "result": res}, indent=2) + "\n")
    return res
