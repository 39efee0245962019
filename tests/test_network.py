"""Full-network float forward pass against a dense NumPy reference."""

import numpy as np
import pytest
import scipy.linalg

from circnn.errors import CircnnError
from circnn.bundle import Bundle, Layer
from circnn.sim.model.float_network import InputError, layer_forward, predict


def dense_forward(layers, x):
    """Reference built only from scipy.linalg.circulant and dense matmuls."""
    y = np.atleast_2d(np.asarray(x, dtype=np.float64))
    for layer in layers:
        p, q, k = layer.weight.shape
        W = np.block([[scipy.linalg.circulant(layer.weight[i, j]) for j in range(q)] for i in range(p)])
        padded = np.zeros((y.shape[0], q * k))
        padded[:, : y.shape[1]] = y
        z = padded @ W.T + layer.bias
        if layer.activation == "relu":
            z = np.where(z > 0, z, 0.0)
        y = z[:, : layer.n_out]
    return y


def rel_err(got, ref):
    # Denominator floored at 1 so an all-zero (fully rectified) reference cannot blow it up.
    return np.linalg.norm(got - ref) / max(np.linalg.norm(ref), 1.0)


def random_bundle(rng, n_layers, *, pad):
    """Random chain of layers; with pad=True the real widths are smaller than q*k / p*k."""
    layers = []
    n_in = None
    k = int(2 ** rng.integers(1, 6))
    q = int(rng.integers(1, 4))
    for i in range(n_layers):
        p = int(rng.integers(1, 4))
        if i > 0:
            # Next layer's q*k must equal the previous p*k; vary k when it divides.
            width = layers[-1].p * layers[-1].k
            k = int(rng.choice([kk for kk in (2, 4, 8, 16, 32) if width % kk == 0]))
            q = width // k
        if pad and i == 0:
            n_in = int(rng.integers(1, q * k + 1))
        out = int(rng.integers(1, p * k + 1)) if pad else None
        act = "relu" if rng.random() < 0.5 else "none"
        layers.append(
            Layer(
                rng.standard_normal((p, q, k)),
                rng.standard_normal(p * k),
                act,
                in_features=n_in if i == 0 else (layers[-1].out_features if pad else None),
                out_features=out,
            )
        )
    return Bundle(layers)


@pytest.mark.parametrize("n_layers", [1, 2, 3])
@pytest.mark.parametrize("pad", [False, True])
def test_predict_matches_dense_reference(n_layers, pad):
    seed = 100 * n_layers + int(pad)
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    for _ in range(15):
        b = random_bundle(rng, n_layers, pad=pad)
        x = rng.standard_normal((5, b.n_in))
        got = predict(b, x)
        ref = dense_forward(b.layers, x)
        assert got.shape == (5, b.n_out)
        assert rel_err(got, ref) < 1e-9
        # A single vector gives the same row, as a 1-D result.
        one = predict(b, x[2])
        assert one.shape == (b.n_out,)
        assert rel_err(one, ref[2]) < 1e-9


def test_relu_and_none_hand_computed():
    # One block, k=2: W = [[1, -2], [-2, 1]], bias [0.5, 0].
    # x = [1, 1]: W x = [-1, -1]; + bias = [-0.5, -1].
    w = np.array([[[1.0, -2.0]]])
    b = np.array([0.5, 0.0])
    x = np.array([1.0, 1.0])
    assert np.allclose(layer_forward(Layer(w, b, "none"), x), [-0.5, -1.0], atol=1e-12)
    assert np.allclose(layer_forward(Layer(w, b, "relu"), x), [0.0, 0.0], atol=1e-12)
    # x = [3, 0]: W x = [3, -6]; + bias = [3.5, -6]; relu -> [3.5, 0].
    assert np.allclose(layer_forward(Layer(w, b, "relu"), [3.0, 0.0]), [3.5, 0.0], atol=1e-12)


def test_padding_hand_computed():
    # p=2, q=1, k=4, in_features=3, out_features=5; block rows written out:
    #   w0 = [1, 0, 0, 0] -> identity;  w1 = [0, 1, 0, 0] -> rotate down by one.
    # x = [1, 2, 3] padded to [1, 2, 3, 0]:
    #   block 0: [1, 2, 3, 0];  block 1: [0, 1, 2, 3];  bias +10 on everything.
    # Outputs [11, 12, 13, 10, 10, 11, 12, 13] cut to the first 5.
    w = np.array([[[1.0, 0, 0, 0]], [[0, 1.0, 0, 0]]])
    layer = Layer(w, np.full(8, 10.0), "none", in_features=3, out_features=5)
    assert np.allclose(layer_forward(layer, [1.0, 2.0, 3.0]), [11, 12, 13, 10, 10], atol=1e-12)


