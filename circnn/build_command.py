"""``circnn build``: a network's accelerator, its Verilog and its host program, in one folder.

From a model bundle and the engine options of ``circnn infer`` it compiles
the network (formats from ``--calibration`` rows, or for a dense network
without them from the weights and biases), sizes an accelerator for it
(:func:`~circnn.compiler.network_config_for`; ``--set NAME=VALUE`` replaces
a limit, and a network that then does not fit is refused naming the layer
and the limit), lays the network out (:func:`build_image`) and writes the
folder ``--out`` (:mod:`circnn.build_folder`, ``docs/build.md``): the
Verilog, ``program.bin``, ``program.json``, ``build.json`` and, with
``--synth``, the ECP5 report.  The three text files carry one provenance
header (:mod:`circnn.provenance`).

Everything is checked before any work; the folder is built beside ``--out``
and takes its place only when complete, so a failed or interrupted build
leaves the previous one (or nothing) as it was.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from .board_build import (board_clock, build_id_of, check_board_options, check_fit,
                          count_cells, prepare_board, write_board)
from .build_folder import (BOARD_FILES, BUILD_JSON, DESIGN, FORMAT, PROGRAM_BIN, PROGRAM_JSON,
                           SYNTH_FILES, SYNTH_REPORT, check_build_out, sha256_file)
from .errors import CircnnError, ParameterError

__all__ = ["run_build", "ENGINE_OPTIONS", "SYNTH_DEFAULTS"]

#: the engine options (as ``circnn infer`` has them) and their ``--set`` names
ENGINE_OPTIONS = ("k", "pes", "batch", "act_width", "weight_width", "ifft_width",
                  "twiddle_width", "rounding", "layer_batches")
#: ``--freq`` and ``--seed`` of ``--synth``, when not given (those of ``circnn synth``)
SYNTH_DEFAULTS = {"freq": 150.0, "seed": 1}
#: what build.json keeps of the ECP5 report
SYNTH_KEYS = ("device", "package", "speed", "freq_target_mhz", "fmax_mhz", "timing_met", "lut4",
              "ff", "mult18", "dp16kd", "nextpnr_seeds")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _plain(value):
    """What ``json`` cannot write of a compiler report: NumPy numbers."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _check_options(args) -> tuple[dict, dict, dict | None]:
    """The ``--set`` limits, the engine options given, and the synthesis options (None
    without ``--synth``; a ``--board`` build's are its own); refuses what no build takes."""
    from .designs import get_design
    from .params import parse_assignments, resolve_params
    limits = parse_assignments(args.set)
    for name in limits:
        if name in ENGINE_OPTIONS:
            raise ParameterError(f"--set {name}: give it as {_flag(name)} (an engine option; "
                                 f"--set takes the accelerator's limits)")
    values = resolve_params(get_design(DESIGN).params, limits, design=DESIGN)  # names, ranges
    limits = {name: values[name] for name in limits}
    options = {name: getattr(args, name, None) for name in ENGINE_OPTIONS}
    if options["layer_batches"] is not None and not 1 <= options["layer_batches"] <= 64:
        raise ParameterError(f"--layer-batches must be in 1..64, not {options['layer_batches']}")
    given = {name: getattr(args, name) for name in SYNTH_DEFAULTS
             if getattr(args, name, None) is not None}
    if getattr(args, "board", None) is not None:
        if "seed" in given and not args.synth:
            raise ParameterError("--seed is used with --synth only")
        return limits, options, None      # --freq: the board's first PLL frequency
    if not args.synth:
        if given:
            raise ParameterError(f"{_flag(next(iter(given)))} is used with --synth only")
        return limits, options, None
    from circnn.synth.flow import check_device_args
    synth = {**SYNTH_DEFAULTS, **given}
    check_device_args("LFE5U-85F", "CABGA381", 6, synth["freq"])
    return limits, options, synth


def _compile(bundle, eng, calibration):
    from .infer import compile_bundle
    try:
        return compile_bundle(bundle, eng, calibration)
    except CircnnError as exc:
        if calibration is None and "calibration" in str(exc):
            raise CircnnError(f"{exc}: give --calibration X.npy (rows of typical inputs)") \
                from None
        raise


