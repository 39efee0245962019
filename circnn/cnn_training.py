"""NumPy training of convolutional networks: block-circulant (CirCNN, CircConv) and dense.

A convolution layer is a linear layer applied to every im2col patch of its
channel-last input (``docs/bundle.md``): :class:`ConvLayer` wraps a
:class:`~circnn.training.CirculantLinear` (forward and backward through the
FFT, as :mod:`circnn.training` derives them) or, for the dense baseline, a
:class:`~circnn.training.DenseLinear` whose weight is the C_out x KH*KW*C_in
patch matrix.  Its backward pass is the linear layer's on the patch rows,
then the patch gradients added back onto the input pixels they were cut from
(``col2im``).  :class:`PoolLayer` is max-pooling; its gradient goes to the
maximum of each window (the first one, on ties).

Layers exchange flat rows (batch, H*W*C) in (h, w, c) order, so they chain in
a :class:`~circnn.training.Network` with the fully-connected layers and train
with :func:`~circnn.training.train` unchanged.

CircConv's second route, :func:`circulant_cnn_from_dense`, projects each
dense patch matrix (and fully-connected matrix) onto the nearest
block-circulant one (:func:`~circnn.training.project_to_circulant`:
averaging along wrapped diagonals) for re-training.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import CircnnError, ParameterError
from .sim.model.conv import im2col, output_side
from .training import CirculantLinear, DenseLinear, Network, project_to_circulant

__all__ = ["ConvLayer", "PoolLayer", "cnn_network", "circulant_cnn_from_dense", "cnn_to_bundle",
           "CNN_SPEC", "parse_cnn_spec"]

#: the digits CNN: conv 3x3 1->16, conv 3x3 16->32 (padding 1), max-pool 2x2, dense 512->128->10
CNN_SPEC = "conv3x3x16,conv3x3x32,pool2,dense128,dense10"


def _col2im(grad_patches: np.ndarray, in_shape, kernel, stride, padding) -> np.ndarray:
    """Sum patch gradients (B, H_out, W_out, KH*KW*C) back onto the input (B, H, W, C)."""
    (h, w, c), (kh, kw), (sh, sw), (ph, pw) = in_shape, kernel, stride, padding
    b, ho, wo, _ = grad_patches.shape
    g = grad_patches.reshape(b, ho, wo, kh, kw, c)
    out = np.zeros((b, h + 2 * ph, w + 2 * pw, c))
    for y in range(kh):
        for x in range(kw):
            out[:, y:y + sh * (ho - 1) + 1:sh, x:x + sw * (wo - 1) + 1:sw, :] += g[:, :, :, y, x, :]
    return out[:, ph:ph + h, pw:pw + w, :]


class ConvLayer:
    """A convolution: ``linear`` applied to every patch of an (H, W, C_in) map.

    ``linear`` takes ``KH*KW*C_in`` inputs and gives C_out outputs (its
    ``out_features``).  Inputs and outputs are flat rows in (h, w, c) order.
    """

    kind = "conv2d"

    def __init__(self, linear, in_shape, kernel, stride=(1, 1), padding=(0, 0)):
        self.linear = linear
        self.in_shape, self.kernel = tuple(in_shape), tuple(kernel)
        self.stride, self.padding = tuple(stride), tuple(padding)
        patch = self.kernel[0] * self.kernel[1] * self.in_shape[2]
        if linear.in_features != patch:
            raise ParameterError(f"a {self.kernel[0]}x{self.kernel[1]} convolution of "
                                 f"{self.in_shape[2]} channels takes patches of {patch} values, "
                                 f"but its linear layer takes {linear.in_features}")
        h, w, _ = self.in_shape
        self.out_shape = (output_side(h, self.kernel[0], self.stride[0], self.padding[0]),
                          output_side(w, self.kernel[1], self.stride[1], self.padding[1]),
                          linear.out_features)
        if min(self.out_shape[:2]) < 1:
            raise ParameterError(f"kernel {self.kernel} is larger than the padded input "
                                 f"{self.in_shape[:2]} (padding {self.padding})")
        self.in_features = int(np.prod(self.in_shape))
        self.out_features = int(np.prod(self.out_shape))

    def forward(self, x, keep: bool = False) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).reshape(-1, *self.in_shape)
        patches = im2col(x, self.kernel, self.stride, self.padding)
        b, ho, wo, width = patches.shape
        y = self.linear.forward(patches.reshape(b * ho * wo, width), keep=keep)
        if keep:
            self._batch = b
        return y.reshape(b, self.out_features)

    def backward(self, grad_out) -> np.ndarray:
        b = self._batch
        ho, wo, c_out = self.out_shape
        g = self.linear.backward(np.asarray(grad_out, dtype=np.float64).reshape(b * ho * wo, c_out))
        grad = _col2im(g.reshape(b, ho, wo, -1), self.in_shape, self.kernel, self.stride,
                       self.padding)
        return grad.reshape(b, self.in_features)

    def parameters(self) -> list[np.ndarray]:
        return self.linear.parameters()

    def gradients(self) -> list[np.ndarray]:
        return self.linear.gradients()

    def copy(self) -> "ConvLayer":
        return ConvLayer(Network([self.linear]).copy().layers[0], self.in_shape, self.kernel,
                         self.stride, self.padding)

    def __repr__(self) -> str:
        return (f"ConvLayer({self.in_shape} -> {self.out_shape}, kernel {self.kernel}, stride "
                f"{self.stride}, padding {self.padding}, {self.linear!r})")


class PoolLayer:
    """Max-pooling of an (H, W, C) map, windows ``kernel`` every ``stride`` pixels."""

    kind = "maxpool2d"

    def __init__(self, in_shape, kernel, stride):
        self.in_shape, self.kernel, self.stride = tuple(in_shape), tuple(kernel), tuple(stride)
        h, w, c = self.in_shape
        self.out_shape = (output_side(h, self.kernel[0], self.stride[0]),
                          output_side(w, self.kernel[1], self.stride[1]), c)
        if min(self.out_shape[:2]) < 1:
            raise ParameterError(f"pool window {self.kernel} is larger than its input "
                                 f"{self.in_shape[:2]}")
        self.in_features = int(np.prod(self.in_shape))
        self.out_features = int(np.prod(self.out_shape))

    def forward(self, x, keep: bool = False) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).reshape(-1, *self.in_shape)
        (kh, kw), c = self.kernel, self.in_shape[2]
        windows = im2col(x, self.kernel, self.stride)          # (B, Ho, Wo, KH*KW*C)
        b, ho, wo, _ = windows.shape
        windows = windows.reshape(b, ho, wo, kh * kw, c)
        arg = windows.argmax(axis=3)                            # first maximum on ties
        if keep:
            self._cache = (arg, b)
        return np.take_along_axis(windows, arg[:, :, :, None, :], axis=3).reshape(
            b, self.out_features)

    def backward(self, grad_out) -> np.ndarray:
        arg, b = self._cache
        ho, wo, c = self.out_shape
        kh, kw = self.kernel
        g = np.zeros((b, ho, wo, kh * kw, c))
        np.put_along_axis(g, arg[:, :, :, None, :],
                          np.asarray(grad_out, dtype=np.float64).reshape(b, ho, wo, 1, c), axis=3)
        grad = _col2im(g.reshape(b, ho, wo, kh * kw * c), self.in_shape, self.kernel,
                       self.stride, (0, 0))
        return grad.reshape(b, self.in_features)

    def parameters(self) -> list[np.ndarray]:
        return []

    def gradients(self) -> list[np.ndarray]:
        return []

    def copy(self) -> "PoolLayer":
        return PoolLayer(self.in_shape, self.kernel, self.stride)

    def __repr__(self) -> str:
        return f"PoolLayer({self.in_shape} -> {self.out_shape}, window {self.kernel})"


def parse_cnn_spec(spec: str) -> list[tuple]:
    """``conv3x3x16`` (kernel 3x3, 16 channels, padding to keep the size),
    ``pool2`` (2x2 windows, stride 2), ``dense64``: a comma-separated list."""
    out = []
    for part in (p.strip() for p in spec.split(",")):
        try:
            if part.startswith("conv"):
                kh, kw, c = (int(v) for v in part[4:].split("x"))
                out.append(("conv2d", kh, kw, c))
            elif part.startswith("pool"):
                out.append(("maxpool2d", int(part[4:])))
            elif part.startswith("dense"):
                out.append(("dense", int(part[5:])))
            else:
                raise ValueError
        except ValueError:
            raise ParameterError(f"--cnn {spec!r}: {part!r} is not convKxKxC, poolN or denseN "
                                 f"(e.g. {CNN_SPEC})") from None
    if not out or out[-1][0] != "dense":
        raise ParameterError(f"--cnn {spec!r}: the last layer must be denseN (the classes)")
    return out


def cnn_network(in_shape, spec: str | Sequence[tuple], k: int | None, *, seed: int = 0) -> Network:
    """A freshly initialised CNN for maps ``in_shape``: block-circulant with block size
    ``k``, or dense (``k`` None).  Convolutions keep the map size (padding
    (KH-1)//2), hidden layers use ReLU, the last dense layer none."""
    layers_spec = parse_cnn_spec(spec) if isinstance(spec, str) else list(spec)
    rng = np.random.default_rng(seed)
    shape = tuple(in_shape)
    flat = None
    layers = []
    for n, item in enumerate(layers_spec):
        last = n == len(layers_spec) - 1
        act = "none" if last else "relu"
        if item[0] == "conv2d":
            if flat is not None:
                raise ParameterError("a convolution after a dense layer is not supported")
            _, kh, kw, c_out = item
            patch = kh * kw * shape[2]
            linear = (CirculantLinear.initialised(patch, c_out, k, act, rng) if k else
                      DenseLinear.initialised(patch, c_out, act, rng))
            layer = ConvLayer(linear, shape, (kh, kw), (1, 1), ((kh - 1) // 2, (kw - 1) // 2))
            shape = layer.out_shape
        elif item[0] == "maxpool2d":
            layer = PoolLayer(shape, (item[1], item[1]), (item[1], item[1]))
            shape = layer.out_shape
        else:
            n_in = flat if flat is not None else int(np.prod(shape))
            layer = (CirculantLinear.initialised(n_in, item[1], k, act, rng) if k else
                     DenseLinear.initialised(n_in, item[1], act, rng))
            flat = item[1]
        layers.append(layer)
    return Network(layers)


def circulant_cnn_from_dense(network: Network, k: int) -> Network:
    """Every dense patch matrix and fully-connected matrix projected onto the nearest
    block-circulant one (biases kept), pooling unchanged: re-train it afterwards."""
    layers = []
    for layer in network.layers:
        if isinstance(layer, PoolLayer):
            layers.append(layer.copy())
            continue
        linear = layer.linear if isinstance(layer, ConvLayer) else layer
        if not isinstance(linear, DenseLinear):
            raise CircnnError(f"{layer!r} is not dense: nothing to project")
        weight = project_to_circulant(linear.weight, k)
        p = weight.shape[0]
        bias = np.zeros(p * k)
        bias[:linear.out_features] = linear.bias
        circ = CirculantLinear(weight, bias, linear.activation, linear.in_features,
                               linear.out_features)
        layers.append(ConvLayer(circ, layer.in_shape, layer.kernel, layer.stride, layer.padding)
                      if isinstance(layer, ConvLayer) else circ)
    return Network(layers)


def cnn_to_bundle(network: Network, extra: dict | None = None):
    """The format-2 :class:`~circnn.bundle.Bundle` of a block-circulant CNN."""
    from circnn.bundle import Bundle, Conv2d, Layer, MaxPool2d
    layers = []
    for i, layer in enumerate(network.layers):
        if isinstance(layer, PoolLayer):
            layers.append(MaxPool2d(layer.in_shape, layer.kernel, layer.stride))
            continue
        linear = layer.linear if isinstance(layer, ConvLayer) else layer
        if not isinstance(linear, CirculantLinear):
            raise CircnnError(f"layer {i} is dense; only block-circulant networks make a bundle "
                              f"(project it with circulant_cnn_from_dense first)")
        p, q, k = linear.weight.shape
        in_f = None if linear.in_features == q * k else linear.in_features
        out_f = None if linear.out_features == p * k else linear.out_features
        if isinstance(layer, ConvLayer):
            layers.append(Conv2d(linear.weight.copy(), linear.bias.copy(), linear.activation,
                                 layer.in_shape, layer.kernel, layer.stride, layer.padding,
                                 in_features=in_f, out_features=out_f))
        else:
            layers.append(Layer(linear.weight.copy(), linear.bias.copy(), linear.activation,
                                in_features=in_f, out_features=out_f))
    return Bundle(layers, extra=dict(extra or {}))

