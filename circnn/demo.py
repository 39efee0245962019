"""``circnn demo``: the main job, end to end, on a real data set.

1. **Train** (NumPy, seeded, reproducible) on scikit-learn's 8x8 digits (the
   fixed split of :func:`circnn.datasets.load_digits_split`) or on MNIST
   (``--mnist DIR``, :func:`circnn.datasets.load_mnist_idx`): the dense
   baseline ``n_in -> hidden -> 10`` and the block-circulant network of the
   same shape (block size ``k``, default 8), with the same recipe (Adam, lr
   5e-3, mini-batches of 32, 20 epochs on digits).  A cheap sweep trains the
   circulant network again at k in {4, 8, 16} for the accuracy-vs-block-size
   plot.
2. **Export and compile**: the circulant network becomes a model bundle
   (``model.npz``, format ``circnn-bundle/1``), compiled for one engine
   (:class:`~circnn.sim.model.layer.EngineConfig`: k, 16-bit datapath, P
   PEs, batch B, ``max_q``/``max_p`` of the largest layer) with formats
   calibrated on a slice of the training set.
3. **Evaluate** the test split three ways: ``float`` (double-precision
   forward pass of the bundle), ``golden`` (the bit-true model:
   quantise, :func:`~circnn.sim.model.network.network_forward`, dequantise,
   arg-max) and ``rtl`` (:func:`circnn.demo_rtl.run_network_rtl`: the
   generated Verilog under cocotb on Icarus).  ``rtl_golden_mismatches``
   counts the output words on which RTL and golden model differ.
4. **Synthesise** the accelerator for LFE5U-85F-6 (yosys + nextpnr): the
   network-level design ``accelerator`` when it is registered, else the
   layer engine ``layer`` sized for the network.  ``inferences_per_second =
   fmax * 1e6 / cycles_per_inference``.
5. **Report**: a summary table on stdout; ``report.json``, ``report.md`` and
   two pictures (accuracy vs block size, confusion matrix of the RTL run)
   in ``--out``.

Every step longer than a few seconds shows progress on stderr (tqdm) and its
elapsed time; ``--quiet`` silences both.  Bad input (a missing or malformed
data directory or IDX file, an impossible block size or parameter) is one
line naming the file or parameter, exit status 2, before anything is
written.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import CircnnError, ParameterError

__all__ = ["run_demo", "DemoConfig", "config_from_args", "REQUIRED_KEYS", "DEFAULTS"]

#: Keys that report.json always holds (values may be null when a step is skipped).
REQUIRED_KEYS = (
    "accuracy_dense_float", "accuracy_float", "accuracy_golden", "accuracy_rtl",
    "rtl_golden_mismatches", "compression_ratio", "weight_bits", "cycles_per_inference",
    "fmax_mhz", "inferences_per_second", "lut4", "ff", "mult18", "dp16kd",
)

#: Training recipe shared by the dense baseline, the circulant network and the sweep.
DEFAULTS = dict(k=8, hidden=128, seed=0, lr=5e-3, batch_size=32, optimizer="adam",
                epochs_digits=20, epochs_mnist=5, pes=4, batch=4, freq=100.0,
                calibration_rows=256, rtl_rows_mnist=200, sweep_ks=(4, 8, 16))

N_CLASSES = 10
WIDTH = 16          # activations, weight spectra, IFFT input, twiddles
DEVICE, PACKAGE, SPEED = "LFE5U-85F", "CABGA381", 6

# Targets of the issue, checked and reported (never enforced by the exit status).
TARGET_DEMO_S = 600.0
TARGET_RTL_VS_FLOAT = 0.01
TARGET_CIRC_VS_DENSE = 0.02
TARGET_COMPRESSION = 8.0


# --------------------------------------------------------------------------
# Configuration and input checks (all before anything is written)

@dataclass
class DemoConfig:
    out: Path
    mnist: Path | None
    k: int
    hidden: int
    epochs: int
    lr: float
    seed: int
    pes: int
    batch: int
    freq: float
    skip_synth: bool
    skip_rtl: bool
    quiet: bool
    limit: int | None
    rtl_rows: int | None

    @property
    def dataset(self) -> str:
        return "mnist" if self.mnist is not None else "digits"


def _get(args, name, default=None):
    value = getattr(args, name, None)
    return default if value is None else value


def config_from_args(args) -> DemoConfig:
    """Validate the command-line options that do not depend on the data."""
    from .config import check_int
    mnist = _get(args, "mnist")
    epochs = _get(args, "epochs", DEFAULTS["epochs_mnist"] if mnist else DEFAULTS["epochs_digits"])
    cfg = DemoConfig(
        out=Path(_get(args, "out", "build/demo")),
        mnist=None if mnist is None else Path(mnist),
        k=_get(args, "k", DEFAULTS["k"]),
        hidden=_get(args, "hidden", DEFAULTS["hidden"]),
        epochs=epochs,
        lr=float(_get(args, "lr", DEFAULTS["lr"])),
        seed=_get(args, "seed", DEFAULTS["seed"]),
        pes=_get(args, "pes", DEFAULTS["pes"]),
        batch=_get(args, "batch", DEFAULTS["batch"]),
        freq=float(_get(args, "freq", DEFAULTS["freq"])),
        skip_synth=bool(_get(args, "skip_synth", False)),
        skip_rtl=bool(_get(args, "skip_rtl", False)),
        quiet=bool(_get(args, "quiet", False)),
        limit=_get(args, "limit"),
        rtl_rows=_get(args, "rtl_rows"),
    )
    check_int("--epochs", cfg.epochs, 1, 10_000)
    check_int("--hidden", cfg.hidden, 4, 4096)
    check_int("--seed", cfg.seed, 0, 2**32 - 1)
    check_int("--pes", cfg.pes, 1, 64)
    check_int("--batch", cfg.batch, 1, 64)
    if not (math.isfinite(cfg.lr) and 0 < cfg.lr <= 1):
        raise ParameterError(f"--lr must be in (0, 1], not {cfg.lr}")
    if not 1 <= cfg.freq <= 1000:
        raise ParameterError(f"--freq must be in 1..1000 MHz, not {cfg.freq}")
    if cfg.limit is not None:
        check_int("--limit", cfg.limit, 1)
    if cfg.rtl_rows is not None:
        check_int("--rtl-rows", cfg.rtl_rows, 1)
    k = check_int("--k", cfg.k)
    if k < 4 or k > 256 or k & (k - 1):
        raise ParameterError(f"--k {k}: the accelerator runs block sizes that are powers of two "
                             f"in 4..256")
    if cfg.out.exists() and not cfg.out.is_dir():
        raise CircnnError(f"{cfg.out}: exists and is not a directory (--out)")
    if cfg.mnist is not None:
        if not cfg.mnist.exists():
            raise CircnnError(f"{cfg.mnist}: MNIST directory does not exist (--mnist)")
        if not cfg.mnist.is_dir():
            raise CircnnError(f"{cfg.mnist}: not a directory (--mnist needs the directory "
                              f"holding the four MNIST IDX files)")
    return cfg


def check_block_size(cfg: DemoConfig, n_in: int) -> None:
    """k must fit the layer widths: at most the input width and the hidden width."""
    limit = min(n_in, cfg.hidden)
    if cfg.k > limit:
        raise ParameterError(
            f"--k {cfg.k}: block size larger than the layer widths allow (input {n_in}, "
            f"hidden {cfg.hidden}: k must be at most {limit})")


def load_data(cfg: DemoConfig):
    """(x_train, y_train, x_test, y_test, description); errors name the file."""
    from .datasets import load_digits_split, load_mnist_idx
    if cfg.mnist is None:
        xtr, ytr, xte, yte = load_digits_split(seed=0)
        name = "scikit-learn digits (8x8), fixed split load_digits_split(seed=0)"
    else:
        xtr, ytr, xte, yte = load_mnist_idx(cfg.mnist)
        name = f"MNIST IDX files in {cfg.mnist}"
        for label, y in (("train-labels-idx1-ubyte", ytr), ("t10k-labels-idx1-ubyte", yte)):
            if len(y) == 0:
                raise CircnnError(f"{cfg.mnist / label}: no samples")
            if y.max() >= N_CLASSES:
                raise CircnnError(f"{cfg.mnist / label}: label {int(y.max())} outside "
                                  f"0..{N_CLASSES - 1}")
        if xtr.shape[1] != xte.shape[1]:
            raise CircnnError(f"{cfg.mnist / 't10k-images-idx3-ubyte'}: images have "
                              f"{xte.shape[1]} pixels, the training images {xtr.shape[1]}")
    if cfg.limit is not None:
        xte, yte = xte[:cfg.limit], yte[:cfg.limit]
    return xtr, ytr, xte, yte, name


# --------------------------------------------------------------------------
# Progress: one tqdm bar per long step on stderr, elapsed time per step

class _Steps:
    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.times: dict[str, float] = {}
        self.start = time.monotonic()
        self.tty = sys.stderr.isatty()

    def say(self, msg: str) -> None:
        if not self.quiet:
            from tqdm import tqdm
            tqdm.write(msg, file=sys.stderr)

    @contextlib.contextmanager
    def step(self, key: str, title: str):
        self.say(f"==> {title}")
        t0 = time.monotonic()
        try:
            yield
        finally:
            dt = time.monotonic() - t0
            self.times[key] = round(dt, 2)
            self.say(f"    {title}: {dt:.1f} s")

    def bar(self, total: int, desc: str, unit: str):
        from tqdm import tqdm
        return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=self.quiet,
                    dynamic_ncols=True, mininterval=0.2 if self.tty else 5.0, leave=True)

    @contextlib.contextmanager
    def ticker(self, desc: str):
        """An open-ended bar: the elapsed time and the latest status message.

        The bar is redrawn every second on a terminal (every 15 s into a
        file), so the clock keeps moving while a tool or simulator works.
        """
        from tqdm import tqdm
        bar = tqdm(total=None, desc=desc, file=sys.stderr, disable=self.quiet,
                   bar_format="[{elapsed}] {desc}", dynamic_ncols=True, mininterval=0.0,
                   leave=True)
        stop = threading.Event()
        period = 1.0 if self.tty else 15.0

        def tick():
            while not stop.wait(period):
                bar.refresh()
        thread = threading.Thread(target=tick, daemon=True)
        if not self.quiet:
            thread.start()

        def note(msg: str):
            bar.set_description_str(f"{desc}: {msg}", refresh=True)
        try:
            yield note
        finally:
            stop.set()
            if thread.is_alive():
                thread.join()
            bar.close()


# --------------------------------------------------------------------------
# Training

def _train(net, data, cfg: DemoConfig, bar=None, label: str = ""):
    from .training import train
    xtr, ytr, xte, yte = data

    def callback(epoch, hist):
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"{label}epoch {epoch} loss {hist.loss[-1]:.3f} "
                                f"test {100 * hist.test_accuracy[-1]:.1f}%")
    return train(net, xtr, ytr, epochs=cfg.epochs, batch_size=DEFAULTS["batch_size"],
                 lr=cfg.lr, optimizer=DEFAULTS["optimizer"], seed=cfg.seed,
                 x_test=xte, y_test=yte, callback=callback)


def _engine(k: int, programs_shape, cfg: DemoConfig):
    from .config import EngineConfig
    max_q = max(q for _, q in programs_shape)
    max_p = max(p for p, _ in programs_shape)
    try:
        return EngineConfig(k=k, act_width=WIDTH, weight_width=WIDTH, ifft_width=WIDTH,
                            twiddle_width=WIDTH, pes=cfg.pes, batch=cfg.batch,
                            max_q=max_q, max_p=max_p)
    except ParameterError as exc:
        raise ParameterError(f"engine: {exc}") from None


def _golden(programs, eng, x):
    """Bit-true model: (output codes (N, p*k), dequantised logits (N, 10), input codes)."""
    from .compiler import dequantize_outputs, quantize_inputs
    from .sim.model.network import network_forward
    x_codes = quantize_inputs(x, programs[0].in_frac, eng, programs[0].q, name="test inputs")
    y_codes = network_forward(x_codes, programs, eng)
    return y_codes, dequantize_outputs(y_codes, programs[-1].out_frac, N_CLASSES), x_codes


def _input_saturations(x_codes, eng) -> int:
    """Input values clipped by the first layer's format (outside the calibration range)."""
    hi = (1 << (eng.act_width - 1)) - 1
    return int(np.count_nonzero((x_codes >= hi) | (x_codes <= -hi - 1)))


