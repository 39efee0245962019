"""The demo's data set: scikit-learn's 8x8 digits or MNIST IDX files, checked on loading."""

from __future__ import annotations

from circnn.datasets import load_digits_split, load_mnist_idx
from circnn.errors import CircnnError

from .config import N_CLASSES, DemoConfig

__all__ = ["load_data"]


def load_data(cfg: DemoConfig):
    """(x_train, y_train, x_test, y_test, description); errors name the file."""
    if cfg.mnist is None:
        xtr, ytr, xte, yte = load_digits_split(seed=0)
        name = "scikit-learn digits (8x8), fixed split load_digits_split(seed=0)"
    else:
        xtr, ytr, xte, yte = load_mnist_idx(cfg.mnist)
        name = f"MNIST IDX files in {cfg.mnist}"
        for label, y in (("train-labels-idx1-ubyte", ytr), ("t10k-labels-idx1-ubyte", yte)):
            if len(y) == 0:
                raise CircnnError(f"{cfg.mnist / label}: no samples")
            if y.max() >= N_CLASSES:
                raise CircnnError(f"{cfg.mnist / label}: label {int(y.max())} outside "
                                  f"0..{N_CLASSES - 1}")
        if xtr.shape[1] != xte.shape[1]:
            raise CircnnError(f"{cfg.mnist / 't10k-images-idx3-ubyte'}: images have "
                              f"{xte.shape[1]} pixels, the training images {xtr.shape[1]}")
    if cfg.limit is not None:
        xte, yte = xte[:cfg.limit], yte[:cfg.limit]
    return xtr, ytr, xte, yte, name
