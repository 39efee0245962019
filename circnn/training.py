"""NumPy training of block-circulant (and dense) fully-connected networks.

This is the software half of the CirCNN idea: a fully-connected layer whose
weight matrix is made of ``p x q`` circulant ``k x k`` blocks is trained
directly in that form, with the forward *and* backward passes computed by
FFTs, so that what is learnt is exactly the set of defining vectors that the
accelerator stores.  A dense layer with the same interface serves as the
baseline and as the starting point of CircConv's second route (train dense,
project onto the nearest block-circulant matrix, re-train).

Convention (fixed, ``docs/architecture.md``): block ``W_ij`` is stored as its first
column ``w_ij``, ``W_ij[r, c] = w_ij[(r - c) mod k]``.  With it:

forward
    ``W_ij x_j`` is the circular convolution ``w_ij (*) x_j``, so
    ``a_i = irfft( sum_j rfft(w_ij) * rfft(x_j) )``.
input gradient
    ``dL/dx_j[c] = sum_i sum_r W_ij[r, c] g_i[r] = sum_i sum_r g_i[r] w_ij[r - c]``,
    a circular *cross-correlation*, whose spectrum is
    ``G_i * conj(W_ij)``: ``dL/dx_j = irfft( sum_i rfft(g_i) * conj(rfft(w_ij)) )``.
weight gradient
    ``dL/dw_ij[d]`` collects every dense entry on wrapped diagonal ``d``
    (``r - c = d mod k``): ``sum_c g_i[c + d] x_j[c]``, again a
    cross-correlation, spectrum ``G_i * conj(X_j)``:
    ``dL/dw_ij = irfft( sum_batch rfft(g_i) * conj(rfft(x_j)) )``.

With the first-column convention no index reversal is needed: the
conjugate alone does the transposition (``W^T`` is circulant with first
column ``w[(-d) mod k]``, whose spectrum is ``conj(rfft(w))`` for real
``w``).  A first-*row* convention would need ``w[(-d) mod k]`` in every
formula above.  ``tests/test_training.py`` checks all three formulas
against the dense equivalent and against finite differences.

Padding follows the model bundle (``docs/bundle.md``): a layer whose real
input width ``in_features`` is below ``q*k`` zero-pads its input, and one
whose real output width ``out_features`` is below ``p*k`` drops the extra
outputs (after bias and activation), so a trained :class:`Network` maps
one-to-one onto a :class:`circnn.bundle.Bundle`.

Everything is float64 and deterministic: a network built and trained with
the same seeds ends with the same weights, bit for bit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .config import check_choice, check_int, check_power_of_two
from .errors import CircnnError, ParameterError
from .sim.model.circulant import bc_matvec_spectra, block_circulant_dense

__all__ = [
    "ACTIVATIONS", "CirculantLinear", "DenseLinear", "Network",
    "circulant_network", "dense_network", "circulant_init_std",
    "softmax_cross_entropy", "accuracy", "SGD", "Adam", "History", "train",
    "project_to_circulant", "circulant_from_dense", "to_bundle", "from_bundle",
]

ACTIVATIONS = ("relu", "none")

#: Largest block size accepted (the hardware generators stop well below it).
MAX_K = 1 << 12


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _as_batch(x, width: int, what: str) -> np.ndarray:
    """A float64 (batch, width) view of ``x``; a single vector becomes a batch of one."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != width:
        raise CircnnError(f"{what} expects inputs of shape (batch, {width}), got {x.shape}")
    return x


def circulant_init_std(fan_in: int, fan_out: int, activation: str) -> float:
    """Standard deviation of the initial weights (dense or circulant).

    Every entry of a circulant block *is* one element of its defining
    vector, so drawing the defining vectors i.i.d. with the usual dense
    variance gives the effective dense matrix exactly that variance per
    entry, and the entries of one row are distinct elements (each row is a
    cyclic shift of the vector), so the variance of a pre-activation is the
    dense one too.  He (``2 / fan_in``) is used before a ReLU, Glorot
    (``2 / (fan_in + fan_out)``) before the identity.  The fans are the
    *real* widths: padded inputs are zeros and contribute nothing.
    """
    if activation == "relu":
        return float(np.sqrt(2.0 / fan_in))
    return float(np.sqrt(2.0 / (fan_in + fan_out)))