def _accuracy(logits, y) -> float:
    return float(np.mean(np.argmax(logits, axis=1) == y)) if len(y) else float("nan")


def _weights(network) -> int:
    return int(sum(layer.weight.size for layer in network.layers))


# --------------------------------------------------------------------------
# Synthesis

def _network_sizing(programs, eng) -> dict:
    """Memory sizes of a network-level engine that holds every layer of ``programs``."""
    try:  # the accelerator's own rule, when it is there
        from circnn.compiler import network_config_for
        net = network_config_for(programs, eng)
        e = net.engine
        return {"max_q": e.max_q, "max_p": e.max_p, "weight_depth": e.weight_words,
                "bias_depth": e.bias_words, "max_layers": net.max_layers}
    except ImportError:
        groups = lambda prog: -(-prog.p // eng.pes)
        return {"max_q": max(p.q for p in programs), "max_p": max(p.p for p in programs),
                "weight_depth": sum(groups(p) * p.q * eng.half for p in programs),
                "bias_depth": sum(p.p * eng.half for p in programs),
                "max_layers": len(programs)}


def _synth_design(eng, programs):
    """(design name, params): ``accelerator`` (sized for the whole network) when it is
    registered, else the one-layer engine ``layer`` (memories for the largest layer)."""
    from .designs import all_designs
    designs = all_designs()
    name = "accelerator" if "accelerator" in designs else "layer"
    wanted = {key: value for key, value in eng.to_dict().items()
              if key not in ("weight_depth", "bias_depth")}
    if name == "accelerator":
        wanted.update(_network_sizing(programs, eng))
    declared = {p.name for p in designs[name].params}
    return name, {key: value for key, value in wanted.items() if key in declared}


# --------------------------------------------------------------------------
# Pictures

def _plot_sweep(path: Path, sweep: list[dict], dense_acc: float, k_main: int, dataset: str):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ks = [s["k"] for s in sweep]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    ax.axhline(100 * dense_acc, color="0.3", ls="--", label="dense baseline (float)")
    ax.plot(ks, [100 * s["accuracy_float"] for s in sweep], "o-", ms=10, mfc="none", mew=1.5,
            label="block-circulant, float")
    ax.plot(ks, [100 * s["accuracy_golden"] for s in sweep], "s--",
            label="block-circulant, 16-bit fixed point (golden = RTL)")
    for s in sweep:
        ax.annotate(f"{s['compression_ratio']:.1f}x", (s["k"], 100 * s["accuracy_float"]),
                    textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks)
    ax.set_xticklabels([f"{k}{' (demo)' if k == k_main else ''}" for k in ks])
    ax.set_xlabel("block size k (labels: weight compression vs dense)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"Accuracy against block size ({dataset})")
    lowest = min([100 * dense_acc] + [100 * s[key] for s in sweep
                                      for key in ("accuracy_float", "accuracy_golden")])
    ax.set_ylim(max(0.0, math.floor(lowest / 5) * 5 - 10), 100.5)
    ax.set_xlim(ks[0] / 1.5, ks[-1] * 1.5)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_confusion(path: Path, confusion: np.ndarray, acc: float, rows: int):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.6, 5.0), dpi=120)
    im = ax.imshow(confusion, cmap="Blues")
    hi = confusion.max() if confusion.size else 0
    for (r, c), v in np.ndenumerate(confusion):
        if v:
            ax.text(c, r, str(v), ha="center", va="center", fontsize=7,
                    color="white" if v > hi / 2 else "black")
    totals = confusion.sum(axis=1)
    ax.set_xticks(range(N_CLASSES))
    ax.set_yticks(range(N_CLASSES))
    ax.set_yticklabels([f"{c}: {100 * confusion[c, c] / totals[c]:.0f}%" if totals[c] else f"{c}: -"
                        for c in range(N_CLASSES)], fontsize=8)
    ax.set_xlabel("predicted by the RTL")
    ax.set_ylabel("true label: per-class accuracy")
    ax.set_title(f"RTL confusion matrix: {100 * acc:.2f}% of {rows}")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# --------------------------------------------------------------------------
