"""Float block-circulant algebra against scipy's dense circulant matrices."""

import numpy as np
import pytest
import scipy.linalg

from circnn.sim.model import circulant as circ_mod
from circnn.sim.model.circulant import (bc_matvec, block_circulant_dense, circulant, compression_ratio, weight_spectra)

KS = [2, 4, 8, 16, 32, 64, 128, 256]


def dense_reference(weight):
    """Dense W assembled from scipy.linalg.circulant blocks (independent of the code under test)."""
    p, q, _ = weight.shape
    return np.block([[scipy.linalg.circulant(weight[i, j]) for j in range(q)] for i in range(p)])


def rel_err(got, ref):
    return np.linalg.norm(got - ref) / np.linalg.norm(ref)


# --- circulant -------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 8, 64, 256])
def test_circulant_matches_scipy_exactly(k):
    seed = 1000 + k
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(k)
    assert np.array_equal(circulant(w), scipy.linalg.circulant(w))
    ints = rng.integers(-100, 100, size=k)
    got = circulant(ints)
    assert got.dtype == ints.dtype
    assert np.array_equal(got, scipy.linalg.circulant(ints))


def test_circulant_convention_first_column_hand_written():
    # W[r, c] = w[(r - c) mod k]: w is the first column, columns rotate down.
    expected = np.array(
        [
            [1, 4, 3, 2],
            [2, 1, 4, 3],
            [3, 2, 1, 4],
            [4, 3, 2, 1],
        ]
    )
    assert np.array_equal(circulant(np.array([1, 2, 3, 4])), expected)


@pytest.mark.parametrize("bad", [np.zeros((2, 2)), np.zeros(0), np.float64(3.0)])
def test_circulant_rejects_non_vector(bad):
    with pytest.raises(ValueError, match="1-D"):
        circulant(bad)


# --- block_circulant_dense / weight_spectra --------------------------------


@pytest.mark.parametrize("p,q,k", [(1, 1, 2), (1, 3, 4), (3, 1, 8), (2, 5, 16), (4, 2, 32)])
def test_block_circulant_dense_matches_scipy_blocks(p, q, k):
    seed = 2000 + 100 * p + 10 * q + k
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((p, q, k))
    dense = block_circulant_dense(w)
    assert dense.shape == (p * k, q * k)
    assert np.array_equal(dense, dense_reference(w))


