"""Tests of circnn.datasets: the digits split and the MNIST IDX reader.

The IDX tests write their own small files into ``tmp_path``; nothing is
downloaded.
"""

import gzip

import numpy as np
import pytest

from circnn import arrays, datasets
from circnn.datasets import (
    IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, MNIST_FILES, load_digits_split, load_mnist_idx,
    read_idx, stratified_split,
)
from circnn.errors import CircnnError

from refusals import refused_cheaply

# --------------------------------------------------------------------------
# digits


def test_digits_shapes_types_and_range():
    x_train, y_train, x_test, y_test = load_digits_split()
    assert x_train.shape == (1347, 64) and x_test.shape == (450, 64)
    assert y_train.shape == (1347,) and y_test.shape == (450,)
    assert x_train.dtype == x_test.dtype == np.float64
    assert y_train.dtype == y_test.dtype == np.int64
    for x in (x_train, x_test):
        assert x.min() == 0.0 and x.max() == 1.0
    assert set(np.unique(y_train)) == set(np.unique(y_test)) == set(range(10))


def test_digits_split_is_a_partition_of_the_data_set():
    from sklearn.datasets import load_digits
    full = load_digits()
    x_train, y_train, x_test, y_test = load_digits_split(seed=3)
    together = np.concatenate([x_train, x_test]) * 16
    rows = {tuple(r) for r in full.data}
    assert len(together) == len(full.data)
    assert {tuple(r) for r in together} == rows   # every image appears, on one side
    assert np.bincount(np.concatenate([y_train, y_test])).tolist() == \
        np.bincount(full.target).tolist()


def test_digits_split_is_reproducible_and_seeded():
    a = load_digits_split(seed=7)
    b = load_digits_split(seed=7)
    c = load_digits_split(seed=8)
    for u, v in zip(a, b):
        assert np.array_equal(u, v)
    assert not np.array_equal(a[2], c[2])


@pytest.mark.parametrize("fraction", [0.25, 0.1, 0.5])
def test_digits_split_is_stratified(fraction):
    _, y_train, _, y_test = load_digits_split(seed=1, test_fraction=fraction)
    for label in range(10):
        n_test = np.sum(y_test == label)
        n_all = n_test + np.sum(y_train == label)
        assert abs(n_test - fraction * n_all) <= 0.5   # rounded per class
    assert abs(len(y_test) / (len(y_test) + len(y_train)) - fraction) < 0.01


def test_stratified_split_indices_and_bad_fraction(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, size=101)
    train_idx, test_idx = stratified_split(y, 0.3, seed)
    assert np.array_equal(np.sort(np.concatenate([train_idx, test_idx])), np.arange(101))
    assert np.all(np.diff(test_idx) > 0) and np.all(np.diff(train_idx) > 0)
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(CircnnError, match="test_fraction"):
            stratified_split(y, bad, 0)


# --------------------------------------------------------------------------
# IDX / MNIST

def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """Encode a uint8 array as IDX: magic, big-endian uint32 sizes, data."""
    if magic is None:
        magic = 0x00000800 | array.ndim
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write(path, data: bytes, gz: bool = False):
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def make_mnist(directory, rng, n_train=12, n_test=5, rows=4, cols=3, gz=False):
    """Write a tiny MNIST-shaped set; returns the arrays written."""
    arrays = {
        "train_images": rng.integers(0, 256, size=(n_train, rows, cols), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, size=n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, size=(n_test, rows, cols), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, size=n_test, dtype=np.uint8),
    }
    arrays["train_images"][0, 0, 0] = 255                  # make the scaling visible
    for key, arr in arrays.items():
        write(directory / MNIST_FILES[key], idx_bytes(arr), gz=gz)
    return arrays


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_idx_reads_what_was_written(tmp_path, seed, gz):
    rng = np.random.default_rng(seed)
    arrays = make_mnist(tmp_path, rng, gz=gz)
    x_train, y_train, x_test, y_test = load_mnist_idx(tmp_path)
    assert x_train.shape == (12, 12) and x_test.shape == (5, 12)
    assert x_train.dtype == np.float64 and y_train.dtype == np.int64
    np.testing.assert_array_equal(x_train * 255, arrays["train_images"].reshape(12, 12))
    np.testing.assert_array_equal(x_test * 255, arrays["test_images"].reshape(5, 12))
    np.testing.assert_array_equal(y_train, arrays["train_labels"])
    np.testing.assert_array_equal(y_test, arrays["test_labels"])
    assert 0.0 <= x_train.min() and x_train.max() == 1.0