def test_in_features_equals_explicit_zero_padding():
    """A layer with in_features=10 behaves as the unpadded layer fed x followed by zeros."""
    seed = 42
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((2, 2, 8))
    bias = rng.standard_normal(16)
    x = rng.standard_normal((3, 10))
    padded = layer_forward(Layer(w, bias, "none", in_features=10), x)
    explicit = layer_forward(Layer(w, bias, "none"), np.hstack([x, np.zeros((3, 6))]))
    assert padded.shape == (3, 16)
    assert rel_err(padded, explicit) < 1e-12
    # out_features only cuts: the kept outputs are unchanged.
    cut = layer_forward(Layer(w, bias, "none", in_features=10, out_features=11), x)
    assert np.array_equal(cut, padded[:, :11])


def test_layer_forward_matches_predict_for_one_layer():
    rng = np.random.default_rng(9)
    print("seed=9")
    layer = Layer(rng.standard_normal((3, 2, 16)), rng.standard_normal(48), "relu", out_features=40)
    x = rng.standard_normal((4, 32))
    assert np.array_equal(layer_forward(layer, x), predict(Bundle([layer]), x))
    assert (layer_forward(layer, x) >= 0).all()


def test_predict_accepts_integer_input_and_empty_batch():
    layer = Layer(np.ones((1, 1, 4)), np.zeros(4))
    y = predict(Bundle([layer]), np.array([1, 2, 3, 4]))
    assert np.allclose(y, [10, 10, 10, 10])
    assert predict(Bundle([layer]), np.zeros((0, 4))).shape == (0, 4)


# --- errors -------------------------------------------------------------------


def two_layer_bundle():
    return Bundle(
        [
            Layer(np.ones((2, 2, 4)), np.zeros(8), "relu", in_features=6, out_features=7),
            Layer(np.ones((1, 2, 4)), np.zeros(4), "none", in_features=7),
        ]
    )


@pytest.mark.parametrize("shape", [(5,), (3, 8), (2, 7)])
def test_wrong_input_width(shape):
    with pytest.raises(InputError, match=r"layer 0 input: expected 6 features, got \d+"):
        predict(two_layer_bundle(), np.zeros(shape))


def test_wrong_input_ndim():
    with pytest.raises(InputError, match=r"layer 0 input: expected shape \(N, 6\)"):
        predict(two_layer_bundle(), np.zeros((2, 3, 6)))
    with pytest.raises(InputError, match="layer 0 input"):
        predict(two_layer_bundle(), np.float64(1.0))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_names_layer_and_value(bad):
    x = np.zeros((3, 6))
    x[1, 4] = bad
    with pytest.raises(InputError) as info:
        predict(two_layer_bundle(), x)
    msg = str(info.value)
    assert "layer 0 input" in msg and "[1, 4]" in msg and str(bad) in msg


def test_overflow_inside_network_names_the_layer():
    # 1e300 * 1e300 overflows to inf in layer 0's output: layer 0 reports it.
    b = Bundle(
        [
            Layer(np.full((1, 1, 2), 1e300), np.zeros(2), "none"),
            Layer(np.ones((1, 1, 2)), np.zeros(2), "none"),
        ]
    )
    with np.errstate(over="ignore", invalid="ignore"):
        with pytest.raises(InputError, match=r"layer 0: output 0 of row 0 overflows float64"):
            predict(b, np.array([1e300, 0.0]))


def test_non_numeric_input():
    with pytest.raises(InputError, match="real numbers"):
        predict(two_layer_bundle(), np.array(["a"] * 6))
    with pytest.raises(InputError, match="real numbers"):
        predict(two_layer_bundle(), np.ones(6, dtype=complex))


def test_input_errors_are_user_errors():
    assert issubclass(InputError, CircnnError) and issubclass(InputError, ValueError)


def test_type_errors():
    with pytest.raises(TypeError, match="Bundle"):
        predict({"layers": 1}, np.zeros(4))
    with pytest.raises(TypeError, match="Layer"):
        layer_forward(np.ones((1, 1, 4)), np.zeros(4))