class _Layer:
    """Shared behaviour of the two layer kinds: bias, activation, caches."""

    activation: str
    in_features: int
    out_features: int
    weight: np.ndarray
    bias: np.ndarray
    grad_weight: np.ndarray
    grad_bias: np.ndarray

    def parameters(self) -> list[np.ndarray]:
        """The trainable arrays, updated in place by the optimisers."""
        return [self.weight, self.bias]

    def gradients(self) -> list[np.ndarray]:
        """Gradients from the last :meth:`backward`, aligned with :meth:`parameters`."""
        return [self.grad_weight, self.grad_bias]

    def _activate(self, pre: np.ndarray, keep: bool) -> np.ndarray:
        if self.activation == "relu":
            mask = pre > 0
            out = np.where(mask, pre, 0.0)
        else:
            mask = None
            out = pre
        if keep:
            self._mask = mask
        return out

    def _activation_backward(self, grad: np.ndarray) -> np.ndarray:
        if self.activation == "relu":
            return np.where(self._mask, grad, 0.0)
        return grad

    def _check_cache(self) -> None:
        if getattr(self, "_cache", None) is None:
            raise RuntimeError("backward() needs a preceding forward(..., keep=True)")


class CirculantLinear(_Layer):
    """Fully-connected layer with a block-circulant weight matrix.

    ``weight`` has shape ``(p, q, k)``: ``weight[i, j]`` is the first column
    of block ``(i, j)`` of the ``(p*k, q*k)`` matrix.  ``bias`` has
    ``p*k`` entries.  ``in_features`` (default ``q*k``) is the width of the
    inputs this layer accepts; they are zero-padded to ``q*k``.
    ``out_features`` (default ``p*k``) is the width it returns; the
    remaining outputs are dropped.
    """

    kind = "circulant"

    def __init__(self, weight, bias, activation: str = "relu",
                 in_features: int | None = None, out_features: int | None = None):
        weight = np.array(weight, dtype=np.float64)
        if weight.ndim != 3:
            raise ParameterError(f"circulant weight must have shape (p, q, k), got {weight.shape}")
        p, q, k = weight.shape
        check_power_of_two("k", k, 2, MAX_K)
        if p < 1 or q < 1:
            raise ParameterError(f"circulant weight must have p, q >= 1, got {weight.shape}")
        bias = np.array(bias, dtype=np.float64)
        if bias.shape != (p * k,):
            raise ParameterError(f"bias must have shape ({p * k},), got {bias.shape}")
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        self.in_features = q * k if in_features is None else check_int(
            "in_features", in_features, 1, q * k)
        self.out_features = p * k if out_features is None else check_int(
            "out_features", out_features, 1, p * k)
        self.weight = weight
        self.bias = bias
        self.grad_weight = np.zeros_like(weight)
        self.grad_bias = np.zeros_like(bias)
        self._cache = None
        self._mask = None

    @classmethod
    def initialised(cls, in_features: int, out_features: int, k: int, activation: str,
                    rng: np.random.Generator, padded_in: int | None = None,
                    padded_out: int | None = None) -> "CirculantLinear":
        """A freshly initialised layer (see :func:`circulant_init_std`), zero bias.

        The padded widths ``q*k`` and ``p*k`` default to the real widths
        rounded up to a multiple of ``k``; larger multiples may be asked
        for (a network mixing block sizes needs them to chain).
        """
        check_power_of_two("k", k, 2, MAX_K)
        in_features = check_int("in_features", in_features, 1)
        out_features = check_int("out_features", out_features, 1)
        p = _ceil_div(out_features if padded_out is None else padded_out, k)
        q = _ceil_div(in_features if padded_in is None else padded_in, k)
        std = circulant_init_std(in_features, out_features, activation)
        weight = rng.normal(0.0, std, size=(p, q, k))
        return cls(weight, np.zeros(p * k), activation, in_features, out_features)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(p, q, k)``."""
        return self.weight.shape

    @property
    def k(self) -> int:
        return self.weight.shape[2]

    def to_dense(self) -> np.ndarray:
        """The equivalent dense ``(p*k, q*k)`` matrix (padding included)."""
        return block_circulant_dense(self.weight)

    def forward(self, x, keep: bool = False) -> np.ndarray:
        """Outputs ``(batch, out_features)`` for inputs ``(batch, in_features)``.

        ``keep=True`` stores what :meth:`backward` needs.  The input spectra
        are taken once per input block and shared by all ``p`` output
        blocks; the sum over ``j`` happens in the frequency domain, so a
        layer costs ``q`` forward and ``p`` inverse real FFTs per sample,
        as in the hardware.
        """
        p, q, k = self.weight.shape
        x = _as_batch(x, self.in_features, "circulant layer")
        batch = x.shape[0]
        if self.in_features != q * k:
            x = np.concatenate([x, np.zeros((batch, q * k - self.in_features))], axis=1)
        # the golden model's float product (one (p x q) @ (q x B) complex
        # product per frequency bin), keeping the spectra for backward
        pre, spec_x, spec_w = bc_matvec_spectra(self.weight, x)
        pre += self.bias
        out = self._activate(pre, keep)
        if keep:
            self._cache = (spec_x, spec_w, batch)
        return out[:, :self.out_features]

    def backward(self, grad_out) -> np.ndarray:
        """Gradient w.r.t. the inputs; stores weight and bias gradients.

        ``grad_out`` is dL/d(output) of shape ``(batch, out_features)``.
        Dropped outputs get a zero gradient; gradients of the zero padding
        of the inputs are discarded.  Weight gradients are summed over the
        batch (the loss is expected to do any averaging).
        """
        self._check_cache()
        spec_x, spec_w, batch = self._cache
        p, q, k = self.weight.shape
        grad_out = np.asarray(grad_out, dtype=np.float64)
        if grad_out.shape != (batch, self.out_features):
            raise ValueError(f"grad_out must have shape {(batch, self.out_features)}, "
                             f"got {grad_out.shape}")
        g = np.zeros((batch, p * k))
        g[:, :self.out_features] = grad_out
        g = self._activation_backward(g)
        self.grad_bias = g.sum(axis=0)
        spec_g = np.fft.rfft(g.reshape(batch, p, k), axis=-1)            # (B, p, h)
        g_h = spec_g.transpose(2, 1, 0)                                    # (h, p, B)
        # dL/dw_ij = irfft(sum_b G_i conj(X_j)): cross-correlation, see module doc.
        spec_dw = np.matmul(g_h, spec_x.conj().transpose(2, 0, 1))        # (h, p, q)
        self.grad_weight = np.fft.irfft(spec_dw.transpose(1, 2, 0), n=k, axis=-1)
        # dL/dx_j = irfft(sum_i G_i conj(W_ij)).
        spec_dx = np.matmul(g_h.transpose(0, 2, 1), spec_w.conj().transpose(2, 0, 1))  # (h, B, q)
        grad_x = np.fft.irfft(spec_dx.transpose(1, 2, 0), n=k, axis=-1).reshape(batch, q * k)
        return grad_x[:, :self.in_features]

    def __repr__(self) -> str:
        p, q, k = self.weight.shape
        return (f"CirculantLinear(p={p}, q={q}, k={k}, {self.in_features}->{self.out_features}, "
                f"activation={self.activation!r})")


class DenseLinear(_Layer):
    """Ordinary fully-connected layer: ``weight`` is ``(out_features, in_features)``."""

    kind = "dense"

    def __init__(self, weight, bias, activation: str = "relu"):
        weight = np.array(weight, dtype=np.float64)
        if weight.ndim != 2 or min(weight.shape) < 1:
            raise ParameterError(f"dense weight must have shape (out, in), got {weight.shape}")
        bias = np.array(bias, dtype=np.float64)
        if bias.shape != (weight.shape[0],):
            raise ParameterError(f"bias must have shape ({weight.shape[0]},), got {bias.shape}")
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        self.out_features, self.in_features = weight.shape
        self.weight = weight
        self.bias = bias
        self.grad_weight = np.zeros_like(weight)
        self.grad_bias = np.zeros_like(bias)
        self._cache = None
        self._mask = None

    @classmethod
    def initialised(cls, in_features: int, out_features: int, activation: str,
                    rng: np.random.Generator) -> "DenseLinear":
        """A freshly initialised layer with the same variance rule as the circulant one."""
        in_features = check_int("in_features", in_features, 1)
        out_features = check_int("out_features", out_features, 1)
        std = circulant_init_std(in_features, out_features, activation)
        return cls(rng.normal(0.0, std, size=(out_features, in_features)),
                   np.zeros(out_features), activation)

    def to_dense(self) -> np.ndarray:
        return self.weight.copy()

    def forward(self, x, keep: bool = False) -> np.ndarray:
        x = _as_batch(x, self.in_features, "dense layer")
        out = self._activate(x @ self.weight.T + self.bias, keep)
        if keep:
            self._cache = x
        return out

    def backward(self, grad_out) -> np.ndarray:
        self._check_cache()
        x = self._cache
        grad_out = np.asarray(grad_out, dtype=np.float64)
        if grad_out.shape != (x.shape[0], self.out_features):
            raise ValueError(f"grad_out must have shape {(x.shape[0], self.out_features)}, "
                             f"got {grad_out.shape}")
        g = self._activation_backward(grad_out)
        self.grad_bias = g.sum(axis=0)
        self.grad_weight = g.T @ x
        return g @ self.weight

    def __repr__(self) -> str:
        return (f"DenseLinear({self.in_features}->{self.out_features}, "
                f"activation={self.activation!r})")


class Network:
    """A chain of layers; the last one's outputs are the logits.

    Consecutive layers must agree on the real width
    (``layers[i].out_features == layers[i+1].in_features``).
    """

    def __init__(self, layers: Sequence[_Layer]):
        layers = list(layers)
        if not layers:
            raise ParameterError("a network needs at least one layer")
        for i, (a, b) in enumerate(zip(layers, layers[1:])):
            if a.out_features != b.in_features:
                raise ParameterError(
                    f"layer {i} gives {a.out_features} features but layer {i + 1} "
                    f"expects {b.in_features}")
        self.layers = layers

    @property
    def in_features(self) -> int:
        return self.layers[0].in_features

    @property
    def out_features(self) -> int:
        return self.layers[-1].out_features

    @property
    def is_circulant(self) -> bool:
        return all(isinstance(layer, CirculantLinear) for layer in self.layers)

    def forward(self, x, keep: bool = False) -> np.ndarray:
        """Logits for a batch (``keep=True`` before a :meth:`backward`)."""
        for layer in self.layers:
            x = layer.forward(x, keep=keep)
        return x

    __call__ = forward

    def backward(self, grad_logits) -> np.ndarray:
        """Back-propagate dL/dlogits; returns dL/dinputs, fills each layer's gradients."""
        g = grad_logits
        for layer in reversed(self.layers):
            g = layer.backward(g)
        return g

    def parameters(self) -> list[np.ndarray]:
        return [a for layer in self.layers for a in layer.parameters()]

    def gradients(self) -> list[np.ndarray]:
        return [a for layer in self.layers for a in layer.gradients()]

    def num_parameters(self) -> int:
        return int(sum(a.size for a in self.parameters()))

    def predict(self, x, batch_size: int = 4096) -> np.ndarray:
        """Class indices (int64), evaluated in chunks to bound memory."""
        x = np.asarray(x, dtype=np.float64)
        out = [np.argmax(self.forward(x[i:i + batch_size]), axis=1)
               for i in range(0, len(x), batch_size)]
        return np.concatenate(out).astype(np.int64) if out else np.zeros(0, np.int64)

    def copy(self) -> "Network":
        """An independent deep copy of the parameters (no caches)."""
        layers = []
        for layer in self.layers:
            if hasattr(layer, "copy"):              # convolution and pooling layers
                layers.append(layer.copy())
            elif isinstance(layer, CirculantLinear):
                layers.append(CirculantLinear(layer.weight, layer.bias, layer.activation,
                                              layer.in_features, layer.out_features))
            else:
                layers.append(DenseLinear(layer.weight, layer.bias, layer.activation))
        return Network(layers)

    def __repr__(self) -> str:
        return "Network([" + ", ".join(map(repr, self.layers)) + "])"


