# amaranth: UnusedElaboratable=no
"""Several batches per layer (``NetworkConfig.layer_batches``) == the bit-true models,
word for word.

One accelerator with B = 3 (not a power of two: the dense writer's image index is
core batch x 3 + vector, not a concatenation) and ``layer_batches`` = 2: every
layer runs over 6 images, two core batches, before the next layer starts.  A
dense network and a CNN (convolution, fused pooling, convolution, dense) each
run two network batches under random idle input and output back-pressure in
one simulation; the inference counter says that every image was counted once.
"""

import numpy as np
import pytest

from circnn.config import EngineConfig, NetworkConfig, PatchConfig

from cnn_cases import cnn_case, cnn_entry, conv_spec
from network_cases import network_case, run_accelerator, run_entry

LB_NET = NetworkConfig(EngineConfig(k=8, pes=2, batch=3, max_q=12, max_p=4, weight_depth=160,
                                    bias_depth=64),
                       max_layers=4, max_map=128, layer_batches=2,
                       patch=PatchConfig(max_side=6, max_channels=8, max_kernel=3,
                                         max_stride=2, max_padding=1))

CHAIN = [conv_spec(1, (3, 3), (1, 1), (1, 1), (6, 6), 8, ((2, 2), (2, 2))),
         conv_spec(8, (3, 3), (1, 1), (1, 1), (3, 3), 8)]


@pytest.mark.long
def test_two_batches_a_layer_dense_and_convolution(seed):
    assert LB_NET.images == 6
    rng = np.random.default_rng(seed)
    images = 2 * LB_NET.images
    _, image, x, expected, writes = cnn_case(rng, LB_NET, CHAIN, [5], images=images)
    _, programs, _, xm, ym, wm = network_case(rng, LB_NET, [3, 4, 2], ["relu", "none"],
                                              vectors=images)
    arrays = {"cnn_writes": writes, "cnn_x": x, "cnn_expected": expected,
              "mlp_writes": wm, "mlp_x": xm, "mlp_expected": ym}
    stats = run_accelerator("layer_batches", [run_entry("mlp", programs, net=LB_NET),
                                              cnn_entry("cnn", image, images, net=LB_NET)],
                            arrays, seed, idle=0.2, stall=0.3, net=LB_NET)
    # INFERENCES counts since reset: each run adds its images once
    for name, counted in (("mlp", images), ("cnn", 2 * images)):
        assert stats[name]["inferences_counter"] == counted, (name, stats[name])
        assert all(c > 0 for c in stats[name]["layer_cycles_last_batch"])
