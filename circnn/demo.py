"""``circnn demo``: the end-to-end run a new user starts with.

Until the accelerator is complete this is a smoke run of what exists: the
float golden model on a random block-circulant bundle (checked against the
dense product), and an ECP5 build of the FFT engine (or the foundation's
bench design when the FFT is not registered yet).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

__all__ = ["run_demo"]


def run_demo(args) -> int:
    from .cli import _progress
    from .designs import all_designs
    from .sim.bundle import Bundle, Layer, load_bundle, save_bundle
    from .sim.circulant import block_circulant_dense
    from .sim.network import predict

    say = _progress(args.quiet)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    k = 16
    layers = [Layer(rng.normal(size=(8, 4, k)) / 8, rng.normal(size=8 * k) / 10, "relu", in_features=64),
              Layer(rng.normal(size=(1, 8, k)) / 8, rng.normal(size=k) / 10, "none", out_features=10)]
    bundle_path = out / "random-bundle.npz"
    save_bundle(bundle_path, Bundle(layers))
    bundle = load_bundle(bundle_path)
    x = rng.random((32, 64))
    say("golden model: predict over a 2-layer random bundle")
    y = predict(bundle, x)
    # dense reference, independent of the FFT path
    h = np.maximum(np.pad(x, ((0, 0), (0, 0))) @ block_circulant_dense(layers[0].weight).T
                   + layers[0].bias, 0)
    ref = (h @ block_circulant_dense(layers[1].weight).T + layers[1].bias)[:, :10]
    err = float(np.linalg.norm(y - ref) / np.linalg.norm(ref))
    summary = {"golden_vs_dense_rel_error": err, "k": k}
    if not args.skip_synth:
        from circnn.synth.flow import synthesize
        design, params = ("fft", {"points": "16", "width": "16"}) if "fft" in all_designs() \
            else ("requantize", {})
        say(f"ECP5 build of {design} (first run compiles the yowasp tools, ~1 min)")
        r = synthesize(design, params, report=out / f"{design}.json", progress=say)
        summary.update({k2: r[k2] for k2 in ("design", "fmax_mhz", "lut4", "ff", "mult18", "dp16kd")})
    (out / "report.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\ncircnn demo (smoke run)")
    for key, value in summary.items():
        print(f"  {key:28s} {value}")
    print(f"report: {out / 'report.json'}")
    return 0 if err < 1e-9 else 1
