"""``circnn infer``: run a model bundle on input rows with one of five backends.

- ``float``: the double-precision forward pass
  (:func:`circnn.sim.model.float_network.predict`), any depth;
- ``golden``: the compiler chooses the fixed-point formats and the bit-true
  model computes what the engine computes, any depth;
- ``rtl``: the same programs on the generated Verilog under cocotb on Icarus
  Verilog, every input row in one simulation (``CirculantLayer`` for one
  layer, the whole ``Accelerator`` for more);
- ``golden-dense`` / ``rtl-dense``: the dense baseline engine on the same
  function: the layer's block-circulant matrix expanded to its dense (m, n)
  matrix (cropped to the real widths), compiled for ``DenseLayer`` with
  ``--mults`` multipliers (one-layer bundles).

Everything the user gives (output paths, bundle, inputs, calibration rows,
engine options, the simulator for ``rtl``) is checked before any work
starts; a problem raises :class:`CircnnError` naming the file, key, option
or layer.  Saturation is never silent: a fixed-point run reports, per layer,
the values that saturated *in this run* beside those of the calibration
rows, warns when any did, and with ``--strict`` exits with status 3.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import CircnnError, ParameterError

__all__ = ["BACKENDS", "DENSE_BACKENDS", "ENGINE_DEFAULTS", "RTL_DEFAULTS", "EXIT_SATURATED",
           "load_rows", "check_rows", "first_layer_name", "load_calibration", "engine_for",
           "dense_engine_for", "dense_matrix", "compile_bundle", "layer_reports",
           "InferResult", "infer_float", "infer_golden", "infer_rtl", "infer_golden_dense",
           "infer_rtl_dense", "error_vs_float", "run_infer"]

DENSE_BACKENDS = ("golden-dense", "rtl-dense")
BACKENDS = ("float", "golden", "rtl", *DENSE_BACKENDS)

#: Engine options of the fixed-point backends, and their values when not given.
ENGINE_DEFAULTS = dict(pes=4, mults=4, batch=1, act_width=16, weight_width=16, ifft_width=16,
                       twiddle_width=16, rounding="half_up")
#: Options of the RTL backends, and their values when not given.
RTL_DEFAULTS = dict(idle=0.0, stall=0.0, seed=0, simulator="verilator", layer_batches=1)
#: Exit status of a ``--strict`` run in which a value saturated.
EXIT_SATURATED = 3


# --- input files ---------------------------------------------------------------

def load_rows(path, label: str = "inputs", max_ndim: int = 2) -> np.ndarray:
    """Read a .npy file of real rows: (N, n) or one row (n,), or with ``max_ndim`` 4
    also feature maps (N, H, W, C) or one (H, W, C). Refuses anything else."""
    from .arrays import load_npy
    path = Path(path)
    what = f"{label} file {str(path)!r}"
    if path.suffix.lower() != ".npy":
        raise CircnnError(f"{what}: expected a NumPy .npy file (got suffix {path.suffix or 'none'!r})")
    arr = load_npy(path, label)
    if arr.dtype.kind not in "fiub":
        raise CircnnError(f"{what}: expected real numbers, got dtype {arr.dtype}")
    if not 1 <= arr.ndim <= max_ndim:
        maps = " or feature maps (N, H, W, C) / (H, W, C)" if max_ndim == 4 else ""
        raise CircnnError(f"{what}: expected shape (rows, features) or (features,){maps}, got "
                          f"{arr.shape}")
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


def cnn_rows(x: np.ndarray, bundle, label: str) -> tuple[np.ndarray, bool]:
    """Inputs of a network that starts with a feature map (H, W, C): (N, H, W, C),
    (N, H*W*C) or one sample, finite; returns them as rows (N, H*W*C) in (h, w, c)
    order, and whether a single sample was given."""
    from .sim.model.float_network import InputError, network_input
    try:
        maps, single = network_input(bundle, x, name=label)
    except InputError as exc:
        raise CircnnError(str(exc).replace(f"{label} input: ", f"{label}: ", 1)) from None
    if maps.shape[0] == 0:
        raise CircnnError(f"{label}: no rows (shape {np.shape(x)})")
    return maps.reshape(maps.shape[0], -1), single


def first_layer_name(bundle) -> str:
    """What a dense bundle's input rows feed, for messages about their width."""
    first = bundle.layers[0]
    return "layer 0 (in_features)" if first.in_features is not None \
        else f"layer 0 (q*k = {first.q}*{first.k})"


