# amaranth: UnusedElaboratable=no
"""``circnn infer``: float / golden / rtl backends on small one-layer bundles, and
every kind of bad input refused on one line with exit status 2 and no output file."""

import json

import numpy as np
import pytest

from circnn.bundle import Bundle, Layer, bundle_arrays, save_bundle
from circnn.cli import main

from network_cases import random_bundle
from references import dense_reference

K, P_BLOCKS, Q_BLOCKS = 8, 2, 3
SHAPES = {
    "plain": dict(in_features=None, out_features=None),
    "padded": dict(in_features=21, out_features=13),   # q*k = 24, p*k = 16
}
# golden against float (16-bit datapath, formats from the inputs themselves)
REL_RMS_BOUND = 2e-3
MAX_ABS_LSB_BOUND = 16   # in output LSBs


def make_layer(rng, in_features=None, out_features=None, activation="relu"):
    w = rng.normal(size=(P_BLOCKS, Q_BLOCKS, K)) * np.sqrt(2.0 / (Q_BLOCKS * K))
    b = rng.normal(size=P_BLOCKS * K) * 0.1
    return Layer(w, b, activation, in_features=in_features, out_features=out_features)


@pytest.fixture(params=sorted(SHAPES))
def case(request, tmp_path, monkeypatch):
    """A one-layer bundle and input rows written to tmp_path."""
    monkeypatch.setenv("CIRCNN_BUILD", str(tmp_path / "build"))
    rng = np.random.default_rng(12345)
    layer = make_layer(rng, **SHAPES[request.param])
    save_bundle(tmp_path / "model.npz", Bundle([layer]))
    x = rng.uniform(-1, 1, size=(5, layer.n_in))
    np.save(tmp_path / "x.npy", x)
    return tmp_path, layer, x


def infer(tmp_path, backend, *extra, out="y.npy"):
    argv = ["infer", "--model", str(tmp_path / "model.npz"), "--inputs", str(tmp_path / "x.npy"),
            "--backend", backend, "--out", str(tmp_path / out), *extra]
    return main(argv)


def check_golden(y, layer, x, out_lsb):
    """Golden outputs: on the output format's grid, and within the stated bound of
    the float network."""
    f = dense_reference([layer], x).reshape(y.shape)
    np.testing.assert_array_equal(np.round(y / out_lsb) * out_lsb, y)
    err = y - f
    assert np.sqrt(np.mean(err ** 2)) <= REL_RMS_BOUND * np.sqrt(np.mean(f ** 2))
    assert np.abs(err).max() <= MAX_ABS_LSB_BOUND * out_lsb


def test_float_backend(case, capsys):
    tmp_path, layer, x = case
    assert infer(tmp_path, "float") == 0
    y = np.load(tmp_path / "y.npy")
    assert y.shape == (5, layer.n_out)
    np.testing.assert_allclose(y, dense_reference([layer], x), rtol=1e-12, atol=1e-12)
    assert "infer float: 5 rows" in capsys.readouterr().out


def test_golden_backend_is_the_compiled_model(case, capsys):
    tmp_path, layer, x = case
    assert infer(tmp_path, "golden", "--report", str(tmp_path / "r.json")) == 0
    y = np.load(tmp_path / "y.npy")
    assert y.shape == (5, layer.n_out)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["output_shape"] == [5, layer.n_out]
    fmt = report["compiler"]["output_format"]               # e.g. sQ3.12
    out_lsb = 2.0 ** -int(fmt.split(".")[1])
    check_golden(y, layer, x, out_lsb)
    out = capsys.readouterr().out
    assert "formats" in out and "error vs float" in out
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_rtl_equals_golden_bit_true(case, capsys):
    """Same engine options: the RTL's outputs are the golden outputs exactly.  Batch 2
    with 5 rows also exercises the zero-row padding (its outputs are dropped)."""
    tmp_path, layer, x = case
    opts = ["--pes", "2", "--batch", "2", "--rounding", "half_even"]
    assert infer(tmp_path, "golden", *opts, out="g.npy") == 0
    assert infer(tmp_path, "rtl", *opts, "--idle", "0.1", "--stall", "0.1", "--seed", "3",
                 "--report", str(tmp_path / "r.json")) == 0
    g, y = np.load(tmp_path / "g.npy"), np.load(tmp_path / "y.npy")
    assert y.shape == (5, layer.n_out)
    np.testing.assert_array_equal(y, g)       # two implementations, one result
    stats = json.loads((tmp_path / "r.json").read_text())["rtl"]
    assert stats["rows"] == 5 and stats["padded_rows"] == 1
    assert stats["ideal_cycles_per_row"] == 1 * Q_BLOCKS * K // 2   # ceil(2/2) * 3 * 4
    assert 0 < stats["pe_utilisation"] <= 1
    out = capsys.readouterr().out
    assert "cycles per input" in out and "multiplier utilisation" in out
    # the simulation's files are cleaned up after a successful run
    assert not list((tmp_path / "build" / "sim").iterdir())


