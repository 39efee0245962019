# amaranth: UnusedElaboratable=no
"""``circnn infer``: float / golden / rtl backends on small one-layer bundles, and
every kind of bad input refused on one line with exit status 2 and no output file."""

import json
import os

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
    fmt = report["compiler"]["layer 0"]["output_format"]    # e.g. sQ3.12
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
                 "--simulator", "icarus", "--report", str(tmp_path / "r.json")) == 0
    g, y = np.load(tmp_path / "g.npy"), np.load(tmp_path / "y.npy")
    assert y.shape == (5, layer.n_out)
    np.testing.assert_array_equal(y, g)       # two implementations, one result
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["rtl"]["golden_mismatches"] == 0
    # the simulation's own figures: the simulator asked for, its clocks (the layer's busy
    # clocks and the bench's reset and loading), its wall time apart from the build's
    assert report["simulator"] == "icarus"
    assert report["sim_clocks"] > report["rtl"]["cycles"] > 0
    assert report["sim_wall_s"] > 0 and report["build_wall_s"] >= 0
    stats = report["rtl"]
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
        return ["--act-width", "40"], ["--act-width", "40"]
    if what == "pes":
        return ["--pes", "0"], ["pes", "0"]
    if what == "rounding":
        return ["--rounding", "sideways"], ["rounding", "sideways"]
    if what == "stall":
        return ["--stall", "1.0"], ["--stall", "1.0"]
    if what == "layer_batches":
        return ["--layer-batches", "0"], ["--layer-batches", "1..64", "not 0"]
    if what == "out_folder":
        return ["--out", str(tmp_path / "nowhere" / "y.npy")], ["nowhere", "does not exist"]
    if what == "calibration_zero":
        np.save(tmp_path / "c.npy", np.zeros((4, n_in)))
        return ["--calibration", str(tmp_path / "c.npy")], ["calibration", "c.npy", "every value is 0"]
    # magnitudes no fixed-point format holds: one line naming the layer and the data
    if what in ("inputs_huge", "inputs_tiny", "inputs_denormal"):
        scale = {"inputs_huge": 1e30, "inputs_tiny": 1e-20, "inputs_denormal": 1e-310}[what]
        np.save(tmp_path / "x.npy", rng.uniform(-1, 1, size=(4, n_in)) * scale)
        return [], ["layer 0 calibration inputs", "fraction bits", "-64..64",
                    "no --calibration was given"]
    if what in ("weights_huge", "weights_tiny"):
        scale = 1e300 if what == "weights_huge" else 1e-300
        save_bundle(tmp_path / "model.npz",
                    Bundle([Layer(layer.weight * scale, layer.bias * scale, "relu")]))
        return [], ["layer 0 weight spectra", "fraction bits", "-64..64"]
    if what == "q_from_bundle":
        save_bundle(tmp_path / "model.npz",
                    Bundle([Layer(rng.normal(size=(1, 5000, 4)) * 0.01, np.zeros(4), "none")]))
        np.save(tmp_path / "x.npy", rng.uniform(-1, 1, size=(2, 20000)))
        return [], ["layer 0", "model.npz", "q=5000", "max_q=4096"]
    # outputs that would replace what they must not
    if what == "out_is_inputs":
        return ["--out", str(tmp_path / "x.npy")], ["--out", "same file as --inputs"]
    if what == "out_is_model":
        return ["--out", str(tmp_path / "model.npz")], ["--out", "same file as --model"]
    if what == "out_is_calibration":
        np.save(tmp_path / "c.npy", rng.uniform(-1, 1, size=(4, n_in)))
        return ["--calibration", str(tmp_path / "c.npy"), "--out", str(tmp_path / "c.npy")], \
            ["--out", "same file as --calibration"]
    if what == "report_is_out":
        return ["--report", str(tmp_path / "y.npy")], ["--report", "same file as --out"]
    if what == "out_fifo":
        os.mkfifo(tmp_path / "fifo")
        return ["--out", str(tmp_path / "fifo")], ["--out", "is a FIFO"]
    if what == "out_link_to_device":         # the link is only inspected, never followed to write
        os.symlink("/dev/null", tmp_path / "null.npy")
        return ["--out", str(tmp_path / "null.npy")], ["--out", "symbolic link to a character device"]
    if what == "out_directory":
        (tmp_path / "d.npy").mkdir()
        return ["--out", str(tmp_path / "d.npy")], ["--out", "is a directory"]
    if what == "report_directory":
        (tmp_path / "r").mkdir()
        return ["--report", str(tmp_path / "r")], ["--report", "is a directory"]
    if what == "scales_apart":              # tiny weights, huge bias: no output shift fits
        save_bundle(tmp_path / "model.npz",
                    Bundle([Layer(layer.weight * 1e-6, np.full(layer.bias.shape, 1e6), "none")]))
        return [], ["layer 0", "output shift of", "beyond the engine's", "bias (largest 1e+06)"]
    raise ValueError(what)