def _regenerate(args, eng, layer_batches: int, limits: dict, params: dict, top: str,
                synth: dict | None, board=None) -> str:
    """The ``circnn build`` command line that makes this folder again: every option
    that changed it, the engine's at their values."""
    from .provenance import command_line
    words = ["circnn", "build", "--model", args.model, "--out", "DIR"]
    for name in ENGINE_OPTIONS[:-1]:
        words += [_flag(name), getattr(eng, name)]
    words += ["--layer-batches", layer_batches]
    if args.calibration is not None:
        words += ["--calibration", args.calibration]
    for name in limits:
        words += ["--set", f"{name}={params[name]}"]
    words += ["--target", args.target, "--top", top]
    if synth is not None:
        words += ["--synth", "--freq", synth["freq"], "--seed", synth["seed"]]
    if board is not None:
        words += ["--board", board.board.name, "--baud", board.baud, "--freq", board.freq_mhz]
        if board.synth:
            words += ["--synth", "--seed", board.seed]
    return command_line(words)


def _summary_line(params: dict, source: str) -> str:
    a = params
    maps = (f"patches up to {a['max_kernel']}x{a['max_kernel']} on {a['max_side']}x"
            f"{a['max_side']}x{a['max_channels']} maps" if a["convolution"] else "no convolution")
    return (f"accelerator ({source}): k={a['k']} P={a['pes']} B={a['batch']} "
            f"layer_batches={a['layer_batches']} max_q={a['max_q']} max_p={a['max_p']} "
            f"weight_depth={a['weight_depth']} bias_depth={a['bias_depth']} "
            f"max_layers={a['max_layers']} max_map={a['max_map']} values, {maps}")


