"""The ``circnn`` command line.

Every subcommand validates its input before doing any work; bad input
(unknown design, parameter out of range, malformed bundle) is one line on
stderr and exit status 2, with nothing half-written left behind.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import __version__
from .errors import CircnnError

__all__ = ["main", "build_parser"]


def _progress(quiet: bool):
    start = time.monotonic()

    def say(msg: str):
        if not quiet:
            print(f"[{time.monotonic() - start:7.1f}s] {msg}", file=sys.stderr, flush=True)
    return say


def cmd_designs(args) -> int:
    from .designs import all_designs
    for name, design in all_designs().items():
        print(f"{name}: {design.description}")
        if args.verbose:
            for p in design.params:
                print(f"    {p.describe()}")
    return 0


def cmd_generate(args) -> int:
    from .generate import write_design
    from .params import parse_assignments
    meta = write_design(args.design, parse_assignments(args.set), args.target, Path(args.out),
                        top=args.top, progress=_progress(args.quiet))
    print(f"wrote {meta['verilog']} ({args.target}; "
          + ", ".join(f"{k}={v}" for k, v in meta["params"].items()) + ")")
    return 0


def cmd_synth(args) -> int:
    from .params import parse_assignments
    from circnn.synth.flow import synthesize, tool_folder
    r = synthesize(args.design, parse_assignments(args.set), report=Path(args.report),
                   device=args.device, package=args.package, speed=args.speed, freq=args.freq,
                   seed=args.seed, seeds=args.seeds, progress=_progress(args.quiet))
    fmax = "n/a" if r["fmax_mhz"] is None else f"{r['fmax_mhz']:.1f} MHz"
    if len(r["fmax_mhz_seeds"]) > 1:
        fmax += " (median of seeds " + ", ".join(
            f"{s}: {'n/a' if f is None else f'{f:.1f}'}"
            for s, f in zip(r["nextpnr_seeds"], r["fmax_mhz_seeds"])) + ")"
    status = "met" if r["timing_met"] else "NOT met"
    print(f"{r['design']} on {r['device']}-{r['speed']} {r['package']}: "
          f"Fmax {fmax} (target {r['freq_target_mhz']} MHz, {status}), "
          f"LUT4 {r['lut4']}, FF {r['ff']}, MULT18 {r['mult18']}, DP16KD {r['dp16kd']}")
    if r.get("note"):
        print(f"note: {r['note']}")
    print(f"report: {args.report}; tool files: {tool_folder(args.report)}")
    return 0


def cmd_perf_layer(args) -> int:
    from .benchmarks.layer_perf import run_perf_layer, render_markdown
    from .benchmarks.options import check_benchmark_options
    check_benchmark_options(freq=args.freq, synth_timeout=args.synth_timeout,
                            max_sim_clocks=args.max_sim_clocks)
    simulator = _checked_simulator(args.simulator)
    say = _progress(args.quiet)
    result = run_perf_layer(out=Path(args.out), quick=args.quick, freq=args.freq,
                            skip_synth=args.skip_synth, synth=args.synth,
                            synth_timeout=args.synth_timeout, max_sim_clocks=args.max_sim_clocks,
                            simulator=simulator, say=say)
    print(render_markdown(result))
    print(f"written: {Path(args.out) / 'layer.md'}, {Path(args.out) / 'layer.json'}")
    return 0 if not result["failures"] else 1


def cmd_perf_network(args) -> int:
    from .benchmarks.network_perf import render_markdown, run_perf_network
    from .files import check_output_dir
    simulator = _checked_simulator(args.simulator)
    check_output_dir(args.out, "--out")
    result = run_perf_network(out=Path(args.out), simulator=simulator, seed=args.seed,
                              quick=args.quick, say=_progress(args.quiet))
    print(render_markdown(result), end="")
    print(f"written: {Path(args.out) / 'network.md'}, {Path(args.out) / 'network.json'}")
    return 0 if not result["failures"] else 1


def cmd_train_cnn(args) -> int:
    from .train_cnn import run_train_cnn
    return run_train_cnn(args, say=_progress(args.quiet))


def cmd_perf_sim(args) -> int:
    from .benchmarks.sim_perf import TEST_ROWS, render_markdown, run_perf_sim
    from .files import check_output_dir
    from circnn.sim.harness.simulators import check_simulator
    simulators = tuple(dict.fromkeys(s.strip() for s in args.simulators.split(",") if s.strip()))
    if not simulators:
        raise CircnnError("--simulators needs at least one of verilator, icarus")
    for name in simulators:
        check_simulator(name, "--simulators")
    if args.rows is not None and not 1 <= args.rows <= TEST_ROWS:
        raise CircnnError(f"--rows {args.rows}: must be 1..{TEST_ROWS} (the digits test split)")
    check_output_dir(args.out, "--out")
    for name in simulators:
        _checked_simulator(name)
    result = run_perf_sim(out=Path(args.out), quick=args.quick, rows=args.rows,
                          simulators=simulators, say=_progress(args.quiet))
    print(render_markdown(result))
    print(f"written: {Path(args.out) / 'sim.md'}, {Path(args.out) / 'sim.json'}")
    return 0


def _int_list(text: str, name: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise CircnnError(f"{name} takes comma-separated integers, not {text!r}") from None
    if not values:
        raise CircnnError(f"{name} needs at least one value")
    return values


def cmd_bench(args) -> int:
    from .benchmarks.sweep import run_bench
    from .benchmarks.options import check_benchmark_options
    from .benchmarks.sweep_points import check_bench_args
    check_benchmark_options(freq=args.freq, synth_timeout=args.synth_timeout,
                            max_sim_clocks=args.max_sim_clocks)
    sizes = _int_list(args.sizes, "--sizes")
    ks = _int_list(args.ks, "--ks")
    pes = _int_list(args.pes, "--pes")
    check_bench_args(freq=args.freq, jobs=args.jobs, sizes=sizes, ks=ks, pes=pes)
    simulator = _checked_simulator(args.simulator)
    result = run_bench(out=Path(args.out), quick=args.quick, freq=args.freq, jobs=args.jobs,
                       synth_timeout=args.synth_timeout, max_sim_clocks=args.max_sim_clocks,
                       fresh=args.fresh, skip_synth=args.skip_synth, sizes=sizes, ks=ks, pes=pes,
                       seed=args.seed, simulator=simulator, say=_progress(args.quiet))
    failed = [p["name"] for p in result["points"] if p.get("synth_error") or p.get("sim_error")]
    if failed and not args.skip_synth:
        print(f"failed points: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo
    return run_demo(args)


def cmd_infer(args) -> int:
    from .infer import run_infer
    return run_infer(args, progress=_progress(args.quiet))


def cmd_build(args) -> int:
    from .build_command import run_build
    return run_build(args, progress=_progress(args.quiet))


def cmd_prove(args) -> int:
    from .prove import run_prove
    return run_prove(args)


def cmd_run(args) -> int:
    from .board_run import run_board
    return run_board(args, progress=_progress(args.quiet))


SIMULATOR_HELP = ("RTL simulator: verilator (compiled once per engine configuration, then fast) "
                  "or icarus (default verilator)")


def _simulator_option(p, default="verilator") -> None:
    p.add_argument("--simulator", default=default, metavar="{verilator,icarus}",
                   help=SIMULATOR_HELP)


def _checked_simulator(name: str) -> str:
    """``--simulator``: a known one (one line otherwise) that can run here."""
    from circnn.sim.harness.simulators import require_simulator
    require_simulator(name)
    return name


def _benchmark_options(p, *, quick_help: str, out_default: str, timeout: float, timeout_help: str,
                       max_sim_clocks: int, max_sim_help: str, skip_synth_help: str) -> None:
    """The options every benchmark command shares (each with its own defaults)."""
    p.add_argument("--quick", action="store_true", help=quick_help)
    p.add_argument("--out", default=out_default, metavar="DIR",
                   help=f"output directory (default {out_default})")
    p.add_argument("--freq", type=float, default=125.0, metavar="MHZ",
                   help="synthesis target clock (default 125)")
    p.add_argument("--skip-synth", action="store_true", help=skip_synth_help)
    p.add_argument("--synth-timeout", type=float, default=timeout, metavar="S",
                   help=f"{timeout_help} (default {timeout:.0f})")
    p.add_argument("--max-sim-clocks", type=int, default=max_sim_clocks, metavar="N",
                   help=f"{max_sim_help} (default {max_sim_clocks})")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    _simulator_option(p)


LAYER_BATCHES_HELP = ("batches of B inputs that run each layer together (activation buffers for "
                      "M x B inputs; the pipeline's fill and drain are paid once per layer for "
                      "all of them; default 1)")


def _engine_arguments(group, *, mults: bool, calibration_help: str) -> None:
    """The engine options ``infer`` and ``build`` share (``--mults``: the dense baseline's)."""
    group.add_argument("--k", type=int, default=None,
                       help="block size (default: the bundle's k; must match it)")
    group.add_argument("--pes", type=int, default=None, help="processing elements P (default 4)")
    if mults:
        group.add_argument("--mults", type=int, default=None,
                           help="multipliers M of the dense baseline (golden-dense, rtl-dense; "
                                "default 4)")
    group.add_argument("--batch", type=int, default=None,
                       help="input vectors per weight read B (default 1)")
    group.add_argument("--act-width", type=int, default=None, help="activation width (default 16)")
    group.add_argument("--weight-width", type=int, default=None,
                       help="weight spectrum width (default 16)")
    group.add_argument("--ifft-width", type=int, default=None, help="IFFT input width (default 16)")
    group.add_argument("--twiddle-width", type=int, default=None, help="twiddle width (default 16)")
    group.add_argument("--rounding", default=None, help="rounding of the datapath (default half_up)")
    group.add_argument("--calibration", default=None, metavar="X.npy", help=calibration_help)


def _verilog_arguments(group, default_top: str) -> None:
    """``--target`` and ``--top`` of the commands that write Verilog."""
    from .config import TARGETS
    group.add_argument("--target", choices=TARGETS, default="generic",
                       help="generic: vendor-neutral Verilog; ecp5: may instantiate ECP5 "
                            "primitives (default: generic)")
    group.add_argument("--top", default=None,
                       help=f"top module name, also the file name (<top>.v): a Verilog "
                            f"identifier (default: {default_top})")


def build_parser() -> argparse.ArgumentParser:
    from circnn.synth.flow import DEVICES, PACKAGES, SPEEDS

    parser = argparse.ArgumentParser(
        prog="circnn",
        description="Generator for block-circulant (FFT-based) neural-network accelerators.")
    parser.add_argument("--version", action="version", version=f"circnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("designs", help="list the registered designs and their parameters",
                       description="List the registered designs.")
    p.add_argument("-v", "--verbose", action="store_true", help="also list each design's parameters")
    p.set_defaults(func=cmd_designs)

    set_help = "set a design parameter (repeatable); `circnn designs -v` lists them"
    p = sub.add_parser("generate", help="elaborate a design to Verilog",
                       description="Elaborate a registered design to Verilog. The file's header "
                                   "records the circnn version, the git commit of the source, "
                                   "every parameter and the command that regenerates it.")
    p.add_argument("design", help="design name (see `circnn designs`)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help=set_help)
    _verilog_arguments(p, "the design name")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output directory: new (its parent must exist) or existing; <top>.v and "
                        "params.json there are replaced together, other files stay")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("synth", help="synthesise, place and route a design for ECP5",
                       description="Run yosys synth_ecp5 and nextpnr-ecp5 --out-of-context on a "
                                   "design and write a JSON report (post-route Fmax and resources). "
                                   "The Verilog, netlist and tool logs go to the folder "
                                   "<report stem>.files/ beside the report.")
    p.add_argument("design", help="design name (see `circnn designs`)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help=set_help)
    p.add_argument("--device", default="LFE5U-85F", help=f"one of {', '.join(DEVICES)} (default LFE5U-85F)")
    p.add_argument("--package", default="CABGA381", help=f"one of {', '.join(PACKAGES)} (default CABGA381)")
    p.add_argument("--speed", type=int, default=6, help=f"speed grade, one of {SPEEDS} (default 6)")
    p.add_argument("--freq", type=float, default=150.0, metavar="MHZ",
                   help="target clock for placement and routing (default 150)")
    p.add_argument("--seed", type=int, default=1, help="nextpnr placement seed (default 1)")
    p.add_argument("--seeds", type=int, default=1, metavar="N",
                   help="place and route N times, seeds SEED..SEED+N-1; fmax_mhz is the median "
                        "and fmax_mhz_seeds lists each (default 1)")
    p.add_argument("--report", required=True, metavar="FILE.json",
                   help="report path, in an existing folder; the tool files go to "
                        "FILE.files/ beside it")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("perf-layer", help="PE-array benchmark: layer cycles in RTL simulation, ECP5 figures",
                       description="Simulate block-circulant layers (k=16, 16-bit; n = 128..1024, "
                                   "P in {1, 4, 8}, B in {1, 4}) in RTL and measure cycles per vector "
                                   "against ceil(p/P)*q*k/2, then synthesise the layer engine for "
                                   "LFE5U-85F-6 (P in {1, 4, 8}). Prints a Markdown table and writes "
                                   "layer.md and layer.json.")
    _benchmark_options(p, quick_help="small subset (n = 128, 256 at P = 4), no synthesis unless --synth",
                       out_default="build/perf", timeout=600.0,
                       timeout_help="per build; a P over it (or failing) is retried with "
                                    "max_q = max_p = 16",
                       max_sim_clocks=2_000_000,
                       max_sim_help="points estimated to need more simulated clocks are "
                                    "extrapolated with the formula instead",
                       skip_synth_help="no ECP5 synthesis")
    p.add_argument("--synth", action="store_true", help="synthesise even with --quick")
    p.set_defaults(func=cmd_perf_layer)

    p = sub.add_parser("perf-network", help="whole inferences on the accelerator: cycles per "
                                            "layer against the MAC bound, PE utilisation",
                       description="Simulate the digits MLP (64-128-10, k=8), a 64-256-128-10 MLP "
                                   "(k=16) and the digits CNN (k=16) with random weights on the "
                                   "whole accelerator (P=4), in steady state, with one batch per "
                                   "layer and with several (layer_batches); print each layer's "
                                   "cycles per inference, MAC bound, overhead and PE utilisation. "
                                   "Writes network.md and network.json. Exit 1 when a network "
                                   "misses its goal (85%% of the MAC bound for the MLPs, 80%% for "
                                   "the CNN) or an output differs from the golden model.")
    p.add_argument("--quick", action="store_true",
                   help="only the larger layer_batches of each network")
    p.add_argument("--out", default="build/perf-network", metavar="DIR",
                   help="output directory (default build/perf-network)")
    p.add_argument("--simulator", default="verilator", metavar="{verilator,icarus}",
                   help=SIMULATOR_HELP)
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights and inputs")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=cmd_perf_network)

    p = sub.add_parser("bench", help="circulant vs dense engine: resources, Fmax, cycles, GOPS, storage",
                       description="Sweep block-circulant layers (square 256..4096 and non-square; "
                                   "k in {4, 8, 16, 32, 64}; P in {1, 2, 4, 8, 16}) and the dense "
                                   "baseline with the same MULT18 budget: ECP5 figures from nextpnr "
                                   "(LFE5U-85F-6), cycles from RTL simulation or the checked cycle "
                                   "formula. Writes bench.json, bench.md, scaling.png and "
                                   "efficiency.png; points that do not fit are reported as such.")
    _benchmark_options(p, quick_help="256x256 at k=16, P=4 and its dense partner only (a few minutes)",
                       out_default="build/bench", timeout=3600.0, timeout_help="per synthesis run",
                       max_sim_clocks=150_000,
                       max_sim_help="simulate the points estimated under N clocks; the others "
                                    "use the checked formula",
                       skip_synth_help="cycles and storage only, no ECP5 figures")
    p.add_argument("--sizes", default=None, metavar="N,N,...", help="square layer sizes to sweep")
    p.add_argument("--ks", default=None, metavar="K,K,...", help="block sizes to sweep")
    p.add_argument("--pes", default=None, metavar="P,P,...", help="PE counts to sweep")
    p.add_argument("--jobs", type=int, default=2, help="synthesis runs at once (default 2)")
    p.add_argument("--fresh", action="store_true", help="rebuild even when a synthesis report is reusable")
    p.add_argument("--seed", type=int, default=0, help="seed of the random layers (default 0)")
    p.set_defaults(func=cmd_bench)

    from .cnn_training import CNN_SPEC
    p = sub.add_parser("train-cnn", help="train a block-circulant CNN and its dense baseline, "
                                         "export a format-2 bundle",
                       description="Train a convolutional network on scikit-learn's 8x8 digits "
                                   "(or MNIST IDX files with --mnist): dense, block-circulant "
                                   "from scratch, and projected from the dense one and "
                                   "re-trained; check the block-circulant one in the 16-bit "
                                   "bit-true model. Writes model.npz, model_from_dense.npz and "
                                   "report.json.")
    p.add_argument("--cnn", default=CNN_SPEC, metavar="SPEC",
                   help=f"layers: convKxKxC (padding keeps the size), poolN, denseN "
                        f"(default {CNN_SPEC})")
    p.add_argument("--k", type=int, default=16, help="block size (default 16)")
    p.add_argument("--epochs", type=int, default=30, help="epochs of each training (default 30)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 0.002)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights and batches (default 0)")
    p.add_argument("--mnist", default=None, metavar="DIR",
                   help="MNIST IDX files in DIR instead of the digits (never downloaded)")
    p.add_argument("--out", default="build/cnn", metavar="DIR",
                   help="output directory (default build/cnn)")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=cmd_train_cnn)

    p = sub.add_parser("perf-sim", help="RTL simulation speed: Verilator against Icarus, cold and cached",
                       description="Train a 64-256-128-10 network at k = 16 on the digits, then run "
                                   "`circnn infer --backend rtl` on the test split (450 rows) on each "
                                   "simulator twice, with an empty build cache and with the build "
                                   "cached. Prints a Markdown table (wall, build and simulation "
                                   "times, simulated clocks, clocks per second) and writes sim.md "
                                   "and sim.json.")
    p.add_argument("--out", default="build/perf-sim", metavar="DIR",
                   help="output directory (default build/perf-sim)")
    p.add_argument("--quick", action="store_true", help="45 rows instead of 450")
    p.add_argument("--rows", type=int, default=None, metavar="N",
                   help="rows of the test split to simulate (1..450)")
    p.add_argument("--simulators", default="verilator,icarus", metavar="NAMES",
                   help="comma-separated, of verilator, icarus (default both)")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=cmd_perf_sim)

    p = sub.add_parser("demo", help="the main job: train, compile, golden model, RTL and ECP5 build, summarised",
                       description="Train a dense baseline and a block-circulant network of the "
                                   "same shape (by default the CNN conv3x3x16, conv3x3x32, "
                                   "pool2, dense128, dense10 at block size k = 16; --network mlp "
                                   "for the n_in-128-10 MLP at k = 8) on scikit-learn's 8x8 "
                                   "digits (or MNIST with --mnist), export and compile the "
                                   "circulant one for the engine (16-bit datapath), evaluate the "
                                   "test split in float, in the bit-true golden model and on the "
                                   "accelerator's RTL (cocotb on Verilator or Icarus), "
                                   "synthesise the accelerator for LFE5U-85F-6, and write "
                                   "report.json, report.md and three plots to --out.")
    p.add_argument("--out", default="build/demo", metavar="DIR", help="output directory (default build/demo)")
    p.add_argument("--mnist", default=None, metavar="DIR",
                   help="train on MNIST from the four IDX files in DIR (plain or .gz; nothing is "
                        "downloaded) instead of the 8x8 digits")
    p.add_argument("--network", default=None, choices=("cnn", "mlp"),
                   help="the network: cnn (default) or mlp")
    p.add_argument("--cnn", default=None, metavar="SPEC",
                   help="layers of the CNN: convKxKxC, poolN, denseN (default "
                        "conv3x3x16,conv3x3x32,pool2,dense128,dense10)")
    p.add_argument("--k", type=int, default=None,
                   help="block size of the circulant network and the engine: a power of two "
                        "4..256, for the MLP at most min(input width, hidden width) (default 16 "
                        "for the CNN, 8 for the MLP)")
    p.add_argument("--hidden", type=int, default=None,
                   help="hidden layer width of the MLP (default 128)")
    p.add_argument("--epochs", type=int, default=None,
                   help="training epochs of every network (CNN: 30 on digits, 3 on MNIST; MLP: "
                        "20 on digits, 5 on MNIST)")
    p.add_argument("--lr", type=float, default=None,
                   help="Adam learning rate (default 0.002 for the CNN, 0.005 for the MLP)")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the initial weights and of the sample order (default 0)")
    p.add_argument("--pes", type=int, default=None, help="processing elements P of the engine (default 4)")
    p.add_argument("--batch", type=int, default=None,
                   help="input vectors per weight read B of the engine (default 2 for the CNN, "
                        "4 for the MLP)")
    p.add_argument("--layer-batches", type=int, default=None, metavar="M",
                   help="batches of B inputs that run each layer together in the accelerator "
                        "(default 2 for the CNN, 8 for the MLP)")
    p.add_argument("--rtl-rows", type=int, default=None, metavar="N",
                   help="simulate only the first N test rows in RTL (default: all on digits, "
                        "200 on MNIST)")
    p.add_argument("--freq", type=float, default=None, metavar="MHZ",
                   help="synthesis target clock (default 160)")
    p.add_argument("--skip-synth", action="store_true", help="skip the ECP5 build")
    p.add_argument("--skip-rtl", action="store_true",
                   help="skip the RTL simulation (float and golden models only)")
    p.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)  # tests: first N test rows
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    _simulator_option(p, default=None)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("build", help="compile a network, size an accelerator for it and write "
                                     "its Verilog, program.bin, program.json and build.json",
                       description="Compile a model bundle for the engine, size an accelerator "
                                   "for it (or take --set limits and check that the network "
                                   "fits), and write to DIR the accelerator's Verilog, "
                                   "program.bin (the host-bus writes that load the network), "
                                   "program.json (their summary and how to run an inference), "
                                   "build.json (every parameter, the layers' formats and errors, "
                                   "the MAC-bound cycles, versions) and with --synth the ECP5 "
                                   "report (docs/build.md). DIR is replaced as a whole when the "
                                   "build is complete: it must be new, empty or a previous build.")
    p.add_argument("--model", required=True, metavar="NET.npz", help="model bundle")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="the build folder: new (its parent must exist), empty, or a previous build")
    eg = p.add_argument_group("engine (as circnn infer)")
    _engine_arguments(eg, mults=False,
                      calibration_help="rows the compiler chooses formats from (a convolutional "
                                       "network needs them; without them a dense network's "
                                       "formats come from its weights and biases)")
    eg.add_argument("--layer-batches", type=int, default=None, metavar="M",
                    help=LAYER_BATCHES_HELP)
    hg = p.add_argument_group("accelerator and Verilog")
    hg.add_argument("--set", action="append", metavar="NAME=VALUE",
                    help="replace a limit of the accelerator sized for the network (repeatable; "
                         "max_q, max_p, weight_depth, bias_depth, max_layers, max_map, "
                         "convolution, max_side, max_channels, max_kernel, max_stride, "
                         "max_padding, twiddle_multiplier: `circnn designs -v`); a network "
                         "that does not fit is refused, naming what does not")
    _verilog_arguments(hg, "accelerator")
    sg = p.add_argument_group("ECP5 build")
    sg.add_argument("--synth", action="store_true",
                    help="also synthesise, place and route the accelerator for LFE5U-85F-6 "
                         "CABGA381 (as circnn synth; minutes): synth.json and synth.files/; "
                         "with --board, the board's top level instead, to a bitstream")
    sg.add_argument("--freq", type=float, default=None, metavar="MHZ",
                    help="--synth: target clock (default 150); --board: the first PLL "
                         "frequency tried (default 150; lowered to the Fmax reached until "
                         "timing closes)")
    sg.add_argument("--seed", type=int, default=None, help="--synth: placement seed (default 1)")
    bg = p.add_argument_group("board (docs/board.md)")
    bg.add_argument("--board", default=None, metavar="NAME",
                    help="also write the top level of the accelerator on this board, behind "
                         "the host link over its UART: ulx3s (the 85F), ulx3s-12f, ulx3s-25f, "
                         "ulx3s-45f, ulx3s-85f; with --synth, its bitstream (the target is "
                         "ecp5)")
    bg.add_argument("--baud", type=int, default=None,
                    help="--board: the UART's bits per second (default 3000000)")
    bg.add_argument("--program", action="store_true",
                    help="--board --synth: load the bitstream into the board with "
                         "openFPGALoader when the build is done")
    p.add_argument("--quiet", action="store_true", help="no summary and no progress messages")
    p.set_defaults(func=cmd_build, target=None)

    p = sub.add_parser("run", help="run input rows on a board that runs a build (over its UART)",
                       description="Talk to a board programmed with a build's bitstream "
                                   "(circnn build --board --synth) through its serial port: "
                                   "check that it runs this build (identify: build id), load "
                                   "the network (program.bin), stream the input rows, take the "
                                   "outputs and write them as circnn infer does; prints "
                                   "inferences per second (docs/board.md).")
    p.add_argument("--build", required=True, metavar="DIR", help="the build folder")
    p.add_argument("--port", required=True, metavar="PORT",
                   help="the board's serial port (/dev/ttyUSB0; any pyserial URL)")
    p.add_argument("--inputs", required=True, metavar="X.npy",
                   help="float rows (N, n_in), maps (N, H, W, C), or one row or map")
    p.add_argument("--out", required=True, metavar="Y.npy", help="output rows, written atomically")
    p.add_argument("--timeout", type=float, default=2.0, metavar="S",
                   help="seconds to wait for a reply beyond its bytes' time on the line "
                        "(default 2)")
    p.add_argument("--retries", type=int, default=3, metavar="N",
                   help="times a frame is sent again after a corrupt, an error or no reply "
                        "(default 3)")
    p.add_argument("--quiet", action="store_true", help="no summary and no progress messages")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("infer", help="run a model bundle on input rows (float, golden or RTL)",
                       description="Run a model bundle on the rows of a .npy file and write the "
                                   "outputs as a .npy file. float: the double-precision forward "
                                   "pass (any depth). golden: the compiler's fixed-point formats "
                                   "and the bit-true layer model. rtl: the compiled network on "
                                   "the generated Verilog under cocotb (Verilator or Icarus "
                                   "Verilog), all rows in one simulation, with cycles and "
                                   "multiplier utilisation. "
                                   "golden and rtl run bundles of any depth.")
    p.add_argument("--model", default=None, metavar="BUNDLE.npz",
                   help="model bundle (circnn-bundle/1); with --build, default: the bundle the "
                        "build was made from (a bundle given must be that one)")
    p.add_argument("--build", default=None, metavar="DIR",
                   help="golden, rtl: run on the accelerator `circnn build` wrote to DIR: its "
                        "engine and formats; rtl simulates its Verilog file, loaded by "
                        "replaying program.bin through the host bus (engine options are fixed "
                        "by the build)")
    p.add_argument("--inputs", required=True, metavar="X.npy", help="float rows (N, n_in) or one row (n_in,)")
    p.add_argument("--backend", choices=("float", "golden", "rtl", "golden-dense", "rtl-dense"),
                   required=True,
                   help="float (double precision), golden (bit-true model), rtl (the generated "
                        "Verilog under cocotb, see --simulator; multi-layer bundles run through the "
                        "accelerator's controller in one simulation), golden-dense / rtl-dense "
                        "(the dense baseline engine on the same function, one-layer bundles)")
    p.add_argument("--out", required=True, metavar="Y.npy", help="output rows, written atomically")
    eg = p.add_argument_group("engine (golden and rtl)")
    _engine_arguments(eg, mults=True,
                      calibration_help="rows the compiler chooses formats from (default: the "
                                       "inputs; with --build, the build's)")
    eg.add_argument("--strict", action="store_true",
                    help="exit with status 3 when any value saturated in the run (the outputs "
                         "are still written)")
    rg = p.add_argument_group("RTL simulation (rtl, rtl-dense)")
    rg.add_argument("--simulator", default=None, metavar="{verilator,icarus}",
                    help=SIMULATOR_HELP)
    rg.add_argument("--idle", type=float, default=None,
                    help="probability of an idle input clock (default 0)")
    rg.add_argument("--stall", type=float, default=None,
                    help="probability of an output back-pressure clock (default 0)")
    rg.add_argument("--seed", type=int, default=None,
                    help="seed of the idle/stall patterns (default 0)")
    rg.add_argument("--layer-batches", type=int, default=None, metavar="M",
                    help="rtl, multi-layer bundles: " + LAYER_BATCHES_HELP)
    p.add_argument("--report", default=None, metavar="FILE.json",
                   help="also write a JSON report (formats, errors, saturation counts of the "
                        "calibration and of the run, cycles, utilisation); written together "
                        "with --out, both or neither")
    p.add_argument("--quiet", action="store_true", help="no summary and no progress messages")
    p.set_defaults(func=cmd_infer)

    p = sub.add_parser("prove", help="formal proofs of the stream toolkit, the FFT stages and "
                                     "the network controller (SymbiYosys)",
                       description="Run the formal properties with SymbiYosys (yowasp-sby, "
                                   "Boolector); print a table and write DIR/summary.json. "
                                   "docs/verification.md lists them.")
    p.add_argument("--all", action="store_true",
                   help="also the slow properties (full widths, larger instances)")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="only this property, or every property of a component file "
                        "(repeatable; --list names them)")
    p.add_argument("--mutants", action="store_true",
                   help="also run each property on its broken variant, which must fail "
                        "(DIR/mutants.json)")
    p.add_argument("--list", action="store_true", help="list the properties and exit")
    p.add_argument("--out", default="build/formal", metavar="DIR",
                   help="output folder (default build/formal)")
    p.set_defaults(func=cmd_prove)
    return parser


def main(argv=None) -> int:
    """Run one command; its exit status.

    0 done, 1 done with failures (benchmarks), 2 bad input (one line on
    stderr), 130 interrupted by SIGINT and 143 by SIGTERM (one line, no
    traceback; SIGTERM unwinds through the ``finally`` blocks like Ctrl-C,
    see :mod:`circnn.interrupts`, so the command's cleanup runs).  Called
    without ``argv`` (the ``circnn`` executable), an interrupted command
    ends the process at once after its cleanup instead of returning, which
    skips the seconds of interpreter teardown a large design would cost.
    """
    from .interrupts import (Terminated, fast_exit, interrupt_message, interrupt_status,
                             sigterm_raises)
    command = None
    try:
        with sigterm_raises():
            parser = build_parser()
            args = parser.parse_args(argv)
            command = args.command
            try:
                return args.func(args)
            except CircnnError as exc:
                print(f"circnn {args.command}: error: {exc}", file=sys.stderr)
                return 2
    except (KeyboardInterrupt, Terminated) as exc:
        print(interrupt_message(command, exc), file=sys.stderr)
        status = interrupt_status(exc)
        if argv is None:
            fast_exit(status)
        return status


if __name__ == "__main__":
    sys.exit(main())