def load_calibration(path, bundle) -> np.ndarray:
    """The calibration rows in the .npy file ``path`` for ``bundle``, as rows (N, n_in);
    refuses rows of another width, non-finite values and rows that are all zero."""
    label = f"calibration {str(path)!r}"
    raw = load_rows(path, "calibration", max_ndim=2 if bundle.in_shape is None else 4)
    rows = cnn_rows(raw, bundle, label)[0] if bundle.in_shape is not None \
        else check_rows(raw, bundle.layers[0].n_in, label, first_layer_name(bundle))
    if not np.any(rows):
        raise CircnnError(f"{label}: every value is 0: the rows must show the range "
                          f"of the inputs to choose the input format from")
    return rows


# --- engines ----------------------------------------------------------------------

def engine_for(bundle, options: dict | None = None, *, model: str = "the bundle"):
    """An engine for every layer of ``bundle`` (``max_q`` / ``max_p`` of its largest
    layer); ``options`` are the engine options given (``k`` must match the bundle)."""
    from .config import EngineConfig, limits_of
    opts = {**ENGINE_DEFAULTS, **{k: v for k, v in (options or {}).items() if v is not None}}
    weighted = [(i, layer) for i, layer in enumerate(bundle.layers) if layer.kind != "maxpool2d"]
    if not weighted:
        raise CircnnError(f"{model} has no layer with weights (only maxpool2d): nothing for the "
                          f"engine to compute")
    i0, first = weighted[0]
    k = first.k
    if opts.get("k") is not None and opts["k"] != k:
        raise ParameterError(f"--k {opts['k']} does not match the block size of layer {i0} of "
                             f"{model}: k={k} (weight shape {first.weight.shape})")
    for i, layer in weighted[1:]:
        if layer.k != k:
            raise ParameterError(f"layer {i}: block size k={layer.k} differs from layer {i0}'s "
                                 f"k={k}; one engine runs one block size")
    for key, blocks in (("max_q", "q"), ("max_p", "p")):
        hi = limits_of(EngineConfig)[key][1].hi
        for i, layer in weighted:
            value = getattr(layer, blocks)
            if value > hi:
                raise ParameterError(f"layer {i} of {model} has {blocks}={value} blocks "
                                     f"(weight shape {layer.weight.shape}); the engine takes at "
                                     f"most {key}={hi}")
    try:
        return EngineConfig(k=k, pes=opts["pes"], batch=opts["batch"], act_width=opts["act_width"],
                            weight_width=opts["weight_width"], ifft_width=opts["ifft_width"],
                            twiddle_width=opts["twiddle_width"], rounding=opts["rounding"],
                            max_q=max(l.q for _, l in weighted),
                            max_p=max(l.p for _, l in weighted))
    except ParameterError as exc:
        raise ParameterError(f"engine option --{str(exc).replace('_', '-', 1)}") from None


def dense_engine_for(layer, options: dict | None = None, *, model: str = "the bundle"):
    """A dense baseline engine sized for ``layer`` (max_in / max_out = its real widths)."""
    from .config import DenseConfig, limits_of
    opts = {**ENGINE_DEFAULTS, **{k: v for k, v in (options or {}).items() if v is not None}}
    if opts.get("k") is not None and opts["k"] != layer.k:
        raise ParameterError(f"--k {opts['k']} does not match the block size of layer 0 of "
                             f"{model}: k={layer.k} (weight shape {layer.weight.shape})")
    for key, width in (("max_in", layer.n_in), ("max_out", layer.n_out)):
        hi = limits_of(DenseConfig)[key][1].hi
        if width > hi:
            raise ParameterError(f"layer 0 of {model} is {width} wide ({key[4:]}puts); the dense "
                                 f"engine takes at most {key}={hi}")
    try:
        return DenseConfig(act_width=opts["act_width"], weight_width=opts["weight_width"],
                           rounding=opts["rounding"], mults=opts["mults"], batch=opts["batch"],
                           max_in=layer.n_in, max_out=layer.n_out, k=layer.k)
    except ParameterError as exc:
        raise ParameterError(f"engine option --{str(exc).replace('_', '-', 1)}") from None


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

@dataclass
class InferResult:
    """What a fixed-point backend computed: float outputs (N, n_out), each layer's
    compiler report, each layer's saturation counts in this run (``input`` of
    layer 0, ``accumulator``, ``output``) and, for the RTL, the simulation's
    statistics."""

    y: np.ndarray
    compiler: list[dict]
    saturations: list[dict]
    stats: dict = field(default_factory=dict)