# Report

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
        rtl_label, words, cycles = "accuracy, RTL (skipped)", "n/a", "n/a"
    else:
        rtl_label = "accuracy, RTL (Icarus)" + (
            "" if r["rtl_rows"] == r["n_test"] else f", first {r['rtl_rows']} rows")
        words = f"{r['rtl_golden_mismatches']} of {r['rtl_output_words']}"
        cycles = (f"{r['cycles_per_inference']:.1f} (ideal {r['ideal_cycles_per_inference']}, "
                  f"{r['rtl_method']})")
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
            "| rel. RMS error | saturations (acc/out) | RTL cycles/row (ideal) | PE util "
            "| RTL words != golden |",
            "| --- | --- | --- | --- | ---: | --- | --- | ---: | ---: | --- | --- | ---: | ---: |"]
    for l in r["layers"]:
        rt = l.get("rtl") or {}
        out.append(
            f"| {l['layer']} | {l['p']} x {l['q']} | {l['input_format']} | {l['weight_format']} "
            f"| {l['accumulator_shift']} | {l['bias_format']} | {l['output_format']} "
            f"| {l['output_shift']} | {100 * l.get('relative_rms_error', float('nan')):.3f} % "
            f"| {l.get('acc_saturations', 'n/a')}/{l.get('out_saturations', 'n/a')} "
            f"| {_fmt(rt.get('cycles_per_row'), '.1f')} ({_fmt(rt.get('ideal_cycles_per_row'))}) "
            f"| {_fmt(rt.get('pe_utilisation') and 100 * rt['pe_utilisation'], '.1f', ' %')} "
            f"| {_fmt(rt.get('golden_mismatches'))} |")
    out += ["", "## Accuracy against block size", "",
            "| k | weights | compression | float | golden (16-bit) |", "| ---: | ---: | ---: | ---: | ---: |"]
    out += [f"| {s['k']} | {s['weights']} | {s['compression_ratio']:.2f}x | {_pct(s['accuracy_float'])} "
            f"| {_pct(s['accuracy_golden'])} |" for s in r["sweep"]]
    out += ["", f"![accuracy against block size]({r['files']['accuracy_plot']})", ""]
    if r["files"]["confusion_plot"]:
        out += [f"![RTL confusion matrix]({r['files']['confusion_plot']})", ""]
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


