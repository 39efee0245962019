"""The float model of ``conv2d`` and ``maxpool2d`` layers (FFT-based, as the engine
computes them) against independent references: SciPy's 2-D correlation with the
dense kernels expanded from the circulant blocks, and NumPy loops for pooling."""

import numpy as np
import pytest
from scipy.signal import correlate2d

from circnn.bundle import Bundle, Conv2d, Layer, MaxPool2d
from circnn.sim.model.circulant import block_circulant_dense
from circnn.sim.model.conv import im2col, maxpool
from circnn.sim.model.float_network import InputError, predict

REL = 1e-9


def random_conv(rng, k, c_in, kernel, stride, padding, in_hw, c_out, activation="relu"):
    patch = kernel[0] * kernel[1] * c_in
    q, p = -(-patch // k), -(-c_out // k)
    return Conv2d(rng.normal(size=(p, q, k)) / np.sqrt(patch), rng.normal(size=p * k) * 0.1,
                  activation, (*in_hw, c_in), kernel, stride, padding,
                  in_features=patch if q * k != patch else None,
                  out_features=c_out if p * k != c_out else None)


def reference_conv(layer: Conv2d, x):
    """Dense kernels from the circulant matrix, correlated channel by channel with SciPy."""
    kh, kw = layer.kernel
    (sh, sw), (ph, pw) = layer.stride, layer.padding
    c_in = layer.in_shape[2]
    dense = block_circulant_dense(layer.weight)[:layer.channels_out, :layer.patch]
    kernels = dense.reshape(layer.channels_out, kh, kw, c_in)
    xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    ho, wo = layer.out_shape[:2]
    out = np.zeros((x.shape[0], ho, wo, layer.channels_out))
    for n in range(x.shape[0]):
        for o in range(layer.channels_out):
            acc = sum(correlate2d(xp[n, :, :, c], kernels[o, :, :, c], mode="valid")
                      for c in range(c_in))
            out[n, :, :, o] = acc[::sh, ::sw][:ho, :wo] + layer.bias[o]
    return np.maximum(out, 0) if layer.activation == "relu" else out


def _cases(count, seed=2026):
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        k = int(rng.choice([4, 8, 16, 32]))
        c_in = int(rng.choice([1, 3, k, 2 * k]))
        kernel = tuple(int(v) for v in rng.integers(1, 6, size=2))
        stride = tuple(int(v) for v in rng.integers(1, 3, size=2))
        padding = tuple(int(rng.integers(0, min(2, kk - 1) + 1)) for kk in kernel)
        in_hw = tuple(int(max(kk, rng.integers(4, 9))) for kk in kernel)
        c_out = int(rng.integers(1, 2 * k + 1))
        cases.append((k, c_in, kernel, stride, padding, in_hw, c_out))
    return cases


@pytest.mark.parametrize("case", _cases(40), ids=lambda c: "k{}-c{}-K{}x{}-S{}{}-P{}{}".format(
    c[0], c[1], *c[2], *c[3], *c[4]))
def test_conv_equals_correlation_with_the_dense_kernels(case, seed):
    k, c_in, kernel, stride, padding, in_hw, c_out = case
    rng = np.random.default_rng(seed)
    layer = random_conv(rng, k, c_in, kernel, stride, padding, in_hw, c_out,
                        activation=str(rng.choice(["relu", "none"])))
    x = rng.uniform(-1, 1, size=(3, *in_hw, c_in))
    got = predict(Bundle([layer]), x)
    want = reference_conv(layer, x)
    assert got.shape == want.shape == (3, *layer.out_shape)
    scale = np.abs(want).max() or 1.0
    assert np.abs(got - want).max() <= REL * scale


def test_patch_order_is_kh_kw_c():
    # input pixel (y, x) channel c holds 100*y + 10*x + c: the patch of output (0, 0) of a
    # 2x2 kernel, padding 1, reads (-1,-1) (-1,0) (0,-1) (0,0): zeros, then pixel (0, 0)
    x = np.fromfunction(lambda n, y, xx, c: 100 * y + 10 * xx + c, (1, 3, 3, 2))
    patches = im2col(x, (2, 2), (1, 1), (1, 1))
    assert patches.shape == (1, 4, 4, 8)
    assert patches[0, 0, 0].tolist() == [0, 0, 0, 0, 0, 0, 0, 1]
    assert patches[0, 1, 1].tolist() == [0, 1, 10, 11, 100, 101, 110, 111]
    # stride 2 and no padding: output (1, 0) starts at input row 2
    assert im2col(x, (1, 1), (2, 2))[0, 1, 0].tolist() == [200, 201]


def test_maxpool_against_loops(seed):
    rng = np.random.default_rng(seed)
    for kernel, stride in (((2, 2), (2, 2)), ((3, 3), (2, 2)), ((2, 3), (1, 2))):
        x = rng.integers(-1000, 1000, size=(2, 7, 8, 3))
        got = maxpool(x, kernel, stride)
        ho, wo = (7 - kernel[0]) // stride[0] + 1, (8 - kernel[1]) // stride[1] + 1
        want = np.empty((2, ho, wo, 3), dtype=x.dtype)
        for oy in range(ho):
            for ox in range(wo):
                win = x[:, oy * stride[0]:oy * stride[0] + kernel[0],
                        ox * stride[1]:ox * stride[1] + kernel[1], :]
                want[:, oy, ox, :] = win.max(axis=(1, 2))
        assert got.dtype == x.dtype and np.array_equal(got, want)


def test_a_cnn_chain_flattens_in_hwc_order(seed):
    """conv -> pool -> conv -> dense: the dense layer reads the map flattened (h, w, c)."""
    rng = np.random.default_rng(seed)
    c1 = random_conv(rng, 8, 1, (3, 3), (1, 1), (1, 1), (8, 8), 8)
    pool = MaxPool2d((8, 8, 8), (2, 2), (2, 2))
    c2 = random_conv(rng, 8, 8, (3, 3), (1, 1), (0, 0), (4, 4), 16)
    dense = Layer(rng.normal(size=(2, 8, 8)) * 0.1, rng.normal(size=16) * 0.1, "none",
                  out_features=10)
    net = Bundle([c1, pool, c2, dense])
    x = rng.uniform(-1, 1, size=(4, 8, 8, 1))
    h = reference_conv(c2, maxpool(reference_conv(c1, x), (2, 2), (2, 2)))
    want = (h.reshape(4, -1) @ block_circulant_dense(dense.weight).T + dense.bias)[:, :10]
    got = predict(net, x)
    assert got.shape == (4, 10)
    assert np.abs(got - want).max() <= REL * np.abs(want).max()
    # the same rows flattened, and one sample alone
    tol = REL * np.abs(want).max()
    np.testing.assert_allclose(predict(net, x.reshape(4, -1)), got, rtol=0, atol=tol)
    np.testing.assert_allclose(predict(net, x[2]), got[2], rtol=0, atol=tol)


@pytest.mark.parametrize("shape", [(4, 8, 8, 2), (4, 63), (8, 8), (2, 8, 1, 8)])
def test_inputs_that_match_no_layout_are_refused(shape):
    rng = np.random.default_rng(0)
    net = Bundle([random_conv(rng, 4, 1, (3, 3), (1, 1), (0, 0), (8, 8), 4)])
    with pytest.raises(InputError, match=r"reads a \(8, 8, 1\) feature map: expected shape "
                                         r"\(N, 8, 8, 1\), \(N, 64\)"):
        predict(net, np.zeros(shape))


# --- circnn infer --backend float on CNN bundles ---------------------------------------

def _cnn_files(tmp_path, rng):
    from circnn.bundle import save_bundle
    c1 = random_conv(rng, 4, 1, (3, 3), (1, 1), (1, 1), (6, 6), 4)
    pool = MaxPool2d((6, 6, 4), (2, 2), (2, 2))
    dense = Layer(rng.normal(size=(1, 9, 4)) * 0.1, rng.normal(size=4) * 0.1, "none",
                  out_features=3)
    net = Bundle([c1, pool, dense])
    save_bundle(tmp_path / "cnn.npz", net)
    return net


@pytest.mark.parametrize("layout", ["maps", "rows", "one map"])
def test_infer_float_runs_cnn_bundles(layout, tmp_path, capsys, seed):
    import json
    from circnn.cli import main
    rng = np.random.default_rng(seed)
    net = _cnn_files(tmp_path, rng)
    x = rng.uniform(-1, 1, size=(5, 6, 6, 1))
    given = {"maps": x, "rows": x.reshape(5, 36), "one map": x[0]}[layout]
    np.save(tmp_path / "x.npy", given)
    assert main(["infer", "--model", str(tmp_path / "cnn.npz"), "--inputs",
                 str(tmp_path / "x.npy"), "--backend", "float", "--out", str(tmp_path / "y.npy"),
                 "--report", str(tmp_path / "r.json"), "--quiet"]) == 0
    y = np.load(tmp_path / "y.npy")
    want = predict(net, x)
    np.testing.assert_allclose(y, want[0] if layout == "one map" else want, rtol=0,
                               atol=REL * np.abs(want).max())
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["output_shape"] == ([3] if layout == "one map" else [5, 3])


def test_cnn_bundles_on_the_dense_baseline_are_refused(tmp_path, capsys):
    from circnn.bundle import save_bundle
    from circnn.cli import main
    rng = np.random.default_rng(0)
    save_bundle(tmp_path / "cnn.npz",
                Bundle([random_conv(rng, 4, 1, (3, 3), (1, 1), (1, 1), (6, 6), 4)]))
    np.save(tmp_path / "x.npy", np.zeros((2, 6, 6, 1)))
    code = main(["infer", "--model", str(tmp_path / "cnn.npz"), "--inputs",
                 str(tmp_path / "x.npy"), "--backend", "rtl-dense", "--out",
                 str(tmp_path / "y.npy")])
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "layer 0 is a conv2d layer" in line and "one dense layer" in line
    assert not (tmp_path / "y.npy").exists()


def test_infer_rtl_runs_a_cnn_on_the_accelerator(tmp_path, capsys, seed):
    """conv -> pool -> dense through the accelerator: every output word equal to the
    golden model's, and the report's accelerator figures."""
    import json
    from circnn.cli import main
    rng = np.random.default_rng(seed)
    _cnn_files(tmp_path, rng)
    x = rng.uniform(-1, 1, size=(6, 6, 6, 1))
    np.save(tmp_path / "x.npy", x)
    args = ["infer", "--model", str(tmp_path / "cnn.npz"), "--inputs", str(tmp_path / "x.npy")]
    assert main(args + ["--backend", "golden", "--out", str(tmp_path / "g.npy")]) == 0
    # a few thousand clocks: Icarus (its build a second) rather than Verilator's build
    assert main(args + ["--backend", "rtl", "--batch", "2", "--simulator", "icarus",
                        "--out", str(tmp_path / "y.npy"),
                        "--report", str(tmp_path / "r.json")]) == 0
    printed = capsys.readouterr().out
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), np.load(tmp_path / "g.npy"))
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["rtl_golden_mismatches"] == 0
    acc = report["accelerator"]
    assert (acc["k"], acc["batch"], acc["max_layers"], acc["max_map"]) == (4, 2, 2, 36)
    assert (acc["max_side"], acc["max_channels"], acc["max_kernel"]) == (6, 1, 3)
    # conv 6x6 pixels x ceil(1/P) x q=3 x k/2=2, then dense q=9 x 2 (by hand)
    assert report["layer_mac_bound_cycles"] == [36 * 3 * 2, 9 * 2]
    assert report["mac_bound_cycles"] == 36 * 3 * 2 + 9 * 2
    assert len(report["layer_cycles"]) == 2
    assert report["layers_run"] == ["layers 0-1 (conv2d + maxpool2d)", "layer 2 (dense)"]
    assert report["mac_bound_cycles"] <= report["cycles_per_inference"]
    assert sum(report["layer_cycles"]) <= report["cycles_per_inference"]
    assert "rtl vs golden: 0 output words differ" in printed


