# amaranth: UnusedElaboratable=no
"""The dense baseline engine: bit-true model (against float and against an
independent big-integer reference), parameter checks, DenseLayer RTL == model
word for word (random idle and back-pressure, several M and B, run-time
programming through ``load``), and the ``golden-dense`` / ``rtl-dense``
backends of ``circnn infer``."""

import json
from fractions import Fraction

import numpy as np
import pytest

from circnn.errors import CircnnError, ParameterError
from circnn.config import DenseConfig
from circnn.sim.model.dense import (DenseProgram, dense_float_forward, dense_forward, ideal_dense_cycles_per_row)
from circnn.compiler import compile_dense, quantize_dense_inputs
from circnn.sim.model.fixedpoint import int_range


def random_dense(rng, m, n, activation="relu"):
    w = rng.normal(size=(m, n)) * np.sqrt(2.0 / n)
    b = rng.normal(size=m) * 0.1
    return w, b, activation


def compiled(rng, cfg, m, n, vectors, activation="relu"):
    w, b, act = random_dense(rng, m, n, activation)
    prog = compile_dense(w, b, act, cfg, calibration=rng.uniform(-1, 1, size=(64, n)))
    x = quantize_dense_inputs(rng.uniform(-1, 1, size=(vectors, n)), prog.in_frac, cfg)
    return (w, b, act), prog, x


# --- the model ------------------------------------------------------------------

def reference_forward(x, prog, cfg):
    """Python integers and exact fractions: no NumPy arithmetic shared with the model.

    Returns the outputs and how many of them saturated."""
    lo, hi = int_range(cfg.act_width)
    out, saturated = [], 0
    for row in x.tolist():
        y = []
        for r in range(prog.m):
            s = sum(int(w) * int(v) for w, v in zip(prog.weight[r].tolist(), row)) + int(prog.bias[r])
            if prog.relu:
                s = max(s, 0)
            q = Fraction(s, 2 ** prog.out_shift) if prog.out_shift >= 0 else Fraction(s * 2 ** -prog.out_shift)
            fl = q.numerator // q.denominator
            frac = q - fl
            if cfg.rounding == "truncate":
                v = fl
            elif cfg.rounding == "half_up":
                v = fl + (frac >= Fraction(1, 2))
            else:
                v = fl + (frac > Fraction(1, 2) or (frac == Fraction(1, 2) and fl % 2 == 1))
            y.append(min(max(v, lo), hi))
            saturated += not lo <= v <= hi
        out.append(y)
    return np.array(out, dtype=np.int64), saturated