# --------------------------------------------------------------------------
# The demo

def run_demo(args) -> int:
    """``circnn demo``: returns 0, or 1 when the RTL disagrees with the golden model or the
    ECP5 build fails; bad input raises :class:`CircnnError` (exit 2 from the CLI)."""
    # The matrices here are small: one BLAS thread is as fast as two, and much faster than
    # two fighting for a core with the simulator or a synthesis job on a shared machine.
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings threadpoolctl
        limits = contextlib.nullcontext()
    else:
        limits = threadpool_limits(limits=1, user_api="blas")
    with limits:
        return _run_demo(args)


def _run_demo(args) -> int:
    t_start = time.monotonic()
    cfg = config_from_args(args)
    steps = _Steps(cfg.quiet)

    # ---- data (errors name the file; nothing written yet)
    with steps.step("data", "loading the data set"):
        xtr, ytr, xte, yte, data_desc = load_data(cfg)
    n_in = xtr.shape[1]
    check_block_size(cfg, n_in)
    sweep_ks = sorted({k for k in DEFAULTS["sweep_ks"] if k <= min(n_in, cfg.hidden)} | {cfg.k})
    n_test = len(yte)
    rtl_rows = cfg.rtl_rows if cfg.rtl_rows is not None else (
        DEFAULTS["rtl_rows_mnist"] if cfg.mnist is not None else n_test)
    rtl_rows = min(rtl_rows, n_test)
    sizes = [n_in, cfg.hidden, N_CLASSES]
    data = (xtr, ytr, xte, yte)

    from .compiler import compile_network, dequantize_outputs
    from .bundle import load_bundle, save_bundle
    from .sim.model.float_network import predict
    from .training import circulant_network, dense_network, to_bundle

    out = cfg.out
    out.mkdir(parents=True, exist_ok=True)
    notes = []

    # ---- training
    with steps.step("train_dense", f"training the dense baseline {' -> '.join(map(str, sizes))}"):
        dense = dense_network(sizes, seed=cfg.seed)
        with steps.bar(cfg.epochs, "dense", "epoch") as bar:
            hist_dense = _train(dense, data, cfg, bar)
        acc_dense = float(np.mean(dense.predict(xte) == yte))
    with steps.step("train_circulant", f"training the block-circulant network (k = {cfg.k})"):
        circ = circulant_network(sizes, cfg.k, seed=cfg.seed)
        with steps.bar(cfg.epochs, f"circulant k={cfg.k}", "epoch") as bar:
            hist_circ = _train(circ, data, cfg, bar)

    # ---- export + compile
    calib = xtr[:DEFAULTS["calibration_rows"]]
    with steps.step("export_compile", "exporting the bundle and compiling it for the engine"):
        meta = dict(dataset=cfg.dataset, k=cfg.k, sizes=sizes, seed=cfg.seed, epochs=cfg.epochs,
                    lr=cfg.lr, optimizer=DEFAULTS["optimizer"], batch_size=DEFAULTS["batch_size"])
        bundle_path = out / "model.npz"
        save_bundle(bundle_path, to_bundle(circ, extra={"demo_meta": np.array(json.dumps(meta))}))
        bundle = load_bundle(bundle_path)
        eng = _engine(cfg.k, [(l.p, l.q) for l in bundle.layers], cfg)
        programs = compile_network(bundle, eng, calibration=calib)

    # ---- float and golden on the test split
    with steps.step("evaluate_float_golden", "float and golden (bit-true) models on the test split"):
        logits_float = predict(bundle, xte)
        acc_float = _accuracy(logits_float, yte)
        y_golden, logits_golden, x_codes = _golden(programs, eng, xte)
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
                    net = circulant_network(sizes, k, seed=cfg.seed)
                    _train(net, data, cfg, bar, label=f"k={k} ")
                    b_k = to_bundle(net)
                    eng_k = _engine(k, [(l.p, l.q) for l in b_k.layers], cfg)
                    progs_k = compile_network(b_k, eng_k, calibration=calib)
                sweep.append({
                    "k": k, "weights": _weights(net),
                    "compression_ratio": _weights(dense) / _weights(net),
                    "accuracy_float": float(np.mean(net.predict(xte) == yte)),
                    "accuracy_golden": _accuracy(_golden(progs_k, eng_k, xte)[1], yte),
                })

    # ---- RTL
    acc_golden_rtl_rows = _accuracy(logits_golden[:rtl_rows], yte[:rtl_rows])
    acc_float_rtl_rows = _accuracy(logits_float[:rtl_rows], yte[:rtl_rows])
    if cfg.skip_rtl:
        y_rtl = acc_rtl = mismatches = confusion = cycles = None
        rtl_stats = {"method": "skipped", "layers": [], "ideal_cycles_per_inference": None}
        layer_mismatch = []
    else:
        from .demo_rtl import run_network_rtl
        with steps.step("rtl", f"RTL simulation (cocotb + Icarus) of {rtl_rows} test rows"):
            with steps.ticker("rtl") as note:
                y_rtl, rtl_stats = run_network_rtl(programs, eng, x_codes[:rtl_rows], note)
        mismatches = int(np.count_nonzero(y_rtl != y_golden[:rtl_rows]))
        logits_rtl = dequantize_outputs(y_rtl, programs[-1].out_frac, N_CLASSES)
        acc_rtl = _accuracy(logits_rtl, yte[:rtl_rows])
        confusion = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
        np.add.at(confusion, (yte[:rtl_rows], np.argmax(logits_rtl, axis=1)), 1)
        layer_mismatch = []
        if all("outputs" in l for l in rtl_stats["layers"]):
            # where a difference starts: each layer's RTL output codes against the golden chain
            from .sim.model.network import network_forward
            _, trace = network_forward(x_codes[:rtl_rows], programs, eng, trace=True)
            layer_mismatch = [int(np.count_nonzero(l["outputs"] != t))
                              for l, t in zip(rtl_stats["layers"], trace)]
        for l in rtl_stats["layers"]:
            l.pop("outputs", None)
        cycles = float(rtl_stats["cycles_per_inference"])

    # ---- synthesis
    synth = None
    if not cfg.skip_synth:
        design, params = _synth_design(eng, programs)
        with steps.step("synthesis", f"ECP5 build of `{design}` ({DEVICE}-{SPEED} {PACKAGE}, "
                                     f"yosys + nextpnr)"):
            from circnn.synth.flow import synthesize
            with steps.ticker("synth") as note:
                try:
                    synth = synthesize(design, {k: str(v) for k, v in params.items()},
                                       report=out / "synth" / f"{design}.json", device=DEVICE,
                                       package=PACKAGE, speed=SPEED, freq=cfg.freq, progress=note)
                except (CircnnError, RuntimeError, OSError, ValueError) as exc:
                    synth = {"design": design, "params": params,
                             "error": str(exc).splitlines()[0]}
                    steps.say(f"synthesis failed: {synth['error']}")
    synth_ok = synth is not None and not synth.get("error")
    fmax = synth.get("fmax_mhz") if synth_ok else None
    ips = fmax * 1e6 / cycles if fmax and cycles else None

    # ---- figures
    dense_w = _weights(dense)
    circ_w = _weights(circ)
    padded_dense_w = int(sum(l.p * l.q * l.k * l.k for l in bundle.layers))
    weight_bits = int(sum(prog.p * prog.q * eng.k * eng.weight_width for prog in programs))
    weight_bits_dense = int(sum(n_a * n_b for n_a, n_b in zip(sizes, sizes[1:])) * eng.weight_width)
    layers_report = []
    for i, prog in enumerate(programs):
        rep = {"layer": i, **prog.report,
               "in_features": bundle.layers[i].n_in, "out_features": bundle.layers[i].n_out,
               "activation": bundle.layers[i].activation,
               "weights_circulant": int(prog.p * prog.q * eng.k),
               "weights_dense": int(bundle.layers[i].n_in * bundle.layers[i].n_out)}
        rep["compression_ratio"] = rep["weights_dense"] / rep["weights_circulant"]
        if i < len(rtl_stats["layers"]):
            rep["rtl"] = dict(rtl_stats["layers"][i])
            if layer_mismatch:
                rep["rtl"]["golden_mismatches"] = layer_mismatch[i]
        layers_report.append(rep)

    if padded_dense_w != dense_w:
        notes.append(
            f"compression_ratio is measured on the weight matrices: dense-equivalent entries of "
            f"the block-circulant matrices / stored values = {padded_dense_w}/{circ_w} = k. "
            f"Against the dense baseline's real weights it is {dense_w}/{circ_w} = "
            f"{dense_w / circ_w:.2f}x, because the {N_CLASSES}-class output layer is padded to "
            f"p*k = {bundle.layers[-1].p * cfg.k} rows (compression_ratio_vs_dense_baseline).")
    if not cfg.skip_rtl and rtl_stats["method"] != "layer-by-layer":
        notes.append(f"cycles_per_inference ({rtl_stats['method']}): as counted by the "
                     f"simulation of run_network_rtl (circnn/demo_rtl.py), over {rtl_rows} rows.")
    elif not cfg.skip_rtl:
        notes.append(
            f"cycles_per_inference ({rtl_stats['method']}): the sum over the layers of the "
            f"RTL cycles from the first input word accepted to the last output word, divided "
            f"by the {rtl_rows} rows streamed (pipeline fill included once per layer). "
            f"Reprogramming the engine between layers is not included yet: the network "
            f"controller will measure it.")
    if synth_ok and synth["design"] == "layer":
        notes.append(
            "Synthesised design: the `layer` engine (one CirculantLayer with memories for the "
            "largest layer, max_q x max_p blocks), the hardware that runs each layer here; the "
            "network-level `accelerator` design replaces it when it is registered.")
    elif synth_ok and synth["design"] == "accelerator":
        notes.append(
            "Synthesised design: the network-level `accelerator` (controllers, activation "
            "buffers, host port and the layer core), sized to hold every layer of this network "
            "(weight_depth, bias_depth, max_layers); its Fmax divides the cycles above.")
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
    targets = [
        {"target": "rtl_golden_mismatches == 0", "value": mismatches,
         "met": None if mismatches is None else mismatches == 0},
        {"target": "accuracy_rtl within 1 point of accuracy_float (same rows)",
         "value": "n/a" if rtl_gap is None else f"{0.0 - 100 * rtl_gap:+.2f} points",
         "met": None if rtl_gap is None else abs(rtl_gap) <= TARGET_RTL_VS_FLOAT + 1e-12},
        {"target": "circulant (float) within 2 points of dense",
         "value": f"{0.0 - 100 * gap_circ:+.2f} points", "met": gap_circ <= TARGET_CIRC_VS_DENSE + 1e-12},
        {"target": "compression ratio >= 8 on the weight matrices (dense-equivalent / stored)",
         "value": f"{padded_dense_w / circ_w:.2f}x ({dense_w / circ_w:.2f}x against the dense "
                  f"baseline's unpadded weights)",
         "met": padded_dense_w / circ_w >= TARGET_COMPRESSION},
        {"target": "demo wall time < 10 min", "value": None, "met": None},
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
        "network": " -> ".join(map(str, sizes)),
        "k": cfg.k,
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
                  "confusion_plot": None if confusion is None else "confusion_rtl.png"},
    }

    with steps.step("pictures", "pictures"):
        _plot_sweep(out / "accuracy_vs_k.png", sweep, acc_dense, cfg.k, cfg.dataset)
        if confusion is not None:
            _plot_confusion(out / "confusion_rtl.png", confusion, acc_rtl, rtl_rows)
    total = round(time.monotonic() - t_start, 2)
    steps.times["total"] = total
    targets[-1].update(value=f"{total:.0f} s", met=total < TARGET_DEMO_S)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
    (out / "report.md").write_text(render_markdown(report))

    print(f"\ncircnn demo: {data_desc}")
    print(_table(summary_rows(report)))
    for t in targets:
        if t["met"] is False:
            print(f"target missed: {t['target']} ({t['value']})")
    print(f"report: {out / 'report.md'}, {out / 'report.json'}; pictures: {out / 'accuracy_vs_k.png'}"
          + ("" if confusion is None else f", {out / 'confusion_rtl.png'}"))
    failed = False
    if mismatches:
        print(f"error: the RTL differs from the golden model on {mismatches} output words",
              file=sys.stderr)
        failed = True
    if synth is not None and synth.get("error"):
        print(f"error: synthesis failed: {synth['error']}", file=sys.stderr)
        failed = True
    return 1 if failed else 0