def _input_codes(x, in_frac: int, bits: int, quantize):
    """Int codes of float rows, and how many values saturated on the way in."""
    hi = ((1 << (bits - 1)) - 1) * 2.0 ** -in_frac
    lo = -(1 << (bits - 1)) * 2.0 ** -in_frac
    return quantize(x), int(np.count_nonzero((x > hi) | (x < lo)))


def _saturations(input_clipped: int, per_layer) -> list[dict]:
    return [{"layer": i, "input": input_clipped if i == 0 else 0, "accumulator": int(acc),
             "output": int(out)} for i, (acc, out) in enumerate(per_layer)]


def compile_bundle(bundle, eng, calibration):
    """Programs of a dense network, or the steps of a convolutional one."""
    from .compiler import compile_cnn, compile_network
    if _is_cnn(bundle):
        return compile_cnn(bundle, eng, calibration)
    return compile_network(bundle, eng, calibration=calibration)


def _is_cnn(bundle) -> bool:
    """A bundle with convolution or pooling: compiled into steps, not programs."""
    return any(layer.kind != "dense" for layer in bundle.layers)


def infer_float(bundle, x: np.ndarray) -> np.ndarray:
    from .sim.model.float_network import predict
    return predict(bundle, np.atleast_2d(x))


def infer_golden(bundle, eng, x: np.ndarray, calibration: np.ndarray, *,
                 programs=None) -> InferResult:
    """The bit-true model of the engine running ``bundle`` (any depth), dequantised.
    ``programs``: the bundle already compiled for ``eng`` from ``calibration``."""
    from .compiler import dequantize_outputs, quantize_inputs
    from .sim.model.network import network_forward
    programs = programs or compile_bundle(bundle, eng, calibration)
    if _is_cnn(bundle):
        return _infer_golden_cnn(bundle, eng, x, programs)
    first = programs[0]
    codes, clipped = _input_codes(x, first.in_frac, eng.act_width,
                                  lambda v: quantize_inputs(v, first.in_frac, eng, first.q))
    y_codes, traces = network_forward(codes, programs, eng, trace=True)
    return InferResult(
        dequantize_outputs(y_codes, programs[-1].out_frac, bundle.layers[-1].n_out),
        [p.report for p in programs],
        _saturations(clipped, [(t.acc_saturations, t.out_saturations) for t in traces]))


def _cnn_codes(eng, x: np.ndarray, steps):
    """Input codes of a convolutional network's first layer, and how many clipped."""
    from .sim.model.fixedpoint import FixedFormat
    in_frac = next(s.program for s in steps if s.program is not None).in_frac
    return _input_codes(x, in_frac, eng.act_width,
                        lambda v: FixedFormat(eng.act_width, in_frac).quantize(v, "half_even"))


def layer_reports(bundle, compiled) -> list[dict]:
    """The compiler's report of every layer of ``bundle`` (``compiled``: its programs,
    or its steps), with the layer's ``type``: formats, shifts and, with calibration
    rows, the error against the float layer; a pooling layer's note."""
    reports = [dict(getattr(c, "program", c).report) if getattr(c, "program", c) is not None
               else {"type": "maxpool2d", "note": "the maximum of codes: formats pass through"}
               for c in compiled]
    for rep, layer in zip(reports, bundle.layers):
        rep.setdefault("type", layer.kind)
    return reports


def _cnn_result(bundle, steps, y_codes, traces, clipped, stats=None) -> InferResult:
    """A convolutional network's output codes dequantised to the float model's output
    shape: (N, n_out), or (N, H, W, C) for a map; its reports and saturations."""
    out_frac = [s.program for s in steps if s.program is not None][-1].out_frac
    y = y_codes.astype(np.float64) * 2.0 ** -out_frac
    last = bundle.layers[-1]
    y = y.reshape(-1, *last.out_shape) if last.out_shape is not None else y[:, :last.n_out]
    reports = layer_reports(bundle, steps)
    return InferResult(y, reports, _saturations(
        clipped, [(t.acc_saturations, t.out_saturations) for t in traces]), stats or {})


def _infer_golden_cnn(bundle, eng, x: np.ndarray, steps) -> InferResult:
    """The bit-true model of a convolutional network, dequantised."""
    from .sim.model.cnn import cnn_forward
    codes, clipped = _cnn_codes(eng, x, steps)
    y_codes, traces = cnn_forward(codes, steps, eng, trace=True)
    return _cnn_result(bundle, steps, y_codes, traces, clipped)


