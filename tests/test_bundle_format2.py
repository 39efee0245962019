"""Bundle format 2: conv2d and maxpool2d layers saved, loaded and checked, every
refusal naming its key; format 1 unchanged."""

import re

import numpy as np
import pytest

from circnn.bundle import (FORMAT_1, FORMAT_2, Bundle, Conv2d, Layer, MaxPool2d, bundle_arrays,
                           load_bundle, save_bundle, validate_bundle)
from circnn.errors import BundleError


def cnn_arrays():
    """conv 3x3 1->8 (pad 1) on 8x8, pool 2x2, conv 3x3 8->12 (padded to 16), dense."""
    rng = np.random.default_rng(3)
    return {
        "format": np.array(FORMAT_2), "layers": np.array(4),
        "l0_type": np.array("conv2d"), "l0_weight": rng.normal(size=(2, 3, 4)),
        "l0_bias": rng.normal(size=8), "l0_activation": np.array("relu"),
        "l0_in_shape": np.array([8, 8, 1]), "l0_kernel": np.array([3, 3]),
        "l0_stride": np.array([1, 1]), "l0_padding": np.array([1, 1]),
        "l0_in_features": np.array(9),
        "l1_type": np.array("maxpool2d"), "l1_in_shape": np.array([8, 8, 8]),
        "l1_kernel": np.array([2, 2]), "l1_stride": np.array([2, 2]),
        "l2_type": np.array("conv2d"), "l2_weight": rng.normal(size=(4, 18, 4)),
        "l2_bias": rng.normal(size=16), "l2_activation": np.array("relu"),
        "l2_in_shape": np.array([4, 4, 8]), "l2_kernel": np.array([3, 3]),
        "l2_out_features": np.array(12),
        "l3_weight": rng.normal(size=(3, 12, 4)), "l3_bias": rng.normal(size=12),
        "l3_activation": np.array("none"), "l3_out_features": np.array(10),
    }


def refuses(arrays, key, *fragments):
    with pytest.raises(BundleError) as info:
        validate_bundle(arrays)
    msg = str(info.value)
    assert "\n" not in msg
    assert re.match(rf"bundle key {re.escape(key)}: ", msg), msg
    for fragment in fragments:
        assert fragment in msg, msg
    return msg


def changed(**entries):
    arrays = cnn_arrays()
    for key, value in entries.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    return arrays


def test_a_cnn_round_trips(tmp_path):
    bundle = validate_bundle(cnn_arrays())
    kinds = [layer.kind for layer in bundle.layers]
    assert kinds == ["conv2d", "maxpool2d", "conv2d", "dense"]
    assert bundle.in_shape == (8, 8, 1) and bundle.n_in == 64 and bundle.n_out == 10
    assert bundle.layers[0].out_shape == (8, 8, 8)
    assert bundle.layers[2].out_shape == (2, 2, 12) and bundle.layers[2].stride == (1, 1)
    assert bundle.format == FORMAT_2
    save_bundle(tmp_path / "cnn.npz", bundle)
    again = load_bundle(tmp_path / "cnn.npz")
    assert again.format == FORMAT_2
    for a, b in zip(bundle.layers, again.layers):
        assert a.kind == b.kind
        for name in ("weight", "bias"):
            if hasattr(a, name):
                assert np.array_equal(getattr(a, name), getattr(b, name))
        for name in ("in_shape", "kernel", "stride", "padding", "in_features", "out_features",
                     "activation"):
            assert getattr(a, name, None) == getattr(b, name, None), name
    assert str(np.load(tmp_path / "cnn.npz")["format"]) == FORMAT_2


def test_dense_only_bundles_are_still_written_as_format_1(tmp_path):
    rng = np.random.default_rng(0)
    bundle = Bundle([Layer(rng.normal(size=(1, 2, 4)), np.zeros(4), "relu")])
    assert bundle_arrays(bundle)["format"] == FORMAT_1 and "l0_type" not in bundle_arrays(bundle)
    # and a format-2 file of dense layers (types spelt out) loads too
    arrays = {**bundle_arrays(bundle), "format": np.array(FORMAT_2), "l0_type": np.array("dense")}
    assert validate_bundle(arrays).layers[0].kind == "dense"


@pytest.mark.parametrize("key, value", [("l0_type", np.array("dense")),
                                        ("l1_in_shape", np.array([8, 8, 8])),
                                        ("l0_kernel", np.array([3, 3]))])
