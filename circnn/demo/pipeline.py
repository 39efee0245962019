"""``circnn demo``: the steps of the main job, from the data set to the exit status.

:func:`run_demo` loads and checks the data, trains the dense baseline and
the block-circulant network, exports and compiles the bundle, evaluates the
test split in float, in the bit-true model and in RTL simulation
(:func:`.rtl.run_network_rtl`), sweeps the block size, synthesises the
``accelerator`` design sized for the network (in a child process started
after the compile, so that yosys and nextpnr use the second core while the
models, the sweep and the RTL run), and hands the figures to
:mod:`.report` and :mod:`.plots`.  The package docstring describes the
steps and what each one measures.  A run writes into a fresh folder beside
``--out`` that replaces ``--out`` when the run is complete
(:class:`circnn.files.write_folder_atomic`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from circnn.bundle import load_bundle, save_bundle
from circnn.compiler import dequantize_outputs, network_config_for
from circnn.config import EngineConfig
from circnn.errors import ParameterError
from circnn.files import write_folder_atomic
from circnn.sim.model.accelerator import mac_bound_cycles, stages_of
from circnn.sim.model.float_network import predict
from circnn.training import train

from .config import (DEFAULTS, DEVICE, N_CLASSES, PACKAGE, SPEED, WIDTH, DemoConfig,
                     check_block_size, config_from_args, make_parents)
from .data import load_data
from .networks import NETWORKS
from .plots import plot_confusion, plot_layer_cycles, plot_sweep
from .progress import Steps
from .report import print_summary, write_report

__all__ = ["run_demo", "SYNTH_DESIGN", "synthesis_params"]

#: The design the demo builds: the whole engine, its memories sized for the network.
SYNTH_DESIGN = "accelerator"

# Targets of the issues, checked and reported (never enforced by the exit status): per
# network, RTL accuracy within this of float and circulant within this of dense
TARGET_DEMO_S = 600.0
TARGET_RTL_VS_FLOAT = {"mlp": 0.01, "cnn": 0.005}
TARGET_CIRC_VS_DENSE = {"mlp": 0.02, "cnn": 0.01}
TARGET_COMPRESSION = 8.0
#: cycles per inference at most this much above the sum of the layers' MAC bounds
TARGET_MAC_BOUND_EXCESS = 0.25
#: the clock the accelerator must close at, placed for it (MHz; one placement seed)
TARGET_FMAX_MHZ = 160.0


# --------------------------------------------------------------------------
# Training, compiling, the bit-true model

def _train(net, data, cfg: DemoConfig, bar=None, label: str = ""):
    xtr, ytr, xte, yte = data

    def callback(epoch, hist):
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"{label}epoch {epoch} loss {hist.loss[-1]:.3f} "
                                f"test {100 * hist.test_accuracy[-1]:.1f}%")
    return train(net, xtr, ytr, epochs=cfg.epochs, batch_size=DEFAULTS["batch_size"],
                 lr=cfg.lr, optimizer=DEFAULTS["optimizer"], seed=cfg.seed,
                 x_test=xte, y_test=yte, callback=callback)


def _engine(k: int, bundle, family, cfg: DemoConfig):
    max_q = max(layer.q for layer in family.weighted(bundle))
    max_p = max(layer.p for layer in family.weighted(bundle))
    try:
        return EngineConfig(k=k, act_width=WIDTH, weight_width=WIDTH, ifft_width=WIDTH,
                            twiddle_width=WIDTH, pes=cfg.pes, batch=cfg.batch,
                            max_q=max_q, max_p=max_p)
    except ParameterError as exc:
        raise ParameterError(f"engine: {exc}") from None


def _input_saturations(x_codes, eng) -> int:
    """Input values clipped by the first layer's format (outside the calibration range)."""
    hi = (1 << (eng.act_width - 1)) - 1
    return int(np.count_nonzero((x_codes >= hi) | (x_codes <= -hi - 1)))


def _accuracy(logits, y) -> float:
    return float(np.mean(np.argmax(logits, axis=1) == y)) if len(y) else float("nan")