@pytest.mark.parametrize("rounding", ["truncate", "half_up", "half_even"])
@pytest.mark.parametrize("out_shift", [-3, 0, 5, 21])
def test_model_matches_big_integer_reference(rounding, out_shift, seed):
    rng = np.random.default_rng(seed)
    cfg = DenseConfig(act_width=10, weight_width=9, rounding=rounding, max_in=13, max_out=9)
    lo, hi = int_range(cfg.weight_width)
    blo, bhi = int_range(cfg.bias_width)
    prog = DenseProgram(weight=rng.integers(lo, hi + 1, size=(9, 13)),
                        bias=rng.integers(blo // 8, bhi // 8, size=9), out_shift=out_shift,
                        relu=bool(out_shift % 2))
    alo, ahi = int_range(cfg.act_width)
    x = rng.integers(alo, ahi + 1, size=(6, 13))
    x[0] = alo   # full scale: the largest accumulator
    y, info = dense_forward(x, prog, cfg, trace=True)
    ref, saturated = reference_forward(x, prog, cfg)
    np.testing.assert_array_equal(y, ref)
    assert info["out_saturations"] == saturated


def test_accumulator_width_never_overflows():
    cfg = DenseConfig(act_width=17, weight_width=18, max_in=100, max_out=1)
    assert cfg.acc_width == 17 + 18 + 7 and cfg.bias_width == cfg.acc_width
    lo_x, _ = int_range(17)
    lo_w, _ = int_range(18)
    worst = 100 * lo_x * lo_w
    assert worst < 2 ** (cfg.acc_width - 1)


@pytest.mark.parametrize("m,n", [(16, 64), (40, 24), (1, 5)])
def test_model_against_float(m, n, seed):
    rng = np.random.default_rng(seed)
    cfg = DenseConfig(max_in=n, max_out=m)
    w, b, act = random_dense(rng, m, n, "relu")
    x = rng.uniform(-1, 1, size=(50, n))
    # formats from these very rows: a row outside the calibration's output range would
    # saturate (with one output, 64 other rows bound it loosely), which is not rounding
    prog = compile_dense(w, b, act, cfg, calibration=x)
    y = dense_forward(quantize_dense_inputs(x, prog.in_frac, cfg), prog, cfg) * 2.0 ** -prog.out_frac
    ref = dense_float_forward(w, b, act, x)
    err = y - ref
    rms = np.sqrt(np.mean(ref ** 2)) or 1.0
    # 16-bit datapath, one rounding step: far inside the circulant engine's 0.5 %
    assert np.sqrt(np.mean(err ** 2)) / rms < 1e-3
    assert np.abs(err).max() <= 8 * 2.0 ** -prog.out_frac
    rep = prog.report
    assert rep["relative_rms_error"] < 1e-3 and rep["out_saturations"] == 0
    assert rep["bias_format"].startswith("s") and rep["output_shift"] == prog.out_shift


def test_compile_without_calibration_uses_bounds():
    rng = np.random.default_rng(1)
    cfg = DenseConfig(max_in=8, max_out=8)
    w, b, act = random_dense(rng, 8, 8, "none")
    prog = compile_dense(w, b, act, cfg)
    x = rng.uniform(-1, 1, size=(20, 8))
    _, info = dense_forward(quantize_dense_inputs(x, prog.in_frac, cfg), prog, cfg, trace=True)
    assert info["out_saturations"] == 0        # the bound covers every input in range
    assert prog.report["formats_from"] == "weight and bias ranges"


@pytest.mark.parametrize("field,value", [
    ("act_width", 7), ("act_width", 18), ("weight_width", 3), ("weight_width", 19),
    ("mults", 0), ("mults", 65), ("batch", 0), ("batch", 65), ("max_in", 0), ("max_out", 0),
    ("k", 3), ("k", 512), ("rounding", "nearest"), ("mults", 2.5),
])
def test_bad_config_names_the_parameter(field, value):
    with pytest.raises(ParameterError, match=field):
        DenseConfig(**{field: value})


def test_bad_layers_are_refused():
    cfg = DenseConfig(max_in=8, max_out=4)
    w, b = np.ones((4, 8)), np.zeros(4)
    with pytest.raises(ParameterError, match="max_in"):
        compile_dense(np.ones((4, 9)), b, "none", cfg)
    with pytest.raises(ParameterError, match="max_out"):
        compile_dense(np.ones((5, 8)), np.zeros(5), "none", cfg)
    with pytest.raises(ParameterError, match="bias"):
        compile_dense(w, np.zeros(3), "none", cfg)
    with pytest.raises(ParameterError, match="activation"):
        compile_dense(w, b, "tanh", cfg)
    with pytest.raises(CircnnError, match="not finite"):
        compile_dense(np.full((4, 8), np.nan), b, "none", cfg)
    with pytest.raises(CircnnError, match="calibration"):
        compile_dense(w, b, "none", cfg, calibration=np.zeros((3, 7)))
    prog = compile_dense(w, b, "none", cfg)
    prog.weight = prog.weight * 0 + (1 << 20)
    with pytest.raises(ParameterError, match="weight codes"):
        prog.check(cfg)
    prog = compile_dense(w, b, "none", cfg)
    prog.out_shift = cfg.sum_width
    with pytest.raises(ParameterError, match="out_shift"):
        prog.check(cfg)
    with pytest.raises(ValueError, match="range"):
        dense_forward(np.full((1, 8), 1 << 20), compile_dense(w, b, "none", cfg), cfg)


def test_streams_have_the_circulant_layouts():
    from circnn.rtl.dense import DenseLayer
    from circnn.rtl.layer import CirculantLayer
    from circnn.sim.model.layer import EngineConfig
    eng = EngineConfig(k=8, act_width=12, batch=4, max_p=5, max_q=2)
    dense = DenseLayer(DenseConfig(act_width=12, batch=4, k=8, max_out=37, max_in=10, mults=3))
    circ = CirculantLayer(eng)
    for port in ("i", "o"):
        assert dense.signature.members[port] == circ.signature.members[port], port
    assert set(dict(dense.signature.members["load"].shape)) == \
        set(dict(circ.signature.members["load"].shape))


# --- the RTL --------------------------------------------------------------------

def run_dense(name, cfg, prog, x, seed, idle=0.25, stall=0.25, burst=1, via_load=False):
    from circnn.sim.harness.dense import simulate_dense
    y, stats = simulate_dense(cfg, prog, x, name=name, idle=idle, stall=stall, burst=burst,
                              seed=seed, compare=True, via_load=via_load)
    np.testing.assert_array_equal(y, dense_forward(x, prog, cfg))
    assert stats["mac_steps"] == ideal_dense_cycles_per_row(cfg, prog) * x.shape[0] \
        + ideal_dense_cycles_per_row(cfg, prog) * stats["padded_rows"]
    return stats


# M, B, m, n, vectors, k: M not dividing m, m != n, odd n, B in {1, 4}, M > m
# (M = 1 runs in test_rtl_programmed_through_load)
RTL_CASES = [
    (3, 1, 7, 5, 4, 4),
    (4, 1, 10, 4, 3, 32),      # few outputs in a long output block: the pair index is zero-extended
    (4, 4, 10, 6, 8, 4),
    (2, 4, 5, 9, 8, 2),
    (8, 1, 6, 3, 3, 4),
]


@pytest.mark.parametrize("mults,batch,m,n,vectors,k", RTL_CASES)
def test_rtl_matches_model(mults, batch, m, n, vectors, k, seed):
    rng = np.random.default_rng(seed)
    cfg = DenseConfig(mults=mults, batch=batch, max_in=n, max_out=m, k=k)
    _, prog, x = compiled(rng, cfg, m, n, vectors)
    stats = run_dense(f"M{mults}_B{batch}_m{m}_n{n}", cfg, prog, x, seed)
    print(stats)


def test_rtl_bursts_of_idle_and_backpressure(seed):
    # long runs of an idle source and a stalled sink fill the output buffer's
    # banks and queue while the next batch computes
    rng = np.random.default_rng(seed)
    cfg = DenseConfig(mults=3, batch=2, max_in=6, max_out=7, k=4)
    _, prog, x = compiled(rng, cfg, 7, 6, 8)
    run_dense("bursts", cfg, prog, x, seed, idle=0.5, stall=0.6, burst=30)


def test_rtl_saturates_narrow_half_even(seed):
    """Narrow widths, a small output shift (outputs saturate) and half-even rounding."""
    rng = np.random.default_rng(seed)
    cfg = DenseConfig(act_width=9, weight_width=6, rounding="half_even", mults=2, batch=2,
                      max_in=6, max_out=5, k=4)
    lo, hi = int_range(cfg.weight_width)
    w = rng.integers(lo, hi + 1, size=(5, 6))
    w[0] = hi
    prog = DenseProgram(weight=w, bias=rng.integers(-300, 300, size=5), out_shift=4, relu=False)
    alo, ahi = int_range(cfg.act_width)
    x = rng.integers(alo, ahi + 1, size=(6, 6))
    x[1] = ahi
    _, info = dense_forward(x, prog, cfg, trace=True)
    assert info["out_saturations"] > 0
    run_dense("narrow", cfg, prog, x, seed)


def test_rtl_programmed_through_load(seed):
    """Elaborated empty for a larger shape; weights, biases and registers written at run time."""
    rng = np.random.default_rng(seed)
    cfg = DenseConfig(mults=1, batch=2, max_in=8, max_out=11, k=8)
    _, prog, x = compiled(rng, cfg, 7, 5, 4)
    run_dense("via_load", cfg, prog, x, seed, via_load=True)


# --- circnn infer --backend golden-dense / rtl-dense -----------------------------

K, P_BLOCKS, Q_BLOCKS = 8, 2, 3


@pytest.fixture
def bundle_case(tmp_path, monkeypatch):
    from circnn.bundle import Bundle, Layer, save_bundle
    monkeypatch.setenv("CIRCNN_BUILD", str(tmp_path / "build"))
    rng = np.random.default_rng(2024)
    w = rng.normal(size=(P_BLOCKS, Q_BLOCKS, K)) * np.sqrt(2.0 / (Q_BLOCKS * K))
    b = rng.normal(size=P_BLOCKS * K) * 0.1
    layer = Layer(w, b, "relu", in_features=21, out_features=13)   # padded: q*k 24, p*k 16
    save_bundle(tmp_path / "model.npz", Bundle([layer]))
    x = rng.uniform(-1, 1, size=(5, layer.n_in))
    np.save(tmp_path / "x.npy", x)
    return tmp_path, layer, x


def infer_args(tmp_path, backend, *extra, mults=4, out="y.npy"):
    """Parsed ``circnn infer`` arguments for a dense backend.

    circnn/cli.py lists the --backend choices and options; until it lists the
    dense ones, parse as golden and set backend and --mults the way argparse would.
    """
    from circnn.cli import build_parser
    argv = ["infer", "--model", str(tmp_path / "model.npz"), "--inputs", str(tmp_path / "x.npy"),
            "--backend", "golden", "--out", str(tmp_path / out), *extra]
    args = build_parser().parse_args(argv)
    args.backend, args.mults = backend, mults
    return args


def run_infer_dense(tmp_path, backend, *extra, mults=4, out="y.npy"):
    from circnn.infer import run_infer
    return run_infer(infer_args(tmp_path, backend, *extra, mults=mults, out=out))


def test_dense_matrix_is_the_circulant_function(bundle_case):
    from circnn.infer import dense_matrix
    from circnn.sim.model.float_network import layer_forward
    _, layer, x = bundle_case
    w, b = dense_matrix(layer)
    assert w.shape == (13, 21) and b.shape == (13,)
    np.testing.assert_allclose(dense_float_forward(w, b, "relu", x), layer_forward(layer, x),
                               rtol=0, atol=1e-12)


def test_golden_dense_backend(bundle_case, capsys):
    from circnn.infer import dense_matrix
    from circnn.bundle import Bundle
    from circnn.sim.model.float_network import predict
    tmp_path, layer, x = bundle_case
    assert run_infer_dense(tmp_path, "golden-dense", "--report", str(tmp_path / "r.json"),
                           mults=3) == 0
    y = np.load(tmp_path / "y.npy")
    cfg = DenseConfig(mults=3, max_in=21, max_out=13, k=K)
    w, b = dense_matrix(layer)
    prog = compile_dense(w, b, "relu", cfg, calibration=x)
    ref = dense_forward(quantize_dense_inputs(x, prog.in_frac, cfg), prog, cfg) * 2.0 ** -prog.out_frac
    np.testing.assert_array_equal(y, ref)
    f = predict(Bundle([layer]), x)
    assert np.sqrt(np.mean((y - f) ** 2)) <= 1e-3 * np.sqrt(np.mean(f ** 2))
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["engine"]["mults"] == 3 and report["compiler"]["layer 0"]["m"] == 13
    out = capsys.readouterr().out
    assert "dense 13x21" in out and "error vs float" in out


def test_rtl_dense_equals_golden_dense(bundle_case, capsys):
    tmp_path, layer, x = bundle_case
    opts = ["--batch", "2", "--rounding", "half_even"]
    assert run_infer_dense(tmp_path, "golden-dense", *opts, mults=3, out="g.npy") == 0
    assert run_infer_dense(tmp_path, "rtl-dense", *opts, "--idle", "0.1", "--stall", "0.1",
                           "--seed", "3", "--report", str(tmp_path / "r.json"),
                           "--simulator", "icarus", mults=3) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), np.load(tmp_path / "g.npy"))
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["simulator"] == "icarus" and report["sim_clocks"] > report["rtl"]["cycles"]
    stats = report["rtl"]
    assert stats["rows"] == 5 and stats["padded_rows"] == 1
    assert stats["ideal_cycles_per_row"] == 5 * 21          # ceil(13/3) * 21
    assert stats["pe_steps"] == 13 * 21 * 6                 # every MAC of 6 rows (one padding row)
    assert 0 < stats["pe_utilisation"] <= 1
    out = capsys.readouterr().out
    assert "cycles per input" in out and "multiplier utilisation" in out
    assert not list((tmp_path / "build" / "sim").iterdir())


