"""The model bundle format: round trip and one refusal test per rule."""

import os
import re
import struct
import zipfile

import numpy as np
import pytest

from circnn.errors import BundleError, CircnnError
from circnn import arrays as arrays_mod
from circnn import bundle as bundle_mod
from circnn.bundle import (
    FORMAT,
    Bundle,
    Layer,
    load_bundle,
    save_bundle,
    validate_bundle,
)

from refusals import MiB, refused_cheaply


def good_arrays(seed=0):
    """A valid 2-layer bundle as a plain dict: (p, q, k) = (3, 2, 8) then (1, 3, 8)."""
    rng = np.random.default_rng(seed)
    return {
        "format": np.array(FORMAT),
        "layers": np.array(2),
        "l0_weight": rng.standard_normal((3, 2, 8)),
        "l0_bias": rng.standard_normal(24),
        "l0_activation": np.array("relu"),
        "l0_in_features": np.array(13),
        "l0_out_features": np.array(20),
        "l1_weight": rng.standard_normal((1, 3, 8)),
        "l1_bias": rng.standard_normal(8),
        "l1_activation": np.array("none"),
        "l1_in_features": np.array(20),
        "l1_out_features": np.array(5),
        "quant_format": np.array([16, 8], dtype=np.int32),
        "notes": np.array("trained with numpy"),
    }


def refuses(arrays, key, *fragments):
    """Assert validate_bundle refuses `arrays` with a message naming `key`."""
    with pytest.raises(BundleError) as info:
        validate_bundle(arrays)
    msg = str(info.value)
    assert re.search(rf"\b{re.escape(key)}\b", msg), msg
    for frag in fragments:
        assert frag in msg, msg
    return msg


def with_(key, value, base=None):
    arrays = dict(good_arrays() if base is None else base)
    arrays[key] = value
    return arrays


def without(key):
    arrays = good_arrays()
    del arrays[key]
    return arrays


# --- valid bundles -----------------------------------------------------------


def test_good_arrays_validate():
    b = validate_bundle(good_arrays())
    assert len(b.layers) == 2
    l0, l1 = b.layers
    assert (l0.p, l0.q, l0.k, l0.n_in, l0.n_out) == (3, 2, 8, 13, 20)
    assert (l1.p, l1.q, l1.k, l1.n_in, l1.n_out) == (1, 3, 8, 20, 5)
    assert (l0.activation, l1.activation) == ("relu", "none")
    assert set(b.extra) == {"quant_format", "notes"}
    assert (b.n_in, b.n_out) == (13, 5)


def test_round_trip_with_extra_and_optional_keys(tmp_path):
    seed = 11
    print(f"seed={seed}")
    src = good_arrays(seed)
    b = validate_bundle(src)
    path = tmp_path / "model.npz"
    save_bundle(path, b)
    b2 = load_bundle(path)
    for l_a, l_b in zip(b.layers, b2.layers, strict=True):
        assert np.array_equal(l_a.weight, l_b.weight)
        assert np.array_equal(l_a.bias, l_b.bias)
        assert l_a.activation == l_b.activation
        assert l_a.in_features == l_b.in_features
        assert l_a.out_features == l_b.out_features
    assert set(b2.extra) == {"quant_format", "notes"}
    assert np.array_equal(b2.extra["quant_format"], src["quant_format"])
    assert b2.extra["quant_format"].dtype == np.int32
    assert str(b2.extra["notes"]) == "trained with numpy"
    # The file is a plain npz with exactly the documented keys, readable without pickle.
    with np.load(path, allow_pickle=False) as z:
        assert set(z.files) == set(src)
        assert str(z["format"]) == FORMAT
        assert int(z["layers"]) == 2
        assert np.array_equal(z["l0_weight"], src["l0_weight"])
        assert str(z["l1_activation"]) == "none"
        assert int(z["l0_in_features"]) == 13


def test_round_trip_without_optional_keys(tmp_path):
    rng = np.random.default_rng(5)
    print("seed=5")
    b = Bundle([Layer(rng.standard_normal((2, 2, 4)), rng.standard_normal(8))])
    path = tmp_path / "plain.npz"
    save_bundle(path, b)
    with np.load(path, allow_pickle=False) as z:
        assert set(z.files) == {"format", "layers", "l0_weight", "l0_bias", "l0_activation"}
    b2 = load_bundle(path)
    layer = b2.layers[0]
    assert layer.in_features is None and layer.out_features is None
    assert (layer.n_in, layer.n_out) == (8, 8)
    assert layer.activation == "none"
    assert b2.extra == {}
    assert np.array_equal(layer.weight, b.layers[0].weight)


