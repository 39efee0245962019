"""Data sets for the training demos: 8x8 digits (bundled) and MNIST (local files).

Nothing here downloads anything.  The 8x8 digits ship with scikit-learn;
MNIST is read from IDX files that the user already has.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from .arrays import check_size
from .errors import CircnnError

__all__ = ["load_digits_split", "stratified_split", "read_idx", "load_mnist_idx",
           "MNIST_FILES", "IDX_IMAGES_MAGIC", "IDX_LABELS_MAGIC"]

#: Magic numbers of the two IDX variants MNIST uses: two zero bytes, the
#: element type (0x08 = unsigned byte) and the number of dimensions.
IDX_IMAGES_MAGIC = 0x00000803
IDX_LABELS_MAGIC = 0x00000801

#: The four standard MNIST file names (each may also end in ``.gz``).
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def stratified_split(y, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test index arrays (sorted) with every class split in the same proportion.

    For each class, in increasing label order, its indices are shuffled by
    ``numpy.random.default_rng(seed)`` and the first
    ``round(count * test_fraction)`` go to the test set.  Written here
    rather than borrowed from scikit-learn so that the split depends only
    on NumPy's documented generator and stays the same across library
    versions.
    """
    if not 0.0 < test_fraction < 1.0:
        raise CircnnError(f"test_fraction must lie strictly between 0 and 1, not {test_fraction}")
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    test = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        rng.shuffle(members)
        test.append(members[:int(round(len(members) * test_fraction))])
    test_idx = np.sort(np.concatenate(test))
    mask = np.ones(len(y), dtype=bool)
    mask[test_idx] = False
    return np.flatnonzero(mask), test_idx


