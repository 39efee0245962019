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
kept in :attr:`Bundle.extra` and must not look like layer keys.

Bundles come from anywhere (PyTorch, JAX, hand-written NumPy), so every rule
is checked on load and a refusal raises :class:`circnn.errors.BundleError`
whose message names the offending key.  Files are read with
``allow_pickle=False``: a bundle is data, never code.
"""

from __future__ import annotations

import os
import re
import secrets
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from circnn.errors import BundleError

from circnn.sim.model.circulant import is_power_of_two

__all__ = [
    "FORMAT",
    "ACTIVATIONS",
    "Layer",
    "Bundle",
    "load_bundle",
    "save_bundle",
    "validate_bundle",
    "bundle_arrays",
]

FORMAT = "circnn-bundle/1"
ACTIVATIONS = ("relu", "none")

_REQUIRED_SUFFIXES = ("weight", "bias", "activation")
_OPTIONAL_SUFFIXES = ("in_features", "out_features")
_LAYER_SUFFIXES = _REQUIRED_SUFFIXES + _OPTIONAL_SUFFIXES
# Anything of the form l<digits>_... is reserved for layer data, so that a
# typo such as "l0_wieght" or a stray "l3_weight" is caught instead of being
# silently carried along as an extra key.
_LAYER_KEY_RE = re.compile(r"^l\d+_")
_TOP_KEYS = ("format", "layers")


def _fail(label: str, msg: str) -> BundleError:
    return BundleError(f"{label}: {msg}")


def _is_reserved(key: str) -> bool:
    return key in _TOP_KEYS or bool(_LAYER_KEY_RE.match(key))


# ---------------------------------------------------------------------------
# value checkers: each takes the label to put in its error message, so the
# same rule gives "bundle key l1_weight: ..." on load and "Layer.weight: ..."
# when a Layer is built in Python.
# ---------------------------------------------------------------------------


def _check_float_array(label: str, value, what: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind != "f":
        raise _fail(label, f"expected a float array of {what}, got dtype {arr.dtype}")
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise _fail(label, f"contains NaN or inf (first at index {idx}: {arr[idx]})")
    # float64 throughout: numpy.fft would keep float32 in complex64 and make
    # the golden model coarser than the fixed-point models it judges.
    return arr.astype(np.float64, copy=False)


def _check_weight(label: str, value) -> np.ndarray:
    arr = np.asarray(value)
    shape_ok = (
        arr.ndim == 3
        and arr.shape[0] >= 1
        and arr.shape[1] >= 1
        and is_power_of_two(arr.shape[2])
        and arr.shape[2] >= 2
    )
    if not shape_ok:
        raise _fail(
            label,
            f"expected shape (p, q, k) with p, q >= 1 and k a power of two >= 2, got {arr.shape}",
        )
    return _check_float_array(label, arr, "shape (p, q, k)")


def _check_bias(label: str, value, p: int, k: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.shape != (p * k,):
        raise _fail(label, f"expected shape (p*k,) = ({p * k},), got {arr.shape}")
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


def _check_chain(layers: list[Layer]) -> None:
    """Consecutive layers must fit: same padded width and same real width."""
    for i in range(1, len(layers)):
        prev, cur = layers[i - 1], layers[i]
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
            if not isinstance(layer, Layer):
                raise _fail(f"bundle key l{i}_weight", f"layer {i} is {type(layer).__name__}, not a Layer")
        _check_chain(self.layers)
        extra: dict[str, np.ndarray] = {}
        for key, value in dict(self.extra).items():
            if not isinstance(key, str) or not key:
                raise _fail(f"bundle key {key!r}", "extra keys must be non-empty strings")
            if _is_reserved(key):
                raise _fail(
                    f"bundle key {key}",
                    "reserved by the bundle format (format, layers, l<i>_...); "
                    "choose another name for an extra array",
                )
            arr = np.asarray(value)
            if arr.dtype.hasobject:
                raise _fail(f"bundle key {key}", "object arrays cannot be stored without pickle")
            extra[key] = arr
        self.extra = extra

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def n_in(self) -> int:
        """Real input width of the network."""
        return self.layers[0].n_in

    @property
    def n_out(self) -> int:
        """Real output width of the network."""
        return self.layers[-1].n_out


def bundle_arrays(bundle: Bundle) -> dict[str, np.ndarray]:
    """The flat key -> array mapping that :func:`save_bundle` writes."""
    out: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "layers": np.array(len(bundle.layers), dtype=np.int64),
    }
    for i, layer in enumerate(bundle.layers):
        out[f"l{i}_weight"] = np.asarray(layer.weight)
        out[f"l{i}_bias"] = np.asarray(layer.bias)
        out[f"l{i}_activation"] = np.array(layer.activation)
        if layer.in_features is not None:
            out[f"l{i}_in_features"] = np.array(layer.in_features, dtype=np.int64)
        if layer.out_features is not None:
            out[f"l{i}_out_features"] = np.array(layer.out_features, dtype=np.int64)
    out.update(bundle.extra)
    return out


def validate_bundle(arrays: Mapping[str, np.ndarray]) -> Bundle:
    """Check a key -> array mapping against every rule of the format and
    return it as a :class:`Bundle`.

    Raises :class:`BundleError` naming the first offending key.  Keys that
    are neither format keys nor layer-like are returned in ``extra``.
    """
    for key in arrays:
        if not isinstance(key, str):
            raise _fail(f"bundle key {key!r}", "keys must be strings")

    if "format" not in arrays:
        raise _fail("bundle key format", f"missing (expected {FORMAT!r})")
    fmt = _check_string("bundle key format", arrays["format"])
    if fmt != FORMAT:
        raise _fail("bundle key format", f"expected {FORMAT!r}, got {fmt!r}")

    if "layers" not in arrays:
        raise _fail("bundle key layers", "missing")
    n_layers = _check_int("bundle key layers", arrays["layers"])
    if n_layers < 1:
        raise _fail("bundle key layers", f"expected a positive integer, got {n_layers}")

    expected = {f"l{i}_{s}" for i in range(n_layers) for s in _LAYER_SUFFIXES}
    for key in arrays:
        if _LAYER_KEY_RE.match(key) and key not in expected:
            m = re.match(r"^l(\d+)_(.*)$", key)
            idx, suffix = int(m.group(1)), m.group(2)
            if suffix in _LAYER_SUFFIXES and idx >= n_layers:
                why = f"layer {idx} does not exist (layers = {n_layers})"
            elif suffix in _LAYER_SUFFIXES:
                why = f"not a canonical layer key (expected l{idx}_{suffix})"
            else:
                why = f"unknown layer key suffix {suffix!r} (expected one of {', '.join(_LAYER_SUFFIXES)})"
            raise _fail(f"bundle key {key}", why)

    layers: list[Layer] = []
    for i in range(n_layers):
        for s in _REQUIRED_SUFFIXES:
            if f"l{i}_{s}" not in arrays:
                raise _fail(f"bundle key l{i}_{s}", "missing")
        weight = _check_weight(f"bundle key l{i}_weight", arrays[f"l{i}_weight"])
        p, q, k = weight.shape
        bias = _check_bias(f"bundle key l{i}_bias", arrays[f"l{i}_bias"], p, k)
        act = _check_activation(f"bundle key l{i}_activation", arrays[f"l{i}_activation"])
        n_in = _check_width(f"bundle key l{i}_in_features", arrays.get(f"l{i}_in_features"), q * k, "q*k")
        n_out = _check_width(f"bundle key l{i}_out_features", arrays.get(f"l{i}_out_features"), p * k, "p*k")
        layers.append(Layer(weight, bias, act, n_in, n_out))

    extra = {key: value for key, value in arrays.items() if not _is_reserved(key)}
    return Bundle(layers, extra)


def load_bundle(path: str | os.PathLike) -> Bundle:
    """Read and validate a bundle file (never unpickles anything)."""
    path = Path(path)
    label = f"bundle file {str(path)!r}"
    if not path.exists():
        raise _fail(label, "not found")
    if not path.is_file():
        raise _fail(label, "not a regular file")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise _fail(label, f"not a NumPy .npz file ({exc})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise _fail(label, "holds a single .npy array, not an .npz bundle")
    arrays: dict[str, np.ndarray] = {}
    with loaded:
        for key in loaded.files:
            try:
                arrays[key] = loaded[key]
            except ValueError as exc:
                # Object arrays are refused by allow_pickle=False on access.
                raise _fail(f"bundle key {key}", f"cannot be read without pickle ({exc})") from None
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                raise _fail(f"bundle key {key}", f"corrupt entry ({exc})") from None
    return validate_bundle(arrays)


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
