"""Independent references for the PyTorch front end's tests: circulant blocks
expanded to dense matrices with ``scipy.linalg.circulant`` (the first-column
convention), PyTorch's own dense ``conv2d``, and a diagonal average by loops."""

import numpy as np
import scipy.linalg
import torch
from torch.nn import functional

# one thread per test process: the tensors here are small, and PyTorch's worker
# threads slow down many times over beside the suite's other workers (pytest -n)
torch.set_num_threads(1)

__all__ = ["dense_matrix", "linear_reference", "conv_reference", "diagonal_average",
           "conv_patch_matrix"]


def dense_matrix(module) -> np.ndarray:
    """The module's real out_features x in_features matrix, float64, block by block."""
    w = module.weight.detach().double().numpy()
    p, q, _ = w.shape
    full = np.block([[scipy.linalg.circulant(w[i, j]) for j in range(q)] for i in range(p)])
    return full[:module.out_features, :module.in_features]


def _bias(module) -> np.ndarray:
    return 0.0 if module.bias is None else module.bias.detach().double().numpy()


def linear_reference(module, x: np.ndarray) -> np.ndarray:
    """``BlockCirculantLinear`` as a dense product: (N, out_features)."""
    return x @ dense_matrix(module).T + _bias(module)


def conv_reference(module, x: torch.Tensor) -> torch.Tensor:
    """``BlockCirculantConv2d`` as PyTorch's dense conv2d, its kernel read out of the
    dense patch matrix: column (kh*KW + kw)*C_in + c is kernel tap (c, kh, kw)."""
    kh, kw = module.kernel_size
    patch = torch.from_numpy(dense_matrix(module))
    kernel = patch.reshape(module.out_channels, kh, kw, module.in_channels).permute(0, 3, 1, 2)
    bias = None if module.bias is None else module.bias.detach().double()
    return functional.conv2d(x.double(), kernel, bias, stride=module.stride, padding=module.padding)


def conv_patch_matrix(weight: np.ndarray) -> np.ndarray:
    """An ``nn.Conv2d`` weight (C_out, C_in, KH, KW) as the bundle's patch matrix, by loops."""
    c_out, c_in, kh, kw = weight.shape
    m = np.zeros((c_out, kh * kw * c_in))
    for o in range(c_out):
        for c in range(c_in):
            for y in range(kh):
                for x in range(kw):
                    m[o, (y * kw + x) * c_in + c] = weight[o, c, y, x]
    return m


def diagonal_average(dense: np.ndarray, k: int) -> np.ndarray:
    """(p, q, k): the mean of the real entries on each wrapped diagonal d = (r - c) mod k
    of each k x k block, entry by entry; 0 where a diagonal has no real entry."""
    m, n = dense.shape
    p, q = -(-m // k), -(-n // k)
    sums, counts = np.zeros((p, q, k)), np.zeros((p, q, k))
    for r in range(m):
        for c in range(n):
            d = (r - c) % k
            sums[r // k, c // k, d] += dense[r, c]
            counts[r // k, c // k, d] += 1
    return np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