def test_dense_backend_bad_options(bundle_case):
    tmp_path, _, _ = bundle_case
    with pytest.raises(ParameterError, match="mults"):
        run_infer_dense(tmp_path, "golden-dense", mults=0)
    with pytest.raises(ParameterError, match="--k 4"):
        run_infer_dense(tmp_path, "rtl-dense", "--k", "4")
    assert not (tmp_path / "y.npy").exists()


def test_cli_runs_golden_dense(bundle_case):
    from circnn.cli import main
    tmp_path, _, _ = bundle_case
    argv = ["infer", "--model", str(tmp_path / "model.npz"), "--inputs", str(tmp_path / "x.npy"),
            "--backend", "golden-dense", "--mults", "3", "--out", str(tmp_path / "c.npy")]
    assert main(argv) == 0
    assert run_infer_dense(tmp_path, "golden-dense", mults=3) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), np.load(tmp_path / "y.npy"))
    assert main([*argv[:-4], "--mults", "0", "--out", str(tmp_path / "d.npy")]) == 2



def test_rtl_deep_memories_match_model(seed):
    # input buffer and weight banks deeper than one block RAM: every BlockRAM
    # read takes its three-clock path
    rng = np.random.default_rng(seed)
    cfg = DenseConfig(mults=2, batch=4, max_in=300, max_out=10, k=4)
    _, prog, x = compiled(rng, cfg, 5, 7, 8)
    run_dense("deep_memories", cfg, prog, x, seed)
