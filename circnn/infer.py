"""``circnn infer``: run a model bundle on input rows with one of three backends.

- ``float``: the double-precision forward pass (:func:`circnn.sim.model.float_network.predict`),
  any number of layers;
- ``golden``: the compiler chooses the fixed-point formats, and the bit-true
  layer model computes what the engine computes (one-layer bundles);
- ``rtl``: the same compiled layer on ``CirculantLayer`` under cocotb on
  Icarus Verilog, every input row in one simulation (one-layer bundles);
- ``golden-dense`` / ``rtl-dense``: the dense baseline engine on the same
  function: the layer's block-circulant matrix expanded to its dense (m, n)
  matrix (:func:`circnn.sim.model.circulant.block_circulant_dense`, cropped to the
  real widths), compiled for ``DenseLayer`` with ``--mults`` multipliers and
  run on its bit-true model or its RTL (one-layer bundles).

Everything the user gives (bundle, inputs, calibration rows, engine options,
output paths) is checked before any work starts; a problem raises
:class:`CircnnError` naming the file, key or value.  ``--out`` (and
``--report``) are written atomically: a temporary file renamed into place.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from pathlib import Path

import numpy as np

from .errors import CircnnError, ParameterError

__all__ = ["BACKENDS", "DENSE_BACKENDS", "load_rows", "check_rows", "engine_for",
           "dense_engine_for", "dense_matrix", "infer_float", "infer_golden", "infer_rtl",
           "infer_golden_dense", "infer_rtl_dense", "error_vs_float", "run_infer"]

DENSE_BACKENDS = ("golden-dense", "rtl-dense")
BACKENDS = ("float", "golden", "rtl", *DENSE_BACKENDS)


# --- input files ---------------------------------------------------------------

def load_rows(path, label: str = "inputs") -> np.ndarray:
    """Read a .npy file of float rows: (N, n) or one row (n,). Refuses anything else."""
    path = Path(path)
    what = f"{label} file {str(path)!r}"
    if path.suffix.lower() != ".npy":
        raise CircnnError(f"{what}: expected a NumPy .npy file (got suffix {path.suffix or 'none'!r})")
    if not path.exists():
        raise CircnnError(f"{what}: not found")
    if not path.is_file():
        raise CircnnError(f"{what}: not a regular file")
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic[:2] == b"PK":
        raise CircnnError(f"{what}: holds an .npz archive, expected a single .npy array")
    if magic != b"\x93NUMPY":
        raise CircnnError(f"{what}: not a NumPy .npy file (no .npy header)")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise CircnnError(f"{what}: not a readable .npy array ({str(exc).splitlines()[0]})") from None
    if arr.dtype.kind not in "fiub":
        raise CircnnError(f"{what}: expected real numbers, got dtype {arr.dtype}")
    if arr.ndim not in (1, 2):
        raise CircnnError(f"{what}: expected shape (rows, features) or (features,), got {arr.shape}")
    return arr.astype(np.float64)


def check_rows(x: np.ndarray, n_in: int, label: str, who: str) -> np.ndarray:
    """Width and finiteness of float rows; returns them as (N, n_in)."""
    rows = np.atleast_2d(x)
    if rows.shape[1] != n_in:
        raise CircnnError(f"{label}: rows have {rows.shape[1]} values, {who} takes {n_in} "
                          f"(shape {x.shape})")
    if rows.shape[0] == 0:
        raise CircnnError(f"{label}: no rows (shape {x.shape})")
    bad = np.argwhere(~np.isfinite(rows))
    if len(bad):
        r, c = (int(i) for i in bad[0])
        more = f" ({len(bad)} non-finite values in all)" if len(bad) > 1 else ""
        raise CircnnError(f"{label}: row {r}, column {c} is {rows[r, c]} "
                          f"(inputs must be finite){more}")
    return rows


# --- engine ----------------------------------------------------------------------

def engine_for(layer, *, k: int | None = None, pes: int = 4, batch: int = 1, act_width: int = 16,
               weight_width: int = 16, ifft_width: int = 16, twiddle_width: int = 16,
               rounding: str = "half_up", name: str = "layer 0"):
    """An engine sized for ``layer`` (max_q / max_p = its q / p); ``k`` must match its blocks."""
    from .config import EngineConfig
    if k is not None and k != layer.k:
        raise ParameterError(f"--k {k} does not match the block size of {name}: "
                             f"k={layer.k} (weight shape {layer.weight.shape})")
    try:
        return EngineConfig(k=layer.k, pes=pes, batch=batch, act_width=act_width,
                            weight_width=weight_width, ifft_width=ifft_width,
                            twiddle_width=twiddle_width, rounding=rounding,
                            max_q=layer.q, max_p=layer.p)
    except ParameterError as exc:
        raise ParameterError(f"engine option {exc}") from None


def dense_engine_for(layer, *, k: int | None = None, mults: int = 4, batch: int = 1,
                     act_width: int = 16, weight_width: int = 16, rounding: str = "half_up",
                     name: str = "layer 0"):
    """A dense baseline engine sized for ``layer`` (max_in / max_out = its real widths)."""
    from .config import DenseConfig
    if k is not None and k != layer.k:
        raise ParameterError(f"--k {k} does not match the block size of {name}: "
                             f"k={layer.k} (weight shape {layer.weight.shape})")
    try:
        return DenseConfig(act_width=act_width, weight_width=weight_width, rounding=rounding,
                           mults=mults, batch=batch, max_in=layer.n_in, max_out=layer.n_out,
                           k=layer.k)
    except ParameterError as exc:
        raise ParameterError(f"engine option {exc}") from None


def dense_matrix(layer):
    """The layer's function as a dense layer: (W (n_out, n_in), b (n_out,)).

    The block-circulant matrix expanded (block_circulant_dense), cropped to the
    real widths: padded inputs are zeros and padded outputs are dropped, so the
    dense layer computes exactly what the circulant layer does.
    """
    from .sim.model.circulant import block_circulant_dense
    w = block_circulant_dense(layer.weight)[:layer.n_out, :layer.n_in]
    return w, layer.bias[:layer.n_out]


# --- backends --------------------------------------------------------------------

def network_engine_for(bundle, *, k: int | None = None, pes: int = 4, batch: int = 1,
                       act_width: int = 16, weight_width: int = 16, ifft_width: int = 16,
                       twiddle_width: int = 16, rounding: str = "half_up"):
    """An engine whose max_q / max_p cover every layer of ``bundle``."""
    from dataclasses import replace
    eng = engine_for(bundle.layers[0], k=k, pes=pes, batch=batch, act_width=act_width,
                     weight_width=weight_width, ifft_width=ifft_width,
                     twiddle_width=twiddle_width, rounding=rounding)
    for i, layer in enumerate(bundle.layers[1:], start=1):
        if layer.k != eng.k:
            raise ParameterError(f"layer {i}: block size k={layer.k} differs from layer 0's "
                                 f"k={eng.k}; one engine runs one block size")
    return replace(eng, max_q=max(l.q for l in bundle.layers), max_p=max(l.p for l in bundle.layers))


def _compile_network(bundle, eng, calibration):
    from .compiler import compile_network, quantize_inputs
    programs = compile_network(bundle, eng, calibration=calibration)
    first = programs[0]

    def codes(x):
        x = np.atleast_2d(x)
        hi = ((1 << (eng.act_width - 1)) - 1) * 2.0 ** -first.in_frac
        lo = -(1 << (eng.act_width - 1)) * 2.0 ** -first.in_frac
        clipped = int(np.count_nonzero((x > hi) | (x < lo)))
        return quantize_inputs(x, first.in_frac, eng, first.q), clipped
    return programs, codes


def _network_report(programs) -> dict:
    return {f"layer {i}": prog.report for i, prog in enumerate(programs)}


def infer_golden_network(bundle, eng, x: np.ndarray, calibration: np.ndarray | None = None):
    """Bit-true model of a whole network, dequantised; returns (y, report, info)."""
    from .compiler import dequantize_outputs
    from .sim.model.network import network_forward
    programs, codes = _compile_network(bundle, eng, x if calibration is None else calibration)
    x_codes, clipped = codes(x)
    y_codes = network_forward(x_codes, programs, eng)
    info = {"input_saturations": clipped}
    return (dequantize_outputs(y_codes, programs[-1].out_frac, bundle.layers[-1].n_out),
            _network_report(programs), info)


def infer_rtl_network(bundle, eng, x: np.ndarray, calibration: np.ndarray | None = None, *,
                      name: str = "infer", idle: float = 0.0, stall: float = 0.0, seed: int = 0,
                      progress=None, keep_files: bool = True):
    """The whole network through the Accelerator RTL in one simulation; (y, report, stats)."""
    from .compiler import dequantize_outputs
    from .compiler import network_config_for
    from .sim.harness.accelerator import simulate_network
    programs, codes = _compile_network(bundle, eng, x if calibration is None else calibration)
    x_codes, clipped = codes(x)
    net = network_config_for(programs, eng)
    y_codes, stats = simulate_network(net, programs, x_codes, name=name, idle=idle, stall=stall,
                                      seed=seed, progress=progress, keep_files=keep_files)
    stats["input_saturations"] = clipped
    stats["ideal_cycles_per_inference"] = sum(-(-p.p // eng.pes) * p.q * eng.half for p in programs)
    return (dequantize_outputs(y_codes, programs[-1].out_frac, bundle.layers[-1].n_out),
            _network_report(programs), stats)


def infer_float(bundle, x: np.ndarray) -> np.ndarray:
    from .sim.model.float_network import predict
    return predict(bundle, np.atleast_2d(x))


def _compile(layer, eng, calibration):
    from .compiler import compile_layer, quantize_inputs
    prog = compile_layer(layer, eng, calibration=calibration, name="layer 0")

    def codes(x):
        x = np.atleast_2d(x)
        fmt_hi = ((1 << (eng.act_width - 1)) - 1) * 2.0 ** -prog.in_frac
        fmt_lo = -(1 << (eng.act_width - 1)) * 2.0 ** -prog.in_frac
        clipped = int(np.count_nonzero((x > fmt_hi) | (x < fmt_lo)))
        return quantize_inputs(x, prog.in_frac, eng, prog.q), clipped
    return prog, codes


def infer_golden(layer, eng, x: np.ndarray, calibration: np.ndarray | None = None):
    """Bit-true model outputs, dequantised and cropped to n_out; returns (y, program, info)."""
    from .compiler import dequantize_outputs
    from .sim.model.layer import layer_forward
    prog, codes = _compile(layer, eng, x if calibration is None else calibration)
    x_codes, clipped = codes(x)
    y_codes, trace = layer_forward(x_codes, prog, eng, trace=True)
    info = {"input_saturations": clipped, "acc_saturations": trace.acc_saturations,
            "out_saturations": trace.out_saturations}
    return dequantize_outputs(y_codes, prog.out_frac, layer.n_out), prog, info


def infer_rtl(layer, eng, x: np.ndarray, calibration: np.ndarray | None = None, *,
              name: str = "infer", idle: float = 0.0, stall: float = 0.0, seed: int = 0,
              progress=None, keep_files: bool = True):
    """RTL outputs (what CirculantLayer computes), dequantised and cropped; (y, program, stats)."""
    from .compiler import dequantize_outputs
    from .sim.harness.layer import simulate_layer
    prog, codes = _compile(layer, eng, x if calibration is None else calibration)
    x_codes, clipped = codes(x)
    y_codes, stats = simulate_layer(eng, prog, x_codes, name=name, idle=idle, stall=stall,
                                    seed=seed, compare=False, progress=progress,
                                    keep_files=keep_files)
    stats["input_saturations"] = clipped
    return dequantize_outputs(y_codes, prog.out_frac, layer.n_out), prog, stats


def _compile_dense(layer, cfg, calibration):
    from .compiler import compile_dense, quantize_dense_inputs
    w, b = dense_matrix(layer)
    prog = compile_dense(w, b, layer.activation, cfg, calibration=calibration,
                         name="layer 0 (dense)")

    def codes(x):
        x = np.atleast_2d(x)
        fmt_hi = ((1 << (cfg.act_width - 1)) - 1) * 2.0 ** -prog.in_frac
        fmt_lo = -(1 << (cfg.act_width - 1)) * 2.0 ** -prog.in_frac
        clipped = int(np.count_nonzero((x > fmt_hi) | (x < fmt_lo)))
        return quantize_dense_inputs(x, prog.in_frac, cfg, prog.n), clipped
    return prog, codes


def infer_golden_dense(layer, cfg, x: np.ndarray, calibration: np.ndarray | None = None):
    """Bit-true dense baseline outputs, dequantised; returns (y, program, info)."""
    from .sim.model.dense import dense_forward
    prog, codes = _compile_dense(layer, cfg, x if calibration is None else calibration)
    x_codes, clipped = codes(x)
    y_codes, trace = dense_forward(x_codes, prog, cfg, trace=True)
    info = {"input_saturations": clipped, "acc_saturations": 0,
            "out_saturations": trace["out_saturations"]}
    return y_codes * 2.0 ** -prog.out_frac, prog, info


def infer_rtl_dense(layer, cfg, x: np.ndarray, calibration: np.ndarray | None = None, *,
                    name: str = "infer_dense", idle: float = 0.0, stall: float = 0.0,
                    seed: int = 0, progress=None, keep_files: bool = True):
    """RTL outputs (what DenseLayer computes), dequantised; (y, program, stats)."""
    from .sim.harness.dense import simulate_dense
    prog, codes = _compile_dense(layer, cfg, x if calibration is None else calibration)
    x_codes, clipped = codes(x)
    y_codes, stats = simulate_dense(cfg, prog, x_codes, name=name, idle=idle, stall=stall,
                                    seed=seed, compare=False, progress=progress,
                                    keep_files=keep_files)
    stats["input_saturations"] = clipped
    return y_codes * 2.0 ** -prog.out_frac, prog, stats


def error_vs_float(y: np.ndarray, ref: np.ndarray) -> dict:
    err = y - ref
    rms = float(np.sqrt(np.mean(err ** 2)))
    scale = float(np.sqrt(np.mean(ref ** 2)))
    return {"rms_error": rms, "relative_rms_error": rms / scale if scale else rms,
            "max_abs_error": float(np.abs(err).max()), "float_rms": scale}


# --- files -----------------------------------------------------------------------

def _check_out_path(path: Path, flag: str) -> Path:
    if path.is_dir():
        raise CircnnError(f"{flag} {str(path)!r}: is a directory, expected a file name")
    folder = path.parent
    if not folder.is_dir():
        raise CircnnError(f"{flag} {str(path)!r}: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise CircnnError(f"{flag} {str(path)!r}: folder {str(folder)!r} is not writable")
    return path


def _atomic_write(path: Path, write) -> None:
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_npy_atomic(path, arr: np.ndarray) -> None:
    _atomic_write(Path(path), lambda f: np.save(f, arr, allow_pickle=False))


def save_json_atomic(path, obj) -> None:
    _atomic_write(Path(path), lambda f: f.write((json.dumps(obj, indent=2) + "\n").encode()))


# --- the command -----------------------------------------------------------------

def _fmt(v: float) -> str:
    return f"{v:.3g}"


def run_infer(args, progress=None) -> int:
    """``circnn infer`` with parsed ``args``; ``progress(msg)`` gets progress lines."""
    from .bundle import load_bundle

    say = progress or (lambda msg: None)
    quiet = getattr(args, "quiet", False)
    backend = args.backend
    if backend not in BACKENDS:
        raise ParameterError(f"--backend must be one of {', '.join(BACKENDS)}, not {backend!r}")

    # -- everything checked before any work ---------------------------------------
    out = _check_out_path(Path(args.out), "--out")
    report = _check_out_path(Path(args.report), "--report") if args.report else None
    if report is not None and report.resolve() == out.resolve():
        raise CircnnError(f"--report {str(report)!r}: same file as --out")
    bundle = load_bundle(args.model)
    inputs_label = f"inputs {str(args.inputs)!r}"
    x_raw = load_rows(args.inputs, "inputs")
    n_layers = len(bundle.layers)
    if backend in DENSE_BACKENDS and n_layers > 1:
        raise CircnnError(f"bundle {str(args.model)!r} has {n_layers} layers: the {backend} backend "
                          f"runs one-layer bundles only; float, golden and rtl run any depth")
    first = bundle.layers[0]
    who = "layer 0 (in_features)" if first.in_features is not None \
        else f"layer 0 (q*k = {first.q}*{first.k})"
    x = check_rows(x_raw, bundle.n_in, inputs_label, who)
    calibration = None
    eng = None
    if backend != "float":
        layer = bundle.layers[0]
        if args.calibration is not None:
            calibration = check_rows(load_rows(args.calibration, "calibration"), layer.n_in,
                                     f"calibration {str(args.calibration)!r}", who)
        if backend in DENSE_BACKENDS:
            eng = dense_engine_for(layer, k=args.k, mults=getattr(args, "mults", 4),
                                   batch=args.batch, act_width=args.act_width,
                                   weight_width=args.weight_width, rounding=args.rounding)
        elif n_layers > 1:
            eng = network_engine_for(bundle, k=args.k, pes=args.pes, batch=args.batch,
                                     act_width=args.act_width, weight_width=args.weight_width,
                                     ifft_width=args.ifft_width, twiddle_width=args.twiddle_width,
                                     rounding=args.rounding)
        else:
            eng = engine_for(layer, k=args.k, pes=args.pes, batch=args.batch,
                             act_width=args.act_width, weight_width=args.weight_width,
                             ifft_width=args.ifft_width, twiddle_width=args.twiddle_width,
                             rounding=args.rounding)
        for flag, v in (("--idle", args.idle), ("--stall", args.stall)):
            if not 0.0 <= v <= 0.95:
                raise ParameterError(f"{flag} must be a probability in 0..0.95, not {v}")

    # -- the work ----------------------------------------------------------------------
    t0 = time.monotonic()
    summary = {"backend": backend, "bundle": str(args.model), "inputs": str(args.inputs),
               "out": str(out), "rows": int(x.shape[0]), "layers": n_layers}
    if backend == "float":
        y = infer_float(bundle, x)
    else:
        from .sim.model.float_network import predict
        summary["engine"] = eng.to_dict()
        dense = backend in DENSE_BACKENDS
        if n_layers > 1 and backend == "golden":
            y, compiler_report, info = infer_golden_network(bundle, eng, x, calibration)
            summary["golden"] = info
        elif n_layers > 1:
            say(f"compiling {n_layers} layers for the accelerator and simulating {x.shape[0]} rows "
                f"through the whole network in one simulation")
            name = "infer_net_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(args.model).stem)[:40] \
                + f"_{os.getpid()}"
            y, compiler_report, stats = infer_rtl_network(
                bundle, eng, x, calibration, name=name, idle=args.idle, stall=args.stall,
                seed=args.seed, progress=say, keep_files=False)
            summary["rtl"] = stats
        elif backend in ("golden", "golden-dense"):
            run = infer_golden_dense if dense else infer_golden
            y, prog, info = run(layer, eng, x, calibration)
            summary["golden"] = info
        else:
            say(f"compiling layer 0 for the {'dense ' if dense else ''}engine and simulating "
                f"{x.shape[0]} rows")
            name = "infer_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(args.model).stem)[:40] \
                + f"_{os.getpid()}"
            run = infer_rtl_dense if dense else infer_rtl
            y, prog, stats = run(layer, eng, x, calibration, name=name, idle=args.idle,
                                 stall=args.stall, seed=args.seed, progress=say,
                                 keep_files=False)
            summary["rtl"] = stats
        summary["compiler"] = compiler_report if n_layers > 1 else prog.report
        summary["calibration"] = "inputs" if calibration is None else str(args.calibration)
        summary["error_vs_float"] = error_vs_float(y, predict(bundle, x))
    if x_raw.ndim == 1:
        y = y[0]
    summary["output_shape"] = list(y.shape)
    summary["elapsed_s"] = time.monotonic() - t0

    save_npy_atomic(out, y)
    if report is not None:
        save_json_atomic(report, summary)
    if not quiet:
        _print_summary(summary)
    return 0


def _print_network_summary(s: dict) -> None:
    e = s["engine"]
    print(f"engine: k={e['k']} P={e['pes']} B={e['batch']} max_q={e['max_q']} max_p={e['max_p']} "
          f"widths act {e['act_width']} weight {e['weight_width']} ifft {e['ifft_width']}")
    for name, rep in s["compiler"].items():
        print(f"{name}: {rep['p']}x{rep['q']} blocks, input {rep['input_format']}, weight "
              f"{rep['weight_format']}, acc shift {rep['accumulator_shift']}, output "
              f"{rep['output_format']} (shift {rep['output_shift']})")
    err = s["error_vs_float"]
    print(f"error vs float: rms {_fmt(err['rms_error'])} (relative {_fmt(err['relative_rms_error'])}), "
          f"max abs {_fmt(err['max_abs_error'])}")
    if s["backend"] == "rtl":
        r = s["rtl"]
        pad = f" (+{r['padded_rows'] - r['rows']} zero rows to fill the batch)" \
            if r["padded_rows"] != r["rows"] else ""
        print(f"rtl (accelerator, one simulation): {r['cycles']} busy clocks for {r['rows']} rows{pad}: "
              f"{r['cycles_per_inference']:.1f} cycles per inference (MAC-bound "
              f"{r['ideal_cycles_per_inference']}); per layer, last batch: "
              + ", ".join(f"layer {i} {c}" for i, c in enumerate(r["layer_cycles"])))


def _print_summary(s: dict) -> None:
    print(f"infer {s['backend']}: {s['rows']} rows -> {s['out']} shape {tuple(s['output_shape'])}")
    if s["backend"] == "float":
        return
    e, c = s["engine"], s["compiler"]
    if s["layers"] > 1:
        _print_network_summary(s)
        return
    dense = s["backend"] in DENSE_BACKENDS
    if dense:
        print(f"engine: dense {c['m']}x{c['n']} (block-circulant layer expanded), M={e['mults']} "
              f"B={e['batch']} widths act {e['act_width']} weight {e['weight_width']} "
              f"rounding {e['rounding']}")
    else:
        print(f"engine: k={e['k']} P={e['pes']} B={e['batch']} widths act {e['act_width']} "
              f"weight {e['weight_width']} ifft {e['ifft_width']} twiddle {e['twiddle_width']} "
              f"rounding {e['rounding']}")
    acc = "" if dense else f"acc shift {c['accumulator_shift']}, "
    print(f"formats (from {s['calibration']}): input {c['input_format']}, weight {c['weight_format']}, "
          f"{acc}bias {c['bias_format']}, output {c['output_format']} (shift {c['output_shift']})")
    err = s["error_vs_float"]
    sat = s.get("golden") or s.get("rtl")
    acc = "" if dense else f"accumulator {sat['acc_saturations']}, "
    print(f"error vs float: rms {_fmt(err['rms_error'])} (relative {_fmt(err['relative_rms_error'])}), "
          f"max abs {_fmt(err['max_abs_error'])}, output LSB {_fmt(c['output_lsb'])}; saturations: "
          f"input {sat['input_saturations']}, {acc}output {sat['out_saturations']}")
    if s["backend"] == "rtl":
        r = s["rtl"]
        pad = f" (+{r['padded_rows']} zero rows to fill the batch)" if r["padded_rows"] else ""
        print(f"rtl: {r['cycles']} cycles for {r['rows']} rows{pad}: {r['cycles_per_row']:.1f} "
              f"cycles per input (ideal MAC-bound ceil(p/P)*q*k/2 = {r['ideal_cycles_per_row']}), "
              f"multiplier utilisation {100 * r['pe_utilisation']:.1f}% "
              f"({r['pe_steps']} PE steps / ({e['pes']} PEs x {r['cycles']} clocks))")
    elif s["backend"] == "rtl-dense":
        r = s["rtl"]
        pad = f" (+{r['padded_rows']} zero rows to fill the batch)" if r["padded_rows"] else ""
        print(f"rtl-dense: {r['cycles']} cycles for {r['rows']} rows{pad}: {r['cycles_per_row']:.1f} "
              f"cycles per input (ideal MAC-bound ceil(m/M)*n = {r['ideal_cycles_per_row']}), "
              f"multiplier utilisation {100 * r['pe_utilisation']:.1f}% "
              f"({r['pe_steps']} multiply-accumulates / ({e['mults']} multipliers x "
              f"{r['cycles']} clocks))")