BAD = ["bundle_missing", "bundle_malformed", "bundle_not_npz", "weights_nan",
       "multi_layer_golden_dense", "multi_layer_rtl_dense", "inputs_missing", "inputs_not_npy", "inputs_garbage", "inputs_object", "inputs_width",
       "inputs_nan", "calibration_nan", "k_mismatch", "act_width", "pes", "rounding", "stall",
       "layer_batches", "out_folder", "calibration_zero", "inputs_huge", "inputs_tiny", "inputs_denormal",
       "weights_huge", "weights_tiny", "q_from_bundle", "out_is_inputs", "out_is_model",
       "out_is_calibration", "report_is_out", "out_fifo", "out_link_to_device", "out_directory",
       "report_directory", "scales_apart"]


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
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and not p.is_symlink()}
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
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and not p.is_symlink()}
    assert after == before, "a refused command changed or left files"


def test_multi_layer_bundle_on_every_backend(tmp_path, seed, capsys):
    """Multi-layer bundles: rtl (the accelerator, one simulation, two batches a layer)
    == golden, bit for bit; float equal to an independent dense reference; golden close to it.
    The rtl run says, on one line, that it sized the accelerator for the bundle, and how."""
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
                     "--out", str(out), "--report", str(tmp_path / f"{backend}.json"),
                     *(["--quiet"] if backend != "rtl" else []),
                     *([] if backend == "float" else ["--batch", "2"]),
                     # two batches of B = 2 run each layer together: 5 rows, padded to 8
                     *(["--layer-batches", "2"] if backend == "rtl" else [])]) == 0
        outs[backend] = np.load(out)
    sized = [line for line in capsys.readouterr().out.splitlines()
             if line.startswith("accelerator (sized for the bundle")]
    assert len(sized) == 1 and "max_q=4 max_p=4" in sized[0] and "max_layers=3" in sized[0], sized
    report = json.loads((tmp_path / "rtl.json").read_text())
    assert report["accelerator"]["layer_batches"] == 2
    assert report["accelerator_source"].startswith("sized for the bundle")
    assert report["rtl"]["padded_rows"] == 3 and report["rtl"]["inferences_counter"] == 8
    assert len(report["layer_pe_utilisation"]) == 3
    assert all(0 < u <= 1 for u in report["layer_pe_utilisation"])
    assert report["simulator"] == "verilator"                  # the default
    assert report["sim_clocks"] > report["rtl"]["cycles"] > 0
    assert report["sim_wall_s"] > 0 and report["build_wall_s"] >= 0
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


# --- saturation is never silent ------------------------------------------------------

def _two_layer_case(tmp_path, rng, scale):
    bundle = random_bundle(rng, 8, [3, 2, 2], ["relu", "none"])
    save_bundle(tmp_path / "net.npz", bundle)
    calib = rng.uniform(-1, 1, (32, bundle.n_in))
    np.save(tmp_path / "c.npy", calib)
    np.save(tmp_path / "x.npy", rng.uniform(-1, 1, (6, bundle.n_in)) * scale)
    return bundle


def _infer_net(tmp_path, backend, *extra):
    return main(["infer", "--model", str(tmp_path / "net.npz"), "--inputs", str(tmp_path / "x.npy"),
                 "--backend", backend, "--calibration", str(tmp_path / "c.npy"),
                 "--out", str(tmp_path / "y.npy"), "--report", str(tmp_path / "r.json"), *extra])