def golden_codes(bundle, eng, x: np.ndarray, programs):
    """The input rows as the engine's codes and the bit-true model's run on them:
    ``(cnn, codes, clipped, expected, traces)`` (what the hardware is compared with)."""
    from .compiler import quantize_inputs
    from .sim.model.cnn import cnn_forward
    from .sim.model.network import network_forward
    cnn = _is_cnn(bundle)
    if cnn:
        codes, clipped = _cnn_codes(eng, x, programs)
        expected, traces = cnn_forward(codes, programs, eng, trace=True)
    else:
        first = programs[0]
        codes, clipped = _input_codes(x, first.in_frac, eng.act_width,
                                      lambda v: quantize_inputs(v, first.in_frac, eng, first.q))
        expected, traces = network_forward(codes, programs, eng, trace=True)
    return cnn, codes, clipped, expected, traces


def infer_rtl(bundle, eng, x: np.ndarray, calibration: np.ndarray, *, name: str = "infer",
              idle: float = 0.0, stall: float = 0.0, seed: int = 0, progress=None,
              simulator: str = "verilator", keep_files: bool = True,
              programs=None, layer_batches: int = 1, net=None, verilog=None,
              program=None, target: str = "generic") -> InferResult:
    """The compiled network on the generated Verilog, all rows in one simulation:
    ``CirculantLayer`` for a one-layer dense bundle, the whole ``Accelerator``
    (sized by :func:`~circnn.compiler.network_config_for`, with activation buffers
    for ``layer_batches`` x B inputs) for deeper or convolutional ones.  The bit-true model runs on the same codes: it gives the
    run's per-layer saturation counts (the hardware counts only totals) and
    ``rtl_golden_mismatches``, every output word compared.

    A build folder's run gives ``net`` (its accelerator: ``eng`` is
    ``net.engine``), ``verilog`` (its Verilog,
    :class:`~circnn.sim.harness.prebuilt.VerilogModule`, elaborated for
    ``target``) and ``program`` (its host-bus writes): the accelerator runs
    every network, one layer too, and the file is simulated as it is, loaded
    by replaying ``program`` (:func:`~circnn.sim.harness.accelerator.simulate_network`)."""
    from .compiler import dequantize_outputs, network_config_for
    from .sim.harness.accelerator import simulate_network
    from .sim.harness.layer import simulate_layer
    programs = programs or compile_bundle(bundle, eng, calibration)
    cnn, codes, clipped, expected, traces = golden_codes(bundle, eng, x, programs)
    if len(programs) == 1 and net is None:
        y_codes, stats = simulate_layer(eng, programs[0], codes, name=name, idle=idle,
                                        stall=stall, seed=seed, compare=False,
                                        progress=progress, keep_files=keep_files,
                                        simulator=simulator)
        stats.update(accelerator=eng.to_dict(), cycles_per_inference=stats["cycles_per_row"],
                     layer_cycles=[stats["cycles_per_row"]],
                     mac_bound_cycles=stats["ideal_cycles_per_row"],
                     layer_mac_bound_cycles=[stats["ideal_cycles_per_row"]],
                     layers_run=["layer 0 (dense)"])
    else:
        net = net or network_config_for(programs, eng, layer_batches)
        y_codes, stats = simulate_network(net, programs, codes, name=name, idle=idle,
                                          stall=stall, seed=seed, progress=progress,
                                          keep_files=keep_files, simulator=simulator,
                                          verilog=verilog, program=program, target=target)
        stats["ideal_cycles_per_inference"] = stats["mac_bound_cycles"]
    stats["rtl_golden_mismatches"] = stats["golden_mismatches"] = int(
        np.count_nonzero(y_codes != expected))
    if cnn:
        return _cnn_result(bundle, programs, y_codes, traces, clipped, stats)
    return InferResult(
        dequantize_outputs(y_codes, programs[-1].out_frac, bundle.layers[-1].n_out),
        [p.report for p in programs],
        _saturations(clipped, [(t.acc_saturations, t.out_saturations) for t in traces]), stats)


def _compile_dense(layer, cfg, calibration):
    from .compiler import compile_dense, quantize_dense_inputs
    w, b = dense_matrix(layer)
    prog = compile_dense(w, b, layer.activation, cfg, calibration=calibration,
                         name="layer 0 (dense)")
    return prog, lambda v: quantize_dense_inputs(v, prog.in_frac, cfg, prog.n)


def infer_golden_dense(layer, cfg, x: np.ndarray, calibration: np.ndarray, *,
                       compiled=None) -> InferResult:
    """The dense baseline's bit-true model, dequantised."""
    from .sim.model.dense import dense_forward
    prog, quantize = compiled or _compile_dense(layer, cfg, calibration)
    codes, clipped = _input_codes(x, prog.in_frac, cfg.act_width, quantize)
    y_codes, trace = dense_forward(codes, prog, cfg, trace=True)
    return InferResult(y_codes * 2.0 ** -prog.out_frac, [prog.report],
                       _saturations(clipped, [(0, trace["out_saturations"])]))


