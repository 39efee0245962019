"""Training convolutional networks in NumPy: gradients against finite differences and
against the dense equivalent, pooling, the projection from a dense CNN, the
bundle a trained CNN exports (run by the float model), reproducibility."""

import numpy as np
import pytest

from circnn.cnn_training import (ConvLayer, PoolLayer, circulant_cnn_from_dense, cnn_network,
                                 cnn_to_bundle, parse_cnn_spec)
from circnn.errors import ParameterError
from circnn.sim.model.circulant import block_circulant_dense
from circnn.sim.model.float_network import predict
from circnn.training import CirculantLinear, DenseLinear, Network, train


def _loss(net, x, g):
    return float(np.sum(net.forward(x) * g))


def _numeric(f, arr, idx, eps=1e-6):
    old = arr[idx]
    arr[idx] = old + eps
    up = f()
    arr[idx] = old - eps
    down = f()
    arr[idx] = old
    return (up - down) / (2 * eps)


def _conv(rng, k, c_in, c_out, kernel, stride, padding, hw, act="none"):
    patch = kernel[0] * kernel[1] * c_in
    lin = CirculantLinear.initialised(patch, c_out, k, act, rng)
    lin.bias[:] = rng.normal(size=lin.bias.shape) * 0.1
    return ConvLayer(lin, (*hw, c_in), kernel, stride, padding)


@pytest.mark.parametrize("stride, padding", [((1, 1), (1, 1)), ((2, 1), (0, 2))])
def test_conv_gradients_match_finite_differences(stride, padding, seed):
    rng = np.random.default_rng(seed)
    layer = _conv(rng, 4, 3, 5, (3, 3), stride, padding, (5, 6), act="none")
    net = Network([layer])
    x = rng.normal(size=(2, layer.in_features))
    g = rng.normal(size=(2, layer.out_features))
    net.forward(x, keep=True)
    grad_x = net.backward(g)
    f = lambda: _loss(net, x, g)                                   # noqa: E731
    for idx in [(0, 0), (1, 17), (0, layer.in_features - 1), (1, 40)]:
        assert grad_x[idx] == pytest.approx(_numeric(f, x, idx), rel=1e-6, abs=1e-8)
    w = layer.linear.weight
    for idx in [(0, 0, 0), (1, 2, 3), (0, 6, 1)]:
        assert layer.linear.grad_weight[idx] == pytest.approx(_numeric(f, w, idx), rel=1e-6,
                                                              abs=1e-8)


def test_circulant_conv_equals_its_dense_expansion(seed):
    """The same convolution as a dense patch matrix: equal outputs and input gradients,
    and each circulant weight's gradient is the sum of the dense gradients on its
    wrapped diagonal."""
    rng = np.random.default_rng(seed)
    circ = _conv(rng, 4, 3, 6, (2, 2), (1, 1), (1, 0), (4, 5), act="relu")
    lin = circ.linear
    dense_w = block_circulant_dense(lin.weight)[:lin.out_features, :lin.in_features]
    dense = ConvLayer(DenseLinear(dense_w, lin.bias[:lin.out_features], "relu"), circ.in_shape,
                      circ.kernel, circ.stride, circ.padding)
    x = rng.normal(size=(3, circ.in_features))
    g = rng.normal(size=(3, circ.out_features))
    a, b = Network([circ]), Network([dense])
    np.testing.assert_allclose(a.forward(x, keep=True), b.forward(x, keep=True), atol=1e-12)
    np.testing.assert_allclose(a.backward(g), b.backward(g), atol=1e-10)
    p, q, k = lin.weight.shape
    gd = np.zeros((p * k, q * k))
    gd[:lin.out_features, :lin.in_features] = dense.linear.grad_weight
    r = np.arange(k)
    for i in range(p):
        for j in range(q):
            block = gd[i * k:(i + 1) * k, j * k:(j + 1) * k]
            sums = [block[r, (r - d) % k].sum() for d in range(k)]
            np.testing.assert_allclose(lin.grad_weight[i, j], sums, atol=1e-10)


def test_pool_forward_and_gradient(seed):
    rng = np.random.default_rng(seed)
    pool = PoolLayer((5, 6, 2), (2, 3), (2, 2))
    net = Network([pool])
    x = rng.permutation(5 * 6 * 2 * 2).reshape(2, 60).astype(float)   # distinct values
    y = net.forward(x, keep=True)
    maps = x.reshape(2, 5, 6, 2)
    want = np.array([[[maps[n, oy * 2:oy * 2 + 2, ox * 2:ox * 2 + 3].max(axis=(0, 1))
                       for ox in range(2)] for oy in range(2)] for n in range(2)])
    np.testing.assert_array_equal(y.reshape(2, 2, 2, 2), want)
    g = rng.normal(size=y.shape)
    grad = net.backward(g)
    f = lambda: _loss(net, x, g)                                   # noqa: E731
    for idx in [(0, 0), (0, 13), (1, 59), (1, 20)]:
        assert grad[idx] == pytest.approx(_numeric(f, x, idx, eps=1e-3), abs=1e-9)


