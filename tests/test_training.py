"""Tests of circnn.training: FFT forward/backward against the dense maths,
finite differences, the circulant projection, training, bundles.

Random tests take the ``seed`` fixture (conftest.py), which prints the seed;
rerun a failure with ``CIRCNN_SEED=<seed>``.
"""

import time

import numpy as np
import pytest
import scipy.linalg

from circnn.errors import CircnnError, ParameterError
from circnn.training import (
    Adam, CirculantLinear, DenseLinear, Network, SGD, accuracy, circulant_from_dense,
    circulant_network, dense_network, from_bundle, project_to_circulant,
    softmax_cross_entropy, to_bundle, train,
)


def dense_of(weight):
    """The (p*k, q*k) matrix of a (p, q, k) weight, built independently with scipy."""
    p, q, _ = weight.shape
    return np.block([[scipy.linalg.circulant(weight[i, j]) for j in range(q)] for i in range(p)])


def diagonal_sums(dense, k):
    """Map a dense (p*k, q*k) gradient onto circulant parameters: for each block,
    the sum along each wrapped diagonal d (entries with (r - c) mod k == d)."""
    m, n = dense.shape
    p, q = m // k, n // k
    out = np.zeros((p, q, k))
    for i in range(p):
        for j in range(q):
            block = dense[i * k:(i + 1) * k, j * k:(j + 1) * k]
            for r in range(k):
                for c in range(k):
                    out[i, j, (r - c) % k] += block[r, c]
    return out


def random_layer(rng, p, q, k, activation, pad_in=0, pad_out=0):
    weight = rng.normal(size=(p, q, k))
    bias = rng.normal(size=p * k)
    return CirculantLinear(weight, bias, activation, q * k - pad_in, p * k - pad_out)


# --------------------------------------------------------------------------
# forward

@pytest.mark.parametrize("activation", ["none", "relu"])
@pytest.mark.parametrize("p,q,k,pad_in,pad_out", [
    (1, 1, 2, 0, 0), (3, 2, 4, 0, 0), (2, 5, 8, 3, 0), (4, 3, 16, 0, 6), (2, 2, 8, 7, 7),
])
def test_forward_equals_dense_equivalent(seed, activation, p, q, k, pad_in, pad_out):
    rng = np.random.default_rng(seed)
    layer = random_layer(rng, p, q, k, activation, pad_in, pad_out)
    x = rng.normal(size=(7, q * k - pad_in))
    xp = np.concatenate([x, np.zeros((7, pad_in))], axis=1)
    expected = xp @ dense_of(layer.weight).T + layer.bias
    if activation == "relu":
        expected = np.maximum(expected, 0)
    got = layer.forward(x)
    assert got.shape == (7, p * k - pad_out)
    np.testing.assert_allclose(got, expected[:, :p * k - pad_out], rtol=1e-12, atol=1e-12)
    # the layer's own dense view agrees with scipy's convention
    np.testing.assert_allclose(layer.to_dense(), dense_of(layer.weight), rtol=0, atol=0)


def test_forward_single_vector_and_width_check():
    layer = CirculantLinear(np.ones((1, 1, 4)), np.zeros(4), "none", in_features=3)
    np.testing.assert_allclose(layer.forward(np.array([1.0, 2.0, 3.0])), [[6, 6, 6, 6]])
    with pytest.raises(CircnnError, match="batch, 3"):
        layer.forward(np.ones((2, 4)))


# --------------------------------------------------------------------------
# backward

def loss_of(net, x, y):
    return softmax_cross_entropy(net.forward(x), y)[0]