def _check_sizes(sizes: Sequence[int]) -> list[int]:
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ParameterError("sizes must list at least an input and an output width")
    return [check_int(f"sizes[{i}]", s, 1) for i, s in enumerate(sizes)]


def circulant_network(sizes: Sequence[int], k: int | Sequence[int], *, seed: int = 0,
                      hidden_activation: str = "relu") -> Network:
    """A freshly initialised block-circulant MLP.

    ``sizes`` are the real widths, e.g. ``[64, 128, 10]``; widths that are
    not multiples of ``k`` are padded (``10`` becomes one 16-wide block for
    ``k = 16``).  ``k`` is one block size for every layer or one per layer.
    With mixed block sizes a hidden width is padded to a multiple of the
    larger of its two neighbours' ``k``.  Hidden layers use
    ``hidden_activation``, the last one none (logits).
    ``seed`` fixes the initial weights.
    """
    sizes = _check_sizes(sizes)
    ks = [k] * (len(sizes) - 1) if np.ndim(k) == 0 else list(k)
    if len(ks) != len(sizes) - 1:
        raise ParameterError(f"k must be one value or {len(sizes) - 1} values, got {len(ks)}")
    ks = [check_power_of_two("k", kk, 2, MAX_K) for kk in ks]
    check_choice("hidden_activation", hidden_activation, ACTIVATIONS)
    # Padded width at each boundary: a multiple of the block sizes on both
    # sides (they are powers of two, so of the larger one), so that layer
    # i's p*k equals layer i+1's q*k as the bundle format requires.
    sides = [ks[0]] + [max(a, b) for a, b in zip(ks, ks[1:])] + [ks[-1]]
    padded = [_ceil_div(n, s) * s for n, s in zip(sizes, sides)]
    rng = np.random.default_rng(seed)
    layers = []
    for i, kk in enumerate(ks):
        act = hidden_activation if i < len(ks) - 1 else "none"
        layers.append(CirculantLinear.initialised(sizes[i], sizes[i + 1], kk, act, rng,
                                                  padded[i], padded[i + 1]))
    return Network(layers)