def infer_rtl_dense(layer, cfg, x: np.ndarray, calibration: np.ndarray, *,
                    name: str = "infer_dense", idle: float = 0.0, stall: float = 0.0,
                    seed: int = 0, progress=None, keep_files: bool = True,
                    simulator: str = "verilator", compiled=None) -> InferResult:
    """The dense baseline's RTL (``DenseLayer``), dequantised."""
    from .sim.harness.dense import simulate_dense
    from .sim.model.dense import dense_forward
    prog, quantize = compiled or _compile_dense(layer, cfg, calibration)
    codes, clipped = _input_codes(x, prog.in_frac, cfg.act_width, quantize)
    expected, trace = dense_forward(codes, prog, cfg, trace=True)
    y_codes, stats = simulate_dense(cfg, prog, codes, name=name, idle=idle, stall=stall,
                                    seed=seed, compare=False, progress=progress,
                                    keep_files=keep_files, simulator=simulator)
    stats["golden_mismatches"] = int(np.count_nonzero(y_codes != expected))
    return InferResult(y_codes * 2.0 ** -prog.out_frac, [prog.report],
                       _saturations(clipped, [(0, trace["out_saturations"])]), stats)


def error_vs_float(y: np.ndarray, ref: np.ndarray) -> dict:
    err = y - ref
    rms = float(np.sqrt(np.mean(err ** 2)))
    scale = float(np.sqrt(np.mean(ref ** 2)))
    return {"rms_error": rms, "relative_rms_error": rms / scale if scale else rms,
            "max_abs_error": float(np.abs(err).max()), "float_rms": scale}


# --- the command -----------------------------------------------------------------

def _fmt(v: float) -> str:
    return f"{v:.3g}"


def _given(args, names) -> list[str]:
    """The options among ``names`` that the user gave (their value is not None)."""
    return [n for n in names if getattr(args, n, None) is not None]


def _check_options(args) -> dict:
    """The backend's options, with defaults; options it does not use are refused."""
    engine_names = ["k", *ENGINE_DEFAULTS]
    rtl_names = list(RTL_DEFAULTS)
    backend = args.backend
    unused = []
    if backend == "float":
        unused = _given(args, engine_names + rtl_names + ["calibration"])
        if getattr(args, "strict", False):
            unused.append("strict")
    else:
        if not backend.startswith("rtl"):
            unused += _given(args, rtl_names)
        unused += _given(args, ["mults"] if backend not in DENSE_BACKENDS else
                         ["pes", "ifft_width", "twiddle_width", "layer_batches"])
    if unused:
        flag = "--" + unused[0].replace("_", "-")
        raise ParameterError(f"{flag} is not used by the {backend} backend"
                             + (" (float runs the bundle in double precision)"
                                if backend == "float" else ""))
    if getattr(args, "build", None) is not None:
        if backend not in ("golden", "rtl"):
            raise ParameterError(f"--build runs the golden and rtl backends, not {backend}")
        fixed = _given(args, engine_names + ["layer_batches"])
        if fixed:
            raise ParameterError(f"--{fixed[0].replace('_', '-')} is fixed by the build "
                                 f"(build.json's accelerator); drop it, or build again with it")
    options = {n: getattr(args, n, None) for n in engine_names}
    for name, default in RTL_DEFAULTS.items():
        value = getattr(args, name, None)
        options[name] = default if value is None else value
    if not 1 <= options["layer_batches"] <= 64:
        raise ParameterError(f"--layer-batches must be in 1..64, not {options['layer_batches']}")
    for flag in ("idle", "stall"):
        if not 0.0 <= options[flag] <= 0.95:
            raise ParameterError(f"--{flag} must be a probability in 0..0.95, not {options[flag]}")
    from .sim.harness.simulators import check_simulator
    check_simulator(options["simulator"])
    return options


def _saturation_lines(run: list[dict], calibration: list[dict], rows: int,
                      widths: list[tuple[int, int, int]]) -> tuple[list[str], int, int]:
    """Per-layer lines "layer i: input a, accumulator b, output c (calibration ...)", the
    values that saturated in the run, and how many values could have."""
    lines, total, possible = [], 0, 0
    for s, c, (n_in, n_acc, n_out) in zip(run, calibration, widths):
        parts = []
        for key, n in (("input", n_in), ("accumulator", n_acc), ("output", n_out)):
            if n:
                parts.append(f"{key} {s[key]} of {rows * n} ({c.get(key, 0)} on the calibration rows)")
                total += s[key]
                possible += rows * n
        if parts:
            lines.append(f"layer {s['layer']}: " + ", ".join(parts))
    return lines, total, possible


