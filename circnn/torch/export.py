"""``export_bundle``: an ``nn.Sequential`` of circnn modules written as a
format-2 model bundle (``docs/pytorch.md``).

The walk follows the data through the model from ``input_shape``, keeping
what flows between modules: a channel-first map (C, H, W), or rows of a
number of features.  Each weighted module becomes a bundle layer (the
bundle's own classes, :mod:`circnn.bundle`, check every rule of the format),
an ``nn.ReLU`` becomes the activation of the weighted layer before it (it
commutes with max-pooling and flattening, which are monotone or
reorderings, so it may follow them), ``nn.MaxPool2d`` a ``maxpool2d``
layer, and :class:`~circnn.torch.FlattenHWC` nothing at all: the bundle's
dense layers read maps in (h, w, c) order already.  Every refusal is one
:class:`~circnn.errors.ModelError` line naming the module and the rule, and
all of them come before the file is touched; the file itself is written
atomically by :func:`circnn.bundle.save_bundle`.
"""

from __future__ import annotations

import operator
import os
from dataclasses import dataclass

import numpy as np
from torch import nn

from circnn.bundle import Bundle, Conv2d, Layer, MaxPool2d, save_bundle
from circnn.errors import BundleError, ModelError
from circnn.files import check_output_file

from .conv import BlockCirculantConv2d, pair
from .flatten import FlattenHWC
from .linear import BlockCirculantLinear
from .matrix import BlockCirculantMatrix

__all__ = ["export_bundle", "model_bundle", "SUPPORTED"]

#: the modules export_bundle takes, as its refusals list them
SUPPORTED = ("circnn.torch.BlockCirculantLinear, circnn.torch.BlockCirculantConv2d, nn.ReLU, "
             "nn.MaxPool2d, circnn.torch.FlattenHWC")


def _fail(what: str, rule: str) -> ModelError:
    return ModelError(f"export_bundle: {what}: {rule}")


def _input_shape(input_shape) -> tuple[int, ...]:
    """One sample's shape on the PyTorch side: (C, H, W) or (F,); a leading batch
    dimension ((N, C, H, W) or (N, F)) is dropped."""
    refusal = _fail("input_shape", f"expected (C, H, W) or (F,) positive integers, optionally "
                                   f"with a leading batch size, got {input_shape!r}")
    try:
        # operator.index takes Python, NumPy and torch integers, and refuses floats
        shape = tuple(operator.index(s) for s in input_shape)
    except TypeError:
        raise refusal from None
    if len(shape) in (2, 4):
        shape = shape[1:]
    if len(shape) not in (1, 3) or any(isinstance(s, bool) or s < 1 for s in input_shape):
        raise refusal
    return shape


def _matrix_arrays(module: BlockCirculantMatrix) -> dict:
    """The weight, the bias padded to p*k and the widths, as the bundle stores them."""
    bias = np.zeros(module.p * module.k)
    if module.bias is not None:
        bias[:module.out_features] = module.bias.detach().cpu().double().numpy()
    q_k, p_k = module.q * module.k, module.p * module.k
    return dict(weight=module.weight.detach().cpu().double().numpy(), bias=bias,
                in_features=None if module.in_features == q_k else module.in_features,
                out_features=None if module.out_features == p_k else module.out_features)


@dataclass
class _Flow:
    """What flows between two modules: a channel-first map, or rows."""

    map: tuple[int, int, int] | None            # (C, H, W)
    width: int | None                           # features of a row

    def describe(self) -> str:
        return (f"a (C, H, W) = {self.map} map" if self.map is not None
                else f"rows of {self.width} features")


