"""Float block-circulant algebra: the golden model of the FFT engine's maths.

A weight matrix W of shape (p*k, q*k) is a p x q grid of k x k circulant
blocks.  Block (i, j) is stored as its defining vector ``weight[i, j]``,
which is the block's **first column** (circnn's fixed convention, shared with
``scipy.linalg.circulant``)::

    W_ij[r, c] = weight[i, j, (r - c) mod k]

With that convention ``W_ij @ x_j`` is the circular convolution of
``weight[i, j]`` with ``x_j``, i.e. ``IFFT(FFT(weight[i, j]) * FFT(x_j))``,
and a whole layer is::

    y_i = IFFT( sum_j FFT(weight[i, j]) * FFT(x_j) )

Everything here is double-precision NumPy; it is the float reference that the
bit-true fixed-point models and the RTL are compared against, so it favours
clarity and exactness over speed.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "circulant",
    "block_circulant_dense",
    "weight_spectra",
    "bc_matvec",
    "bc_matvec_spectra",
    "compression_ratio",
    "is_power_of_two",
]


def is_power_of_two(n: int) -> bool:
    """True when ``n`` is an integer power of two (1, 2, 4, ...)."""
    return isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1 and (n & (n - 1)) == 0


def _as_real_array(name: str, a, *, ndim: tuple[int, ...]) -> np.ndarray:
    """Return ``a`` as a float64 array, refusing complex, non-numeric or
    wrongly-shaped input.

    float64 is forced because ``numpy.fft`` keeps float32 input in
    complex64, which would make the golden model less precise than the
    fixed-point models it is meant to judge.
    """
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim not in ndim:
        want = " or ".join(f"{d}-D" for d in ndim)
        raise ValueError(f"{name} must be {want}, got shape {arr.shape}")
    return arr.astype(np.float64, copy=False)


def _check_block_weight(weight) -> np.ndarray:
    """Validate a (p, q, k) block-circulant weight and return it as float64."""
    shape = np.shape(weight)
    if len(shape) != 3 or shape[0] < 1 or shape[1] < 1 or not is_power_of_two(shape[2]) or shape[2] < 2:
        raise ValueError(
            f"weight must have shape (p, q, k) with p, q >= 1 and k a power of two >= 2, "
            f"got {shape}"
        )
    return _as_real_array("weight", weight, ndim=(3,))


def circulant(w) -> np.ndarray:
    """Dense k x k circulant matrix whose first column is ``w``.

    ``C[r, c] = w[(r - c) mod k]``: every column is the previous one rotated
    down by one.  This is the fixed convention of the project (the same as
    ``scipy.linalg.circulant``), so ``circulant(w) @ x`` is the circular
    convolution of ``w`` and ``x``.
    """
    v = np.asarray(w)
    if v.ndim != 1 or v.shape[0] < 1:
        raise ValueError(f"circulant: w must be a non-empty 1-D vector, got shape {v.shape}")
    k = v.shape[0]
    r = np.arange(k)
    # One gather with a precomputed index table keeps the dtype of w intact
    # (ints stay ints, so the result can be compared exactly).
    return v[(r[:, None] - r[None, :]) % k]


def block_circulant_dense(weight) -> np.ndarray:
    """Expand a block-circulant weight of shape (p, q, k) to its dense
    (p*k, q*k) matrix.

    Block (i, j) of the result, rows ``i*k:(i+1)*k`` and columns
    ``j*k:(j+1)*k``, is ``circulant(weight[i, j])``.  Used as the reference
    that the frequency-domain product must equal, and for reporting how much
    storage the circulant form saves.
    """
    w = _check_block_weight(weight)
    p, q, k = w.shape
    r = np.arange(k)
    blocks = w[:, :, (r[:, None] - r[None, :]) % k]  # (p, q, k_row, k_col)
    return blocks.transpose(0, 2, 1, 3).reshape(p * k, q * k)


def weight_spectra(weight) -> np.ndarray:
    """Half spectra of every defining vector: ``rfft`` along the last axis.

    Returns complex128 of shape (p, q, k//2 + 1): bins 0..k/2 only.  The
    defining vectors are real, so their spectra are conjugate-symmetric and
    the remaining bins carry no information; bins 0 and k/2 are purely real.
    This is what the hardware stores on chip, computed once, offline.
    """
    return np.fft.rfft(_check_block_weight(weight), axis=-1)


def bc_matvec(weight, x) -> np.ndarray:
    """Block-circulant matrix-vector product ``y = W x`` in the frequency domain.

    ``weight`` has shape (p, q, k); ``x`` is one vector of shape (q*k,) or a
    batch of shape (N, q*k); the result has shape (p*k,) or (N, p*k).

    The computation follows the hardware's dataflow rather than forming W:
    each input block x_j is transformed once (q forward real FFTs per vector)
    and its spectrum is reused by all p output blocks; products are summed
    over j in the frequency domain, so only p inverse FFTs are needed per
    vector instead of p*q.  Only bins 0..k/2 are used (``rfft``/``irfft``),
    as the hardware does for real data.
    """
    w = _check_block_weight(weight)
    p, q, k = w.shape
    xa = _as_real_array("x", x, ndim=(1, 2))
    if xa.shape[-1] != q * k:
        raise ValueError(
            f"x has {xa.shape[-1]} features but weight of shape {w.shape} expects q*k = {q * k}"
        )
    y, _, _ = bc_matvec_spectra(w, xa.reshape(-1, q * k))
    return y[0] if xa.ndim == 1 else y


def bc_matvec_spectra(weight: np.ndarray, x: np.ndarray):
    """:func:`bc_matvec` on already checked float arrays, with its spectra.

    ``weight`` (p, q, k), ``x`` (N, q*k).  Returns ``(y, x_spectra,
    w_spectra)``: ``y`` (N, p*k), the input blocks' spectra (N, q, k/2+1)
    and the weights' (p, q, k/2+1), which training's backward pass reuses.
    Each frequency bin is one (p x q) @ (q x N) complex product.
    """
    p, q, k = weight.shape
    n = x.shape[0]
    xs = np.fft.rfft(x.reshape(n, q, k), axis=-1)      # (N, q, h): q forward FFTs per vector
    ws = np.fft.rfft(weight, axis=-1)                   # (p, q, h)
    # sum over j before any inverse FFT
    acc = np.matmul(ws.transpose(2, 0, 1), xs.transpose(2, 1, 0))   # (h, p, N)
    y = np.fft.irfft(acc.transpose(2, 1, 0), n=k, axis=-1).reshape(n, p * k)  # p inverse FFTs
    return y, xs, ws


def compression_ratio(p: int, q: int, k: int) -> int:
    """Dense weight count over stored weight count: ``(p*k * q*k) / (p*q*k) = k``.

    Kept as a function (rather than "just k") so that reports compute it
    from the definition and a change of storage scheme shows up here.
    """
    for name, v in (("p", p), ("q", q), ("k", k)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"compression_ratio: {name} must be a positive integer, got {v!r}")
    if not is_power_of_two(k) or k < 2:
        raise ValueError(f"compression_ratio: k must be a power of two >= 2, got {k}")
    dense = (p * k) * (q * k)
    stored = p * q * k
    return int(dense // stored)