def test_a_trained_cnn_exports_a_bundle_the_float_model_runs(seed):
    rng = np.random.default_rng(seed)
    net = cnn_network((6, 6, 1), "conv3x3x8,pool2,conv3x3x8,dense5", 4, seed=seed)
    x = rng.uniform(0, 1, size=(40, 36))
    labels = rng.integers(0, 5, size=40)
    before = net.copy()
    history = train(net, x, labels, epochs=3, batch_size=8, seed=seed)
    assert history.loss[-1] < history.loss[0]
    again = before.copy()
    train(again, x, labels, epochs=3, batch_size=8, seed=seed)     # reproducible, bit for bit
    for a, b in zip(net.parameters(), again.parameters()):
        assert np.array_equal(a, b)
    bundle = cnn_to_bundle(net)
    assert [layer.kind for layer in bundle.layers] == ["conv2d", "maxpool2d", "conv2d", "dense"]
    np.testing.assert_allclose(predict(bundle, x), net.forward(x), rtol=0, atol=1e-10)


def test_projection_from_a_dense_cnn(seed):
    """A dense CNN whose matrices are block-circulant projects onto exactly those blocks;
    any dense CNN projects onto a block-circulant one of the same shape."""
    circ = cnn_network((5, 5, 2), "conv3x3x4,pool2,dense3", 4, seed=seed)
    layers = []
    for layer in circ.layers:
        if isinstance(layer, PoolLayer):
            layers.append(layer.copy())
            continue
        lin = layer.linear if isinstance(layer, ConvLayer) else layer
        w = block_circulant_dense(lin.weight)[:lin.out_features, :lin.in_features]
        dense = DenseLinear(w, lin.bias[:lin.out_features], lin.activation)
        layers.append(ConvLayer(dense, layer.in_shape, layer.kernel, layer.stride,
                                layer.padding) if isinstance(layer, ConvLayer) else dense)
    projected = circulant_cnn_from_dense(Network(layers), 4)
    for a, b in zip(circ.parameters(), projected.parameters()):
        np.testing.assert_allclose(a, b, atol=1e-12)
    dense = cnn_network((5, 5, 2), "conv3x3x4,pool2,dense3", None, seed=seed)
    out = circulant_cnn_from_dense(dense, 4)
    assert [type(layer).__name__ for layer in out.layers] == ["ConvLayer", "PoolLayer",
                                                              "CirculantLinear"]


@pytest.mark.parametrize("spec", ["conv3x3", "pool", "conv3x3x8,pool2", "mlp64,dense10"])
def test_bad_cnn_specs_are_refused(spec):
    with pytest.raises(ParameterError, match="--cnn"):
        parse_cnn_spec(spec)


# --- circnn train-cnn --------------------------------------------------------------------

def test_train_cnn_on_mnist_files_exports_a_bundle_the_backends_run(tmp_path, capsys):
    """The MNIST path (tiny IDX files of 8x8 'images'), one epoch: three trainings, the
    bundles written, the report's keys, and the exported bundle through infer."""
    import json
    from circnn.bundle import load_bundle
    from circnn.cli import main
    from test_demo import tiny_mnist
    data = tiny_mnist(tmp_path / "mnist")
    out = tmp_path / "cnn"
    assert main(["train-cnn", "--mnist", str(data), "--cnn", "conv3x3x4,pool2,dense10",
                 "--k", "4", "--epochs", "2", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["in_shape"] == [8, 8, 1] and report["n_train"] == 60 and report["n_test"] == 12
    for key in ("accuracy_dense_float", "accuracy_float", "accuracy_golden",
                "accuracy_from_dense_float", "accuracy_from_dense_projected"):
        assert 0 <= report[key] <= 1 and round(report[key] * 12) == pytest.approx(report[key] * 12)
    # conv: 9 -> 4 channels at k=4: q=3 blocks of 4, p=1; dense 64 -> 10: q=16, p=3
    assert report["weights_circulant"] == 3 * 4 + 16 * 3 * 4
    assert report["weights_dense"] == 9 * 4 + 64 * 10
    bundle = load_bundle(out / "model.npz")
    assert [layer.kind for layer in bundle.layers] == ["conv2d", "maxpool2d", "dense"]
    assert load_bundle(out / "model_from_dense.npz").layers[0].kind == "conv2d"
    assert "16-bit golden model" in printed
    x = np.random.default_rng(0).uniform(0, 1, (5, 8, 8, 1))
    np.save(tmp_path / "x.npy", x)
    assert main(["infer", "--model", str(out / "model.npz"), "--inputs", str(tmp_path / "x.npy"),
                 "--backend", "golden", "--out", str(tmp_path / "y.npy"), "--quiet"]) == 0
    assert np.load(tmp_path / "y.npy").shape == (5, 10)


@pytest.mark.parametrize("args, message", [
    (["--cnn", "conv3x3"], "--cnn"), (["--k", "3"], "--k"), (["--epochs", "0"], "--epochs"),
    (["--lr", "0"], "--lr"), (["--mnist", "/nonexistent/mnist"], "/nonexistent/mnist"),
])
def test_train_cnn_bad_options_are_one_line(args, message, tmp_path, capsys):
    from circnn.cli import main
    out = tmp_path / "cnn"
    assert main(["train-cnn", "--out", str(out), *args]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert message in line and not out.exists()