def finite_difference_check(net, x, y, eps=1e-6):
    """Compare every analytic gradient of ``net`` (parameters and inputs) with
    central differences of the cross-entropy loss."""
    loss, grad_logits = softmax_cross_entropy(net.forward(x, keep=True), y)
    grad_x = net.backward(grad_logits)
    grads = [g.copy() for g in net.gradients()]
    for param, grad in zip(net.parameters(), grads):
        numeric = np.zeros_like(param)
        for idx in np.ndindex(param.shape):
            old = param[idx]
            param[idx] = old + eps
            up = loss_of(net, x, y)
            param[idx] = old - eps
            down = loss_of(net, x, y)
            param[idx] = old
            numeric[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)
    numeric_x = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xs = x.copy()
        xs[idx] += eps
        up = loss_of(net, xs, y)
        xs[idx] -= 2 * eps
        down = loss_of(net, xs, y)
        numeric_x[idx] = (up - down) / (2 * eps)
    np.testing.assert_allclose(grad_x, numeric_x, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("hidden", ["relu", "none"])
def test_circulant_gradients_match_finite_differences(seed, hidden):
    rng = np.random.default_rng(seed)
    # 10 -> 12 -> 5 with k = 4: both ends padded (in 10 of 12, out 5 of 8).
    net = circulant_network([10, 12, 5], 4, seed=seed, hidden_activation=hidden)
    for layer in net.layers:                 # non-zero biases exercise their gradient
        layer.bias[:] = rng.normal(scale=0.1, size=layer.bias.shape)
    x = rng.normal(size=(6, 10))
    y = rng.integers(0, 5, size=6)
    finite_difference_check(net, x, y)
    # dropped outputs carry no gradient
    assert np.all(net.layers[-1].grad_bias[5:] == 0)


def test_dense_gradients_match_finite_differences(seed):
    rng = np.random.default_rng(seed)
    net = dense_network([7, 9, 4], seed=seed)
    net.layers[0].bias[:] = rng.normal(scale=0.1, size=9)
    finite_difference_check(net, rng.normal(size=(5, 7)), rng.integers(0, 4, size=5))


@pytest.mark.parametrize("activation", ["none", "relu"])
@pytest.mark.parametrize("p,q,k,pad_in,pad_out", [(2, 3, 4, 0, 0), (3, 2, 8, 5, 3), (1, 4, 16, 1, 9)])
def test_circulant_gradients_equal_dense_gradients_mapped_back(seed, activation, p, q, k,
                                                               pad_in, pad_out):
    """dL/dw_ij must be the sum of the dense gradient along each wrapped
    diagonal of block (i, j); dL/dx and dL/db must be the dense ones."""
    rng = np.random.default_rng(seed)
    layer = random_layer(rng, p, q, k, activation, pad_in, pad_out)
    batch = 5
    x = rng.normal(size=(batch, q * k - pad_in))
    g = rng.normal(size=(batch, p * k - pad_out))       # upstream dL/d(outputs)
    layer.forward(x, keep=True)
    grad_x = layer.backward(g)

    # The same step done on the dense equivalent, by hand.
    w_dense = dense_of(layer.weight)
    xp = np.concatenate([x, np.zeros((batch, pad_in))], axis=1)
    pre = xp @ w_dense.T + layer.bias
    gp = np.concatenate([g, np.zeros((batch, pad_out))], axis=1)
    if activation == "relu":
        gp = gp * (pre > 0)
    dense_dw = gp.T @ xp
    dense_dx = gp @ w_dense

    np.testing.assert_allclose(layer.grad_weight, diagonal_sums(dense_dw, k), rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(layer.grad_bias, gp.sum(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad_x, dense_dx[:, :q * k - pad_in], rtol=1e-11, atol=1e-11)


def test_backward_needs_forward():
    layer = CirculantLinear(np.zeros((1, 1, 4)), np.zeros(4))
    with pytest.raises(RuntimeError, match="forward"):
        layer.backward(np.zeros((1, 4)))


def test_softmax_cross_entropy_is_stable_and_correct():
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    loss, grad = softmax_cross_entropy(logits, np.array([0, 2]))
    assert np.isfinite(loss)
    np.testing.assert_allclose(loss, (0.0 + np.log(3)) / 2, rtol=1e-12)
    np.testing.assert_allclose(grad, [[0, 0, 0], [1 / 6, 1 / 6, -1 / 3]], atol=1e-12)


# --------------------------------------------------------------------------
# projection onto block-circulant matrices

@pytest.mark.parametrize("p,q,k", [(1, 1, 2), (2, 3, 4), (3, 2, 8), (1, 2, 64)])
def test_projection_of_circulant_matrix_is_exact(seed, p, q, k):
    rng = np.random.default_rng(seed)
    weight = rng.normal(size=(p, q, k))
    assert np.array_equal(project_to_circulant(dense_of(weight), k), weight)


def lstsq_projection(matrix, k):
    """Nearest block-circulant matrix by brute force: least squares over the
    p*q*k parameters, on the real (unpadded) entries only."""
    m, n = matrix.shape
    p, q = -(-m // k), -(-n // k)
    basis = np.zeros((m * n, p * q * k))
    for col in range(p * q * k):
        unit = np.zeros(p * q * k)
        unit[col] = 1.0
        basis[:, col] = dense_of(unit.reshape(p, q, k))[:m, :n].ravel()
    solution, *_ = np.linalg.lstsq(basis, matrix.ravel(), rcond=None)
    return solution.reshape(p, q, k)


@pytest.mark.parametrize("m,n,k", [(8, 12, 4), (16, 8, 8), (10, 7, 4), (5, 13, 8)])
def test_projection_is_frobenius_nearest(seed, m, n, k):
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(m, n))
    got = project_to_circulant(matrix, k)
    p, q = -(-m // k), -(-n // k)
    assert got.shape == (p, q, k)
    # Parameters that touch no real entry are free in least squares; the
    # projection sets them to 0 and lstsq (minimum norm) does too.
    np.testing.assert_allclose(got, lstsq_projection(matrix, k), rtol=1e-10, atol=1e-12)
    # and no random nearby circulant matrix is closer
    err = np.linalg.norm(dense_of(got)[:m, :n] - matrix)
    for _ in range(20):
        other = got + 1e-3 * rng.normal(size=got.shape)
        assert np.linalg.norm(dense_of(other)[:m, :n] - matrix) > err


def test_projection_refuses_bad_k():
    with pytest.raises(ParameterError, match="k"):
        project_to_circulant(np.ones((6, 6)), 3)


# --------------------------------------------------------------------------
# training

def test_initialisation_variance_matches_dense_rule():
    net = circulant_network([256, 512, 10], 16, seed=1)
    w0 = net.layers[0].to_dense()
    assert abs(w0.std() / np.sqrt(2 / 256) - 1) < 0.05      # He before ReLU
    w1 = net.layers[1].weight
    assert abs(w1.std() / np.sqrt(2 / (512 + 10)) - 1) < 0.1  # Glorot before logits
    assert np.all(net.layers[0].bias == 0)


def test_network_shapes_and_padding():
    net = circulant_network([64, 100, 10], 16)
    assert [l.shape for l in net.layers] == [(7, 4, 16), (1, 7, 16)]
    assert (net.layers[0].out_features, net.layers[1].in_features, net.out_features) == (100, 100, 10)
    assert net.forward(np.zeros((3, 64))).shape == (3, 10)
    assert net.num_parameters() == 7 * 4 * 16 + 112 + 7 * 16 + 16
    with pytest.raises(ParameterError, match="layer 0 gives"):
        Network([CirculantLinear(np.zeros((1, 1, 4)), np.zeros(4)),
                 DenseLinear(np.zeros((2, 5)), np.zeros(2))])


@pytest.fixture(scope="module")
def digits():
    from circnn.datasets import load_digits_split
    return load_digits_split(seed=0)


@pytest.mark.parametrize("optimizer,lr", [("adam", 3e-3), ("sgd", 0.05)])
def test_training_is_reproducible(digits, optimizer, lr):
    x_train, y_train, _, _ = digits
    runs = []
    for seed in (5, 5, 6):
        net = circulant_network([64, 32, 10], 8, seed=3)
        train(net, x_train[:300], y_train[:300], epochs=2, batch_size=16, lr=lr,
              optimizer=optimizer, seed=seed)
        runs.append(net.parameters())
    for a, b in zip(runs[0], runs[1]):
        assert np.array_equal(a, b)                   # same seed: bit for bit
    assert not all(np.array_equal(a, b) for a, b in zip(runs[0], runs[2]))


def test_circulant_net_learns_digits(digits):
    x_train, y_train, x_test, y_test = digits
    net = circulant_network([64, 128, 10], 8, seed=0)
    seen = []
    start = time.perf_counter()
    history = train(net, x_train, y_train, epochs=15, batch_size=32, lr=3e-3, seed=0,
                    x_test=x_test, y_test=y_test, callback=lambda e, h: seen.append(e))
    elapsed = time.perf_counter() - start
    print(f"circulant 64-128-10 k=8: test accuracy {history.test_accuracy[-1]:.3f} "
          f"in {elapsed:.2f} s, {net.num_parameters()} parameters")
    assert seen == list(range(1, 16))
    assert len(history.loss) == len(history.train_accuracy) == len(history.test_accuracy) == 15
    assert history.loss[-1] < history.loss[0] / 3
    assert history.test_accuracy[-1] > 0.85
    assert history.test_accuracy[-1] == accuracy(net, x_test, y_test)
    assert elapsed < 10


def test_dense_then_project_then_retrain(digits):
    """CircConv's second route: dense pre-training, projection, re-training."""
    x_train, y_train, x_test, y_test = digits
    dense = dense_network([64, 128, 10], seed=0)
    train(dense, x_train, y_train, epochs=8, lr=3e-3, seed=0)
    circ = circulant_from_dense(dense, 8)
    assert circ.is_circulant and circ.out_features == 10
    assert [l.shape for l in circ.layers] == [(16, 8, 8), (2, 16, 8)]
    np.testing.assert_array_equal(circ.layers[0].weight, project_to_circulant(dense.layers[0].weight, 8))
    before = accuracy(circ, x_test, y_test)
    history = train(circ, x_train, y_train, epochs=10, lr=3e-3, seed=0,
                    x_test=x_test, y_test=y_test)
    print(f"dense {accuracy(dense, x_test, y_test):.3f}, projected {before:.3f}, "
          f"re-trained {history.test_accuracy[-1]:.3f}")
    assert history.test_accuracy[-1] > 0.85
    assert history.test_accuracy[-1] >= before


def test_optimisers_reduce_a_quadratic():
    for make in (lambda ps: SGD(ps, lr=0.1, momentum=0.5), lambda ps: Adam(ps, lr=0.1)):
        x = np.array([3.0, -2.0])
        opt = make([x])
        for _ in range(200):
            opt.step([2 * x])                           # gradient of |x|^2
        assert np.linalg.norm(x) < 1e-2


def test_train_rejects_bad_data():
    net = circulant_network([8, 4], 4)
    with pytest.raises(CircnnError, match="shape"):
        train(net, np.zeros((5, 7)), np.zeros(5, dtype=int))
    with pytest.raises(CircnnError, match="0..3"):
        train(net, np.zeros((5, 8)), np.full(5, 4))
    with pytest.raises(ParameterError, match="optimizer"):
        train(net, np.zeros((5, 8)), np.zeros(5, dtype=int), optimizer="rmsprop")


# --------------------------------------------------------------------------
# bundles

def test_bundle_round_trip(seed, tmp_path):
    from circnn.bundle import load_bundle, save_bundle
    from circnn.sim.model.float_network import predict

    rng = np.random.default_rng(seed)
    net = circulant_network([20, 40, 10], [8, 16], seed=seed)
    for layer in net.layers:
        layer.bias[:] = rng.normal(size=layer.bias.shape)
    bundle = to_bundle(net, extra={"note": np.array(1)})
    # 40 is padded to 48, a multiple of both block sizes; 20 to 24; 10 to 16
    assert [l.weight.shape for l in bundle.layers] == [(6, 3, 8), (1, 3, 16)]
    assert [l.in_features for l in bundle.layers] == [20, 40]
    assert [l.out_features for l in bundle.layers] == [40, 10]
    save_bundle(tmp_path / "net.npz", bundle)
    back = from_bundle(load_bundle(tmp_path / "net.npz"))
    x = rng.normal(size=(4, 20))
    np.testing.assert_array_equal(back.forward(x), net.forward(x))
    np.testing.assert_allclose(predict(bundle, x), net.forward(x), rtol=1e-12, atol=1e-12)
    # the bundle holds copies, not views of the trainable arrays
    net.layers[0].weight[0, 0, 0] += 1
    assert not np.array_equal(bundle.layers[0].weight, net.layers[0].weight)


def test_to_bundle_refuses_dense_layers_and_unchained_padding():
    with pytest.raises(CircnnError, match="layer 0 is dense"):
        to_bundle(dense_network([4, 2]))
    # real widths chain (40 -> 40) but padded ones do not (40 vs 48)
    net = Network([CirculantLinear(np.zeros((5, 1, 8)), np.zeros(40)),
                   CirculantLinear(np.zeros((1, 3, 16)), np.zeros(16), in_features=40)])
    with pytest.raises(CircnnError, match="layer 1: q\\*k = 48"):
        to_bundle(net)
