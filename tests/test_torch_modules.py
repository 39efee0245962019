"""``circnn.torch`` modules: the bundle's float model, an independent dense
reference and finite differences all agree with their forward and backward passes."""

import numpy as np
import pytest
import torch
from torch import nn

from circnn.errors import ParameterError
from circnn.sim.model.float_network import predict
from circnn.torch import BlockCirculantConv2d, BlockCirculantLinear, FlattenHWC
from circnn.torch.export import model_bundle

from torch_references import conv_reference, linear_reference

CASES = 8          # random shapes per test
TOLERANCE = 1e-5   # float32 modules against float64 references


def random_linear(rng) -> BlockCirculantLinear:
    return BlockCirculantLinear(int(rng.integers(1, 50)), int(rng.integers(1, 50)),
                                int(rng.choice([2, 4, 8, 16])), bias=bool(rng.integers(2)))


def random_conv(rng) -> tuple[BlockCirculantConv2d, tuple]:
    """A convolution (C_in of 1, 3, k or 2k) and an input map (C, H, W) it fits."""
    k = int(rng.choice([2, 4, 8, 16]))
    c_in = int(rng.choice([1, 3, k, 2 * k]))
    kernel = tuple(int(v) for v in rng.integers(1, 6, 2))
    padding = tuple(int(rng.integers(0, s)) for s in kernel)
    stride = tuple(int(v) for v in rng.integers(1, 3, 2))
    shape = (c_in, *(int(rng.integers(max(1, s - 2 * p), 11)) for s, p in zip(kernel, padding)))
    conv = BlockCirculantConv2d(c_in, int(rng.integers(1, 20)), kernel, k, stride, padding,
                                bias=bool(rng.integers(2)))
    return conv, shape


def channel_last(x: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) as circnn reads it: (N, H, W, C), float64."""
    return x.detach().permute(0, 2, 3, 1).double().numpy()


def test_linear_equals_the_bundles_float_model_and_a_dense_reference(seed):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    for _ in range(CASES):
        linear = random_linear(rng)
        x = torch.randn(5, linear.in_features)
        y = linear(x).detach().double().numpy()
        bundle = model_bundle(nn.Sequential(linear), (linear.in_features,))
        np.testing.assert_allclose(y, predict(bundle, x.double().numpy()),
                                   rtol=TOLERANCE, atol=TOLERANCE, err_msg=repr(linear))
        np.testing.assert_allclose(y, linear_reference(linear, x.double().numpy()),
                                   rtol=TOLERANCE, atol=TOLERANCE, err_msg=repr(linear))


def test_conv_equals_the_bundles_float_model_and_dense_conv2d(seed):
    """Channel-first in PyTorch, channel-last in the bundle: the same numbers."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    for _ in range(CASES):
        conv, shape = random_conv(rng)
        x = torch.randn(3, *shape)
        y = conv(x)
        assert y.shape == conv_reference(conv, x).shape
        bundle = model_bundle(nn.Sequential(conv), shape)
        np.testing.assert_allclose(channel_last(y), predict(bundle, channel_last(x)),
                                   rtol=TOLERANCE, atol=TOLERANCE, err_msg=repr(conv))
        np.testing.assert_allclose(y.detach().double().numpy(), conv_reference(conv, x).numpy(),
                                   rtol=TOLERANCE, atol=TOLERANCE, err_msg=repr(conv))


def test_a_cnn_equals_the_bundles_float_model(seed):
    """conv, ReLU, pooling, FlattenHWC and dense layers chained: (N, C, H, W) in
    PyTorch gives what the bundle gives on (N, H, W, C)."""
    torch.manual_seed(seed)
    model = nn.Sequential(BlockCirculantConv2d(3, 8, 3, 4, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          BlockCirculantConv2d(8, 6, 3, 8, stride=2, padding=1), nn.ReLU(),
                          FlattenHWC(), BlockCirculantLinear(24, 10, 4), nn.ReLU(),
                          BlockCirculantLinear(10, 3, 4))
    x = torch.randn(4, 3, 8, 9)
    bundle = model_bundle(model, (3, 8, 9))
    np.testing.assert_allclose(model(x).detach().numpy(), predict(bundle, channel_last(x)),
                               rtol=TOLERANCE, atol=TOLERANCE)
    # the (N, H*W*C) rows the bundle also takes are the same map flattened channel-last
    rows = channel_last(x).reshape(4, -1)
    np.testing.assert_allclose(model(x).detach().numpy(), predict(bundle, rows),
                               rtol=TOLERANCE, atol=TOLERANCE)


def test_flatten_hwc_puts_x_n_c_h_w_at_h_w_c(seed):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    n, c, h, w = (int(v) for v in rng.integers(1, 6, 4))
    x = torch.randn(n, c, h, w)
    flat = FlattenHWC()(x)
    assert flat.shape == (n, h * w * c)
    for i in range(n):
        for ch in range(c):
            for y in range(h):
                for col in range(w):
                    assert flat[i, (y * w + col) * c + ch] == x[i, ch, y, col]


def test_the_weight_holds_first_columns():
    """One block, weight w: column j of the matrix is w rotated down by j."""
    linear = BlockCirculantLinear(4, 4, 4, bias=False)
    w = torch.tensor([1.0, 2.0, 3.0, 4.0])
    with torch.no_grad():
        linear.weight.copy_(w.reshape(1, 1, 4))
    columns = linear(torch.eye(4))              # row j: the matrix times e_j
    for j in range(4):
        assert columns[j].tolist() == pytest.approx(torch.roll(w, j).tolist())
    assert linear.p == linear.q == 1 and linear.weight.shape == (1, 1, 4)


def test_padded_widths_follow_the_bundle():
    linear = BlockCirculantLinear(21, 13, 8)
    assert linear.weight.shape == (2, 3, 8) and linear.bias.shape == (13,)
    conv = BlockCirculantConv2d(3, 5, (3, 2), 4)
    assert conv.in_features == 18 and conv.weight.shape == (2, 5, 4)


def test_gradients_match_finite_differences(seed):
    torch.manual_seed(seed)
    linear = BlockCirculantLinear(11, 6, 4).double()
    x = torch.randn(3, 11, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w, b: torch.func.functional_call(
        linear, {"weight": w, "bias": b}, (x,)), (x, linear.weight, linear.bias))
    conv = BlockCirculantConv2d(3, 5, 3, 4, stride=(2, 1), padding=1).double()
    x = torch.randn(2, 3, 5, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w, b: torch.func.functional_call(
        conv, {"weight": w, "bias": b}, (x,)), (x, conv.weight, conv.bias))


@pytest.mark.parametrize("make, message", [
    (lambda: BlockCirculantLinear(8, 8, 3), "k must be a power of two in 2..4096, not 3"),
    (lambda: BlockCirculantLinear(8, 8, 1), "k must be a power of two in 2..4096, not 1"),
    (lambda: BlockCirculantLinear(0, 8, 4), "in_features must be in 1..inf, not 0"),
    (lambda: BlockCirculantConv2d(1, 4, (3, 3, 3), 4),
     "kernel_size must be an integer or two integers, not (3, 3, 3)"),
    (lambda: BlockCirculantConv2d(1, 4, 3, 4, stride=0), "stride[0] must be in 1..inf, not 0"),
    (lambda: BlockCirculantConv2d(1, 4, 3, 4, padding=-1), "padding[0] must be in 0..inf, not -1"),
])
def test_bad_parameters_are_refused(make, message):
    with pytest.raises(ParameterError) as info:
        make()
    assert str(info.value) == message
