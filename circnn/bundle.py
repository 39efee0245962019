"""The model bundle: one ``.npz`` file that carries a trained network.

Format ``circnn-bundle/1`` (``docs/bundle.md``):

=======================  ====================  =================================
key                      shape / type          meaning
=======================  ====================  =================================
``format``               str ``"circnn-bundle/1"``  format tag
``layers``               int L >= 1            number of layers
``l{i}_weight``          float (p, q, k)       defining vectors (first columns)
``l{i}_bias``            float (p*k,)          bias
``l{i}_activation``      str "relu" | "none"   applied after the bias
``l{i}_in_features``     int, optional         real input width (1..q*k)
``l{i}_out_features``    int, optional         real output width (1..p*k)
=======================  ====================  =================================

Layer i+1's q*k equals layer i's p*k, and the real widths agree: layer i+1
reads exactly the values layer i produces (``n_in(i+1) == n_out(i)``).
Further keys are circnn's own (for example quantisation formats); they are
kept in :attr:`Bundle.extra` and must not look like format or layer keys in
any spelling (``Format``, ``L0_weight``, ``l01_bias`` and ``l0_gain`` are
refused, not carried along).

Bundles come from anywhere (PyTorch, JAX, hand-written NumPy), so every rule
is checked on load and a refusal raises :class:`circnn.errors.BundleError`
whose message names the offending key.  Files are read entry by entry with
:mod:`circnn.arrays` (never pickle, headers checked before any data are
allocated), in this order: key names (from the zip directory alone), the
size of the extra keys (from the zip directory), ``format``, ``layers``
(at most :data:`MAX_LAYERS`, and no more than the ``l{i}_weight`` keys
present), the declared dtype and shape of every entry, the total declared
size (:data:`MAX_BUNDLE_BYTES`), and only then the data.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from circnn.arrays import check_dtype, check_size, open_npz
from circnn.errors import BundleError, CircnnError

from circnn.sim.model.circulant import is_power_of_two
from circnn.sim.model.conv import output_side as conv_output_size

__all__ = [
    "FORMAT",
    "FORMAT_1",
    "FORMAT_2",
    "FORMATS",
    "LAYER_TYPES",
    "ACTIVATIONS",
    "Layer",
    "Conv2d",
    "MaxPool2d",
    "conv_output_size",
    "Bundle",
    "load_bundle",
    "save_bundle",
    "validate_bundle",
    "bundle_arrays",
    "MAX_LAYERS",
    "MAX_EXTRA_BYTES",
    "MAX_BUNDLE_BYTES",
]

FORMAT_1 = "circnn-bundle/1"
FORMAT_2 = "circnn-bundle/2"
FORMATS = (FORMAT_1, FORMAT_2)
#: what save_bundle writes for a network of dense layers only (readers of format 1 read it)
FORMAT = FORMAT_1
ACTIVATIONS = ("relu", "none")
LAYER_TYPES = ("dense", "conv2d", "maxpool2d")

_REQUIRED_SUFFIXES = ("weight", "bias", "activation")
_OPTIONAL_SUFFIXES = ("in_features", "out_features")
#: keys format 2 adds: the layer type and a feature map's geometry
_FORMAT2_SUFFIXES = ("type", "in_shape", "kernel", "stride", "padding")
_LAYER_SUFFIXES = _REQUIRED_SUFFIXES + _OPTIONAL_SUFFIXES + _FORMAT2_SUFFIXES
#: which layer keys each type has: required, optional (absent ones are refused otherwise)
_TYPE_KEYS = {
    "dense": (_REQUIRED_SUFFIXES, _OPTIONAL_SUFFIXES + ("type",)),
    "conv2d": (_REQUIRED_SUFFIXES + ("type", "in_shape", "kernel"),
               _OPTIONAL_SUFFIXES + ("stride", "padding")),
    "maxpool2d": (("type", "in_shape", "kernel", "stride"), ()),
}
#: the shape of a geometry key's integer vector
_GEOMETRY_LENGTH = {"in_shape": 3, "kernel": 2, "stride": 2, "padding": 2}
#: largest feature-map side, channel count and kernel side a bundle may declare
MAX_MAP_SIDE = 4096
MAX_CHANNELS = 65536
MAX_KERNEL = 64
_TOP_KEYS = ("format", "layers")

#: Most layers a bundle may declare in ``layers``.
MAX_LAYERS = 1024
#: Most bytes all extra keys (neither ``format``, ``layers`` nor a layer key)
#: may hold together, 16 MiB, as the zip directory records them (uncompressed,
#: ``.npy`` headers included); checked before any extra entry is opened.
MAX_EXTRA_BYTES = 16 * 2**20
#: Most bytes of array data all keys of a bundle may declare together (1 GiB).
MAX_BUNDLE_BYTES = 2**30
# format and activation are short strings, layers and the widths are single
# integers: a scalar entry declaring more bytes than this is refused unread.
_MAX_SCALAR_BYTES = 1024

_KNOWN_KEYS = ("known keys: format, layers, l<i>_weight, l<i>_bias, l<i>_activation, "
               "l<i>_in_features, l<i>_out_features, and in format 2 l<i>_type, l<i>_in_shape, "
               "l<i>_kernel, l<i>_stride, l<i>_padding, in lower case with i = 0, 1, ... "
               "written without leading zeros")
# The exact spelling of a layer key ...
_CANONICAL_RE = re.compile(r"^l(0|[1-9][0-9]*)_(" + "|".join(_LAYER_SUFFIXES) + r")$")
# ... and what is reserved for layer data in any case and with surrounding
# blanks, so that "L0_weight", "l0_wieght" or a stray "l3_weight" is refused
# instead of being carried along as an extra key.
_LAYER_LIKE_RE = re.compile(r"^l([0-9]+)_(.*)$", re.IGNORECASE | re.DOTALL)


def _fail(label: str, msg: str) -> BundleError:
    return BundleError(f"{label}: {msg}")


def _show(key) -> str:
    """A key as it appears in messages: printable, one line, at most 80 characters."""
    text = key if isinstance(key, str) and key.isprintable() else repr(key)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_reserved(key: str) -> bool:
    norm = key.strip()
    return norm.lower() in _TOP_KEYS or bool(_LAYER_LIKE_RE.match(norm))


def _classify(key: str) -> tuple[str, str] | None:
    """``(index digits, suffix)`` of a layer key, ``None`` for format, layers and
    extra keys; refuses every other spelling of a format or layer key."""
    if key in _TOP_KEYS:
        return None
    m = _CANONICAL_RE.match(key)
    if m:
        return m.group(1), m.group(2)
    label = f"bundle key {_show(key)}"
    norm = key.strip()
    if norm.lower() in _TOP_KEYS:
        raise _fail(label, f"not a bundle key (expected {norm.lower()}; {_KNOWN_KEYS})")
    m = _LAYER_LIKE_RE.match(norm)
    if m is None:
        return None
    digits, suffix = m.groups()
    if suffix.lower() in _LAYER_SUFFIXES:
        canonical = f"l{digits.lstrip('0') or '0'}_{suffix.lower()}"
        raise _fail(label, f"not a canonical layer key (expected {canonical}; {_KNOWN_KEYS})")
    raise _fail(label, f"unknown layer key suffix {_show(suffix)!r} "
                       f"(expected one of {', '.join(_LAYER_SUFFIXES)})")


# ---------------------------------------------------------------------------
# value checkers: each takes the label to put in its error message, so the
# same rule gives "bundle key l1_weight: ..." on load and "Layer.weight: ..."
# when a Layer is built in Python.
# ---------------------------------------------------------------------------


def _check_float_kind(label: str, dtype: np.dtype, what: str) -> None:
    if dtype.kind != "f":
        raise _fail(label, f"expected a float array of {what}, got dtype {dtype}")


def _check_float_array(label: str, value, what: str) -> np.ndarray:
    arr = np.asarray(value)
    _check_float_kind(label, arr.dtype, what)
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise _fail(label, f"contains NaN or inf (first at index {idx}: {arr[idx]})")
    # float64 throughout: numpy.fft would keep float32 in complex64 and make
    # the golden model coarser than the fixed-point models it judges.
    return arr.astype(np.float64, copy=False)


def _check_weight_shape(label: str, shape: tuple[int, ...]) -> None:
    shape_ok = (
        len(shape) == 3
        and shape[0] >= 1
        and shape[1] >= 1
        and is_power_of_two(shape[2])
        and shape[2] >= 2
    )
    if not shape_ok:
        raise _fail(
            label,
            f"expected shape (p, q, k) with p, q >= 1 and k a power of two >= 2, got {shape}",
        )


def _check_weight(label: str, value) -> np.ndarray:
    arr = np.asarray(value)
    _check_weight_shape(label, arr.shape)
    return _check_float_array(label, arr, "shape (p, q, k)")


def _check_bias_shape(label: str, shape: tuple[int, ...], p: int, k: int) -> None:
    if shape != (p * k,):
        raise _fail(label, f"expected shape (p*k,) = ({p * k},), got {shape}")


def _check_bias(label: str, value, p: int, k: int) -> np.ndarray:
    arr = np.asarray(value)
    _check_bias_shape(label, arr.shape, p, k)
    return _check_float_array(label, arr, f"shape ({p * k},)")


def _check_string(label: str, value) -> str:
    if isinstance(value, str):
        return value
    arr = np.asarray(value)
    if arr.ndim != 0 or arr.dtype.kind not in "US":
        raise _fail(label, f"expected a string, got {arr.dtype} array of shape {arr.shape}")
    item = arr.item()
    if isinstance(item, bytes):
        try:
            return item.decode("ascii")
        except UnicodeDecodeError:
            raise _fail(label, f"expected an ASCII string, got {item!r}") from None
    return str(item)


def _check_activation(label: str, value) -> str:
    act = _check_string(label, value)
    if act not in ACTIVATIONS:
        raise _fail(label, f"expected one of {', '.join(map(repr, ACTIVATIONS))}, got {act!r}")
    return act


def _check_int(label: str, value) -> int:
    if isinstance(value, bool) or isinstance(value, np.bool_):
        raise _fail(label, f"expected an integer, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    arr = np.asarray(value)
    if arr.ndim != 0 or arr.dtype.kind not in "iu":
        raise _fail(label, f"expected an integer, got {arr.dtype} array of shape {arr.shape}")
    return int(arr.item())


def _check_width(label: str, value, upper: int, what: str) -> int | None:
    if value is None:
        return None
    n = _check_int(label, value)
    if not 1 <= n <= upper:
        raise _fail(label, f"expected an integer in 1..{what} = 1..{upper}, got {n}")
    return n


@dataclass
class Layer:
    """One block-circulant layer: ``y = act(W x + bias)``.

    ``weight`` has shape (p, q, k) and holds the first column of each
    circulant block; ``bias`` has shape (p*k,).  ``in_features`` /
    ``out_features`` give the real widths when q*k / p*k are padded up to a
    multiple of k (inputs beyond ``in_features`` are zeros, outputs beyond
    ``out_features`` are dropped); ``None`` means no padding.  Arrays are
    stored as float64.  Invalid values raise :class:`BundleError`.
    """

    weight: np.ndarray
    bias: np.ndarray
    activation: str = "none"
    in_features: int | None = None
    out_features: int | None = None

    def __post_init__(self) -> None:
        self.weight = _check_weight("Layer.weight", self.weight)
        p, q, k = self.weight.shape
        self.bias = _check_bias("Layer.bias", self.bias, p, k)
        self.activation = _check_activation("Layer.activation", self.activation)
        self.in_features = _check_width("Layer.in_features", self.in_features, q * k, "q*k")
        self.out_features = _check_width("Layer.out_features", self.out_features, p * k, "p*k")

    @property
    def p(self) -> int:
        """Number of output blocks."""
        return int(self.weight.shape[0])

    @property
    def q(self) -> int:
        """Number of input blocks."""
        return int(self.weight.shape[1])

    @property
    def k(self) -> int:
        """Block size (a power of two)."""
        return int(self.weight.shape[2])

    @property
    def n_in(self) -> int:
        """Real input width: ``in_features``, or q*k when unpadded."""
        return self.in_features if self.in_features is not None else self.q * self.k

    @property
    def n_out(self) -> int:
        """Real output width: ``out_features``, or p*k when unpadded."""
        return self.out_features if self.out_features is not None else self.p * self.k


    #: what the bundle format calls this layer
    kind = "dense"
    #: a dense layer reads and writes vectors, no feature map
    in_shape = None
    out_shape = None


def _check_vector(label: str, value, length: int, lo: int, hi: int, what: str) -> tuple:
    arr = np.asarray(value)
    if arr.shape != (length,) or arr.dtype.kind not in "iu":
        raise _fail(label, f"expected {length} integers ({what}), got {arr.dtype} array of "
                           f"shape {arr.shape}")
    values = tuple(int(v) for v in arr)
    for v in values:
        if not lo <= v <= hi:
            raise _fail(label, f"expected {what} in {lo}..{hi}, got {values}")
    return values


def _check_in_shape(label: str, value) -> tuple[int, int, int]:
    arr = np.asarray(value)
    h, w, c = _check_vector(label, arr, 3, 1, max(MAX_MAP_SIDE, MAX_CHANNELS), "(H, W, C)")
    if h > MAX_MAP_SIDE or w > MAX_MAP_SIDE or c > MAX_CHANNELS:
        raise _fail(label, f"expected H, W in 1..{MAX_MAP_SIDE} and C in 1..{MAX_CHANNELS}, "
                           f"got {(h, w, c)}")
    return h, w, c


def _check_window(prefix: str, in_shape, kernel, stride, padding=(0, 0)):
    """Kernel, stride and padding of a window over ``in_shape``: each in range, the
    window no larger than the (padded) input, so the output is at least 1x1."""
    kernel = _check_vector(f"{prefix}kernel", kernel, 2, 1, MAX_KERNEL, "(KH, KW)")
    stride = _check_vector(f"{prefix}stride", stride, 2, 1, MAX_KERNEL, "(SH, SW), each >= 1")
    padding = _check_vector(f"{prefix}padding", padding, 2, 0, MAX_KERNEL - 1,
                            "(PH, PW), each >= 0")
    for side, pad, k, name in ((0, padding[0], kernel[0], "PH"), (1, padding[1], kernel[1], "PW")):
        if pad >= k:
            raise _fail(f"{prefix}padding", f"{name} = {pad} must be below the kernel side "
                                            f"{k} (rows of padding alone)")
    h, w, _ = in_shape
    if kernel[0] > h + 2 * padding[0] or kernel[1] > w + 2 * padding[1]:
        what = "padded input" if any(padding) else "input"
        raise _fail(f"{prefix}kernel", f"{kernel} is larger than the {what} "
                                       f"({h + 2 * padding[0]}, {w + 2 * padding[1]})")
    return kernel, stride, padding


@dataclass
class Conv2d:
    """A block-circulant convolution: ``W`` (p, q, k blocks) applied to every im2col
    patch of a channel-last feature map ``in_shape`` = (H, W, C_in).

    The patch of output pixel (oy, ox) has ``KH*KW*C_in`` values, index
    ``(kh*KW + kw)*C_in + c`` holding input (oy*SH + kh - PH, ox*SW + kw - PW),
    channel c, or 0 outside the map; it is zero-padded to q*k
    (``in_features`` = KH*KW*C_in says so when q*k is larger).  Output channels:
    the block-circulant product plus ``bias``, the activation, then the first
    ``out_features`` (C_out, default p*k).  Invalid values raise
    :class:`BundleError`.
    """

    weight: np.ndarray
    bias: np.ndarray
    activation: str
    in_shape: tuple
    kernel: tuple
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    in_features: int | None = None
    out_features: int | None = None

    kind = "conv2d"

    def __post_init__(self) -> None:
        self.check("Conv2d.")

    def check(self, prefix: str) -> None:
        """Every rule of one conv2d layer; ``prefix`` starts each message (a key's)."""
        self.weight = _check_weight(f"{prefix}weight", self.weight)
        p, q, k = self.weight.shape
        self.bias = _check_bias(f"{prefix}bias", self.bias, p, k)
        self.activation = _check_activation(f"{prefix}activation", self.activation)
        self.in_shape = _check_in_shape(f"{prefix}in_shape", self.in_shape)
        self.kernel, self.stride, self.padding = _check_window(
            prefix, self.in_shape, self.kernel, self.stride, self.padding)
        patch = self.patch
        if patch > q * k:
            raise _fail(f"{prefix}weight", f"q*k = {q}*{k} = {q * k} is less than the patch of "
                                           f"KH*KW*C_in = {patch} values")
        self.in_features = _check_width(f"{prefix}in_features", self.in_features, q * k, "q*k")
        if self.in_features is None and patch != q * k:
            raise _fail(f"{prefix}in_features", f"missing: the patch of KH*KW*C_in = {patch} "
                                                f"values is padded to q*k = {q * k}, so it must "
                                                f"say {patch}")
        if self.in_features is not None and self.in_features != patch:
            raise _fail(f"{prefix}in_features", f"must be KH*KW*C_in = {patch}, got "
                                                f"{self.in_features}")
        self.out_features = _check_width(f"{prefix}out_features", self.out_features, p * k, "p*k")

    p = Layer.p
    q = Layer.q
    k = Layer.k

    @property
    def patch(self) -> int:
        """Values of one im2col patch, KH*KW*C_in."""
        return self.kernel[0] * self.kernel[1] * self.in_shape[2]

    @property
    def n_in(self) -> int:
        """Values one patch row holds (KH*KW*C_in), as a dense layer's ``n_in``."""
        return self.patch

    def rows_layer(self) -> Layer:
        """The dense layer each patch row goes through (its in_features: the patch)."""
        return Layer(self.weight, self.bias, self.activation, self.in_features,
                     self.out_features)

    @property
    def channels_out(self) -> int:
        return self.out_features if self.out_features is not None else self.p * self.k

    @property
    def out_shape(self) -> tuple[int, int, int]:
        h, w, _ = self.in_shape
        return (conv_output_size(h, self.kernel[0], self.stride[0], self.padding[0]),
                conv_output_size(w, self.kernel[1], self.stride[1], self.padding[1]),
                self.channels_out)

    @property
    def n_out(self) -> int:
        return int(np.prod(self.out_shape))


@dataclass
class MaxPool2d:
    """The maximum over each KH x KW window of a channel-last feature map, channel by
    channel, windows every (SH, SW) pixels, no padding."""

    in_shape: tuple
    kernel: tuple
    stride: tuple

    kind = "maxpool2d"

    def __post_init__(self) -> None:
        self.check("MaxPool2d.")

    def check(self, prefix: str) -> None:
        self.in_shape = _check_in_shape(f"{prefix}in_shape", self.in_shape)
        self.kernel, self.stride, _ = _check_window(prefix, self.in_shape, self.kernel,
                                                    self.stride)

    @property
    def out_shape(self) -> tuple[int, int, int]:
        h, w, c = self.in_shape
        return (conv_output_size(h, self.kernel[0], self.stride[0]),
                conv_output_size(w, self.kernel[1], self.stride[1]), c)

    @property
    def n_in(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def n_out(self) -> int:
        return int(np.prod(self.out_shape))


BundleLayer = Layer | Conv2d | MaxPool2d


def _check_chain(layers: list) -> None:
    """Consecutive layers must fit: a layer reads exactly what the one before it
    writes (features, or a feature map of the same shape)."""
    for i in range(1, len(layers)):
        prev, cur = layers[i - 1], layers[i]
        if cur.kind != "dense":
            if prev.out_shape is not None and tuple(cur.in_shape) != tuple(prev.out_shape):
                raise _fail(f"bundle key l{i}_in_shape",
                            f"must be layer {i - 1}'s output feature map {prev.out_shape}, "
                            f"got {cur.in_shape}")
            if prev.out_shape is None and int(np.prod(cur.in_shape)) != prev.n_out:
                raise _fail(f"bundle key l{i}_in_shape",
                            f"holds {int(np.prod(cur.in_shape))} values but layer {i - 1} "
                            f"produces {prev.n_out}")
            continue
        if prev.out_shape is not None:            # a feature map, flattened in (h, w, c) order
            if cur.n_in != prev.n_out:
                key = "in_features" if cur.in_features is not None else "weight"
                raise _fail(f"bundle key l{i}_{key}",
                            f"layer {i} reads {cur.n_in} features but layer {i - 1} produces "
                            f"a {prev.out_shape} feature map of {prev.n_out} values")
            continue
        if cur.q * cur.k != prev.p * prev.k:
            raise _fail(
                f"bundle key l{i}_weight",
                f"layer {i} takes q*k = {cur.q}*{cur.k} = {cur.q * cur.k} inputs but layer {i - 1} "
                f"produces p*k = {prev.p}*{prev.k} = {prev.p * prev.k} outputs",
            )
        if cur.n_in != prev.n_out:
            # Covers both directions: a padded layer i must be followed by a
            # layer i+1 that declares the same in_features, and a layer i+1
            # that claims fewer real inputs than layer i produces would
            # silently read padding as data.
            if prev.out_features is not None:
                raise _fail(
                    f"bundle key l{i}_in_features",
                    f"must equal l{i - 1}_out_features = {prev.out_features}, got "
                    f"{'missing' if cur.in_features is None else cur.in_features}",
                )
            raise _fail(
                f"bundle key l{i}_in_features",
                f"layer {i - 1} has no out_features and produces all {prev.n_out} outputs, "
                f"but l{i}_in_features = {cur.in_features}",
            )


@dataclass
class Bundle:
    """A whole network: its layers in order plus circnn's own extra arrays.

    ``extra`` maps further keys (for example quantisation formats) to
    arrays; they are saved and loaded unchanged.  Their names must not be
    ``format``, ``layers`` or look like a layer key (``l<i>_...``), and they
    must not need pickling.  The layer chain is checked on construction.
    """

    layers: list[Layer]
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.layers = list(self.layers)
        if not self.layers:
            raise _fail("bundle key layers", "a bundle needs at least one layer")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, (Layer, Conv2d, MaxPool2d)):
                raise _fail(f"bundle key l{i}_weight", f"layer {i} is {type(layer).__name__}, "
                                                       f"not a Layer, Conv2d or MaxPool2d")
        _check_chain(self.layers)
        extra: dict[str, np.ndarray] = {}
        for key, value in dict(self.extra).items():
            if not isinstance(key, str) or not key:
                raise _fail(f"bundle key {key!r}", "extra keys must be non-empty strings")
            if _is_reserved(key):
                raise _fail(
                    f"bundle key {_show(key)}",
                    "reserved by the bundle format (format, layers, l<i>_..., in any case); "
                    "choose another name for an extra array",
                )
            arr = np.asarray(value)
            if arr.dtype.hasobject:
                raise _fail(f"bundle key {_show(key)}",
                            "object arrays cannot be stored without pickle")
            try:
                check_dtype(f"bundle key {_show(key)}", arr.dtype)
            except CircnnError as exc:
                raise BundleError(str(exc)) from None
            extra[key] = arr
        self.extra = extra

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def n_in(self) -> int:
        """Real input width of the network (values of its input feature map, if any)."""
        first = self.layers[0]
        return int(np.prod(first.in_shape)) if first.in_shape is not None else first.n_in

    @property
    def n_out(self) -> int:
        """Real output width of the network (values of its output feature map, if any)."""
        return self.layers[-1].n_out

    @property
    def in_shape(self) -> tuple | None:
        """The input feature map (H, W, C) when the first layer reads one, else None."""
        return self.layers[0].in_shape

    @property
    def out_shape(self) -> tuple | None:
        """The output feature map (H, W, C) when the last layer writes one, else None."""
        return self.layers[-1].out_shape

    @property
    def format(self) -> str:
        """``circnn-bundle/1`` for dense layers only, else ``circnn-bundle/2``."""
        return FORMAT_1 if all(layer.kind == "dense" for layer in self.layers) else FORMAT_2


def bundle_arrays(bundle: Bundle) -> dict[str, np.ndarray]:
    """The flat key -> array mapping that :func:`save_bundle` writes."""
    out: dict[str, np.ndarray] = {
        "format": np.array(bundle.format),
        "layers": np.array(len(bundle.layers), dtype=np.int64),
    }
    for i, layer in enumerate(bundle.layers):
        if bundle.format == FORMAT_2:
            out[f"l{i}_type"] = np.array(layer.kind)
        if layer.kind != "dense":
            out[f"l{i}_in_shape"] = np.array(layer.in_shape, dtype=np.int64)
            out[f"l{i}_kernel"] = np.array(layer.kernel, dtype=np.int64)
            out[f"l{i}_stride"] = np.array(layer.stride, dtype=np.int64)
        if layer.kind == "maxpool2d":
            continue
        if layer.kind == "conv2d":
            out[f"l{i}_padding"] = np.array(layer.padding, dtype=np.int64)
        out[f"l{i}_weight"] = np.asarray(layer.weight)
        out[f"l{i}_bias"] = np.asarray(layer.bias)
        out[f"l{i}_activation"] = np.array(layer.activation)
        if layer.in_features is not None:
            out[f"l{i}_in_features"] = np.array(layer.in_features, dtype=np.int64)
        if layer.out_features is not None:
            out[f"l{i}_out_features"] = np.array(layer.out_features, dtype=np.int64)
    out.update(bundle.extra)
    return out


# ---------------------------------------------------------------------------
# validation: one pass over a "source" that can tell an entry's declared
# dtype and shape before it hands out the data, so that a file's entries are
# checked from their headers before they are read (a plain mapping already
# holds its arrays and answers from them).
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    """What an entry declares: dtype, shape and bytes of data."""

    dtype: np.dtype
    shape: tuple[int, ...]
    nbytes: int


class _MappingSource:
    label = "bundle"

    def __init__(self, arrays: Mapping):
        self._arrays = arrays

    def keys(self) -> list:
        return list(self._arrays)

    def spec(self, key: str) -> _Spec:
        label = f"bundle key {_show(key)}"
        arr = np.asarray(self._arrays[key])
        try:
            check_dtype(label, arr.dtype)
            check_size(label, arr.size, arr.dtype.itemsize, f"shape {arr.shape}")
        except BundleError:
            raise
        except CircnnError as exc:
            raise BundleError(str(exc)) from None
        return _Spec(arr.dtype, arr.shape, arr.nbytes)

    def declared_size(self, key: str) -> int:
        return self.spec(key).nbytes

    def load(self, key: str):
        return self._arrays[key]


class _ArchiveSource:
    """Entries of an open :class:`circnn.arrays.NpzArchive`, read on request."""

    def __init__(self, archive):
        self._archive = archive
        self.label = archive.label

    def keys(self) -> list:
        return list(self._archive.keys)

    def spec(self, key: str) -> _Spec:
        h = self._archive.header(key)
        return _Spec(h.dtype, h.shape, h.nbytes)

    def declared_size(self, key: str) -> int:
        return self._archive.declared_size(key)

    def load(self, key: str):
        return self._archive.load(key)


def _check_scalar_spec(label: str, spec: _Spec, kinds: str, what: str) -> None:
    if spec.shape != () or spec.dtype.kind not in kinds:
        raise _fail(label, f"expected {what}, got {spec.dtype} array of shape {spec.shape}")
    if spec.nbytes > _MAX_SCALAR_BYTES:
        raise _fail(label, f"expected {what}, got a {spec.dtype} scalar of {spec.nbytes} bytes "
                           f"(at most {_MAX_SCALAR_BYTES})")


def _load_scalar(src, key: str, kinds: str, what: str):
    label = f"bundle key {key}"
    _check_scalar_spec(label, src.spec(key), kinds, what)
    return src.load(key)


def _checked(cls, prefix: str, **fields):
    """A ``cls`` layer of loaded values, checked with messages naming their keys
    (``prefix``: ``bundle key l<i>_``) instead of the class's own field names."""
    layer = cls.__new__(cls)
    layer.__dict__.update(fields)
    layer.check(prefix)
    return layer


def _validate(src) -> Bundle:
    keys = src.keys()
    for key in keys:
        if not isinstance(key, str):
            raise _fail(f"bundle key {key!r}", "keys must be strings")
    present = set(keys)

    # 1. names alone: look-alikes of format and layer keys are refused.
    layer_keys: dict[str, tuple[str, str]] = {}
    extras: list[str] = []
    for key in keys:
        parsed = _classify(key)
        if parsed is not None:
            layer_keys[key] = parsed
        elif key not in _TOP_KEYS:
            extras.append(key)

    # 2. the extra keys' size as declared (zip directory), before any is read.
    extra_sizes = {key: src.declared_size(key) for key in extras}
    if sum(extra_sizes.values()) > MAX_EXTRA_BYTES:
        big = max(extras, key=extra_sizes.__getitem__)
        raise _fail(f"bundle key {_show(big)}",
                    f"declares {extra_sizes[big]} bytes; the extra keys (other than format, "
                    f"layers and l<i>_...) declare {sum(extra_sizes.values())} bytes together, "
                    f"more than the cap of {MAX_EXTRA_BYTES} (circnn.bundle.MAX_EXTRA_BYTES)")

    # 3. format and layers, two small scalars.
    if "format" not in present:
        raise _fail("bundle key format", f"missing (expected one of {', '.join(FORMATS)})")
    fmt = _check_string("bundle key format", _load_scalar(src, "format", "US", "a string"))
    if fmt not in FORMATS:
        raise _fail("bundle key format", f"expected one of {', '.join(map(repr, FORMATS))}, "
                                         f"got {fmt!r}")
    if fmt == FORMAT_1:
        for key, (_digits, suffix) in layer_keys.items():
            if suffix in _FORMAT2_SUFFIXES:
                raise _fail(f"bundle key {_show(key)}",
                            f"a format-2 key in a {FORMAT_1} bundle (a bundle with "
                            f"l<i>_{suffix} keys must say format = {FORMAT_2!r})")

    if "layers" not in present:
        raise _fail("bundle key layers", "missing")
    n_layers = _check_int("bundle key layers", _load_scalar(src, "layers", "iu", "an integer"))
    if n_layers < 1:
        raise _fail("bundle key layers", f"expected a positive integer, got {n_layers}")
    if n_layers > MAX_LAYERS:
        raise _fail("bundle key layers", f"{n_layers} layers, more than the maximum of "
                                         f"{MAX_LAYERS} (circnn.bundle.MAX_LAYERS)")

    # 4. every layer key within range, and every layer present (its weight or its
    #    type): checked on the names present, before any per-layer name is built.
    for key, (digits, _suffix) in layer_keys.items():
        if len(digits) > len(str(MAX_LAYERS)) or int(digits) >= n_layers:
            raise _fail(f"bundle key {_show(key)}",
                        f"layer {_show(digits)} does not exist (layers = {n_layers})")
    named = {int(digits) for digits, suffix in layer_keys.values() if suffix in ("weight", "type")}
    if len(named) < n_layers:
        first = min(set(range(n_layers)) - named)
        raise _fail("bundle key layers",
                    f"says {n_layers} layers but the bundle holds {len(named)} layers with an "
                    f"l<i>_weight or l<i>_type key (l{first}_weight is missing)")

    # 5. each layer's type, then the declared dtype and shape of every entry
    #    (headers only), then the total declared size.
    total = 0
    largest = ("format", 0)
    types: list[str] = []
    shapes: list[tuple[int, int, int] | None] = []

    def count(key: str, spec: _Spec) -> None:
        nonlocal total, largest
        total += spec.nbytes
        if spec.nbytes > largest[1]:
            largest = (key, spec.nbytes)

    for i in range(n_layers):
        kind = "dense"
        if f"l{i}_type" in present:
            key = f"l{i}_type"
            kind = _check_string(f"bundle key {key}", _load_scalar(src, key, "US", "a string"))
            if kind not in LAYER_TYPES:
                raise _fail(f"bundle key {key}", f"expected one of "
                                                 f"{', '.join(map(repr, LAYER_TYPES))}, got {kind!r}")
        types.append(kind)
        required, optional = _TYPE_KEYS[kind]
        for s in required:
            if f"l{i}_{s}" not in present:
                raise _fail(f"bundle key l{i}_{s}", f"missing (a {kind} layer needs "
                                                    f"{', '.join('l%d_%s' % (i, r) for r in required)})")
        for s in _LAYER_SUFFIXES:
            if f"l{i}_{s}" in present and s not in required + optional:
                raise _fail(f"bundle key l{i}_{s}", f"not a key of a {kind} layer (its keys: "
                                                    f"{', '.join(required + optional)})")
        for s in _GEOMETRY_LENGTH:
            key = f"l{i}_{s}"
            if key in present:
                spec = src.spec(key)
                n = _GEOMETRY_LENGTH[s]
                if spec.shape != (n,) or spec.dtype.kind not in "iu":
                    raise _fail(f"bundle key {key}", f"expected {n} integers, got {spec.dtype} "
                                                     f"array of shape {spec.shape}")
                count(key, spec)
        if kind == "maxpool2d":
            shapes.append(None)
            continue
        key = f"l{i}_weight"
        spec = src.spec(key)
        _check_weight_shape(f"bundle key {key}", spec.shape)
        _check_float_kind(f"bundle key {key}", spec.dtype, "shape (p, q, k)")
        count(key, spec)
        p, q, k = spec.shape
        shapes.append((p, q, k))
        key = f"l{i}_bias"
        spec = src.spec(key)
        _check_bias_shape(f"bundle key {key}", spec.shape, p, k)
        _check_float_kind(f"bundle key {key}", spec.dtype, f"shape ({p * k},)")
        count(key, spec)
        key = f"l{i}_activation"
        spec = src.spec(key)
        _check_scalar_spec(f"bundle key {key}", spec, "US", "a string")
        count(key, spec)
        for s in _OPTIONAL_SUFFIXES:
            key = f"l{i}_{s}"
            if key in present:
                spec = src.spec(key)
                _check_scalar_spec(f"bundle key {key}", spec, "iu", "an integer")
                count(key, spec)
    for key in extras:
        count(key, src.spec(key))
    if total > MAX_BUNDLE_BYTES:
        raise _fail(src.label, f"its arrays declare {total} bytes of data together, more than "
                               f"the cap of {MAX_BUNDLE_BYTES} (circnn.bundle.MAX_BUNDLE_BYTES); "
                               f"largest: bundle key {_show(largest[0])} ({largest[1]} bytes)")

    # 6. the data, value by value.
    layers: list = []
    for i, (kind, shape) in enumerate(zip(types, shapes)):
        prefix = f"bundle key l{i}_"

        def value(s, default=None):
            return src.load(f"l{i}_{s}") if f"l{i}_{s}" in present else default
        if kind == "maxpool2d":
            layers.append(_checked(MaxPool2d, prefix, in_shape=value("in_shape"),
                                   kernel=value("kernel"), stride=value("stride")))
            continue
        p, q, k = shape
        weight = _check_weight(f"{prefix}weight", value("weight"))
        bias = _check_bias(f"{prefix}bias", value("bias"), p, k)
        act = _check_activation(f"{prefix}activation", value("activation"))
        widths = [None if value(s) is None else _check_int(f"{prefix}{s}", value(s))
                  for s in _OPTIONAL_SUFFIXES]
        if kind == "conv2d":
            layers.append(_checked(
                Conv2d, prefix, weight=weight, bias=bias, activation=act,
                in_shape=value("in_shape"), kernel=value("kernel"),
                stride=value("stride", np.array([1, 1])),
                padding=value("padding", np.array([0, 0])),
                in_features=widths[0], out_features=widths[1]))
            continue
        checked = [_check_width(f"{prefix}{s}", w, upper, what) for s, w, upper, what in
                   zip(_OPTIONAL_SUFFIXES, widths, (q * k, p * k), ("q*k", "p*k"))]
        layers.append(Layer(weight, bias, act, *checked))

    extra = {key: src.load(key) for key in extras}
    return Bundle(layers, extra)


def validate_bundle(arrays: Mapping[str, np.ndarray]) -> Bundle:
    """Check a key -> array mapping against every rule of the format and
    return it as a :class:`Bundle`.

    Raises :class:`BundleError` naming the first offending key.  Keys that
    are neither format keys nor layer keys (in any spelling) are returned in
    ``extra``.  The limits :data:`MAX_LAYERS`, :data:`MAX_EXTRA_BYTES`,
    :data:`MAX_BUNDLE_BYTES` and the per-array caps of :mod:`circnn.arrays`
    apply here too, so that :func:`save_bundle` never writes a bundle that
    :func:`load_bundle` would refuse.
    """
    return _validate(_MappingSource(arrays))


def load_bundle(path: str | os.PathLike) -> Bundle:
    """Read and validate a bundle file (never unpickles anything).

    Only the entries the format knows are opened, each after its header was
    checked; see the module docstring for the order of the checks.
    """
    try:
        with open_npz(path, "bundle",
                      entry_label=lambda key: f"bundle key {_show(key)}") as archive:
            return _validate(_ArchiveSource(archive))
    except BundleError:
        raise
    except CircnnError as exc:
        raise BundleError(str(exc)) from None


def save_bundle(path: str | os.PathLike, bundle: Bundle) -> None:
    """Write ``bundle`` to ``path`` atomically.

    The data go to a temporary file in the same folder, which is flushed to
    disk and then renamed over ``path``: a reader (or a crash) sees either
    the old file or the complete new one, never half a bundle.  The file is
    written exactly at ``path`` (no ``.npz`` suffix is added).  The bundle
    is re-validated first, because dataclass fields can be changed after
    construction.
    """
    if not isinstance(bundle, Bundle):
        raise TypeError(f"save_bundle expects a Bundle, got {type(bundle).__name__}")
    arrays = bundle_arrays(bundle)
    validate_bundle(arrays)
    path = Path(path)
    folder = path.parent
    tmp = folder / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    # os.open with mode 0o666 lets the umask decide the final permissions,
    # as for a file created normally (mkstemp would force 0o600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
