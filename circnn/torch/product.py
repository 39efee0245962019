"""The block-circulant product in PyTorch, through the FFT, with autograd.

A weight of shape (p, q, k) holds the **first column** of each k x k block
(circnn's convention, the same as :mod:`circnn.sim.model.circulant` and the
bundle): ``W_ij[r, c] = weight[i, j, (r - c) mod k]``, so ``W_ij x_j`` is the
circular convolution of ``weight[i, j]`` with ``x_j``.  The product follows
the engine's dataflow: each input block is transformed once, the products
are summed over the q input blocks in the frequency domain, and one inverse
transform per output block gives the result.  ``torch.fft.rfft`` /
``irfft`` keep bins 0..k/2 only, as the hardware does for real data, and
autograd differentiates through them.
"""

from __future__ import annotations

import torch

__all__ = ["block_circulant_product", "padded_to"]


def padded_to(x: torch.Tensor, width: int) -> torch.Tensor:
    """``x`` (..., n) with zeros appended along the last axis up to ``width`` values."""
    missing = width - x.shape[-1]
    return torch.nn.functional.pad(x, (0, missing)) if missing else x


def block_circulant_product(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``W x`` for every row of ``x`` (..., q*k): the result is (..., p*k).

    ``weight`` is (p, q, k) as described in the module docstring.
    """
    p, q, k = weight.shape
    lead = x.shape[:-1]
    x_spectra = torch.fft.rfft(x.reshape(*lead, q, k), dim=-1)        # (..., q, k/2+1)
    w_spectra = torch.fft.rfft(weight, dim=-1)                          # (p, q, k/2+1)
    # accumulate over the input blocks j before any inverse transform
    acc = torch.einsum("...jf,ijf->...if", x_spectra, w_spectra)       # (..., p, k/2+1)
    return torch.fft.irfft(acc, n=k, dim=-1).reshape(*lead, p * k)
