"""``circnn.torch.from_dense``: the diagonal average of each block (an independent
loop), the least-squares projection (its residual is orthogonal to every
block-circulant matrix), and for convolutions the bundle's (kh, kw, c) patch order."""

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from circnn.errors import ModelError
from circnn.torch import BlockCirculantConv2d, BlockCirculantLinear, from_dense

from torch_references import conv_patch_matrix, dense_matrix, diagonal_average


def test_linear_is_the_diagonal_average(seed):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    for _ in range(6):
        m, n, k = int(rng.integers(1, 40)), int(rng.integers(1, 40)), int(rng.choice([2, 4, 8]))
        dense = nn.Linear(n, m, bias=bool(rng.integers(2)), dtype=torch.float64)
        circ = from_dense(dense, k)
        assert isinstance(circ, BlockCirculantLinear)
        assert (circ.in_features, circ.out_features, circ.k) == (n, m, k)
        assert circ.weight.dtype == torch.float64
        expected = diagonal_average(dense.weight.detach().numpy(), k)
        np.testing.assert_allclose(circ.weight.detach().numpy(), expected, rtol=1e-12, atol=1e-14)
        if dense.bias is None:
            assert circ.bias is None
        else:
            assert torch.equal(circ.bias, dense.bias)


def test_the_projection_is_least_squares(seed):
    """The residual W - P(W) is orthogonal to every block-circulant matrix (on the
    real entries), so P(W) is the nearest one: closer than any other."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    dense = nn.Linear(27, 19, dtype=torch.float64)          # padded: q*k = 32, p*k = 24
    circ = from_dense(dense, 8)
    residual = dense.weight.detach().numpy() - dense_matrix(circ)
    other = BlockCirculantLinear(27, 19, 8).double()
    for _ in range(5):
        with torch.no_grad():
            other.weight.copy_(torch.from_numpy(rng.normal(size=other.weight.shape)))
        basis = dense_matrix(other)
        assert abs(np.sum(residual * basis)) < 1e-10 * np.linalg.norm(basis)
        farther = dense.weight.detach().numpy() - (dense_matrix(circ) + 0.01 * basis)
        assert np.linalg.norm(farther) > np.linalg.norm(residual)


def test_a_block_circulant_matrix_projects_onto_itself(seed):
    rng = np.random.default_rng(seed)
    weight = rng.normal(size=(2, 3, 4))
    dense = nn.Linear(12, 8, dtype=torch.float64)
    with torch.no_grad():
        dense.weight.copy_(torch.from_numpy(np.block(
            [[scipy.linalg.circulant(weight[i, j]) for j in range(3)] for i in range(2)])))
    np.testing.assert_array_equal(from_dense(dense, 4).weight.detach().numpy(), weight)


def test_conv_is_the_diagonal_average_of_its_patch_matrix(seed):
    torch.manual_seed(seed)
    dense = nn.Conv2d(3, 10, (3, 2), stride=(2, 1), padding=(1, 0), dtype=torch.float64)
    circ = from_dense(dense, 4)
    assert isinstance(circ, BlockCirculantConv2d)
    assert (circ.kernel_size, circ.stride, circ.padding) == ((3, 2), (2, 1), (1, 0))
    expected = diagonal_average(conv_patch_matrix(dense.weight.detach().numpy()), 4)
    np.testing.assert_allclose(circ.weight.detach().numpy(), expected, rtol=1e-12, atol=1e-14)
    assert torch.equal(circ.bias, dense.bias)


def test_a_block_circulant_conv_keeps_its_outputs(seed):
    """A dense conv whose patch matrix is block-circulant: the projected module gives
    PyTorch's conv2d outputs, which only the (kh, kw, c) patch order achieves."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    target = BlockCirculantConv2d(8, 8, 3, 8, padding=1).double()
    dense = nn.Conv2d(8, 8, 3, padding=1, dtype=torch.float64)
    with torch.no_grad():
        target.weight.copy_(torch.from_numpy(rng.normal(size=target.weight.shape)))
        kernel = torch.from_numpy(dense_matrix(target)).reshape(8, 3, 3, 8).permute(0, 3, 1, 2)
        dense.weight.copy_(kernel)
    x = torch.randn(2, 8, 5, 6, dtype=torch.float64)
    circ = from_dense(dense, 8)
    np.testing.assert_allclose(circ.weight.detach().numpy(), target.weight.detach().numpy(),
                               rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(circ(x), dense(x), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("module, k, error, message", [
    (nn.Conv2d(4, 4, 3, groups=2), 4, ModelError,
     "from_dense: Conv2d(4, 4, kernel_size=(3, 3), stride=(1, 1), groups=2): "
     "a block-circulant convolution needs groups=1"),
    (nn.Conv2d(4, 4, 3, dilation=2), 4, ModelError,
     "from_dense: Conv2d(4, 4, kernel_size=(3, 3), stride=(1, 1), dilation=(2, 2)): "
     "a block-circulant convolution needs dilation=1"),
    (nn.Conv2d(4, 4, 3, padding="same"), 4, ModelError,
     "from_dense: Conv2d(4, 4, kernel_size=(3, 3), stride=(1, 1), padding=same): "
     "a block-circulant convolution needs integer padding (not 'same' or 'valid')"),
    (nn.Conv1d(4, 4, 3), 4, ModelError,
     "from_dense: Conv1d is not supported (an nn.Linear or an nn.Conv2d)"),
    (nn.Linear(4, 4), 6, ValueError, "k must be a power of two in 2..4096, not 6"),
])
def test_unsupported_modules_are_refused(module, k, error, message):
    with pytest.raises(error) as info:
        from_dense(module, k)
    assert str(info.value) == message