def _weights(network) -> int:
    """Stored weights of a trained network (a convolution's are its linear map's)."""
    linear = (getattr(layer, "linear", layer) for layer in network.layers)
    return int(sum(lin.weight.size for lin in linear if hasattr(lin, "weight")))


# --------------------------------------------------------------------------
# Synthesis

def synthesis_params(eng, programs, layer_batches: int = 1) -> dict:
    """Parameters of :data:`SYNTH_DESIGN` for engine ``eng``, sized to run every layer of
    ``programs`` (layer programs or CNN steps; the accelerator's own rule,
    ``network_config_for``): memories, descriptor table, buffers, patch walker."""
    net = network_config_for(programs, eng, layer_batches)
    return {**net.to_dict(), "weight_depth": net.engine.weight_words,
            "bias_depth": net.engine.bias_words}


#: how long the demo waits for its ECP5 build (it normally takes 4-8 minutes)
SYNTH_TIMEOUT_S = 3600.0


def _start_synthesis(cfg: DemoConfig, out: Path, eng, programs):
    """The ECP5 build, started now in a child process (it runs on the second core while
    the demo goes on): a :class:`~circnn.synth.synth_job.SynthChild`."""
    from circnn.synth.synth_job import SynthChild

    return SynthChild(SYNTH_DESIGN, synthesis_params(eng, programs, cfg.layer_batches),
                      out / "synth" / f"{SYNTH_DESIGN}.json", freq=cfg.freq, device=DEVICE,
                      package=PACKAGE, speed=SPEED)


def _finish_synthesis(child, steps: Steps) -> dict:
    """The ECP5 build's report (in ``out/synth``), or ``{"design", "params", "error"}``
    when it failed."""
    with steps.step("synthesis", f"ECP5 build of `{SYNTH_DESIGN}` ({DEVICE}-{SPEED} {PACKAGE}, "
                                 f"yosys + nextpnr; started after the compile)"):
        with steps.ticker("synth") as note:
            r = child.wait(timeout=SYNTH_TIMEOUT_S, say=note, label=SYNTH_DESIGN)
        if r["ok"]:
            return json.loads(Path(r["report"]).read_text())
        failed = {"design": SYNTH_DESIGN, "params": child.params, "error": r["error"]}
        steps.say(f"synthesis failed: {failed['error']}")
        return failed


# --------------------------------------------------------------------------
# The demo

def run_demo(args) -> int:
    """``circnn demo``: returns 0, or 1 when the RTL disagrees with the golden model or the
    ECP5 build fails; bad input raises :class:`CircnnError` (exit 2 from the CLI)."""
    # The matrices here are small: one BLAS thread is as fast as two, and much faster than
    # two fighting for a core with the simulator or a synthesis job on a shared machine.
    with threadpool_limits(limits=1, user_api="blas"):
        return _run_demo(args)


def _run_demo(args) -> int:
    t_start = time.monotonic()
    cfg = config_from_args(args)
    steps = Steps(cfg.quiet)

    # ---- data (errors name the file; nothing written yet)
    with steps.step("data", "loading the data set"):
        loaded = load_data(cfg)
    check_block_size(cfg, loaded[0].shape[1])

    # Every file of the run goes to a fresh folder beside --out, which takes the place
    # of --out only when the run is complete: report.json always belongs to the
    # model.npz beside it, and a failed or interrupted run leaves --out as it was.
    make_parents(cfg.out)
    with write_folder_atomic(cfg.out, writes_only=False) as out:
        report = _run_into(out, cfg, steps, loaded, t_start)
    print_summary(cfg.out, report)
    failed = False
    mismatches = report["rtl_golden_mismatches"]
    synth = report["synthesis"]
    if mismatches:
        print(f"error: the RTL differs from the golden model on {mismatches} output words",
              file=sys.stderr)
        failed = True
    if synth is not None and synth.get("error"):
        print(f"error: synthesis failed: {synth['error']}", file=sys.stderr)
        failed = True
    return 1 if failed else 0