def test_a_format_2_key_in_a_format_1_bundle_is_refused(key, value):
    rng = np.random.default_rng(0)
    arrays = {**bundle_arrays(Bundle([Layer(rng.normal(size=(1, 2, 4)), np.zeros(4), "relu"),
                                      Layer(rng.normal(size=(1, 1, 4)), np.zeros(4), "none")])),
              key: value}
    refuses(arrays, key, "a format-2 key in a circnn-bundle/1 bundle",
            "must say format = 'circnn-bundle/2'")


@pytest.mark.parametrize("entries, key, fragment", [
    (dict(l0_in_shape=None), "l0_in_shape", "missing"),
    (dict(l1_kernel=None), "l1_kernel", "missing"),
    (dict(l0_type=np.array("conv3d")), "l0_type", "expected one of 'dense', 'conv2d'"),
    (dict(l1_weight=np.zeros((1, 1, 4))), "l1_weight", "not a key of a maxpool2d layer"),
    (dict(l3_kernel=np.array([1, 1])), "l3_kernel", "not a key of a dense layer"),
    (dict(l1_in_shape=np.array([8, 8, 4])), "l1_in_shape",
     "must be layer 0's output feature map (8, 8, 8)"),
    (dict(l0_in_shape=np.array([8, 8])), "l0_in_shape", "expected 3 integers"),
    (dict(l0_in_shape=np.array([8, 0, 1])), "l0_in_shape", "(H, W, C)"),
    (dict(l0_kernel=np.array([11, 3])), "l0_kernel", "larger than the padded input (10, 10)"),
    (dict(l0_stride=np.array([0, 1])), "l0_stride", "(SH, SW), each >= 1"),
    (dict(l0_padding=np.array([-1, 1])), "l0_padding", "(PH, PW), each >= 0"),
    (dict(l0_padding=np.array([3, 1])), "l0_padding", "PH = 3 must be below the kernel side 3"),
    (dict(l1_kernel=np.array([9, 2])), "l1_kernel", "larger than the input (8, 8)"),
    (dict(l0_in_features=None), "l0_in_features", "missing: the patch of KH*KW*C_in = 9"),
    (dict(l0_in_features=np.array(8)), "l0_in_features", "must be KH*KW*C_in = 9"),
    (dict(l0_weight=np.zeros((2, 2, 4))), "l0_weight", "less than the patch of KH*KW*C_in = 9"),
    (dict(l3_in_features=np.array(20)), "l3_in_features",
     "reads 20 features but layer 2 produces a (2, 2, 12) feature map of 48 values"),
    (dict(l0_kernel=np.array([3.0, 3.0])), "l0_kernel", "expected 2 integers"),
])
def test_every_rule_is_checked_naming_its_key(entries, key, fragment):
    refuses(changed(**entries), key, fragment)


def test_a_file_refusal_is_the_same_as_the_mapping_one(tmp_path):
    np.savez(tmp_path / "bad.npz", **changed(l0_stride=np.array([0, 1])))
    with pytest.raises(BundleError, match=r"^bundle key l0_stride: expected \(SH, SW\)"):
        load_bundle(tmp_path / "bad.npz")


def test_layers_built_in_python_are_checked_too():
    rng = np.random.default_rng(1)
    with pytest.raises(BundleError, match=r"^MaxPool2d.kernel: \(3, 3\) is larger than the "
                                          r"input \(2, 2\)"):
        MaxPool2d((2, 2, 4), (3, 3), (1, 1))
    with pytest.raises(BundleError, match=r"^Conv2d.stride:"):
        Conv2d(rng.normal(size=(1, 1, 4)), np.zeros(4), "relu", (4, 4, 4), (1, 1), (0, 1))
    conv = Conv2d(rng.normal(size=(1, 1, 4)), np.zeros(4), "relu", (4, 4, 4), (1, 1))
    assert conv.out_shape == (4, 4, 4) and conv.n_out == 64


def test_infer_refuses_a_bad_cnn_bundle_on_one_line(tmp_path, capsys):
    from circnn.cli import main
    np.savez(tmp_path / "bad.npz", **changed(l1_kernel=np.array([9, 2])))
    np.save(tmp_path / "x.npy", np.zeros((2, 64)))
    assert main(["infer", "--model", str(tmp_path / "bad.npz"), "--inputs",
                 str(tmp_path / "x.npy"), "--backend", "float",
                 "--out", str(tmp_path / "y.npy")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "bundle key l1_kernel: (9, 2) is larger than the input (8, 8)" in line
    assert not (tmp_path / "y.npy").exists()