def load_digits_split(seed: int = 0, test_fraction: float = 0.25):
    """scikit-learn's 8x8 handwritten digits, scaled and split.

    1797 images of 64 pixels with values 0..16, divided by 16 into [0, 1];
    labels 0..9.  The split is :func:`stratified_split` with ``seed`` and
    ``test_fraction`` (the defaults give 1347 training and 450 test
    samples), so a given seed always yields the same sets.

    Returns ``(x_train, y_train, x_test, y_test)``: float64 ``(n, 64)``
    arrays and int64 label vectors.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # scikit-learn is only needed for this data set
        raise CircnnError("the digits data set needs scikit-learn (pip install scikit-learn)") \
            from exc
    data = load_digits()
    x = np.asarray(data.data, dtype=np.float64) / 16.0
    y = np.asarray(data.target, dtype=np.int64)
    train_idx, test_idx = stratified_split(y, test_fraction, seed)
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


_GZ_CHUNK = 1 << 20     # bytes decompressed per read from a .gz IDX file


def _open_idx(path: Path):
    """The IDX file as a binary stream (decompressed on the fly for ``.gz``)."""
    try:
        if path.name.endswith(".gz"):
            return gzip.open(path, "rb")
        return open(path, "rb")
    except OSError as exc:
        raise CircnnError(f"{path}: cannot read: {exc}") from exc


def _read_at_most(f, n: int, path: Path) -> bytes:
    try:
        return f.read(n)
    except (OSError, EOFError, zlib.error) as exc:
        # gzip.BadGzipFile is an OSError; a cut-off gzip stream is an EOFError.
        raise CircnnError(f"{path}: cannot read: {exc}") from exc


def read_idx(path, expected_magic: int | None = None) -> np.ndarray:
    """Parse one IDX file of unsigned bytes into a ``uint8`` array.

    Layout: a 32-bit big-endian magic number ``0x000008NN`` (``NN`` the
    number of dimensions), ``NN`` big-endian 32-bit sizes, then the
    elements in row-major order.  Only the unsigned-byte element type is
    accepted (all of MNIST uses it).  Wrong magic, a short header, a zero
    dimension (no images), dimensions whose product exceeds the caps of
    :mod:`circnn.arrays` (``MAX_ELEMENTS``, ``MAX_BYTES``), missing data or
    trailing bytes raise :class:`CircnnError` naming the file.  The header
    is checked before the data are read: a plain file against its size on
    disk; a ``.gz`` file is decompressed in 1 MiB pieces, no further than
    the declared size plus one byte, so memory follows the data present,
    not the header's claim.
    """
    path = Path(path)
    with _open_idx(path) as f:
        raw = _read_at_most(f, 4, path)
        if len(raw) < 4:
            raise CircnnError(f"{path}: truncated IDX header ({len(raw)} bytes)")
        magic = int.from_bytes(raw, "big")
        if expected_magic is not None and magic != expected_magic:
            raise CircnnError(f"{path}: wrong magic number 0x{magic:08x}, "
                              f"expected 0x{expected_magic:08x}")
        if magic >> 8 != 0x08 or not 1 <= (magic & 0xFF) <= 8:
            raise CircnnError(f"{path}: wrong magic number 0x{magic:08x} "
                              "(not an unsigned-byte IDX file)")
        ndim = magic & 0xFF
        header = 4 + 4 * ndim
        raw += _read_at_most(f, header - 4, path)
        if len(raw) < header:
            raise CircnnError(f"{path}: truncated IDX header ({len(raw)} of {header} bytes)")
        dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
        if 0 in dims:
            raise CircnnError(f"{path}: empty IDX data: dimensions {dims} "
                              "(every dimension must be at least 1; no images or labels)")
        size = math.prod(dims)              # a Python int: no overflow
        check_size(str(path), size, 1, f"IDX dimensions {dims}")
        if not path.name.endswith(".gz"):
            have = os.fstat(f.fileno()).st_size - header
            if have != size:
                _wrong_size(path, have, size, dims)
            data = _read_at_most(f, size, path)
        else:
            # the decompressed size is unknown until read: grow with the data
            # that really come, never by what the header claims
            chunks, got = [], 0
            while got < size:
                chunk = _read_at_most(f, min(_GZ_CHUNK, size - got), path)
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
            data = b"".join(chunks)
            del chunks
        extra = _read_at_most(f, 1, path)
    if len(data) != size or extra:
        _wrong_size(path, len(data) + len(extra), size, dims)
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def _wrong_size(path: Path, have: int, size: int, dims: tuple[int, ...]):
    if have < size:
        raise CircnnError(f"{path}: truncated data: {have} bytes for dimensions {dims} "
                          f"({size} expected)")
    count = "" if path.name.endswith(".gz") else f"{have - size} "   # .gz: read one byte past
    raise CircnnError(f"{path}: {count}unexpected bytes after the data of dimensions {dims}")


def _find(directory: Path, name: str) -> Path:
    for candidate in (directory / name, directory / (name + ".gz")):
        if candidate.is_file():
            return candidate
    raise CircnnError(f"{directory / name}: missing MNIST file (also looked for {name}.gz)")


def load_mnist_idx(directory, dtype=np.float64):
    """MNIST from its four standard IDX files in ``directory`` (plain or ``.gz``).

    Images are flattened to 784 values and scaled to [0, 1] (divided by
    255); labels are int64.  Returns ``(x_train, y_train, x_test, y_test)``.
    ``dtype`` may be set to ``np.float32`` to halve the memory of the
    60000 x 784 training matrix.  Never downloads: a missing directory or
    file is an error that names it.
    """
    directory = Path(os.fspath(directory))
    if not directory.is_dir():
        raise CircnnError(f"{directory}: MNIST directory does not exist")
    out = []
    for split in ("train", "test"):
        img_path = _find(directory, MNIST_FILES[f"{split}_images"])
        lab_path = _find(directory, MNIST_FILES[f"{split}_labels"])
        images = read_idx(img_path, IDX_IMAGES_MAGIC)
        labels = read_idx(lab_path, IDX_LABELS_MAGIC)
        if len(images) != len(labels):
            raise CircnnError(f"{img_path}: {len(images)} images but {lab_path} "
                              f"has {len(labels)} labels")
        x = images.reshape(len(images), -1).astype(dtype) / np.dtype(dtype).type(255)
        out += [x, labels.astype(np.int64)]
    return tuple(out)
