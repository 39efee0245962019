"""Independent float references the tests compare circnn's results with."""

import numpy as np
import scipy.linalg

__all__ = ["dense_reference"]


def dense_reference(layers, x):
    """A network of bundle layers with every block expanded by ``scipy.linalg.circulant``
    (the first-column convention), zero padding and cropping as the bundle
    format says: float64 outputs (N, n_out) for rows ``x``."""
    y = np.atleast_2d(np.asarray(x, dtype=np.float64))
    for layer in layers:
        p, q, k = layer.weight.shape
        w = np.block([[scipy.linalg.circulant(layer.weight[i, j]) for j in range(q)]
                      for i in range(p)])
        padded = np.zeros((y.shape[0], q * k))
        padded[:, :y.shape[1]] = y
        y = padded @ w.T + layer.bias
        if layer.activation == "relu":
            y = np.maximum(y, 0.0)
        y = y[:, :layer.n_out]
    return y