def test_load_mnist_idx_mixed_plain_and_gz_and_float32(tmp_path, seed):
    rng = np.random.default_rng(seed)
    arrays = make_mnist(tmp_path, rng)
    # replace one file by its gz variant only
    plain = tmp_path / MNIST_FILES["test_labels"]
    write(plain, plain.read_bytes(), gz=True)
    plain.unlink()
    x_train, _, _, y_test = load_mnist_idx(tmp_path, dtype=np.float32)
    assert x_train.dtype == np.float32
    np.testing.assert_array_equal(y_test, arrays["test_labels"])


def test_read_idx_generic_dimensions(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = write(tmp_path / "cube", idx_bytes(arr))
    np.testing.assert_array_equal(read_idx(path), arr)
    np.testing.assert_array_equal(read_idx(path, IDX_IMAGES_MAGIC), arr)


def test_missing_directory(tmp_path):
    missing = tmp_path / "no-such-dir"
    with pytest.raises(CircnnError, match="no-such-dir"):
        load_mnist_idx(missing)


@pytest.mark.parametrize("key", list(MNIST_FILES))
def test_missing_file(tmp_path, key):
    make_mnist(tmp_path, np.random.default_rng(0))
    (tmp_path / MNIST_FILES[key]).unlink()
    with pytest.raises(CircnnError, match=MNIST_FILES[key]):
        load_mnist_idx(tmp_path)


@pytest.mark.parametrize("key,magic", [
    ("train_images", IDX_LABELS_MAGIC),    # labels magic on an images file
    ("test_labels", IDX_IMAGES_MAGIC),
    ("train_labels", 0x12345678),
])
def test_wrong_magic(tmp_path, key, magic):
    arrays = make_mnist(tmp_path, np.random.default_rng(0))
    bad = idx_bytes(arrays[key])
    write(tmp_path / MNIST_FILES[key], magic.to_bytes(4, "big") + bad[4:])
    with pytest.raises(CircnnError, match=f"{MNIST_FILES[key]}.*magic"):
        load_mnist_idx(tmp_path)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("cut", [3, 9, -1])     # in the magic, in the sizes, in the data
def test_truncated_file(tmp_path, gz, cut):
    arrays = make_mnist(tmp_path, np.random.default_rng(0))
    name = MNIST_FILES["test_images"]
    (tmp_path / name).unlink()
    write(tmp_path / name, idx_bytes(arrays["test_images"])[:cut], gz=gz)
    with pytest.raises(CircnnError, match=f"{name}.*truncated"):
        load_mnist_idx(tmp_path)


def test_trailing_bytes(tmp_path):
    arrays = make_mnist(tmp_path, np.random.default_rng(0))
    name = MNIST_FILES["train_labels"]
    write(tmp_path / name, idx_bytes(arrays["train_labels"]) + b"\x00")
    with pytest.raises(CircnnError, match=f"{name}.*unexpected bytes"):
        load_mnist_idx(tmp_path)


def test_corrupt_gzip(tmp_path):
    make_mnist(tmp_path, np.random.default_rng(0))
    name = MNIST_FILES["train_images"]
    (tmp_path / name).unlink()
    (tmp_path / (name + ".gz")).write_bytes(b"this is not gzip data")
    with pytest.raises(CircnnError, match=name):
        load_mnist_idx(tmp_path)


def test_cut_gzip_stream(tmp_path):
    arrays = make_mnist(tmp_path, np.random.default_rng(0))
    name = MNIST_FILES["train_images"]
    (tmp_path / name).unlink()
    packed = gzip.compress(idx_bytes(arrays["train_images"]))
    (tmp_path / (name + ".gz")).write_bytes(packed[:len(packed) // 2])
    with pytest.raises(CircnnError, match=name):
        load_mnist_idx(tmp_path)


@pytest.mark.parametrize("split", ["train", "test"])
def test_count_mismatch(tmp_path, split):
    arrays = make_mnist(tmp_path, np.random.default_rng(0))
    key = f"{split}_labels"
    write(tmp_path / MNIST_FILES[key], idx_bytes(arrays[key][:-1]))
    with pytest.raises(CircnnError, match=MNIST_FILES[f"{split}_images"]) as info:
        load_mnist_idx(tmp_path)
    assert MNIST_FILES[key] in str(info.value) and "labels" in str(info.value)


# --------------------------------------------------------------------------
# IDX headers that declare nothing, or far more than the file holds


def idx_header(magic: int, dims) -> bytes:
    return magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in dims)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("key,dims", [
    ("train_images", (0, 4, 3)),
    ("train_labels", (0,)),
    ("test_images", (5, 0, 3)),
])
def test_empty_idx_refused(tmp_path, gz, key, dims):
    make_mnist(tmp_path, np.random.default_rng(0))
    name = MNIST_FILES[key]
    (tmp_path / name).unlink()
    magic = IDX_LABELS_MAGIC if len(dims) == 1 else IDX_IMAGES_MAGIC
    write(tmp_path / name, idx_header(magic, dims), gz=gz)
    msg = refused_cheaply(lambda: load_mnist_idx(tmp_path), name, "empty IDX data",
                        f"dimensions {dims}")
    assert msg.startswith(str(tmp_path / name))


def test_all_empty_mnist_refused(tmp_path):
    """Zero images and zero labels agree in count, but are still no data set."""
    for key, dims in (("train_images", (0, 28, 28)), ("train_labels", (0,)),
                      ("test_images", (0, 28, 28)), ("test_labels", (0,))):
        magic = IDX_LABELS_MAGIC if key.endswith("labels") else IDX_IMAGES_MAGIC
        write(tmp_path / MNIST_FILES[key], idx_header(magic, dims))
    refused_cheaply(lambda: load_mnist_idx(tmp_path), MNIST_FILES["train_images"], "empty IDX data")


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dims,count", [
    ((2**32 - 1,) * 3, (2**32 - 1) ** 3),      # ~7.9e28: overflows int64
    ((2**31, 2**31, 4), 2**64),                # wraps to exactly 0 in int64
    ((60000, 2**16, 2**16), 60000 * 2**32),    # fits int64, far over the cap
    ((2**15, 2**14 + 1), 2**15 * (2**14 + 1)), # just over MAX_ELEMENTS = 2**28
])
def test_idx_dimensions_over_the_cap(tmp_path, gz, dims, count):
    path = write(tmp_path / "huge", idx_header(IDX_IMAGES_MAGIC if len(dims) == 3 else 0x0802, dims)
                 + bytes(16), gz=gz)
    refused_cheaply(lambda: read_idx(path), path.name, f"IDX dimensions {dims}",
                  f"declares {count} elements", "circnn.arrays.MAX_ELEMENTS")