def run_build(args, progress=None) -> int:
    """``circnn build`` with parsed ``args``; ``progress(msg)`` gets progress lines."""
    import amaranth

    from .bundle import load_bundle
    from .compiler import network_config_for
    from .config import platform_for
    from .designs import get_design
    from .files import write_folder_atomic, write_error
    from .host_program import encode_program, write_regions
    from .host_protocol import run_protocol
    from .infer import engine_for, layer_reports, load_calibration
    from .provenance import provenance, verilog_comment
    from .rtl.host_bus import ADDR_WIDTH
    from .sim.model.accelerator import build_image, host_writes, mac_bound_cycles, stage_name
    from .verilog import elaborate_verilog, yosys_version
    from .verilog_identifier import check_verilog_identifier

    say = progress or (lambda msg: None)
    # -- everything checked before any work -----------------------------------------
    board = check_board_options(args)
    if getattr(args, "target", None) is None:        # --board: the ECP5 primitives
        args.target = "ecp5" if board is not None else "generic"
    limits, options, synth = _check_options(args)
    out = check_build_out(args.out)
    if board is not None and board.program:
        from .board_program import find_loader
        find_loader(say)
    top = check_verilog_identifier(DESIGN if args.top is None else args.top, "--top")
    platform_for(args.target)
    bundle = load_bundle(args.model)
    model = f"bundle {str(args.model)!r}"
    calibration = None if args.calibration is None else load_calibration(args.calibration, bundle)
    eng = engine_for(bundle, options, model=model)
    layer_batches = options["layer_batches"] or 1
    say(f"compiling {len(bundle.layers)} layers for k={eng.k} P={eng.pes} B={eng.batch}")
    programs = _compile(bundle, eng, calibration)
    design = get_design(DESIGN)
    sized = network_config_for(programs, eng, layer_batches).to_dict()
    params = design.resolve({**sized, **limits})
    net = design.configure(params)
    if limits:      # compiled for the accelerator's own engine (max_q sets the accumulator)
        programs = _compile(bundle, net.engine, calibration)
    image = build_image(programs, net)  # refuses, naming the layer, what does not fit
    writes = host_writes(image, weights=True, n_batches=1)
    source = "sized for the network" + (
        ", with " + " ".join(f"--set {n}={params[n]}" for n in limits) if limits else "")

    # -- the work -------------------------------------------------------------------------
    bounds = mac_bound_cycles(image.stages, net.engine)
    descriptor_of = {i: d for d, stage in enumerate(image.stages) for i in stage.layers}
    inputs = {"model": {"path": str(Path(args.model).resolve()),
                        "sha256": sha256_file(args.model), "layers": len(bundle.layers)},
              "calibration": None if args.calibration is None else {
                  "path": str(Path(args.calibration).resolve()),
                  "sha256": sha256_file(args.calibration), "rows": int(calibration.shape[0])}}
    prov = provenance(
        _regenerate(args, net.engine, layer_batches, limits, params, top, synth, board),
        design=DESIGN, target=args.target, top_module=top, parameters=params,
        model=str(args.model), model_sha256=inputs["model"]["sha256"],
        calibration=("none (formats from weight and bias ranges)" if args.calibration is None
                     else str(args.calibration)),
        **({} if args.calibration is None else
           {"calibration_sha256": inputs["calibration"]["sha256"]}))
    say(_summary_line(params, source))
    verilog_name = f"{top}.v"
    verilog = verilog_comment(prov) + elaborate_verilog(design.elaborate(params), top,
                                                        args.target, progress=say)
    program = encode_program(writes, addr_bits=ADDR_WIDTH, data_bits=net.data_width)
    first_board = None
    if board is not None:   # the board's top level, and whether its blocks fit, before writing
        build_id = build_id_of(verilog.encode(), program)
        pll, clk_hz = board_clock(board.board, board.freq_mhz * 1e6, board.baud)
        first_board = prepare_board(net, verilog, top, board.board, board, build_id, pll,
                                    clk_hz, verilog_file=verilog_name)
        blocks = count_cells(verilog=verilog, rtlil=first_board.rtlil)
        check_fit(board.board, blocks, "its ECP5 blocks, before synthesis")
    first, last = image.programs[0], image.programs[-1]
    program_meta = {
        "provenance": prov, "format": "circnn-host-program/1", "file": PROGRAM_BIN,
        "sha256": hashlib.sha256(program).hexdigest(), "writes": len(writes),
        "regions": write_regions(writes),
        "run": run_protocol(net, image, in_frac=first.in_frac, out_frac=last.out_frac,
                            in_real=bundle.n_in, out_real=bundle.layers[-1].n_out),
    }
    meta = {
        "format": FORMAT, "provenance": prov,
        "circnn_version": prov["circnn_version"], "git_commit": prov["git_commit"],
        "amaranth_version": amaranth.__version__, "yosys_version": yosys_version(),
        "design": DESIGN, "target": args.target, "top": top,
        "accelerator": params, "accelerator_from": source,
        "engine_options": {**{n: getattr(net.engine, n) for n in ENGINE_OPTIONS[:-1]},
                           "layer_batches": layer_batches},
        **inputs,
        "layers": [{"layer": i, "descriptor": descriptor_of[i], **rep}
                   for i, rep in enumerate(layer_reports(bundle, programs))],
        "descriptors": [{"descriptor": d, "runs": stage_name(stage), "mac_bound_cycles": b}
                        for d, (stage, b) in enumerate(zip(image.stages, bounds))],
        "mac_bound_cycles": int(sum(bounds)), "layer_mac_bound_cycles": bounds,
        "memory": {"weight_words_used": image.report["weight_words_used"],
                   "weight_depth": net.engine.weight_words,
                   "bias_pairs_used": image.report["bias_pairs_used"],
                   "bias_depth": net.engine.bias_words},
        "files": {"verilog": verilog_name, "program": PROGRAM_BIN,
                  "program_description": PROGRAM_JSON},
        "sha256": {},
        "synth": None,
        "board": None,
    }
    status = 0
    with write_folder_atomic(out, writes_only=False) as staging:
        texts = {verilog_name: verilog.encode(), PROGRAM_BIN: program,
                 PROGRAM_JSON: (json.dumps(program_meta, indent=2, default=_plain)
                                + "\n").encode()}
        for name, data in texts.items():
            try:
                (staging / name).write_bytes(data)
            except OSError as exc:
                raise write_error(out / name, exc) from None
            meta["sha256"][name] = sha256_file(staging / name)
        if board is not None:
            meta["board"], status = write_board(staging, net, verilog, top, verilog_name, board,
                                                build_id, first_board, blocks, say,
                                                header=verilog_comment(prov))
            for key, name in meta["board"]["files"].items():
                meta["files"][f"board_{key}"] = name
                meta["sha256"][name] = sha256_file(staging / name)
            if board.synth:
                meta["files"]["board_files"] = BOARD_FILES
        if synth is not None:
            meta["synth"], status = _synthesize(params, verilog, top, args.target, staging,
                                                synth, say)
            meta["files"].update({"synth_files": SYNTH_FILES,
                                  **({} if status else {"synth_report": SYNTH_REPORT})})
        try:
            (staging / BUILD_JSON).write_text(json.dumps(meta, indent=2, default=_plain) + "\n")
        except OSError as exc:
            raise write_error(out / BUILD_JSON, exc) from None
    if not getattr(args, "quiet", False):
        regions = program_meta["regions"]
        print(f"wrote {out}: {verilog_name} ({args.target}, module {top}), {PROGRAM_BIN} "
              f"({len(writes)} writes: {regions['weights']} weight words, {regions['biases']} "
              f"bias pairs, {regions['descriptors']} descriptor fields, {regions['registers']} "
              f"registers), {PROGRAM_JSON}, {BUILD_JSON}"
              + (f", {SYNTH_REPORT}" if synth is not None and not status else ""))
        print(_summary_line(params, source))
        print(f"MAC bound: {meta['mac_bound_cycles']} cycles per inference ("
              + ", ".join(f"{d['runs']}: {d['mac_bound_cycles']}" for d in meta["descriptors"])
              + ")")
        s = meta["synth"]
        if s is not None and "error" not in s:
            print(f"ECP5 ({s['device']}-{s['speed']}): Fmax {s['fmax_mhz']} MHz (target "
                  f"{s['freq_target_mhz']}), LUT4 {s['lut4']}, FF {s['ff']}, MULT18 "
                  f"{s['mult18']}, DP16KD {s['dp16kd']}")
        if meta["board"] is not None:
            print_board(meta["board"])
    if status and meta["board"] is not None:
        print(f"circnn build: warning: the board's ECP5 build failed: "
              f"{meta['board']['synth']['error']}", file=sys.stderr)
    elif status:
        print(f"circnn build: warning: the ECP5 build failed: {meta['synth']['error']}",
              file=sys.stderr)
    if board is not None and board.program and meta["board"]["bitstream"]:
        from .board_program import program_board
        program_board(out / meta["board"]["bitstream"], board.board, say)
        if not getattr(args, "quiet", False):
            print(f"programmed the {board.board.name} with {meta['board']['bitstream']} "
                  f"(build id {meta['board']['build_id_hex']})")
    return status