def test_float32_and_bytes_accepted():
    arrays = good_arrays()
    arrays["l0_weight"] = arrays["l0_weight"].astype(np.float32)
    arrays["l1_activation"] = np.array(b"none")
    arrays["format"] = FORMAT  # a plain Python str is fine too
    arrays["layers"] = 2
    b = validate_bundle(arrays)
    assert b.layers[0].weight.dtype == np.float64
    assert b.layers[1].activation == "none"


def test_errors_are_user_errors():
    assert issubclass(BundleError, CircnnError)


# --- refusals: file level ---------------------------------------------------


def test_refuses_missing_file(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(BundleError, match="nope.npz.*not found"):
        load_bundle(path)


def test_refuses_directory(tmp_path):
    with pytest.raises(BundleError, match="not a regular file"):
        load_bundle(tmp_path)


@pytest.mark.parametrize(
    "content",
    [b"hello, this is text\n", b"", b"PK\x03\x04 truncated zip"],
    ids=["text", "empty", "broken-zip"],
)
def test_refuses_not_an_npz(tmp_path, content):
    path = tmp_path / "junk.npz"
    path.write_bytes(content)
    with pytest.raises(BundleError, match="junk.npz.*not a NumPy .npz file"):
        load_bundle(path)


def test_refuses_single_npy(tmp_path):
    path = tmp_path / "arr.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(BundleError, match="arr.npy.*single .npy array"):
        load_bundle(path)


def test_refuses_pickled_entry(tmp_path):
    path = tmp_path / "pickled.npz"
    arrays = good_arrays()
    arrays["evil"] = np.array([{"a": 1}], dtype=object)
    np.savez(path, **arrays)
    with pytest.raises(BundleError, match=r"bundle key evil: cannot be read without pickle"):
        load_bundle(path)


def test_load_reports_key_of_bad_content(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, **with_("l1_bias", np.zeros(3)))
    with pytest.raises(BundleError, match=r"bundle key l1_bias: expected shape"):
        load_bundle(path)


# --- refusals: format and layers --------------------------------------------


def test_refuses_missing_format():
    refuses(without("format"), "format", "missing")


@pytest.mark.parametrize("value", [np.array("circnn-bundle/3"), np.array(""), np.array(1), np.array(["circnn-bundle/1"])])
def test_refuses_wrong_format(value):
    refuses(with_("format", value), "format")


def test_refuses_missing_layers():
    refuses(without("layers"), "layers", "missing")


@pytest.mark.parametrize(
    "value",
    [np.array(0), np.array(-1), np.array(2.0), np.array([2]), np.array(True), np.array("2")],
    ids=["zero", "negative", "float", "1d", "bool", "string"],
)
def test_refuses_layers_not_positive_int(value):
    refuses(with_("layers", value), "layers")


# --- refusals: layer keys ----------------------------------------------------


@pytest.mark.parametrize("key", ["l0_weight", "l0_bias", "l0_activation", "l1_weight", "l1_bias", "l1_activation"])
def test_refuses_missing_layer_key(key):
    refuses(without(key), key, "missing")


@pytest.mark.parametrize(
    "key,value",
    [
        ("l0_weight", np.ones((3, 2, 8), dtype=np.int64)),
        ("l0_weight", np.ones((3, 2, 8), dtype=np.complex128)),
        ("l0_weight", np.ones((3, 2, 8), dtype=bool)),
        ("l1_bias", np.ones(8, dtype=np.int32)),
        ("l1_bias", np.array(["a"] * 8)),
        ("l0_activation", np.array(1)),
        ("l0_activation", np.array(["relu"])),
        ("l0_in_features", np.array(13.0)),
        ("l0_out_features", np.array([20])),
        ("l0_out_features", np.array(True)),
    ],
    ids=["w-int", "w-complex", "w-bool", "b-int", "b-str", "act-int", "act-1d", "in-float", "out-1d", "out-bool"],
)
def test_refuses_wrong_dtype(key, value):
    refuses(with_(key, value), key)


def test_refuses_wrong_weight_ndim_with_example_message():
    msg = refuses(with_("l1_weight", np.ones((3, 5))), "l1_weight")
    assert msg.startswith("bundle key l1_weight: expected shape (p, q, k)")
    assert "k a power of two" in msg and "got (3, 5)" in msg


@pytest.mark.parametrize("shape", [(3, 2, 6), (3, 2, 1), (3, 2, 0), (0, 2, 8), (3, 0, 8), (3, 2, 8, 1)])
def test_refuses_bad_weight_shape_or_k(shape):
    arrays = with_("l0_weight", np.ones(shape))
    refuses(arrays, "l0_weight", f"got {shape}")


@pytest.mark.parametrize("shape", [(23,), (25,), (24, 1), ()])
def test_refuses_wrong_bias_shape(shape):
    refuses(with_("l0_bias", np.ones(shape)), "l0_bias", "(24,)")


@pytest.mark.parametrize("key", ["l0_weight", "l1_weight", "l0_bias", "l1_bias"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_refuses_non_finite(key, bad):
    arrays = good_arrays()
    arr = arrays[key].copy()
    arr.flat[-1] = bad
    refuses(with_(key, arr, arrays), key, "NaN or inf")


@pytest.mark.parametrize("value", ["sigmoid", "RELU", "", "relu "])
def test_refuses_bad_activation(value):
    refuses(with_("l1_activation", np.array(value)), "l1_activation", repr(value))


@pytest.mark.parametrize(
    "key,value,upper",
    [
        ("l0_in_features", 0, 16),
        ("l0_in_features", 17, 16),
        ("l0_in_features", -3, 16),
        ("l1_out_features", 0, 8),
        ("l1_out_features", 9, 8),
    ],
)
def test_refuses_features_out_of_range(key, value, upper):
    refuses(with_(key, np.array(value)), key, f"1..{upper}", f"got {value}")


def test_refuses_chain_width_mismatch():
    # Layer 1 takes q*k = 2*8 = 16 but layer 0 produces p*k = 24.
    arrays = without("l0_out_features")
    del arrays["l1_in_features"]
    msg = refuses(with_("l1_weight", np.ones((1, 2, 8)), arrays), "l1_weight")
    assert "16" in msg and "24" in msg


def test_chain_compares_widths_not_block_sizes():
    arrays = without("l0_out_features")
    del arrays["l1_in_features"]
    # Layer 0 produces p*k = 3*8 = 24; a next layer with k = 2 and q = 12 fits.
    arrays["l1_weight"] = np.ones((1, 12, 2))
    arrays["l1_bias"] = np.ones(2)
    arrays["l1_out_features"] = np.array(2)
    assert validate_bundle(arrays).layers[1].k == 2
    # With q = 6 it takes only 12 inputs and is refused on its weight key.
    arrays["l1_weight"] = np.ones((1, 6, 2))
    msg = refuses(arrays, "l1_weight")
    assert "12" in msg and "24" in msg


def test_refuses_out_in_features_mismatch():
    msg = refuses(with_("l1_in_features", np.array(19)), "l1_in_features")
    assert "l0_out_features = 20" in msg and "19" in msg


def test_refuses_missing_in_features_after_out_features():
    refuses(without("l1_in_features"), "l1_in_features", "missing")


def test_refuses_in_features_without_previous_out_features():
    arrays = without("l0_out_features")
    arrays["l1_in_features"] = np.array(20)  # layer 0 produces all 24 outputs
    refuses(arrays, "l1_in_features", "24")


@pytest.mark.parametrize(
    "key,fragment",
    [
        ("l2_weight", "layer 2 does not exist"),
        ("l7_bias", "layer 7 does not exist"),
        ("l0_gain", "unknown layer key suffix 'gain'"),
        ("l1_wieght", "unknown layer key suffix 'wieght'"),
        ("l01_weight", "not a canonical layer key"),
    ],
)
def test_refuses_unknown_layer_like_keys(key, fragment):
    refuses(with_(key, np.ones(3)), key, fragment)


# --- Layer / Bundle construction ---------------------------------------------


def test_layer_validates_itself():
    with pytest.raises(BundleError, match=r"Layer\.weight: .*got \(2, 4\)"):
        Layer(np.ones((2, 4)), np.ones(8))
    with pytest.raises(BundleError, match=r"Layer\.bias: .*\(8,\)"):
        Layer(np.ones((2, 1, 4)), np.ones(4))
    with pytest.raises(BundleError, match=r"Layer\.activation: .*'tanh'"):
        Layer(np.ones((2, 1, 4)), np.ones(8), "tanh")
    with pytest.raises(BundleError, match=r"Layer\.in_features: .*got 5"):
        Layer(np.ones((2, 1, 4)), np.ones(8), in_features=5)
    with pytest.raises(BundleError, match=r"Layer\.out_features: .*got 0"):
        Layer(np.ones((2, 1, 4)), np.ones(8), out_features=0)
    with pytest.raises(BundleError, match=r"Layer\.bias: .*NaN"):
        Layer(np.ones((2, 1, 4)), np.full(8, np.nan))


def test_bundle_checks_chain_and_emptiness():
    a = Layer(np.ones((2, 1, 4)), np.ones(8))
    with pytest.raises(BundleError, match="bundle key layers"):
        Bundle([])
    with pytest.raises(BundleError, match="bundle key l1_weight"):
        Bundle([a, Layer(np.ones((1, 1, 4)), np.ones(4))])
    with pytest.raises(BundleError, match="bundle key l1_weight"):
        Bundle([a, "not a layer"])
    assert len(Bundle([a, Layer(np.ones((1, 2, 4)), np.ones(4))])) == 2


@pytest.mark.parametrize("key", ["format", "layers", "l0_weight", "l3_scale", "l12_"])
def test_bundle_extra_must_not_collide_with_reserved_keys(key):
    layer = Layer(np.ones((1, 1, 4)), np.ones(4))
    with pytest.raises(BundleError) as info:
        Bundle([layer], extra={key: np.ones(2)})
    assert f"bundle key {key}" in str(info.value)


def test_bundle_extra_refuses_object_arrays():
    layer = Layer(np.ones((1, 1, 4)), np.ones(4))
    with pytest.raises(BundleError, match="bundle key meta: object arrays"):
        Bundle([layer], extra={"meta": np.array([{"a": 1}], dtype=object)})


def test_save_revalidates_mutated_bundle(tmp_path):
    b = validate_bundle(good_arrays())
    b.layers[1].activation = "gelu"  # dataclass fields can be changed after construction
    with pytest.raises(BundleError, match="bundle key l1_activation"):
        save_bundle(tmp_path / "m.npz", b)
    assert list(tmp_path.iterdir()) == []


# --- atomic save --------------------------------------------------------------


def test_save_leaves_no_temp_file(tmp_path):
    b = validate_bundle(good_arrays())
    path = tmp_path / "model.npz"
    save_bundle(path, b)
    save_bundle(path, b)  # overwriting an existing bundle goes through the same rename
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
    assert len(load_bundle(path).layers) == 2


def test_save_writes_exactly_at_path_without_suffix(tmp_path):
    b = validate_bundle(good_arrays())
    path = tmp_path / "model.bundle"
    save_bundle(str(path), b)
    assert [p.name for p in tmp_path.iterdir()] == ["model.bundle"]
    assert len(load_bundle(str(path)).layers) == 2


def test_failed_save_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    old = Bundle([Layer(np.ones((1, 1, 4)), np.ones(4))])
    save_bundle(path, old)
    before = path.read_bytes()

    def broken_savez(file, **arrays):
        file.write(b"PK\x03\x04 half a bundle")
        raise OSError("disk full")

    monkeypatch.setattr(bundle_mod.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        save_bundle(path, validate_bundle(good_arrays()))
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
    assert path.read_bytes() == before


def test_saved_file_follows_umask(tmp_path):
    path = tmp_path / "model.npz"
    save_bundle(path, Bundle([Layer(np.ones((1, 1, 4)), np.ones(4))]))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# --- hostile bundle files: refused early, by name, without allocating -----------


def refused_quickly(fn, *fragments, **limits):
    """One BundleError line, refused from the headers (see tests/refusals.py)."""
    return refused_cheaply(fn, *fragments, error=BundleError, **limits)


def tiny_arrays():
    """The smallest valid bundle: one layer, (p, q, k) = (1, 1, 2)."""
    return {
        "format": np.array(FORMAT),
        "layers": np.array(1),
        "l0_weight": np.array([[[0.5, -0.25]]]),
        "l0_bias": np.array([0.0, 1.0]),
        "l0_activation": np.array("none"),
    }


def spy_reads(monkeypatch):
    """Record which entries are opened (zip level) and which are loaded (data)."""
    opened, loaded = [], []
    real_open, real_load = zipfile.ZipFile.open, arrays_mod.NpzArchive.load

    def spy_open(self, name, *args, **kwargs):
        opened.append((name if isinstance(name, str) else name.filename)[:-4])
        return real_open(self, name, *args, **kwargs)

    def spy_load(self, key):
        loaded.append(key)
        return real_load(self, key)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy_open)
    monkeypatch.setattr(arrays_mod.NpzArchive, "load", spy_load)
    return opened, loaded


def npy_entry(descr, shape, data=b""):
    """An .npy stream with a hand-written header (data as given, maybe short)."""
    text = repr({"descr": descr, "fortran_order": False, "shape": shape})
    text += " " * ((-(10 + len(text) + 1)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1") + data


def zip_bundle(path, arrays, raw=None):
    """np.savez of `arrays`, plus hand-made entries `raw` (name -> bytes)."""
    np.savez(path, **arrays)
    with zipfile.ZipFile(path, "a") as z:
        for name, data in (raw or {}).items():
            z.writestr(name, data)
    return path


def test_tiny_bundle_loads(tmp_path):
    path = tmp_path / "tiny.npz"
    np.savez(path, **tiny_arrays())
    b = load_bundle(path)
    assert (b.layers[0].p, b.layers[0].q, b.layers[0].k) == (1, 1, 2)
    np.testing.assert_array_equal(b.layers[0].weight, tiny_arrays()["l0_weight"])


@pytest.mark.parametrize("key,expected", [
    ("L0_weight", "l0_weight"),
    ("L0_WEIGHT", "l0_weight"),
    ("l0_Bias", "l0_bias"),
    ("l0_weight ", "l0_weight"),
    (" l1_activation", "l1_activation"),
    ("L01_in_features", "l1_in_features"),
])
def test_refuses_case_and_blank_variants_of_layer_keys(key, expected):
    msg = refuses(with_(key, np.ones(3)), key.strip(), "not a canonical layer key",
                  f"expected {expected}", "l<i>_weight", "l<i>_out_features", "lower case")
    assert msg.startswith(f"bundle key {key}: ")


@pytest.mark.parametrize("key", ["Format", "LAYERS", " format"])
def test_refuses_case_variants_of_top_keys(key):
    refuses(with_(key, np.array(1)), key.strip(), "not a bundle key", "known keys")


def test_refuses_capital_l_unknown_suffix():
    refuses(with_("L0_Gain", np.ones(3)), "L0_Gain", "unknown layer key suffix 'Gain'")


def test_capital_L0_weight_refused_from_file_without_reading_it(tmp_path, monkeypatch):
    """Once silently kept as an "extra" key; now refused by its name alone."""
    path = tmp_path / "typo.npz"
    arrays = good_arrays()
    arrays["L0_weight"] = arrays["l0_weight"]
    np.savez(path, **arrays)
    opened, loaded = spy_reads(monkeypatch)
    msg = refused_quickly(lambda: load_bundle(path), "bundle key L0_weight",
                          "expected l0_weight", "known keys: format, layers, l<i>_weight")
    assert msg == ("bundle key L0_weight: not a canonical layer key (expected l0_weight; known "
                   "keys: format, layers, l<i>_weight, l<i>_bias, l<i>_activation, "
                   "l<i>_in_features, l<i>_out_features, and in format 2 l<i>_type, "
                   "l<i>_in_shape, l<i>_kernel, l<i>_stride, l<i>_padding, in lower case with "
                   "i = 0, 1, ... written without leading zeros)")
    assert opened == [] and loaded == []


@pytest.mark.parametrize("key", ["L0_weight", "Layers", "l2_Scale"])
def test_bundle_extra_refuses_case_variants(key):
    layer = Layer(np.ones((1, 1, 4)), np.ones(4))
    with pytest.raises(BundleError, match=f"bundle key {key}: reserved"):
        Bundle([layer], extra={key: np.ones(2)})


@pytest.mark.parametrize("layers", [10**9, 2**63 - 1, bundle_mod.MAX_LAYERS + 1])
def test_refuses_huge_layers_from_small_file(tmp_path, monkeypatch, layers):
    path = tmp_path / "many.npz"
    np.savez(path, **{**tiny_arrays(), "layers": np.array(layers, dtype=np.int64)})
    assert path.stat().st_size < 2000
    opened, loaded = spy_reads(monkeypatch)
    msg = refused_quickly(lambda: load_bundle(path), "bundle key layers", str(layers),
                          f"maximum of {bundle_mod.MAX_LAYERS}", "circnn.bundle.MAX_LAYERS")
    assert msg == (f"bundle key layers: {layers} layers, more than the maximum of "
                   f"{bundle_mod.MAX_LAYERS} (circnn.bundle.MAX_LAYERS)")
    assert set(loaded) == {"format", "layers"}
    assert not any(key.startswith("l0") for key in opened)


def test_refuses_huge_layers_in_mapping():
    refused_quickly(lambda: validate_bundle({**tiny_arrays(), "layers": 10**9}),
                    "bundle key layers", "1000000000")


def test_refuses_layers_beyond_the_weights_present(tmp_path, monkeypatch):
    path = tmp_path / "short.npz"
    np.savez(path, **{**tiny_arrays(), "layers": np.array(bundle_mod.MAX_LAYERS)})
    opened, loaded = spy_reads(monkeypatch)
    msg = refused_quickly(lambda: load_bundle(path), "bundle key layers")
    assert msg == (f"bundle key layers: says {bundle_mod.MAX_LAYERS} layers but the bundle "
                   "holds 1 layers with an l<i>_weight or l<i>_type key (l1_weight is missing)")
    assert set(loaded) == {"format", "layers"}


def test_huge_unused_extra_refused_by_directory_size(tmp_path, monkeypatch):
    """A small bundle whose extra entry is recorded as 800 MB uncompressed: refused
    from the zip directory, the entry never opened."""
    path = zip_bundle(tmp_path / "bomb.npz", tiny_arrays(),
                      {"junk.npy": npy_entry("<f8", (3,), bytes(24))})
    buf = bytearray(path.read_bytes())
    for sig, n_len_at, name_at, size_at in ((b"PK\x03\x04", 26, 30, 22),
                                            (b"PK\x01\x02", 28, 46, 24)):
        pos = buf.find(sig)
        while pos >= 0:
            n_len = struct.unpack_from("<H", buf, pos + n_len_at)[0]
            if bytes(buf[pos + name_at:pos + name_at + n_len]) == b"junk.npy":
                struct.pack_into("<I", buf, pos + size_at, 800_000_000)
            pos = buf.find(sig, pos + 4)
    path.write_bytes(bytes(buf))
    opened, loaded = spy_reads(monkeypatch)
    msg = refused_quickly(lambda: load_bundle(path), "bundle key junk", "800000000 bytes",
                          f"cap of {bundle_mod.MAX_EXTRA_BYTES}", "circnn.bundle.MAX_EXTRA_BYTES")
    assert msg.startswith("bundle key junk: declares 800000000 bytes")
    assert opened == [] and loaded == []


def test_compressible_extra_refused_by_directory_size(tmp_path, monkeypatch):
    """A real deflated entry of 2 MiB of zeros (a few kB on disk) against the
    extra-key cap lowered to 1 MiB."""
    path = tmp_path / "zeros.npz"
    np.savez_compressed(path, **tiny_arrays(), calib=np.zeros(2**18))
    assert path.stat().st_size < 64 * 1024
    monkeypatch.setattr(bundle_mod, "MAX_EXTRA_BYTES", MiB)
    opened, loaded = spy_reads(monkeypatch)
    refused_quickly(lambda: load_bundle(path), "bundle key calib", "cap of 1048576",
                    "MAX_EXTRA_BYTES")
    assert opened == [] and loaded == []
    # the same bundle is refused on save too, rather than written unloadable
    b = Bundle([Layer(np.ones((1, 1, 2)), np.ones(2))], extra={"calib": np.zeros(2**18)})
    with pytest.raises(BundleError, match="bundle key calib: declares 2097152 bytes"):
        save_bundle(tmp_path / "out.npz", b)
    assert not (tmp_path / "out.npz").exists()


def test_layer_entry_declaring_more_than_the_cap(tmp_path):
    # (2**20, 2**5, 8) doubles = 2 GiB declared, 8 bytes present
    no_weight = {k: v for k, v in tiny_arrays().items() if k != "l0_weight"}
    path = zip_bundle(tmp_path / "w.npz", no_weight,
                      {"l0_weight.npy": npy_entry("<f8", (2**20, 2**5, 8), bytes(8))})
    refused_quickly(lambda: load_bundle(path), "bundle key l0_weight", "2147483648 bytes",
                    "circnn.arrays.MAX_ELEMENTS, MAX_BYTES")


def test_layer_entry_truncated(tmp_path):
    # 512 MiB declared (under the cap), 8 bytes present
    no_weight = {k: v for k, v in tiny_arrays().items() if k != "l0_weight"}
    path = zip_bundle(tmp_path / "w.npz", no_weight,
                      {"l0_weight.npy": npy_entry("<f8", (2**24, 2, 2), bytes(8))})
    refused_quickly(lambda: load_bundle(path), "bundle key l0_weight: truncated",
                    "536870912 bytes of data")


def test_per_entry_cap_names_the_key(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    np.savez(path, **good_arrays())
    monkeypatch.setattr(arrays_mod, "MAX_BYTES", 100)   # l0_weight holds 3*2*8*8 = 384 bytes
    refused_quickly(lambda: load_bundle(path), "bundle key l0_weight", "384 bytes")


@pytest.mark.parametrize("key,value,fragment", [
    ("l0_bias", np.ones(25), "expected shape (p*k,) = (24,), got (25,)"),
    ("l1_weight", np.ones((1, 3, 6)), "got (1, 3, 6)"),
    ("l0_weight", np.ones((3, 2, 8), dtype=np.int64), "got dtype int64"),
    ("l1_activation", np.array(["none"] * 1000),
     "expected a string, got <U4 array of shape (1000,)"),
    ("l1_activation", np.array("x" * 1000), "<U1000 scalar of 4000 bytes"),
    ("format", np.array("y" * 300), "<U300 scalar of 1200 bytes"),
    ("l0_in_features", np.arange(13), "expected an integer, got int64 array of shape (13,)"),
])
def test_declared_shape_checked_before_any_data(tmp_path, monkeypatch, key, value, fragment):
    path = tmp_path / "m.npz"
    np.savez(path, **with_(key, value))
    opened, loaded = spy_reads(monkeypatch)
    refused_quickly(lambda: load_bundle(path), f"bundle key {key}", fragment)
    assert set(loaded) <= {"format", "layers"}, loaded


def test_total_declared_size_cap(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    np.savez(path, **good_arrays())
    monkeypatch.setattr(bundle_mod, "MAX_BUNDLE_BYTES", 500)
    opened, loaded = spy_reads(monkeypatch)
    msg = refused_quickly(lambda: load_bundle(path), "m.npz", "cap of 500",
                          "MAX_BUNDLE_BYTES", "largest: bundle key l0_weight (384 bytes)")
    assert msg.startswith(f"bundle file {str(path)!r}: its arrays declare")
    assert set(loaded) == {"format", "layers"}


class _Trap:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_extra_is_never_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "m.npz"
    np.savez(path, **good_arrays(), meta=np.array([_Trap(marker)], dtype=object))
    refused_quickly(lambda: load_bundle(path), "bundle key meta: cannot be read without pickle")
    assert not marker.exists()


def test_non_npy_entry_refused(tmp_path):
    path = zip_bundle(tmp_path / "m.npz", tiny_arrays(), {"README": b"hello"})
    refused_quickly(lambda: load_bundle(path), "m.npz", "entry 'README' is not an .npy array")


def test_structured_extra_refused_on_construction():
    layer = Layer(np.ones((1, 1, 4)), np.ones(4))
    rec = np.zeros(2, dtype=[("a", "<f8"), ("b", "<i4")])
    with pytest.raises(BundleError, match="bundle key rec: unsupported dtype"):
        Bundle([layer], extra={"rec": rec})
