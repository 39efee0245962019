"""The model bundle format: round trip and one refusal test per rule."""

import os
import re

import numpy as np
import pytest

from circnn.errors import BundleError, CircnnError
from circnn import bundle as bundle_mod
from circnn.bundle import (
    FORMAT,
    Bundle,
    Layer,
    load_bundle,
    save_bundle,
    validate_bundle,
)


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


@pytest.mark.parametrize("value", [np.array("circnn-bundle/2"), np.array(""), np.array(1), np.array(["circnn-bundle/1"])])
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