class _Walk:
    """The bundle layers of a model, built module by module."""

    def __init__(self, shape: tuple[int, ...]):
        self.flow = _Flow(shape, None) if len(shape) == 3 else _Flow(None, shape[0])
        self.layers: list = []
        self.weighted: int | None = None        # index of the last conv2d or dense layer
        self.previous_label = "the input"

    def add(self, label: str, module: nn.Module) -> None:
        handlers = {BlockCirculantConv2d: self.conv, BlockCirculantLinear: self.dense,
                    nn.ReLU: self.relu, nn.MaxPool2d: self.pool, FlattenHWC: self.flatten_hwc,
                    nn.Flatten: self.flatten}
        handler = handlers.get(type(module))
        if handler is None:
            raise _fail(label, f"not supported (supported: {SUPPORTED})")
        try:
            handler(label, module)
        except BundleError as exc:          # a rule of the bundle format, checked by its classes
            raise _fail(label, str(exc)) from None
        self.previous_label = label

    def _need_map(self, label: str, what: str) -> tuple[int, int, int]:
        if self.flow.map is None:
            raise _fail(label, f"{what} reads (N, C, H, W) maps but gets "
                               f"{self.flow.describe()} from {self.previous_label}")
        return self.flow.map

    def conv(self, label: str, module: BlockCirculantConv2d) -> None:
        c, h, w = self._need_map(label, "a convolution")
        if module.in_channels != c:
            raise _fail(label, f"in_channels = {module.in_channels} but it gets "
                               f"{self.flow.describe()} from {self.previous_label}")
        layer = Conv2d(activation="none", in_shape=(h, w, c), kernel=module.kernel_size,
                       stride=module.stride, padding=module.padding, **_matrix_arrays(module))
        self._weighted(layer)
        h_out, w_out, c_out = layer.out_shape
        self.flow = _Flow((c_out, h_out, w_out), None)

    def dense(self, label: str, module: BlockCirculantLinear) -> None:
        if self.flow.map is not None:
            raise _fail(label, f"a dense layer reads rows but gets {self.flow.describe()} from "
                               f"{self.previous_label}: put circnn.torch.FlattenHWC before it")
        if module.in_features != self.flow.width:
            raise _fail(label, f"in_features = {module.in_features} but it gets "
                               f"{self.flow.describe()} from {self.previous_label}")
        before = self.layers[-1] if self.layers else None
        if before is not None and before.kind == "dense" and before.p * before.k != module.q * module.k:
            raise _fail(label, f"its inputs padded to q*k = {module.q}*{module.k} = "
                               f"{module.q * module.k} must be the padded outputs p*k = "
                               f"{before.p}*{before.k} = {before.p * before.k} of "
                               f"{self.previous_label} (the bundle chains dense layers at their "
                               f"padded widths: use one k, or a width that both block sizes divide)")
        self._weighted(Layer(activation="none", **_matrix_arrays(module)))
        self.flow = _Flow(None, module.out_features)

    def _weighted(self, layer) -> None:
        self.weighted = len(self.layers)
        self.layers.append(layer)

    def relu(self, label: str, module: nn.ReLU) -> None:
        if self.weighted is None:
            raise _fail(label, "a ReLU must follow a BlockCirculantLinear or BlockCirculantConv2d "
                               "(the bundle applies activations in those layers only)")
        self.layers[self.weighted].activation = "relu"

    def pool(self, label: str, module: nn.MaxPool2d) -> None:
        c, h, w = self._need_map(label, "max-pooling")
        rules = [(module.padding in (0, (0, 0)), "padding=0"),
                 (module.dilation in (1, (1, 1)), "dilation=1"),
                 (not module.ceil_mode, "ceil_mode=False"),
                 (not module.return_indices, "return_indices=False")]
        for holds, rule in rules:
            if not holds:
                raise _fail(label, f"the bundle's maxpool2d needs {rule}")
        kernel = pair("kernel_size", module.kernel_size, 1)
        stride = kernel if module.stride is None else pair("stride", module.stride, 1)
        layer = MaxPool2d(in_shape=(h, w, c), kernel=kernel, stride=stride)
        self.layers.append(layer)
        h_out, w_out, _ = layer.out_shape
        self.flow = _Flow((c, h_out, w_out), None)

    def flatten_hwc(self, label: str, module: FlattenHWC) -> None:
        c, h, w = self._need_map(label, "FlattenHWC")
        self.flow = _Flow(None, c * h * w)

    def flatten(self, label: str, module: nn.Flatten) -> None:
        if self.flow.map is None:
            raise _fail(label, f"nn.Flatten gets {self.flow.describe()} from "
                               f"{self.previous_label}: nothing to flatten")
        if self.layers:
            raise _fail(label, "nn.Flatten flattens maps in (c, h, w) order, but the bundle's "
                               "dense layers read them in (h, w, c) order: use "
                               "circnn.torch.FlattenHWC")
        if (module.start_dim, module.end_dim) != (1, -1):
            raise _fail(label, "nn.Flatten of the input needs start_dim=1, end_dim=-1")
        c, h, w = self.flow.map
        self.flow = _Flow(None, c * h * w)


def model_bundle(model: nn.Module, input_shape) -> Bundle:
    """The :class:`~circnn.bundle.Bundle` of ``model`` (see :func:`export_bundle`)."""
    if not isinstance(model, nn.Sequential):
        raise _fail("model", f"a {type(model).__name__}, not an nn.Sequential of {SUPPORTED}")
    walk = _Walk(_input_shape(input_shape))
    for name, module in model.named_children():
        walk.add(f"module {name} ({type(module).__name__})", module)
    if walk.weighted is None:
        raise _fail("model", "holds no BlockCirculantLinear or BlockCirculantConv2d")
    try:
        return Bundle(walk.layers)
    except BundleError as exc:
        raise _fail("model", str(exc)) from None


def export_bundle(model: nn.Module, path: str | os.PathLike, input_shape) -> Bundle:
    """Write ``model`` to ``path`` as a model bundle, and return the bundle.

    ``model`` is an ``nn.Sequential`` of :data:`SUPPORTED` modules;
    ``input_shape`` is one input's shape as the model takes it: (C, H, W)
    for a model that starts with a convolution or pooling, (F,) for rows
    (a leading batch size is allowed and ignored).  The bundle reads the
    same data channel-last, (N, H, W, C).  Format 2 when the model has a
    convolution or pooling layer, else format 1 (which format-2 readers
    read).  Bad input raises :class:`~circnn.errors.ModelError` (or the
    output path's :class:`~circnn.errors.CircnnError`) before ``path`` is
    touched.
    """
    path = check_output_file(path, "export_bundle: path")
    bundle = model_bundle(model, input_shape)
    save_bundle(path, bundle)
    return bundle