@pytest.mark.parametrize("k", KS)
def test_weight_spectra_are_half_spectra(k):
    seed = 3000 + k
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((2, 3, k))
    s = weight_spectra(w)
    assert s.shape == (2, 3, k // 2 + 1)
    assert np.iscomplexobj(s)
    full = np.fft.fft(w, axis=-1)
    assert np.allclose(s, full[..., : k // 2 + 1], rtol=0, atol=1e-12 * k)
    # Real inputs: bins 0 and k/2 carry no imaginary part.
    assert np.allclose(s[..., 0].imag, 0, atol=1e-12 * k)
    assert np.allclose(s[..., k // 2].imag, 0, atol=1e-12 * k)


def test_weight_spectra_float32_input_is_computed_in_double():
    w = np.random.default_rng(4).standard_normal((1, 1, 16)).astype(np.float32)
    assert weight_spectra(w).dtype == np.complex128


# --- bc_matvec ---------------------------------------------------------------


def _shapes():
    out = []
    for k in KS:
        out += [(1, 1, k), (1, 3, k), (3, 1, k), (2, 5, k), (4, 4, k)]
    return out


@pytest.mark.parametrize("p,q,k", _shapes())
def test_bc_matvec_matches_dense_single_and_batched(p, q, k):
    seed = 5000 + 1000 * p + 100 * q + k
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((p, q, k))
    ref_w = dense_reference(w)

    x = rng.standard_normal(q * k)
    y = bc_matvec(w, x)
    assert y.shape == (p * k,)
    assert rel_err(y, ref_w @ x) < 1e-9

    xb = rng.standard_normal((7, q * k))
    yb = bc_matvec(w, xb)
    assert yb.shape == (7, p * k)
    assert rel_err(yb, xb @ ref_w.T) < 1e-9
    # Batching must not change a row's result.
    assert np.allclose(yb[3], bc_matvec(w, xb[3]), rtol=0, atol=1e-12 * np.abs(yb).max())


def test_bc_matvec_random_shape_sweep():
    seed = 6161
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    for _ in range(40):
        p, q = (int(v) for v in rng.integers(1, 7, size=2))
        k = int(2 ** rng.integers(1, 9))
        w = rng.standard_normal((p, q, k)) * rng.uniform(0.01, 100)
        x = rng.standard_normal((3, q * k))
        ref = x @ dense_reference(w).T
        assert rel_err(bc_matvec(w, x), ref) < 1e-9, (p, q, k)


def test_bc_matvec_hand_computed_k4():
    # circulant([1, 2, 3, 4]) @ [1, 0, -1, 2], worked out by hand:
    #   [1 4 3 2] . x = 1 + 0 - 3 + 4 = 2
    #   [2 1 4 3] . x = 2 + 0 - 4 + 6 = 4
    #   [3 2 1 4] . x = 3 + 0 - 1 + 8 = 10
    #   [4 3 2 1] . x = 4 + 0 - 2 + 2 = 4
    w = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    x = np.array([1.0, 0.0, -1.0, 2.0])
    assert np.allclose(bc_matvec(w, x), [2.0, 4.0, 10.0, 4.0], rtol=0, atol=1e-12)


def test_bc_matvec_hand_computed_k2_two_input_blocks():
    # p=1, q=2, k=2: W = [[1 2 | 3 -1], [2 1 | -1 3]].
    # x = [1, 1 | 2, 0]: block 0 gives [3, 3], block 1 gives [6, -2], sum [9, 1].
    # x = [0, 1 | 0, 1]: block 0 gives [2, 1], block 1 gives [-1, 3], sum [1, 4].
    w = np.array([[[1.0, 2.0], [3.0, -1.0]]])
    x = np.array([[1.0, 1.0, 2.0, 0.0], [0.0, 1.0, 0.0, 1.0]])
    assert np.allclose(bc_matvec(w, x), [[9.0, 1.0], [1.0, 4.0]], rtol=0, atol=1e-12)


def test_bc_matvec_uses_q_forward_and_p_inverse_ffts(monkeypatch):
    """The layer accumulates in the frequency domain: N*p inverse FFTs, not N*p*q."""
    counts = {"rfft": 0, "irfft": 0}
    real_rfft, real_irfft = np.fft.rfft, np.fft.irfft

    def n_vectors(a, axis):
        a = np.asarray(a)
        return a.size // a.shape[axis]

    def rfft(a, n=None, axis=-1, **kw):
        counts["rfft"] += n_vectors(a, axis)
        return real_rfft(a, n=n, axis=axis, **kw)

    def irfft(a, n=None, axis=-1, **kw):
        counts["irfft"] += n_vectors(a, axis)
        return real_irfft(a, n=n, axis=axis, **kw)

    monkeypatch.setattr(np.fft, "rfft", rfft)
    monkeypatch.setattr(np.fft, "irfft", irfft)
    p, q, k, n = 3, 5, 8, 4
    w = np.ones((p, q, k))
    bc_matvec(w, np.ones((n, q * k)))
    assert counts["irfft"] == n * p
    # p*q weight spectra (offline in hardware) plus q input FFTs per vector.
    assert counts["rfft"] == p * q + n * q


def test_bc_matvec_accepts_integer_and_float32_inputs():
    rng = np.random.default_rng(77)
    print("seed=77")
    w = rng.standard_normal((2, 2, 4)).astype(np.float32)
    x = rng.integers(-5, 5, size=8)
    ref = dense_reference(w.astype(np.float64)) @ x
    y = bc_matvec(w, x)
    assert y.dtype == np.float64
    assert rel_err(y, ref) < 1e-9


@pytest.mark.parametrize(
    "wshape,xshape,match",
    [
        ((2, 3, 4), (11,), "expects q\\*k = 12"),
        ((2, 3, 4), (5, 13), "expects q\\*k = 12"),
        ((2, 3, 4), (2, 2, 12), "1-D or 2-D"),
        ((2, 3, 4), (), "1-D or 2-D"),
        ((3, 5), (5,), "shape \\(p, q, k\\)"),
        ((2, 3, 6), (18,), "power of two"),
        ((2, 3, 1), (3,), "power of two"),
        ((0, 3, 4), (12,), "p, q >= 1"),
    ],
)
def test_bc_matvec_shape_errors(wshape, xshape, match):
    with pytest.raises(ValueError, match=match):
        bc_matvec(np.ones(wshape), np.ones(xshape))


def test_bc_matvec_rejects_complex_and_non_numeric():
    with pytest.raises(ValueError, match="real numbers"):
        bc_matvec(np.ones((1, 1, 4)), np.ones(4, dtype=complex))
    with pytest.raises(ValueError, match="real numbers"):
        bc_matvec(np.ones((1, 1, 4), dtype=complex), np.ones(4))
    with pytest.raises(ValueError, match="real numbers"):
        bc_matvec(np.ones((1, 1, 4)), np.array(["a", "b", "c", "d"]))


# --- compression_ratio -------------------------------------------------------


@pytest.mark.parametrize("p,q,k", [(1, 1, 2), (3, 5, 16), (8, 2, 256)])
def test_compression_ratio_is_k(p, q, k):
    w = np.zeros((p, q, k))
    assert compression_ratio(p, q, k) == k
    assert compression_ratio(p, q, k) == block_circulant_dense(w).size // w.size


@pytest.mark.parametrize("args", [(0, 1, 4), (1, -1, 4), (1, 1, 3), (1, 1, 1), (1.5, 1, 4), (True, 1, 4)])
def test_compression_ratio_rejects_bad_args(args):
    with pytest.raises(ValueError):
        compression_ratio(*args)


def test_module_exports():
    assert set(circ_mod.__all__) >= {
        "circulant",
        "block_circulant_dense",
        "weight_spectra",
        "bc_matvec",
        "compression_ratio",
    }