def dense_network(sizes: Sequence[int], *, seed: int = 0,
                  hidden_activation: str = "relu") -> Network:
    """A freshly initialised dense MLP (the baseline of :func:`circulant_network`)."""
    sizes = _check_sizes(sizes)
    check_choice("hidden_activation", hidden_activation, ACTIVATIONS)
    rng = np.random.default_rng(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        act = hidden_activation if i < len(sizes) - 2 else "none"
        layers.append(DenseLinear.initialised(n_in, n_out, act, rng))
    return Network(layers)


# --------------------------------------------------------------------------
# Loss and metrics

def softmax_cross_entropy(logits, labels) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy and its gradient w.r.t. the logits.

    Computed through log-sum-exp so that large logits do not overflow.
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_p = shifted - log_z
    rows = np.arange(n)
    loss = -float(log_p[rows, labels].mean())
    grad = np.exp(log_p)
    grad[rows, labels] -= 1.0
    return loss, grad / n


def accuracy(network: Network, x, y) -> float:
    """Fraction of samples whose arg-max logit is the label."""
    y = np.asarray(y)
    if len(y) == 0:
        return float("nan")
    return float(np.mean(network.predict(x) == y))


# --------------------------------------------------------------------------
# Optimisers (in-place updates of a list of parameter arrays)

class SGD:
    """Mini-batch SGD with (heavy-ball) momentum and optional L2 weight decay."""

    def __init__(self, params: Sequence[np.ndarray], lr: float = 0.05, momentum: float = 0.9,
                 weight_decay: float = 0.0):
        if lr <= 0 or not 0 <= momentum < 1 or weight_decay < 0:
            raise ParameterError("SGD needs lr > 0, 0 <= momentum < 1, weight_decay >= 0")
        self.params = list(params)
        self.lr, self.momentum, self.weight_decay = float(lr), float(momentum), float(weight_decay)
        self.velocity = [np.zeros_like(p) for p in self.params]

    def step(self, grads: Sequence[np.ndarray]) -> None:
        for p, g, v in zip(self.params, grads, self.velocity, strict=True):
            if self.weight_decay:
                g = g + self.weight_decay * p
            v *= self.momentum
            v += g
            p -= self.lr * v


class Adam:
    """Adam (Kingma and Ba, 2015) with bias correction and optional L2 weight decay."""

    def __init__(self, params: Sequence[np.ndarray], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        b1, b2 = betas
        if lr <= 0 or not (0 <= b1 < 1 and 0 <= b2 < 1) or eps <= 0 or weight_decay < 0:
            raise ParameterError("Adam needs lr > 0, betas in [0, 1), eps > 0, weight_decay >= 0")
        self.params = list(params)
        self.lr, self.b1, self.b2, self.eps = float(lr), float(b1), float(b2), float(eps)
        self.weight_decay = float(weight_decay)
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def step(self, grads: Sequence[np.ndarray]) -> None:
        self.t += 1
        c1 = 1.0 - self.b1 ** self.t
        c2 = 1.0 - self.b2 ** self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            if self.weight_decay:
                g = g + self.weight_decay * p
            m *= self.b1
            m += (1.0 - self.b1) * g
            v *= self.b2
            v += (1.0 - self.b2) * g * g
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)


OPTIMISERS = {"sgd": SGD, "adam": Adam}


# --------------------------------------------------------------------------
# Training loop

@dataclass
class History:
    """Per-epoch record of a :func:`train` run.

    ``loss`` is the mean mini-batch loss over the epoch; the accuracies are
    measured on the whole sets after the epoch (``test_accuracy`` stays
    empty without a test set); ``seconds`` is the wall time of each epoch's
    updates, evaluation excluded.
    """

    loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        return len(self.loss)


def _check_data(x, y, n_in: int, n_out: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y)
    if x.ndim != 2 or x.shape[1] != n_in:
        raise CircnnError(f"{what} inputs must have shape (n, {n_in}), got {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise CircnnError(f"{what} labels must have shape ({len(x)},), got {y.shape}")
    if y.dtype.kind not in "iu":
        raise CircnnError(f"{what} labels must be integers, got dtype {y.dtype}")
    if len(y) and (y.min() < 0 or y.max() >= n_out):
        raise CircnnError(f"{what} labels must lie in 0..{n_out - 1}")
    return x, y.astype(np.int64)


def train(network: Network, x_train, y_train, *, epochs: int = 10, batch_size: int = 32,
          lr: float = 1e-3, optimizer: str = "adam", momentum: float = 0.9,
          weight_decay: float = 0.0, seed: int = 0, x_test=None, y_test=None,
          callback: Callable[[int, History], None] | None = None) -> History:
    """Train ``network`` in place with mini-batch gradient descent.

    ``optimizer`` is ``"adam"`` or ``"sgd"`` (with ``momentum``); the loss is
    the mean softmax cross-entropy of each mini-batch.  ``seed`` fixes the
    order of the samples (a fresh permutation per epoch), the only random
    choice made here, so the same initial network, data and seed give the
    same final weights bit for bit.  ``callback(epoch, history)`` runs after
    each epoch (``epoch`` counts from 1) so that a caller can show progress;
    nothing is printed.
    """
    epochs = check_int("epochs", epochs, 0)
    batch_size = check_int("batch_size", batch_size, 1)
    check_choice("optimizer", optimizer, tuple(OPTIMISERS))
    x_train, y_train = _check_data(x_train, y_train, network.in_features,
                                   network.out_features, "training")
    if len(x_train) == 0:
        raise CircnnError("the training set is empty")
    has_test = x_test is not None or y_test is not None
    if has_test:
        if x_test is None or y_test is None:
            raise CircnnError("give both x_test and y_test, or neither")
        x_test, y_test = _check_data(x_test, y_test, network.in_features,
                                     network.out_features, "test")
    if optimizer == "sgd":
        opt = SGD(network.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    else:
        opt = Adam(network.parameters(), lr=lr, weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    history = History()
    n = len(x_train)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = rng.permutation(n)
        total, count = 0.0, 0
        for lo in range(0, n, batch_size):
            idx = order[lo:lo + batch_size]
            logits = network.forward(x_train[idx], keep=True)
            loss, grad = softmax_cross_entropy(logits, y_train[idx])
            network.backward(grad)
            opt.step(network.gradients())
            total += loss * len(idx)
            count += len(idx)
        history.seconds.append(time.perf_counter() - start)
        history.loss.append(total / count)
        history.train_accuracy.append(accuracy(network, x_train, y_train))
        if has_test:
            history.test_accuracy.append(accuracy(network, x_test, y_test))
        if callback is not None:
            callback(epoch, history)
    return history


# --------------------------------------------------------------------------
# From dense to block-circulant (CircConv's second route)

def project_to_circulant(dense_matrix, k: int) -> np.ndarray:
    """Nearest block-circulant matrix in Frobenius norm, as defining vectors ``(p, q, k)``.

    Each dense entry ``(R, C)`` lies in block ``(R // k, C // k)`` on wrapped
    diagonal ``d = (R - C) mod k`` and is represented by exactly one
    parameter ``w[R // k, C // k, d]``; the squared error therefore splits
    into one independent sum per parameter, minimised by the mean of the
    entries on that diagonal.  A matrix whose shape is not a multiple of
    ``k`` is treated as the visible part of a padded one (the bundle's
    ``in_features``/``out_features``): only its real entries are averaged,
    which is the nearest matrix on what the layer actually uses, and a
    diagonal with no real entry gets 0.
    """
    k = check_power_of_two("k", k, 2, MAX_K)
    a = np.asarray(dense_matrix, dtype=np.float64)
    if a.ndim != 2 or min(a.shape) < 1:
        raise ParameterError(f"dense_matrix must be a non-empty 2-D array, got shape {a.shape}")
    m, n = a.shape
    p, q = _ceil_div(m, k), _ceil_div(n, k)
    padded = np.zeros((p * k, q * k))
    padded[:m, :n] = a
    visible = np.zeros((p * k, q * k))
    visible[:m, :n] = 1.0
    r = np.arange(k)
    # For diagonal d, row r of a block holds it in column (r - d) mod k.
    cols = (r[None, :] - r[:, None]) % k            # cols[d, r]
    blocks = padded.reshape(p, k, q, k).transpose(0, 2, 1, 3)   # (p, q, row, col)
    counts = visible.reshape(p, k, q, k).transpose(0, 2, 1, 3)
    sums = _halving_sum(blocks[:, :, r[None, :], cols])          # (p, q, d)
    hits = counts[:, :, r[None, :], cols].sum(axis=-1)
    return np.divide(sums, hits, out=np.zeros_like(sums), where=hits > 0)


def _halving_sum(a: np.ndarray) -> np.ndarray:
    """Sum over the last axis (a power of two long) by repeatedly adding halves.

    k equal values then add up exactly (each step doubles them), so the
    projection of a matrix that is already block-circulant gives back its
    defining vectors bit for bit; a sequential sum would round at 3v, 5v...
    """
    while a.shape[-1] > 1:
        half = a.shape[-1] // 2
        a = a[..., :half] + a[..., half:]
    return a[..., 0]


def circulant_from_dense(network: Network, k: int | Sequence[int]) -> Network:
    """Project every layer of a (dense) network onto block-circulant form.

    The result has the same real widths and activations; biases are kept
    (padded with zeros).  Re-train it afterwards with :func:`train`: the
    projection alone usually loses accuracy, fine-tuning recovers it.
    """
    ks = [k] * len(network.layers) if np.ndim(k) == 0 else list(k)
    if len(ks) != len(network.layers):
        raise ParameterError(f"k must be one value or {len(network.layers)} values")
    layers = []
    for layer, kk in zip(network.layers, ks):
        if isinstance(layer, CirculantLinear):
            weight = project_to_circulant(layer.to_dense()[:layer.out_features,
                                                           :layer.in_features], kk)
            bias = layer.bias[:layer.out_features]
        else:
            weight = project_to_circulant(layer.weight, kk)
            bias = layer.bias
        p, q, kk = weight.shape
        full_bias = np.zeros(p * kk)
        full_bias[:len(bias)] = bias
        layers.append(CirculantLinear(weight, full_bias, layer.activation,
                                      layer.in_features, layer.out_features))
    return Network(layers)


# --------------------------------------------------------------------------
# Model bundle

def to_bundle(network: Network, extra: dict[str, np.ndarray] | None = None):
    """The :class:`circnn.bundle.Bundle` of a block-circulant network.

    ``in_features``/``out_features`` are recorded only where they pad.
    Refused (``CircnnError``) for dense layers and for chains whose padded
    widths disagree (the bundle requires layer i+1's ``q*k`` to equal layer
    i's ``p*k``).
    """
    from circnn.bundle import Bundle, Layer

    layers = []
    for i, layer in enumerate(network.layers):
        if not isinstance(layer, CirculantLinear):
            raise CircnnError(f"layer {i} is dense; only block-circulant networks make a bundle "
                              "(project it with circulant_from_dense first)")
        p, q, k = layer.weight.shape
        if i and network.layers[i - 1].weight.shape[0] * network.layers[i - 1].k != q * k:
            raise CircnnError(f"layer {i}: q*k = {q * k} differs from layer {i - 1}'s padded "
                              f"output width; the bundle format needs them equal")
        layers.append(Layer(
            weight=layer.weight.copy(), bias=layer.bias.copy(), activation=layer.activation,
            in_features=None if layer.in_features == q * k else layer.in_features,
            out_features=None if layer.out_features == p * k else layer.out_features))
    return Bundle(layers=layers, extra=dict(extra or {}))


def from_bundle(bundle) -> Network:
    """A trainable :class:`Network` holding a bundle's weights (copied)."""
    layers: list[CirculantLinear] = []
    for layer in bundle.layers:
        in_features = layer.in_features
        if in_features is None and layers:
            # Outputs dropped by the previous layer and zeros padded back in
            # are the same thing, so an unstated input width is whatever the
            # previous layer really gives.
            in_features = layers[-1].out_features
        layers.append(CirculantLinear(layer.weight, layer.bias, layer.activation,
                                      in_features, layer.out_features))
    return Network(layers)
