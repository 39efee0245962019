"""Random block-circulant networks, compiled and laid out for the accelerator."""

import numpy as np

from circnn.compiler import compile_network, quantize_inputs
from circnn.bundle import Bundle, Layer
from circnn.sim.model.network import network_forward
from circnn.sim.model.accelerator import build_image, host_writes


def random_bundle(rng, k, blocks, activations, in_features=None, out_features=None):
    """blocks: [q0, p0(=q1), p1, ...] block counts along the chain."""
    layers = []
    for i, act in enumerate(activations):
        q, p = blocks[i], blocks[i + 1]
        w = rng.normal(size=(p, q, k)) * np.sqrt(2.0 / (q * k))
        b = rng.normal(size=p * k) * 0.1
        last = i == len(activations) - 1
        layers.append(Layer(w, b, act, in_features=in_features if i == 0 else None,
                            out_features=out_features if last else None))
        if last and out_features is not None:
            layers[-1].bias[out_features:] = 0.0
    return Bundle(layers)


def network_case(rng, net, blocks, activations, vectors, in_features=None, out_features=None):
    eng = net.engine
    bundle = random_bundle(rng, eng.k, blocks, activations, in_features, out_features)
    n_in = bundle.layers[0].n_in
    programs = compile_network(bundle, eng, calibration=rng.uniform(-1, 1, (64, n_in)))
    image = build_image(programs, net)
    x = quantize_inputs(rng.uniform(-1, 1, (vectors, n_in)), programs[0].in_frac, eng, blocks[0])
    expected = network_forward(x, programs, eng)
    writes = host_writes(image, n_batches=vectors // eng.batch)
    return bundle, programs, image, x, expected, np.array(writes, dtype=np.int64)
