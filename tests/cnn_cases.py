"""Random convolutional networks, compiled and laid out for the accelerator (the
accelerator bench of ``network_cases`` runs them)."""

import numpy as np

from circnn.bundle import Bundle, Layer, MaxPool2d
from circnn.compiler import compile_cnn
from circnn.config import EngineConfig, NetworkConfig, PatchConfig
from circnn.sim.model.accelerator import build_image, host_writes, mac_bound_cycles
from circnn.sim.model.cnn import cnn_forward
from circnn.sim.model.fixedpoint import FixedFormat

from test_conv_model import random_conv

#: the convolution accelerator the CNN tests share (one simulator build for all of them)
CNN_NET = NetworkConfig(EngineConfig(k=8, pes=2, batch=2, max_q=40, max_p=4, weight_depth=400,
                                     bias_depth=64),
                        max_layers=5, max_map=1024,
                        patch=PatchConfig(max_side=10, max_channels=16, max_kernel=5,
                                          max_stride=2, max_padding=2))


def conv_spec(c_in, kernel, stride, padding, in_hw, c_out, pool=None):
    """One convolution (and its pooling: ``(kernel, stride)``) of a spec list."""
    return dict(c_in=c_in, kernel=kernel, stride=stride, padding=padding, in_hw=in_hw,
                c_out=c_out, pool=pool)


def random_cnn(rng, k, convs, dense_outs):
    """Convolutions (``conv_spec``, each reading the previous map), then dense layers
    (their output widths), ReLU between, none at the end."""
    layers = []
    for spec in convs:
        conv = random_conv(rng, k, spec["c_in"], spec["kernel"], spec["stride"],
                           spec["padding"], spec["in_hw"], spec["c_out"])
        layers.append(conv)
        if spec["pool"] is not None:
            layers.append(MaxPool2d(conv.out_shape, *spec["pool"]))
    n_in = layers[-1].n_out
    for i, n_out in enumerate(dense_outs):
        q, p = -(-n_in // k), -(-n_out // k)
        last = i == len(dense_outs) - 1
        layers.append(Layer(rng.normal(size=(p, q, k)) * np.sqrt(2.0 / n_in),
                            rng.normal(size=p * k) * 0.1, "none" if last else "relu",
                            in_features=n_in if q * k != n_in else None,
                            out_features=n_out if p * k != n_out else None))
        n_in = n_out
    return Bundle(layers)


def cnn_case(rng, net, convs, dense_outs, images):
    """A random CNN compiled for ``net``: (steps, image, input codes, expected codes,
    host writes)."""
    eng = net.engine
    bundle = random_cnn(rng, eng.k, convs, dense_outs)
    n_in = int(np.prod(bundle.in_shape))
    steps = compile_cnn(bundle, eng, rng.uniform(-1, 1, (16, n_in)))
    image = build_image(steps, net)
    x = FixedFormat(eng.act_width, steps[0].program.in_frac).quantize(
        rng.uniform(-1, 1, (images, n_in)), "half_even")
    expected = cnn_forward(x, steps, eng)
    writes = host_writes(image, n_batches=images // net.images)
    return steps, image, x, expected, np.array(writes, dtype=np.int64)


def cnn_entry(name, image, images, net=CNN_NET, **extra):
    """The bench's run entry of a laid-out CNN (``images``: how many it runs)."""
    bound = images * sum(mac_bound_cycles(image.stages, net.engine))
    return dict(name=name, batch=net.engine.batch, k=net.engine.k, p=image.programs[-1].p,
                max_p=net.engine.max_p, layers=image.n_layers, mac_bound_clocks=bound, **extra)