def run_infer(args, progress=None) -> int:
    """``circnn infer`` with parsed ``args``; ``progress(msg)`` gets progress lines."""
    from .bundle import load_bundle
    from .files import check_output_file, write_all_or_none

    say = progress or (lambda msg: None)
    quiet = getattr(args, "quiet", False)
    backend = args.backend
    if backend not in BACKENDS:
        raise ParameterError(f"--backend must be one of {', '.join(BACKENDS)}, not {backend!r}")

    # -- everything checked before any work ---------------------------------------
    options = _check_options(args)
    build, model_path, calibration_path = None, args.model, args.calibration
    if getattr(args, "build", None) is not None:
        from .build_folder import load_build
        build = load_build(args.build)
        model_path, calibration_path = build.check_inputs(args.model, args.calibration)
    elif model_path is None:
        raise CircnnError("--model BUNDLE.npz is required (or --build DIR: the bundle a build "
                          "was made from)")
    inputs = [("--model", model_path), ("--inputs", args.inputs),
              ("--calibration", calibration_path), *(build.files() if build else [])]
    out = check_output_file(Path(args.out), "--out", inputs=inputs)
    report = check_output_file(Path(args.report), "--report",
                               inputs=inputs + [("--out", args.out)]) if args.report else None
    bundle = load_bundle(model_path)
    model = f"bundle {str(model_path)!r}"
    x_raw = load_rows(args.inputs, "inputs", max_ndim=2 if bundle.in_shape is None else 4)
    n_layers = len(bundle.layers)
    if backend in DENSE_BACKENDS and n_layers > 1:
        raise CircnnError(f"{model} has {n_layers} layers: the {backend} backend "
                          f"runs one-layer bundles only; float, golden and rtl run any depth")
    first = bundle.layers[0]
    if _is_cnn(bundle) and backend in DENSE_BACKENDS:
        i, kind = next((i, l.kind) for i, l in enumerate(bundle.layers) if l.kind != "dense")
        raise CircnnError(f"{model}: layer {i} is a {kind} layer; the {backend} backend runs "
                          f"one dense layer (float, golden and rtl run convolutional bundles)")
    if bundle.in_shape is not None:
        x, single = cnn_rows(x_raw, bundle, f"inputs {str(args.inputs)!r}")
    else:
        x = check_rows(x_raw, bundle.n_in, f"inputs {str(args.inputs)!r}",
                       first_layer_name(bundle))
        single = x_raw.ndim == 1
    calibration, eng = x, None
    if backend != "float":
        if calibration_path is not None:
            calibration = load_calibration(calibration_path, bundle)
        elif build is not None:
            calibration = None         # the build chose its formats from weights and biases
        if build is not None:
            eng = build.net.engine
        else:
            eng = dense_engine_for(first, options, model=model) if backend in DENSE_BACKENDS \
                else engine_for(bundle, options, model=model)
        if backend.startswith("rtl"):
            from .sim.harness.simulators import require_simulator
            require_simulator(options["simulator"])
        # compiling chooses the formats: data no format holds is refused here, before any run
        try:
            compiled = _compile_dense(first, eng, calibration) if backend in DENSE_BACKENDS \
                else compile_bundle(bundle, eng, calibration)
        except CircnnError as exc:
            if calibration_path is None and build is None and "calibration" in str(exc):
                raise CircnnError(f"{exc} (no --calibration was given: the inputs calibrate "
                                  f"the formats)") from None
            raise
        if build is not None:
            build.check_program(compiled)

    # -- the work ----------------------------------------------------------------------
    t0 = time.monotonic()
    summary = {"backend": backend, "bundle": str(model_path), "inputs": str(args.inputs),
               "out": str(out), "rows": int(x.shape[0]), "layers": n_layers}
    if build is not None:
        summary["build"] = str(build.folder)
    if backend == "float":
        y = infer_float(bundle, x)
        result = None
    else:
        summary["engine"] = eng.to_dict()
        summary["calibration"] = str(calibration_path) if calibration_path is not None else \
            "weight and bias ranges" if build is not None else "inputs"
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(model_path).stem)[:40] + f"_{os.getpid()}"
        rtl = dict(idle=options["idle"], stall=options["stall"], seed=options["seed"],
                   simulator=options["simulator"], progress=say, keep_files=False)
        if backend == "rtl":
            rtl["layer_batches"] = options["layer_batches"]
            if build is not None:
                rtl.update(net=build.net, verilog=build.verilog_module(),
                           program=build.program.writes, target=build.target)
        if backend == "golden":
            result = infer_golden(bundle, eng, x, calibration, programs=compiled)
        elif backend == "golden-dense":
            result = infer_golden_dense(first, eng, x, calibration, compiled=compiled)
        elif backend == "rtl":
            say(f"simulating {x.shape[0]} rows of {n_layers} layer(s) on the engine's RTL "
                f"in one simulation")
            result = infer_rtl(bundle, eng, x, calibration, name=f"infer_{name}",
                               programs=compiled, **rtl)
        else:
            say(f"simulating {x.shape[0]} rows on the dense engine's RTL")
            result = infer_rtl_dense(first, eng, x, calibration, name=f"dense_{name}",
                                     compiled=compiled, **rtl)
        y = result.y
        summary["compiler"] = {f"layer {i}": rep for i, rep in enumerate(result.compiler)}
        if result.stats:
            summary["rtl"] = result.stats
            for key in ("simulator", "sim_clocks", "sim_wall_s", "build_wall_s",
                        "rtl_golden_mismatches", "accelerator", "cycles_per_inference",
                        "layer_cycles", "mac_bound_cycles", "layer_mac_bound_cycles",
                        "layer_pe_utilisation", "layers_run"):
                if key in result.stats:
                    summary[key] = result.stats[key]
            if "batch_cycles" in result.stats:      # the accelerator ran
                summary["accelerator_source"] = (
                    f"the build {str(build.folder)!r}" if build is not None else
                    "sized for the bundle by network_config_for; circnn build takes --set limits")
        summary["error_vs_float"] = error_vs_float(y, infer_float(bundle, x))
        summary["saturations_run"] = result.saturations
        summary["saturations_calibration"] = [
            {"layer": i, "input": 0, "accumulator": rep.get("acc_saturations", 0),
             "output": rep.get("out_saturations", 0)} for i, rep in enumerate(result.compiler)]
    if single:
        y = y[0]
    summary["output_shape"] = list(y.shape)
    summary["elapsed_s"] = time.monotonic() - t0

    saturated = 0
    if result is not None:
        widths = _saturation_widths(bundle, backend)
        lines, saturated, possible = _saturation_lines(
            summary["saturations_run"], summary["saturations_calibration"], x.shape[0], widths)
        summary["saturated_values"] = saturated
        summary["saturation_lines"] = lines
    # --out and --report together or neither (a full disk at the report keeps no output)
    writers = {out: lambda f: np.save(f, y, allow_pickle=False)}
    if report is not None:
        text = (json.dumps(summary, indent=2) + "\n").encode()
        writers[report] = lambda f: f.write(text)
    write_all_or_none(writers)
    if not quiet:
        _print_summary(summary)
    if result is not None and result.stats.get("golden_mismatches"):
        print(f"circnn infer: warning: {result.stats['golden_mismatches']} output words of the "
              f"RTL differ from the bit-true model", file=sys.stderr)
    if saturated:
        worst = max(summary["saturations_run"],
                    key=lambda s: s["input"] + s["accumulator"] + s["output"])
        print(f"circnn infer: warning: {saturated} of {possible} values saturated in this run "
              f"(most in layer {worst['layer']}); outputs are clipped, not scaled: give "
              f"--calibration rows that cover the inputs' range"
              + ("" if getattr(args, "strict", False) else " (--strict makes this exit 3)"),
              file=sys.stderr)
        if getattr(args, "strict", False):
            return EXIT_SATURATED
    return 0


