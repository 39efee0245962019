"""``circnn.torch.export_bundle``: the bundle of a PyTorch model, run by ``circnn
infer``; every model the bundle cannot hold refused in one line before any file
is touched."""

import math
import os

import numpy as np
import pytest
import torch
from torch import nn

from circnn.bundle import FORMAT_1, FORMAT_2, load_bundle
from circnn.cli import main
from circnn.errors import CircnnError, ModelError
from circnn.sim.model.float_network import predict
from circnn.torch import BlockCirculantConv2d, BlockCirculantLinear, FlattenHWC, export_bundle

L, C = BlockCirculantLinear, BlockCirculantConv2d
#: golden (16-bit bit-true) against float: docs/width-plan.md's bound, relative RMS
GOLDEN_REL_RMS_BOUND = 5e-3
SUPPORTED = ("(supported: circnn.torch.BlockCirculantLinear, circnn.torch.BlockCirculantConv2d, "
             "nn.ReLU, nn.MaxPool2d, circnn.torch.FlattenHWC)")


def cnn() -> nn.Sequential:
    return nn.Sequential(C(3, 8, 3, 4, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         C(8, 6, (3, 2), 4, stride=(2, 1), padding=(1, 0)), nn.MaxPool2d(2, 1),
                         nn.ReLU(), FlattenHWC(), L(12, 10, 4), nn.ReLU(), L(10, 3, 4)).double()


def test_the_bundle_holds_every_layer_as_the_model_has_it(tmp_path, seed):
    torch.manual_seed(seed)
    model = cnn()
    export_bundle(model, tmp_path / "m.npz", input_shape=(1, 3, 8, 9))   # with a batch size
    bundle = load_bundle(tmp_path / "m.npz")
    assert bundle.format == FORMAT_2
    assert [layer.kind for layer in bundle.layers] == ["conv2d", "maxpool2d", "conv2d",
                                                       "maxpool2d", "dense", "dense"]
    first, _, second, pool, hidden, last = bundle.layers
    assert (first.in_shape, first.kernel, first.stride, first.padding) == \
        ((8, 9, 3), (3, 3), (1, 1), (1, 1))
    assert (second.in_shape, second.kernel, second.stride, second.padding) == \
        ((4, 4, 8), (3, 2), (2, 1), (1, 0))
    assert (pool.in_shape, pool.kernel, pool.stride) == ((2, 3, 6), (2, 2), (1, 1))
    # a ReLU after the pooling folds into the convolution before it
    assert [first.activation, second.activation, hidden.activation, last.activation] == \
        ["relu", "relu", "relu", "none"]
    assert (first.in_features, first.out_features) == (27, None)
    assert (second.in_features, second.out_features) == (None, 6)
    assert (hidden.in_features, hidden.out_features) == (None, 10)
    for layer, module in ((first, model[0]), (second, model[3]), (hidden, model[7]),
                          (last, model[9])):
        np.testing.assert_array_equal(layer.weight, module.weight.detach().numpy())
        np.testing.assert_array_equal(layer.bias[:module.out_features], module.bias.detach().numpy())
        assert not layer.bias[module.out_features:].any()


def test_dense_models_make_format_1(tmp_path):
    export_bundle(nn.Sequential(L(20, 12, 8), nn.ReLU(), L(12, 5, 8)), tmp_path / "m.npz", (20,))
    bundle = load_bundle(tmp_path / "m.npz")
    assert bundle.format == FORMAT_1 and [layer.n_in for layer in bundle.layers] == [20, 12]


def test_an_nn_flatten_of_the_input_makes_rows_in_its_own_order(tmp_path, seed):
    """nn.Flatten as the first module only reshapes the input: the bundle is dense and
    reads the rows it produces, (c, h, w) order."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), L(48, 10, 8)).double()
    bundle = export_bundle(model, tmp_path / "m.npz", (3, 4, 4))
    assert bundle.in_shape is None and bundle.n_in == 48
    x = torch.randn(5, 3, 4, 4, dtype=torch.float64)
    np.testing.assert_allclose(predict(bundle, x.reshape(5, -1).numpy()),
                               model(x).detach().numpy(), rtol=1e-10, atol=1e-10)


def test_circnn_infer_runs_the_export(tmp_path, seed, capsys):
    """float: the model's outputs; golden: within the 16-bit engine's bound of them."""
    torch.manual_seed(seed)
    model = cnn()
    export_bundle(model, tmp_path / "m.npz", (3, 8, 9))
    x = torch.rand(16, 3, 8, 9, dtype=torch.float64)
    np.save(tmp_path / "x.npy", x.permute(0, 2, 3, 1).numpy())          # (N, H, W, C)
    expected = model(x).detach().numpy()
    outputs = {}
    for backend in ("float", "golden"):
        assert main(["infer", "--model", str(tmp_path / "m.npz"), "--inputs",
                     str(tmp_path / "x.npy"), "--backend", backend, "--quiet",
                     "--out", str(tmp_path / f"{backend}.npy")]) == 0
        outputs[backend] = np.load(tmp_path / f"{backend}.npy")
    np.testing.assert_allclose(outputs["float"], expected, rtol=1e-10, atol=1e-10)
    error = outputs["golden"] - expected
    assert np.sqrt(np.mean(error ** 2)) <= GOLDEN_REL_RMS_BOUND * np.sqrt(np.mean(expected ** 2))


def _nan_linear() -> L:
    linear = L(8, 8, 4)
    with torch.no_grad():
        linear.weight[0, 1, 2] = math.nan
    return linear


REFUSALS = {
    "unsupported": (lambda: nn.Sequential(L(8, 8, 4), nn.Sigmoid()), (8,),
                    f"module 1 (Sigmoid): not supported {SUPPORTED}"),
    "dropout": (lambda: nn.Sequential(L(8, 8, 4), nn.Dropout()), (8,),
                f"module 1 (Dropout): not supported {SUPPORTED}"),
    "nested": (lambda: nn.Sequential(nn.Sequential(L(16, 4, 4))), (16,),
               f"module 0 (Sequential): not supported {SUPPORTED}"),
    "not_sequential": (lambda: L(16, 4, 4), (16,),
                       "model: a BlockCirculantLinear, not an nn.Sequential of "
                       + SUPPORTED[len("(supported: "):-1]),
    "channel_first_flatten": (
        lambda: nn.Sequential(C(1, 4, 3, 4), nn.ReLU(), nn.Flatten(), L(144, 10, 4)), (1, 8, 8),
        "module 2 (Flatten): nn.Flatten flattens maps in (c, h, w) order, but the bundle's dense "
        "layers read them in (h, w, c) order: use circnn.torch.FlattenHWC"),
    "no_flatten": (lambda: nn.Sequential(C(1, 4, 3, 4), L(144, 10, 4)), (1, 8, 8),
                   "module 1 (BlockCirculantLinear): a dense layer reads rows but gets a "
                   "(C, H, W) = (4, 6, 6) map from module 0 (BlockCirculantConv2d): put "
                   "circnn.torch.FlattenHWC before it"),
    "channels": (lambda: nn.Sequential(C(1, 4, 3, 4), C(3, 4, 3, 4)), (1, 8, 8),
                 "module 1 (BlockCirculantConv2d): in_channels = 3 but it gets a (C, H, W) = "
                 "(4, 6, 6) map from module 0 (BlockCirculantConv2d)"),
    "features": (lambda: nn.Sequential(C(1, 4, 3, 4), FlattenHWC(), L(100, 10, 4)), (1, 8, 8),
                 "module 2 (BlockCirculantLinear): in_features = 100 but it gets rows of 144 "
                 "features from module 1 (FlattenHWC)"),
    "padded_widths": (lambda: nn.Sequential(L(16, 10, 16), L(10, 4, 4)), (16,),
                      "module 1 (BlockCirculantLinear): its inputs padded to q*k = 3*4 = 12 must "
                      "be the padded outputs p*k = 1*16 = 16 of module 0 (BlockCirculantLinear) "
                      "(the bundle chains dense layers at their padded widths: use one k, or a "
                      "width that both block sizes divide)"),
    "relu_first": (lambda: nn.Sequential(nn.ReLU(), L(16, 4, 4)), (16,),
                   "module 0 (ReLU): a ReLU must follow a BlockCirculantLinear or "
                   "BlockCirculantConv2d (the bundle applies activations in those layers only)"),
    "pool_padding": (lambda: nn.Sequential(C(1, 4, 3, 4), nn.MaxPool2d(2, padding=1)), (1, 8, 8),
                     "module 1 (MaxPool2d): the bundle's maxpool2d needs padding=0"),
    "pool_ceil": (lambda: nn.Sequential(C(1, 4, 3, 4), nn.MaxPool2d(2, ceil_mode=True)),
                  (1, 7, 7), "module 1 (MaxPool2d): the bundle's maxpool2d needs ceil_mode=False"),
    "kernel_too_large": (lambda: nn.Sequential(C(1, 4, 5, 4)), (1, 3, 3),
                         "module 0 (BlockCirculantConv2d): Conv2d.kernel: (5, 5) is larger than "
                         "the input (3, 3)"),
    "padding_too_large": (lambda: nn.Sequential(C(1, 4, 3, 4, padding=3)), (1, 8, 8),
                          "module 0 (BlockCirculantConv2d): Conv2d.padding: PH = 3 must be below "
                          "the kernel side 3 (rows of padding alone)"),
    "flatten_rows": (lambda: nn.Sequential(L(16, 4, 4), FlattenHWC()), (16,),
                     "module 1 (FlattenHWC): FlattenHWC reads (N, C, H, W) maps but gets rows of "
                     "4 features from module 0 (BlockCirculantLinear)"),
    "nan": (lambda: nn.Sequential(_nan_linear()), (8,),
            "module 0 (BlockCirculantLinear): Layer.weight: contains NaN or inf (first at index "
            "(0, 1, 2): nan)"),
    "no_weights": (lambda: nn.Sequential(nn.MaxPool2d(2)), (1, 8, 8),
                   "model: holds no BlockCirculantLinear or BlockCirculantConv2d"),
    "input_shape": (lambda: nn.Sequential(L(16, 4, 4)), (1, 2, 3, 4, 5),
                    "input_shape: expected (C, H, W) or (F,) positive integers, optionally with "
                    "a leading batch size, got (1, 2, 3, 4, 5)"),
    "input_shape_float": (lambda: nn.Sequential(L(16, 4, 4)), (16.0,),
                          "input_shape: expected (C, H, W) or (F,) positive integers, optionally "
                          "with a leading batch size, got (16.0,)"),
}


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_are_one_line_and_touch_no_file(case, existing, tmp_path):
    make, shape, message = REFUSALS[case]
    path = tmp_path / "m.npz"
    if existing:
        path.write_bytes(b"the previous bundle")
    with pytest.raises(ModelError) as info:
        export_bundle(make(), path, shape)
    assert str(info.value) == f"export_bundle: {message}"
    assert isinstance(info.value, CircnnError)          # the CLI's one line, exit status 2
    assert os.listdir(tmp_path) == (["m.npz"] if existing else [])
    if existing:
        assert path.read_bytes() == b"the previous bundle"


def test_an_output_path_that_is_a_folder_is_refused(tmp_path):
    with pytest.raises(CircnnError) as info:
        export_bundle(nn.Sequential(L(8, 8, 4)), tmp_path, (8,))
    assert str(info.value).startswith(f"export_bundle: path {str(tmp_path)!r}: ")
    assert os.listdir(tmp_path) == []