def test_idx_cap_is_the_arrays_cap(tmp_path, monkeypatch):
    arr = np.zeros((4, 5, 6), dtype=np.uint8)
    path = write(tmp_path / "cube", idx_bytes(arr))
    np.testing.assert_array_equal(read_idx(path), arr)
    monkeypatch.setattr(arrays, "MAX_ELEMENTS", 119)
    refused_cheaply(lambda: read_idx(path), "cube", "declares 120 elements")


@pytest.mark.parametrize("gz", [False, True])
def test_idx_dimensions_beyond_the_file_refused_before_reading(tmp_path, gz):
    # 60000 x 64 x 64 = 245,760,000 bytes declared (under the cap), 100 present
    dims = (60000, 64, 64)
    path = write(tmp_path / MNIST_FILES["train_images"],
                 idx_header(IDX_IMAGES_MAGIC, dims) + bytes(100), gz=gz)
    refused_cheaply(lambda: read_idx(path, IDX_IMAGES_MAGIC), path.name, "truncated data",
                  "100 bytes", f"({60000 * 64 * 64} expected)")


def test_gz_idx_read_in_pieces(tmp_path, monkeypatch, seed):
    monkeypatch.setattr(datasets, "_GZ_CHUNK", 7)
    arr = np.random.default_rng(seed).integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    path = write(tmp_path / "cube", idx_bytes(arr), gz=True)
    np.testing.assert_array_equal(read_idx(path), arr)
    write(tmp_path / "cube", idx_bytes(arr) + b"\x01", gz=True)
    refused_cheaply(lambda: read_idx(path), "cube.gz", "unexpected bytes after the data")