def _saturation_widths(bundle, backend: str) -> list[tuple[int, int, int]]:
    """Values per row that can saturate: (inputs, accumulator words x 2, outputs) per layer."""
    if backend in DENSE_BACKENDS:
        layer = bundle.layers[0]
        return [(layer.n_in, 0, layer.n_out)]
    widths = []
    for i, layer in enumerate(bundle.layers):
        n_in = bundle.n_in if i == 0 else 0
        if layer.kind == "maxpool2d":
            widths.append((n_in, 0, 0))
            continue
        # a convolution runs its block product once per output pixel
        rows = layer.out_shape[0] * layer.out_shape[1] if layer.kind == "conv2d" else 1
        widths.append((n_in, rows * layer.p * layer.k, rows * layer.p * layer.k))
    return widths


def _print_summary(s: dict) -> None:
    print(f"infer {s['backend']}: {s['rows']} rows -> {s['out']} shape {tuple(s['output_shape'])}")
    if s["backend"] == "float":
        return
    e = s["engine"]
    dense = s["backend"] in DENSE_BACKENDS
    if dense:
        c = s["compiler"]["layer 0"]
        print(f"engine: dense {c['m']}x{c['n']} (block-circulant layer expanded), M={e['mults']} "
              f"B={e['batch']} widths act {e['act_width']} weight {e['weight_width']} "
              f"rounding {e['rounding']}")
    else:
        print(f"engine: k={e['k']} P={e['pes']} B={e['batch']} max_q={e['max_q']} "
              f"max_p={e['max_p']} widths act {e['act_width']} weight {e['weight_width']} ifft "
              f"{e['ifft_width']} twiddle {e['twiddle_width']} rounding {e['rounding']}")
    for name, c in s["compiler"].items():
        if "input_format" not in c:          # a pooling layer: no formats of its own
            print(f"{name}: {c['type']} ({c['note']})")
            continue
        acc = "" if dense else f"acc shift {c['accumulator_shift']}, "
        print(f"{name} formats (from {s['calibration']}): input {c['input_format']}, weight "
              f"{c['weight_format']}, {acc}bias {c['bias_format']}, output {c['output_format']} "
              f"(shift {c['output_shift']})")
    err = s["error_vs_float"]
    print(f"error vs float: rms {_fmt(err['rms_error'])} (relative "
          f"{_fmt(err['relative_rms_error'])}), max abs {_fmt(err['max_abs_error'])}")
    print("saturated values in this run:")
    for line in s["saturation_lines"]:
        print(f"  {line}")
    r = s.get("rtl")
    if r is None:
        return
    pad = f" (+{r['padded_rows']} zero rows to fill the batch)" if r.get("padded_rows") else ""
    if s["backend"] == "rtl" and "accelerator_source" in s:
        a = r["accelerator"]
        maps = (f"patches up to {a['max_kernel']}x{a['max_kernel']} on {a['max_side']}x"
                f"{a['max_side']}x{a['max_channels']} maps" if a["convolution"]
                else "no convolution")
        print(f"accelerator ({s['accelerator_source']}): k={a['k']} P={a['pes']} "
              f"B={a['batch']} layer_batches={a['layer_batches']} max_q={a['max_q']} "
              f"max_p={a['max_p']} weight_depth={a['weight_depth']} "
              f"bias_depth={a['bias_depth']} max_layers={a['max_layers']} "
              f"max_map={a['max_map']} values, {maps}")
        print(f"rtl (accelerator, one simulation): {r['cycles']} busy clocks for {r['rows']} "
              f"rows{pad}; steady state {r['cycles_per_inference']:.1f} cycles per inference, "
              f"MAC bound {r['mac_bound_cycles']} "
              f"({100 * r['mac_bound_cycles'] / max(r['cycles_per_inference'], 1e-9):.0f}%)")
        for run, c, bound, util in zip(r["layers_run"], r["layer_cycles"],
                                       r["layer_mac_bound_cycles"], r["layer_pe_utilisation"]):
            print(f"  {run}: {c:.1f} cycles per inference, MAC bound {bound}, "
                  f"PE utilisation {100 * util:.1f}%")
        print(f"rtl vs golden: {r['rtl_golden_mismatches']} output words differ (every word "
              f"compared)")
    elif s["backend"] == "rtl":
        print(f"rtl: {r['cycles']} cycles for {r['rows']} rows{pad}: {r['cycles_per_row']:.1f} "
              f"cycles per input (ideal MAC-bound ceil(p/P)*q*k/2 = {r['ideal_cycles_per_row']}), "
              f"multiplier utilisation {100 * r['pe_utilisation']:.1f}% "
              f"({r['pe_steps']} PE steps / ({e['pes']} PEs x {r['cycles']} clocks))")
    else:
        print(f"rtl-dense: {r['cycles']} cycles for {r['rows']} rows{pad}: "
              f"{r['cycles_per_row']:.1f} cycles per input (ideal MAC-bound ceil(m/M)*n = "
              f"{r['ideal_cycles_per_row']}), multiplier utilisation "
              f"{100 * r['pe_utilisation']:.1f}% ({r['pe_steps']} multiply-accumulates / "
              f"({e['mults']} multipliers x {r['cycles']} clocks))")
    build = "build cached" if r["build_cached"] else f"build {r['build_wall_s']:.1f} s"
    print(f"simulation: {s['simulator']}, {s['sim_clocks']} clocks in {s['sim_wall_s']:.1f} s "
          f"({s['sim_clocks'] / max(s['sim_wall_s'], 1e-9):,.0f} clocks/s; {build})")