@pytest.mark.parametrize("shape", [(2, 6, 6, 2), (2, 35), (6, 6)])
def test_infer_refuses_inputs_that_match_no_layout(shape, tmp_path, capsys):
    from circnn.cli import main
    _cnn_files(tmp_path, np.random.default_rng(0))
    np.save(tmp_path / "x.npy", np.zeros(shape))
    code = main(["infer", "--model", str(tmp_path / "cnn.npz"), "--inputs",
                 str(tmp_path / "x.npy"), "--backend", "float", "--out", str(tmp_path / "y.npy")])
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "reads a (6, 6, 1) feature map: expected shape (N, 6, 6, 1)" in line
    assert str(tmp_path / "x.npy") in line and not (tmp_path / "y.npy").exists()


# --- the bit-true model of CNNs ---------------------------------------------------------

def test_golden_cnn_is_the_layer_arithmetic_on_every_patch_row(seed):
    """The bit-true network equals, step by step, an independent composition: the
    one-layer bit-true model on patch rows built by explicit loops, maxima of codes."""
    from circnn.compiler import compile_cnn
    from circnn.config import EngineConfig
    from circnn.sim.model.cnn import cnn_forward
    from circnn.sim.model.fixedpoint import FixedFormat
    from circnn.sim.model.layer import layer_forward as bit_true_layer
    rng = np.random.default_rng(seed)
    c1 = random_conv(rng, 4, 3, (3, 3), (2, 1), (1, 0), (7, 6), 6)
    pool = MaxPool2d(c1.out_shape, (2, 2), (1, 2))
    dense = Layer(rng.normal(size=(1, -(-pool.n_out // 4), 4)) * 0.2, rng.normal(size=4) * 0.1,
                  "none", in_features=pool.n_out if pool.n_out % 4 else None, out_features=3)
    net = Bundle([c1, pool, dense])
    eng = EngineConfig(k=4, max_q=16, max_p=2)
    x = rng.uniform(-1, 1, size=(3, 7 * 6 * 3))
    steps = compile_cnn(net, eng, x)
    prog0, prog2 = steps[0].program, steps[2].program
    codes = FixedFormat(eng.act_width, prog0.in_frac).quantize(x, "half_even")
    got = cnn_forward(codes, steps, eng)

    maps = codes.reshape(3, 7, 6, 3)
    ho, wo = c1.out_shape[:2]
    rows = np.zeros((3 * ho * wo, prog0.q * 4), dtype=np.int64)
    for n in range(3):
        for oy in range(ho):
            for ox in range(wo):
                r = (n * ho + oy) * wo + ox
                for kh in range(3):
                    for kw in range(3):
                        yy, xx = oy * 2 + kh - 1, ox + kw
                        if 0 <= yy < 7 and 0 <= xx < 6:
                            rows[r, (kh * 3 + kw) * 3:(kh * 3 + kw) * 3 + 3] = maps[n, yy, xx]
    conv = bit_true_layer(rows, prog0, eng)[:, :6].reshape(3, ho, wo, 6)
    pooled = np.array([[[conv[n, oy:oy + 2, ox * 2:ox * 2 + 2].max(axis=(0, 1))
                         for ox in range(pool.out_shape[1])] for oy in range(pool.out_shape[0])]
                       for n in range(3)])
    flat = np.zeros((3, prog2.q * 4), dtype=np.int64)
    flat[:, :pool.n_out] = pooled.reshape(3, -1)
    want = bit_true_layer(flat, prog2, eng)
    np.testing.assert_array_equal(got, want)
    assert prog2.in_frac == prog0.out_frac            # pooling keeps the format


def test_infer_golden_runs_a_cnn_close_to_float(tmp_path, capsys, seed):
    import json
    from circnn.cli import main
    rng = np.random.default_rng(seed)
    net = _cnn_files(tmp_path, rng)
    x = rng.uniform(-1, 1, size=(40, 6, 6, 1))
    np.save(tmp_path / "x.npy", x)
    assert main(["infer", "--model", str(tmp_path / "cnn.npz"), "--inputs",
                 str(tmp_path / "x.npy"), "--backend", "golden", "--out", str(tmp_path / "y.npy"),
                 "--report", str(tmp_path / "r.json")]) == 0
    printed = capsys.readouterr().out
    y, f = np.load(tmp_path / "y.npy"), predict(net, x)
    assert y.shape == f.shape == (40, 3)
    report = json.loads((tmp_path / "r.json").read_text())
    assert set(report["compiler"]) == {"layer 0", "layer 1", "layer 2"}
    assert report["compiler"]["layer 1"]["type"] == "maxpool2d"
    assert report["compiler"]["layer 0"]["input_format"].startswith("sQ")
    assert report["error_vs_float"]["relative_rms_error"] < 5e-3
    assert [s["layer"] for s in report["saturations_run"]] == [0, 1, 2]
    assert "layer 1: maxpool2d" in printed and "layer 0 formats" in printed