@pytest.mark.parametrize("backend", ["golden", "golden-dense"])
def test_inputs_beyond_the_calibration_saturate_loudly(backend, tmp_path, capsys, seed):
    rng = np.random.default_rng(seed)
    if backend == "golden-dense":
        layer = make_layer(rng)
        save_bundle(tmp_path / "net.npz", Bundle([layer]))
        np.save(tmp_path / "c.npy", rng.uniform(-1, 1, (32, layer.n_in)))
        np.save(tmp_path / "x.npy", rng.uniform(-1, 1, (6, layer.n_in)) * 1000)
        n_in = layer.n_in
    else:
        n_in = _two_layer_case(tmp_path, rng, 1000).n_in
    assert _infer_net(tmp_path, backend) == 0
    cap = capsys.readouterr()
    warning = [l for l in cap.err.splitlines() if "warning" in l]
    assert len(warning) == 1 and "saturated in this run" in warning[0], cap.err
    assert "--strict" in warning[0]
    report = json.loads((tmp_path / "r.json").read_text())
    run, calib = report["saturations_run"], report["saturations_calibration"]
    # the inputs are 1000 times the calibration's range: nearly every input clips
    assert run[0]["input"] > 0.9 * 6 * n_in
    assert report["saturated_values"] == sum(s["input"] + s["accumulator"] + s["output"] for s in run)
    assert all(c["input"] == 0 for c in calib)
    assert "saturated values in this run" in cap.out and "on the calibration rows" in cap.out
    # --strict: the same run is an error (exit 3), outputs still written
    assert _infer_net(tmp_path, backend, "--strict") == 3
    assert (tmp_path / "y.npy").exists()


def test_a_run_within_the_calibration_is_quiet(tmp_path, capsys, seed):
    rng = np.random.default_rng(seed)
    _two_layer_case(tmp_path, rng, 0.5)
    capsys.readouterr()                     # the seed line
    assert _infer_net(tmp_path, "golden", "--strict", "--quiet") == 0
    cap = capsys.readouterr()
    assert cap.err == "" and cap.out == ""
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["saturated_values"] == 0


def test_float_refuses_options_it_does_not_use(tmp_path, capsys):
    rng = np.random.default_rng(1)
    layer = make_layer(rng)
    save_bundle(tmp_path / "model.npz", Bundle([layer]))
    np.save(tmp_path / "x.npy", rng.uniform(-1, 1, (3, layer.n_in)))
    c = np.zeros((3, layer.n_in))
    c[0, 0] = np.nan
    np.save(tmp_path / "c.npy", c)
    for extra, flag in ((["--pes", "2"], "--pes"), (["--act-width", "12"], "--act-width"),
                        (["--calibration", str(tmp_path / "c.npy")], "--calibration"),
                        (["--strict"], "--strict"), (["--stall", "0.5"], "--stall")):
        assert infer(tmp_path, "float", *extra) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"{flag} is not used by the float backend" in err[0], err
        assert not (tmp_path / "y.npy").exists()


def test_float_overflow_is_an_error_naming_the_layer(tmp_path, capsys):
    rng = np.random.default_rng(2)
    layer = make_layer(rng)
    save_bundle(tmp_path / "model.npz", Bundle([layer]))
    np.save(tmp_path / "x.npy", np.full((2, layer.n_in), 1e308))
    assert infer(tmp_path, "float") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "layer 0" in err[0] and "overflows float64" in err[0], err
    assert not (tmp_path / "y.npy").exists()


def test_a_report_that_cannot_be_written_leaves_no_output_either(tmp_path, capsys, monkeypatch):
    """A full disk at --report: one line naming it, exit 2, and --out is not
    written either (a failed command leaves no partial output)."""
    import errno
    from circnn import files
    _bad(tmp_path, np.random.default_rng(3), "k_mismatch")       # a valid bundle and inputs
    report = tmp_path / "r.json"
    real_open = os.open

    def open_(path, flags, *a, **kw):
        if os.path.basename(os.fspath(path)).startswith(".r.json.") and flags & os.O_CREAT:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_open(path, flags, *a, **kw)

    monkeypatch.setattr(files.os, "open", open_)
    assert main(["infer", "--model", str(tmp_path / "model.npz"), "--inputs",
                 str(tmp_path / "x.npy"), "--backend", "golden", "--out", str(tmp_path / "y.npy"),
                 "--report", str(report), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"circnn infer: error: cannot write {str(report)!r}: No space left on device"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz", "x.npy"]