def _run_into(out: Path, cfg: DemoConfig, steps: Steps, loaded, t_start: float) -> dict:
    """The steps after loading the data, every file written into ``out``; the report."""
    xtr, ytr, xte, yte, data_desc = loaded
    n_in = xtr.shape[1]
    family = NETWORKS[cfg.network](cfg)
    sweep_ks = family.ks(n_in)
    n_test = len(yte)
    # every test row, but MNIST's 10,000 on Icarus (about an hour): its first 200
    rtl_rows = cfg.rtl_rows if cfg.rtl_rows is not None else (
        DEFAULTS["rtl_rows_mnist_icarus"] if cfg.mnist is not None and cfg.simulator == "icarus"
        else n_test)
    rtl_rows = min(rtl_rows, n_test)
    network = family.describe(n_in)
    data = (xtr, ytr, xte, yte)
    notes = []

    # ---- training
    with steps.step("train_dense", f"training the dense baseline {network}"):
        dense = family.dense(n_in)
        with steps.bar(cfg.epochs, "dense", "epoch") as bar:
            hist_dense = _train(dense, data, cfg, bar)
        acc_dense = float(np.mean(dense.predict(xte) == yte))
    with steps.step("train_circulant", f"training the block-circulant network (k = {cfg.k})"):
        circ = family.circulant(n_in, cfg.k)
        with steps.bar(cfg.epochs, f"circulant k={cfg.k}", "epoch") as bar:
            hist_circ = _train(circ, data, cfg, bar)

    # ---- export + compile
    calib = xtr[:DEFAULTS["calibration_rows"]]
    with steps.step("export_compile", "exporting the bundle and compiling it for the engine"):
        meta = dict(dataset=cfg.dataset, k=cfg.k, network=network, seed=cfg.seed, epochs=cfg.epochs,
                    lr=cfg.lr, optimizer=DEFAULTS["optimizer"], batch_size=DEFAULTS["batch_size"])
        bundle_path = out / "model.npz"
        save_bundle(bundle_path, family.to_bundle(
            circ, extra={"demo_meta": np.array(json.dumps(meta))}))
        bundle = load_bundle(bundle_path)
        eng = _engine(cfg.k, bundle, family, cfg)
        programs = family.compile(bundle, eng, calib)
        weighted_index = [i for i, layer in enumerate(bundle.layers) if layer.kind != "maxpool2d"]
        weighted = [bundle.layers[i] for i in weighted_index]
        compiled = [getattr(step, "program", step) for step in programs]
        compiled = [prog for prog in compiled if prog is not None]
        layer_bounds = mac_bound_cycles(stages_of(programs), eng)

    # ---- synthesis: on the second core while the models, the sweep and the RTL run
    synth_job = None if cfg.skip_synth else _start_synthesis(cfg, out, eng, programs)
    try:
        # ---- float and golden on the test split
        with steps.step("evaluate_float_golden", "float and golden (bit-true) models on the test split"):
            logits_float = predict(bundle, xte)
            acc_float = _accuracy(logits_float, yte)
            y_golden, logits_golden, x_codes = family.golden(programs, eng, xte)
            acc_golden = _accuracy(logits_golden, yte)
            acc_train_net = float(np.mean(circ.predict(xte) == yte))
            if abs(acc_train_net - acc_float) > 1e-12:
                notes.append(f"the exported bundle's float accuracy {acc_float:.4f} differs from the "
                             f"trained network's {acc_train_net:.4f}")

        # ---- accuracy against block size (float and golden per k)
        sweep = []
        with steps.step("sweep", f"accuracy against block size (k in {', '.join(map(str, sweep_ks))})"):
            with steps.bar(cfg.epochs * (len(sweep_ks) - 1), "k sweep", "epoch") as bar:
                for k in sweep_ks:
                    if k == cfg.k:
                        net, progs_k, eng_k = circ, programs, eng
                    else:
                        net = family.circulant(n_in, k)
                        _train(net, data, cfg, bar, label=f"k={k} ")
                        b_k = family.to_bundle(net)
                        eng_k = _engine(k, b_k, family, cfg)
                        progs_k = family.compile(b_k, eng_k, calib)
                    sweep.append({
                        "k": k, "weights": _weights(net),
                        "compression_ratio": _weights(dense) / _weights(net),
                        "accuracy_float": float(np.mean(net.predict(xte) == yte)),
                        "accuracy_golden": _accuracy(family.golden(progs_k, eng_k, xte)[1], yte),
                    })

        # ---- RTL
        acc_golden_rtl_rows = _accuracy(logits_golden[:rtl_rows], yte[:rtl_rows])
        acc_float_rtl_rows = _accuracy(logits_float[:rtl_rows], yte[:rtl_rows])
        if cfg.skip_rtl:
            y_rtl = acc_rtl = mismatches = confusion = cycles = None
            rtl_stats = {"method": "skipped", "layers": [], "ideal_cycles_per_inference": None}
        else:
            from .rtl import run_network_rtl
            with steps.step("rtl", f"RTL simulation (cocotb on {cfg.simulator}) of {rtl_rows} "
                                   f"test rows"):
                with steps.ticker("rtl") as note:
                    y_rtl, rtl_stats = run_network_rtl(programs, eng, x_codes[:rtl_rows], note,
                                                       simulator=cfg.simulator,
                                                       layer_batches=cfg.layer_batches)
            mismatches = int(np.count_nonzero(y_rtl != y_golden[:rtl_rows]))
            logits_rtl = dequantize_outputs(y_rtl, compiled[-1].out_frac, N_CLASSES)
            acc_rtl = _accuracy(logits_rtl, yte[:rtl_rows])
            confusion = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
            np.add.at(confusion, (yte[:rtl_rows], np.argmax(logits_rtl, axis=1)), 1)
            cycles = float(rtl_stats["cycles_per_inference"])
    except BaseException:
        if synth_job is not None:
            synth_job.stop()            # its tools with it: nothing goes on writing
        raise

    # ---- synthesis (started after the compile)
    synth = None if synth_job is None else _finish_synthesis(synth_job, steps)
    synth_ok = synth is not None and not synth.get("error")
    fmax = synth.get("fmax_mhz") if synth_ok else None
    ips = fmax * 1e6 / cycles if fmax and cycles else None

    # ---- figures
    dense_w = _weights(dense)
    circ_w = _weights(circ)
    padded_dense_w = int(sum(l.p * l.q * l.k * l.k for l in weighted))
    weight_bits = int(sum(prog.p * prog.q * eng.k * eng.weight_width for prog in compiled))
    weight_bits_dense = dense_w * eng.weight_width
    layers_report = []
    for i, (prog, layer) in enumerate(zip(compiled, weighted)):
        rep = {"layer": weighted_index[i], "type": layer.kind, **prog.report,
               "in_features": layer.n_in, "out_features": layer.n_out,
               "activation": layer.activation,
               "weights_circulant": int(prog.p * prog.q * eng.k),
               "weights_dense": int(layer.n_in * layer.n_out)}
        rep["compression_ratio"] = rep["weights_dense"] / rep["weights_circulant"]
        if i < len(rtl_stats["layers"]):
            rep["rtl"] = dict(rtl_stats["layers"][i])
        layers_report.append(rep)

    if padded_dense_w != dense_w:
        notes.append(
            f"compression_ratio is measured on the weight matrices: dense-equivalent entries of "
            f"the block-circulant matrices / stored values = {padded_dense_w}/{circ_w} = k. "
            f"Against the dense baseline's real weights it is {dense_w}/{circ_w} = "
            f"{dense_w / circ_w:.2f}x (compression_ratio_vs_dense_baseline): blocks pad each "
            f"layer's widths to multiples of k (the {N_CLASSES}-class output layer to p*k = "
            f"{bundle.layers[-1].p * cfg.k} rows).")
    if not cfg.skip_rtl:
        notes.append(f"cycles_per_inference ({rtl_stats['method']}): as counted by the "
                     f"simulation of run_network_rtl (circnn/demo/rtl.py), over {rtl_rows} rows.")
    if synth_ok:
        notes.append(
            "Synthesised design: the network-level `accelerator` (controllers, activation "
            "buffers, host port, patch walker and the layer core), sized to run every layer of "
            "this network (weight_depth, bias_depth, max_layers, max_map and the patch limits); "
            "its Fmax divides the cycles above.")
    if cfg.skip_rtl:
        notes.append("RTL simulation skipped (--skip-rtl): no RTL accuracy, mismatches or cycles.")
    elif rtl_rows != n_test:
        notes.append(f"RTL ran on the first {rtl_rows} of {n_test} test rows (--rtl-rows); on "
                     f"those rows the golden model scores {100 * acc_golden_rtl_rows:.2f} % and "
                     f"float {100 * acc_float_rtl_rows:.2f} %.")
    if cfg.limit is not None:
        notes.append(f"--limit {cfg.limit}: only the first {n_test} test rows were evaluated.")

    gap_circ = acc_dense - acc_float
    rtl_gap = None if acc_rtl is None else acc_float_rtl_rows - acc_rtl
    rtl_target, circ_target = TARGET_RTL_VS_FLOAT[cfg.network], TARGET_CIRC_VS_DENSE[cfg.network]
    mac_bound = int(sum(layer_bounds))
    targets = [
        {"target": "rtl_golden_mismatches == 0", "value": mismatches,
         "met": None if mismatches is None else mismatches == 0},
        {"target": f"accuracy_rtl within {100 * rtl_target:g} point of accuracy_float (same rows)",
         "value": "n/a" if rtl_gap is None else f"{0.0 - 100 * rtl_gap:+.2f} points",
         "met": None if rtl_gap is None else abs(rtl_gap) <= rtl_target + 1e-12},
        {"target": f"circulant (float) within {100 * circ_target:g} point(s) of dense",
         "value": f"{0.0 - 100 * gap_circ:+.2f} points", "met": gap_circ <= circ_target + 1e-12},
        # the CNN's target counts the dense baseline's weights, the MLP's the padded
        # weight matrices (its 10-class layer pads to p*k rows)
        {"target": "compression >= 8x against the dense baseline's weights"
                   if cfg.network == "cnn" else
                   "compression ratio >= 8 on the weight matrices (dense-equivalent / stored)",
         "value": f"{dense_w / circ_w:.2f}x against the dense baseline, "
                  f"{padded_dense_w / circ_w:.2f}x on the padded weight matrices",
         "met": (dense_w if cfg.network == "cnn" else padded_dense_w) / circ_w
         >= TARGET_COMPRESSION},
        {"target": "demo wall time < 10 min", "value": None, "met": None},
    ]
    if cfg.network == "cnn":    # the convolution accelerator's own targets
        targets[-1:-1] = [
            {"target": f"cycles per inference within {100 * TARGET_MAC_BOUND_EXCESS:g}% of the "
                       f"layers' MAC bounds",
             "value": "n/a" if cycles is None else f"{cycles:.1f} / {mac_bound} = "
                                                    f"{cycles / mac_bound:.3f}",
             "met": None if cycles is None
             else cycles <= (1 + TARGET_MAC_BOUND_EXCESS) * mac_bound},
            {"target": f"accelerator Fmax >= {TARGET_FMAX_MHZ:g} MHz",
             "value": "n/a" if fmax is None else f"{fmax:.1f} MHz",
             "met": None if fmax is None else fmax >= TARGET_FMAX_MHZ},
        ]

    report = {
        # required
        "accuracy_dense_float": acc_dense,
        "accuracy_float": acc_float,
        "accuracy_golden": acc_golden,
        "accuracy_rtl": acc_rtl,
        "rtl_golden_mismatches": mismatches,
        # on the weight matrices: each m x n block-circulant matrix against its
        # dense equivalent (= k); the figure against the dense baseline's real,
        # unpadded weights is compression_ratio_vs_dense_baseline
        "compression_ratio": padded_dense_w / circ_w,
        "weight_bits": weight_bits,
        "cycles_per_inference": cycles,
        "fmax_mhz": fmax,
        "inferences_per_second": ips,
        "lut4": synth.get("lut4") if synth_ok else None,
        "ff": synth.get("ff") if synth_ok else None,
        "mult18": synth.get("mult18") if synth_ok else None,
        "dp16kd": synth.get("dp16kd") if synth_ok else None,
        # context
        "dataset": cfg.dataset,
        "dataset_description": data_desc,
        "n_train": int(len(ytr)), "n_test": int(n_test),
        "rtl_rows": 0 if cfg.skip_rtl else int(rtl_rows),
        "network": network,
        "network_kind": cfg.network,
        "k": cfg.k,
        "mac_bound_cycles": mac_bound,
        "layer_cycles": rtl_stats.get("layer_cycles"),
        "layer_mac_bound_cycles": layer_bounds,
        "training": {"optimizer": DEFAULTS["optimizer"], "lr": cfg.lr, "epochs": cfg.epochs,
                     "batch_size": DEFAULTS["batch_size"], "seed": cfg.seed,
                     "dense_history": {"loss": hist_dense.loss,
                                       "test_accuracy": hist_dense.test_accuracy},
                     "circulant_history": {"loss": hist_circ.loss,
                                           "test_accuracy": hist_circ.test_accuracy}},
        "calibration_rows": int(len(calib)),
        "input_saturations_test": _input_saturations(x_codes, eng),
        "accuracy_golden_rtl_rows": None if cfg.skip_rtl else acc_golden_rtl_rows,
        "accuracy_float_rtl_rows": None if cfg.skip_rtl else acc_float_rtl_rows,
        "rtl_output_words": None if y_rtl is None else int(y_rtl.size),
        "weights_dense": dense_w, "weights_circulant": circ_w,
        "compression_ratio_padded": padded_dense_w / circ_w,
        "compression_ratio_vs_dense_baseline": dense_w / circ_w,
        "weight_bits_dense": weight_bits_dense,
        "ideal_cycles_per_inference": rtl_stats.get("ideal_cycles_per_inference"),
        "rtl_method": rtl_stats.get("method"),
        "simulator": None if cfg.skip_rtl else cfg.simulator,
        "rtl": rtl_stats,
        "engine": eng.to_dict(),
        "width_plan": eng.width_plan(),
        "layers": layers_report,
        "sweep": sweep,
        "confusion_rtl": confusion,
        "per_class_accuracy_rtl": None if confusion is None else [
            float(confusion[c, c] / confusion[c].sum()) if confusion[c].sum() else None
            for c in range(N_CLASSES)],
        "synthesis": synth,
        "targets": targets,
        "notes": notes,
        "timings_s": steps.times,
        "files": {"bundle": "model.npz", "report_md": "report.md", "report_json": "report.json",
                  "accuracy_plot": "accuracy_vs_k.png",
                  "confusion_plot": None if confusion is None else "confusion_rtl.png",
                  "layer_cycles_plot": None if cycles is None else "layer_cycles.png"},
    }

    with steps.step("pictures", "pictures"):
        plot_sweep(out / "accuracy_vs_k.png", sweep, acc_dense, cfg.k, cfg.dataset)
        if confusion is not None:
            plot_confusion(out / "confusion_rtl.png", confusion, acc_rtl, rtl_rows)
        if cycles is not None:
            plot_layer_cycles(out / "layer_cycles.png", rtl_stats["layers_run"],
                              rtl_stats["layer_cycles"], rtl_stats["layer_mac_bound_cycles"],
                              network)
    total = round(time.monotonic() - t_start, 2)
    steps.times["total"] = total
    targets[-1].update(value=f"{total:.0f} s", met=total < TARGET_DEMO_S)
    write_report(out, report)
    return report
