"""The two networks the demo can run (``--network``): the convolutional one (default)
and the MLP.  Each says how to build, train, export, compile and run its networks
in the bit-true model; the pipeline (:mod:`.pipeline`) is the same for both.
"""

from __future__ import annotations

import math

import numpy as np

from circnn.errors import ParameterError

__all__ = ["NETWORKS", "MLP", "CNN"]


class _Family:
    name = ""
    #: k of the demo's network and the block sizes of the accuracy sweep
    k = 8
    sweep_ks = (4, 8, 16)
    epochs_digits = 20
    epochs_mnist = 5
    lr = 5e-3
    #: the engine's batch B (input vectors per weight read)
    batch = 4
    #: batches of B inputs that run each layer together (the accelerator's
    #: ``layer_batches``): the pipeline's fill and drain are paid once per layer
    #: for all of them, at the cost of activation buffers for that many inputs
    layer_batches = 8

    def __init__(self, cfg):
        self.cfg = cfg

    def weighted(self, bundle) -> list:
        """The bundle's layers with weights (those the engine computes)."""
        return [layer for layer in bundle.layers if layer.kind != "maxpool2d"]


class MLP(_Family):
    """``n_in -> hidden -> 10`` fully connected (bundle format 1)."""

    name = "mlp"

    def check(self, n_in: int) -> None:
        limit = min(n_in, self.cfg.hidden)
        if self.cfg.k > limit:
            raise ParameterError(
                f"--k {self.cfg.k}: block size larger than the layer widths allow (input {n_in}, "
                f"hidden {self.cfg.hidden}: k must be at most {limit})")

    def sizes(self, n_in: int) -> list[int]:
        return [n_in, self.cfg.hidden, 10]

    def describe(self, n_in: int) -> str:
        return " -> ".join(map(str, self.sizes(n_in)))

    def ks(self, n_in: int) -> list[int]:
        return sorted({k for k in self.sweep_ks if k <= min(n_in, self.cfg.hidden)} | {self.cfg.k})

    def dense(self, n_in: int):
        from circnn.training import dense_network
        return dense_network(self.sizes(n_in), seed=self.cfg.seed)

    def circulant(self, n_in: int, k: int):
        from circnn.training import circulant_network
        return circulant_network(self.sizes(n_in), k, seed=self.cfg.seed)

    def to_bundle(self, net, extra=None):
        from circnn.training import to_bundle
        return to_bundle(net, extra=extra)

    def compile(self, bundle, eng, calibration):
        from circnn.compiler import compile_network
        return compile_network(bundle, eng, calibration=calibration)

    def golden(self, layers, eng, x):
        """(output codes, dequantised logits (N, 10), input codes)."""
        from circnn.compiler import dequantize_outputs, quantize_inputs
        from circnn.sim.model.network import network_forward
        x_codes = quantize_inputs(x, layers[0].in_frac, eng, layers[0].q, name="test inputs")
        y_codes = network_forward(x_codes, layers, eng)
        return y_codes, dequantize_outputs(y_codes, layers[-1].out_frac, 10), x_codes


class CNN(_Family):
    """A convolutional network (``--cnn``, default ``conv3x3x16,conv3x3x32,pool2,dense128,
    dense10``) on the images' maps (bundle format 2)."""

    name = "cnn"
    k = 16
    epochs_digits = 30
    epochs_mnist = 3
    lr = 2e-3
    # B = 2 keeps each PE's accumulator memory (2 banks of B*k/2 words) at 32 words,
    # in LUT RAM that closes timing; at B = 4 (64 words) its read mux limits the
    # accelerator to about 84 MHz (measured), for 3 % fewer cycles per inference
    batch = 2
    # two batches per layer: the dense layers' fill and first spectrum load are
    # paid once for 4 images (6481.5 instead of 6891.0 cycles per inference,
    # measured), at the cost of activation buffers for 4 maps
    layer_batches = 2

    def spec(self):
        from circnn.cnn_training import parse_cnn_spec
        return parse_cnn_spec(self.cfg.cnn)

    def check(self, n_in: int) -> None:
        side = int(round(math.sqrt(n_in)))
        if side * side != n_in:
            raise ParameterError(f"--network cnn: images of {n_in} values are not square "
                                 f"single-channel maps")
        self.spec()

    def describe(self, n_in: int) -> str:
        from circnn.cnn_training import cnn_network
        net = self.to_bundle(cnn_network(self.map_shape(n_in), self.spec(), 4))
        parts = []
        for layer in net.layers:
            if layer.kind == "conv2d":
                parts.append(f"conv {layer.kernel[0]}x{layer.kernel[1]}x{layer.channels_out}")
            elif layer.kind == "maxpool2d":
                parts.append(f"maxpool {layer.kernel[0]}x{layer.kernel[1]}")
            else:
                parts.append(f"dense {layer.n_out}")
        h, w, c = self.map_shape(n_in)
        return f"{h}x{w}x{c} -> " + " -> ".join(parts)

    def map_shape(self, n_in: int) -> tuple:
        side = int(round(math.sqrt(n_in)))
        return side, side, 1

    def ks(self, n_in: int) -> list[int]:
        return sorted(set(self.sweep_ks) | {self.cfg.k})

    def dense(self, n_in: int):
        from circnn.cnn_training import cnn_network
        return cnn_network(self.map_shape(n_in), self.spec(), None, seed=self.cfg.seed)

    def circulant(self, n_in: int, k: int):
        from circnn.cnn_training import cnn_network
        return cnn_network(self.map_shape(n_in), self.spec(), k, seed=self.cfg.seed)

    def to_bundle(self, net, extra=None):
        from circnn.cnn_training import cnn_to_bundle
        return cnn_to_bundle(net, extra=extra)

    def compile(self, bundle, eng, calibration):
        from circnn.compiler import compile_cnn
        return compile_cnn(bundle, eng, calibration)

    def golden(self, layers, eng, x):
        from circnn.sim.model.cnn import cnn_forward
        from circnn.sim.model.fixedpoint import FixedFormat
        in_frac = next(s.program for s in layers if s.program is not None).in_frac
        out_frac = [s.program for s in layers if s.program is not None][-1].out_frac
        x_codes = FixedFormat(eng.act_width, in_frac).quantize(np.asarray(x), "half_even")
        y_codes = cnn_forward(x_codes, layers, eng)
        return y_codes, y_codes[:, :10] * 2.0 ** -out_frac, x_codes


NETWORKS = {"cnn": CNN, "mlp": MLP}