def print_board(record: dict) -> None:
    """The board's clock, link and (after synthesis) Fmax and utilisation, as a table."""
    pll = record["pll"]
    print(f"board {record['board']} ({record['device']}): clock {record['clock_mhz']} MHz "
          f"(PLL CLKI_DIV {pll['clki_div']}, CLKFB_DIV {pll['clkfb_div']}, CLKOP_DIV "
          f"{pll['clkop_div']}), UART {record['baud']} baud (divisor {record['uart_divisor']}), "
          f"build id {record['build_id_hex']}; {record['files']['verilog']}, "
          f"{record['files']['constraints']}"
          + (f", {record['bitstream']}" if record["bitstream"] else ""))
    s = record["synth"]
    if s is None:
        return
    for i, a in enumerate(s["attempts"], 1):
        print(f"  attempt {i}: placed for {a['target_mhz']} MHz: "
              + (a["error"] if "error" in a and a.get("fmax_mhz") is None else
                 f"Fmax {a['fmax_mhz']} MHz, timing {'met' if a['timing_met'] else 'missed'}"))
    if s.get("lut4") is None:
        return
    cap = record["capacity"]
    print(f"  {'resource':<11}{'used':>8}{'device':>9}{'%':>7}")
    for key, name in (("lut4", "LUT4"), ("ff", "FF"), ("mult18", "MULT18X18D"),
                      ("dp16kd", "DP16KD")):
        print(f"  {name:<11}{s[key]:>8}{cap[key]:>9}{100 * s[key] / cap[key]:>6.1f}%")
    print(f"  clock {s['clock_mhz']} MHz, Fmax {s['fmax_mhz']} MHz "
          f"({'timing met' if s['timing_met'] else 'timing NOT met'})")


def _synthesize(params: dict, verilog: str, top: str, target: str, staging: Path, synth: dict,
                say) -> tuple[dict, int]:
    """The ECP5 report of the build's Verilog (the flow's files in ``synth.files/``),
    and 0; or the failure (its logs kept there) and 1."""
    from circnn.synth.flow import synthesize
    from circnn.synth.tools import ToolError
    try:
        report = synthesize(DESIGN, params, report=staging / SYNTH_REPORT, freq=synth["freq"],
                            seed=synth["seed"], progress=say, verilog=verilog, top=top,
                            target=target)
    except ToolError as exc:
        return {"error": f"{exc.name} failed (exit {exc.returncode}); log: "
                         f"{SYNTH_FILES}/{exc.log_path.name}"}, 1
    return {key: report[key] for key in SYNTH_KEYS}, 0