def test_one_row_and_quiet(tmp_path, capsys):
    rng = np.random.default_rng(7)
    layer = make_layer(rng, activation="none")
    save_bundle(tmp_path / "model.npz", Bundle([layer]))
    x = rng.uniform(-1, 1, size=layer.n_in)
    np.save(tmp_path / "x.npy", x)
    calib = rng.uniform(-1, 1, size=(16, layer.n_in))
    np.save(tmp_path / "c.npy", calib)
    assert infer(tmp_path, "golden", "--quiet", "--calibration", str(tmp_path / "c.npy")) == 0
    y = np.load(tmp_path / "y.npy")
    assert y.shape == (layer.n_out,)
    # a single row gives the same result as that row in a batch with the same calibration
    np.save(tmp_path / "xx.npy", np.stack([x, -x]))
    assert main(["infer", "--model", str(tmp_path / "model.npz"), "--inputs",
                 str(tmp_path / "xx.npy"), "--backend", "golden", "--quiet", "--calibration",
                 str(tmp_path / "c.npy"), "--out", str(tmp_path / "yy.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "yy.npy")[0], y)
    f = dense_reference([layer], x)[0]
    assert np.abs(y - f).max() <= 2e-3 * np.abs(f).max()
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err == ""


def test_float_runs_any_depth(tmp_path):
    rng = np.random.default_rng(3)
    layers = [make_layer(rng), Layer(rng.normal(size=(1, P_BLOCKS, K)) * 0.3, np.zeros(K), "none")]
    save_bundle(tmp_path / "model.npz", Bundle(layers))
    x = rng.uniform(-1, 1, size=(4, Q_BLOCKS * K))
    np.save(tmp_path / "x.npy", x)
    assert infer(tmp_path, "float", "--quiet") == 0
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), dense_reference(layers, x),
                               rtol=1e-12, atol=1e-12)


# --- bad input ---------------------------------------------------------------------

def _arrays(layer):
    return {k: np.asarray(v) for k, v in bundle_arrays(Bundle([layer])).items()}


def _bad(tmp_path, rng, what):
    """Set up one kind of bad input; returns (extra argv, words the message must name)."""
    layer = make_layer(rng)
    n_in = layer.n_in
    save_bundle(tmp_path / "model.npz", Bundle([layer]))
    np.save(tmp_path / "x.npy", rng.uniform(-1, 1, size=(4, n_in)))
    if what == "bundle_missing":
        (tmp_path / "model.npz").unlink()
        return [], ["model.npz", "not found"]
    if what == "bundle_malformed":
        arrays = _arrays(layer)
        del arrays["l0_bias"]
        np.savez(tmp_path / "model.npz", **arrays)
        return [], ["l0_bias", "missing"]
    if what == "bundle_not_npz":
        (tmp_path / "model.npz").write_text("hello")
        return [], ["model.npz", "npz"]
    if what == "weights_nan":
        arrays = _arrays(layer)
        arrays["l0_weight"][1, 2, 3] = np.nan
        np.savez(tmp_path / "model.npz", **arrays)
        return [], ["l0_weight", "nan"]
    if what == "multi_layer_golden_dense" or what == "multi_layer_rtl_dense":
        second = Layer(rng.normal(size=(1, P_BLOCKS, K)), np.zeros(K), "none")
        save_bundle(tmp_path / "model.npz", Bundle([layer, second]))
        return [], ["2 layers", "one-layer bundles only"]
    if what == "inputs_missing":
        (tmp_path / "x.npy").unlink()
        return [], ["x.npy", "not found"]
    if what == "inputs_not_npy":
        np.savetxt(tmp_path / "x.txt", np.zeros((2, n_in)))
        return ["--inputs", str(tmp_path / "x.txt")], ["x.txt", ".npy"]
    if what == "inputs_garbage":
        (tmp_path / "x.npy").write_bytes(b"not numpy at all")
        return [], ["x.npy", "not a numpy .npy file"]
    if what == "inputs_object":
        np.save(tmp_path / "x.npy", np.array([{"a": 1}], dtype=object))
        return [], ["x.npy", "pickle"]
    if what == "inputs_width":
        np.save(tmp_path / "x.npy", np.zeros((3, n_in - 1)))
        return [], [f"{n_in - 1} values", f"takes {n_in}", "layer 0"]
    if what == "inputs_nan":
        x = np.zeros((4, n_in))
        x[2, 5] = np.inf
        np.save(tmp_path / "x.npy", x)
        return [], ["row 2", "column 5", "inf"]
    if what == "calibration_nan":
        c = np.zeros((4, n_in))
        c[1, 0] = np.nan
        np.save(tmp_path / "c.npy", c)
        return ["--calibration", str(tmp_path / "c.npy")], ["calibration", "row 1", "column 0", "nan"]
    if what == "k_mismatch":
        return ["--k", "16"], ["--k 16", "k=8"]
    if what == "act_width":
        return ["--act-width", "40"], ["act_width", "40"]
    if what == "pes":
        return ["--pes", "0"], ["pes", "0"]
    if what == "rounding":
        return ["--rounding", "sideways"], ["rounding", "sideways"]
    if what == "stall":
        return ["--stall", "1.0"], ["--stall", "1.0"]
    if what == "out_folder":
        return ["--out", str(tmp_path / "nowhere" / "y.npy")], ["nowhere", "does not exist"]
    raise ValueError(what)


BAD = ["bundle_missing", "bundle_malformed", "bundle_not_npz", "weights_nan",
       "multi_layer_golden_dense", "multi_layer_rtl_dense", "inputs_missing", "inputs_not_npy", "inputs_garbage", "inputs_object", "inputs_width",
       "inputs_nan", "calibration_nan", "k_mismatch", "act_width", "pes", "rounding", "stall",
       "out_folder"]


@pytest.mark.parametrize("what", BAD)
def test_bad_input_is_one_line_exit_2(what, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CIRCNN_BUILD", str(tmp_path / "build"))

    def no_simulation(*a, **kw):
        raise AssertionError("a simulation started despite bad input")
    monkeypatch.setattr("circnn.sim.harness.layer.simulate_layer", no_simulation)
    monkeypatch.setattr("circnn.sim.harness.accelerator.simulate_network", no_simulation)
    extra, words = _bad(tmp_path, np.random.default_rng(5), what)
    backend = {"multi_layer_golden_dense": "golden-dense",
               "multi_layer_rtl_dense": "rtl-dense"}.get(what, "rtl")
    argv = ["infer", "--model", str(tmp_path / "model.npz"), "--inputs", str(tmp_path / "x.npy"),
            "--backend", backend, "--out", str(tmp_path / "y.npy")]
    # later options override earlier ones (argparse), so extra may replace --inputs / --out
    assert main(argv + extra) == 2
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1, cap.err
    assert lines[0].startswith("circnn infer: error: ")
    for w in words:
        assert w.lower() in lines[0].lower(), (w, lines[0])
    assert cap.out == ""
    assert not (tmp_path / "y.npy").exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp") or p.name == "y.npy"]


def test_multi_layer_bundle_on_every_backend(tmp_path, seed):
    """Multi-layer bundles: rtl (the accelerator, one simulation) == golden, bit for
    bit; float equal to an independent dense reference; golden close to it."""
    rng = np.random.default_rng(seed)
    bundle = random_bundle(rng, 8, [3, 4, 2, 2], ["relu", "relu", "none"], in_features=20,
                           out_features=13)
    model, inputs = tmp_path / "net.npz", tmp_path / "x.npy"
    save_bundle(model, bundle)
    x = rng.uniform(-1, 1, (5, 20))
    np.save(inputs, x)
    outs = {}
    for backend in ("float", "golden", "rtl"):
        out = tmp_path / f"y_{backend}.npy"
        assert main(["infer", "--model", str(model), "--inputs", str(inputs), "--backend", backend,
                     "--out", str(out), "--batch", "2", "--quiet"]) == 0
        outs[backend] = np.load(out)
    ref = dense_reference(bundle.layers, x)
    np.testing.assert_allclose(outs["float"], ref, rtol=1e-12, atol=1e-12)
    assert outs["golden"].shape == (5, 13)
    assert np.array_equal(outs["rtl"], outs["golden"])      # two implementations, one result
    assert np.abs(outs["golden"] - ref).max() < 0.05


def test_mixed_block_sizes_are_refused(tmp_path, capsys):
    rng = np.random.default_rng(0)
    bundle = Bundle([Layer(rng.normal(size=(2, 2, 8)), np.zeros(16), "relu"),
                     Layer(rng.normal(size=(1, 4, 4)), np.zeros(4), "none")])
    model, inputs = tmp_path / "m.npz", tmp_path / "x.npy"
    save_bundle(model, bundle)
    np.save(inputs, rng.uniform(-1, 1, (2, 16)))
    code = main(["infer", "--model", str(model), "--inputs", str(inputs), "--backend", "golden",
                 "--out", str(tmp_path / "y.npy")])
    assert code == 2
    assert "layer 1: block size k=4 differs from layer 0's k=8" in capsys.readouterr().err
    assert not (tmp_path / "y.npy").exists()
