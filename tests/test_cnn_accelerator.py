# amaranth: UnusedElaboratable=no
"""Convolutional networks on the accelerator == the bit-true CNN model, word for word.

Im2col addressing (kernels 1x1/3x3/5x5, strides 1 and 2, padding 0-2, C_in of 1,
3, k and 2k, odd C_out), max-pooling fused into the writer (2x2 and 3x3 stride
2), conv -> pool -> conv -> dense chains, an MLP and CNNs loaded one after the
other into one simulation, back-to-back images under bursty stalls, a reset in
the middle of a layer, invalid descriptors flagged in STATUS, and networks the
compiler refuses before any simulation.  All simulations share one build of
``CNN_NET``.
"""

import numpy as np
import pytest

from circnn.config import ErrorCode, NetworkConfig, PatchConfig, descriptor_address
from circnn.errors import CircnnError
from circnn.sim.model.accelerator import build_image

from cnn_cases import CNN_NET, cnn_case, cnn_entry, conv_spec
from network_cases import network_case, run_accelerator, run_entry

#: one convolution each (then a dense layer of 5 outputs), covering the geometry
CONVS = {
    "1x1_c1": conv_spec(1, (1, 1), (1, 1), (0, 0), (6, 6), 8),
    "3x3_c3_pool2_odd_cout": conv_spec(3, (3, 3), (1, 1), (1, 1), (6, 6), 5, ((2, 2), (2, 2))),
    "3x3_ck_stride2": conv_spec(8, (3, 3), (2, 2), (1, 1), (7, 7), 8),
    "1x1_c2k_pool3s2_cout3": conv_spec(16, (1, 1), (1, 1), (0, 0), (5, 5), 3, ((3, 3), (2, 2))),
    "5x5_c3_pad2": conv_spec(3, (5, 5), (1, 1), (2, 2), (6, 6), 8),
    "5x5_c1_stride2_pad2": conv_spec(1, (5, 5), (2, 2), (2, 2), (9, 9), 4),
    "3x3_ck_mixed_pool2": conv_spec(8, (3, 3), (2, 1), (0, 1), (7, 6), 16, ((2, 2), (2, 2))),
    "3x3_c2k_pool3s2_pad1": conv_spec(16, (3, 3), (1, 1), (1, 1), (5, 5), 12, ((3, 3), (2, 2))),
}

CHAIN = [conv_spec(1, (3, 3), (1, 1), (1, 1), (6, 6), 8, ((2, 2), (2, 2))),
         conv_spec(8, (3, 3), (1, 1), (1, 1), (3, 3), 16)]


def test_every_geometry_word_for_word(seed):
    rng = np.random.default_rng(seed)
    runs, arrays = [], {}
    for name, spec in CONVS.items():
        _, image, x, expected, writes = cnn_case(rng, CNN_NET, [spec], [5], images=4)
        arrays.update({f"{name}_writes": writes, f"{name}_x": x, f"{name}_expected": expected})
        runs.append(cnn_entry(name, image, 4))
    stats = run_accelerator("cnn_geometry", runs, arrays, seed, net=CNN_NET)
    assert all(stats[name]["inferences_counter"] > 0 for name in CONVS)


def test_an_mlp_and_cnns_one_after_the_other(seed):
    """conv -> pool -> conv -> dense -> dense, an MLP, the CNN again: one simulation."""
    rng = np.random.default_rng(seed)
    _, image, x, expected, writes = cnn_case(rng, CNN_NET, CHAIN, [20, 5], images=4)
    _, programs, _, xm, ym, wm = network_case(rng, CNN_NET, [3, 2, 2], ["relu", "none"],
                                              vectors=4)
    arrays = {"cnn_writes": writes, "cnn_x": x, "cnn_expected": expected,
              "mlp_writes": wm, "mlp_x": xm, "mlp_expected": ym,
              "again_writes": writes, "again_x": x[::-1].copy(),
              "again_expected": expected[::-1].copy()}
    stats = run_accelerator("cnn_mlp", [cnn_entry("cnn", image, 4),
                                        run_entry("mlp", programs, net=CNN_NET),
                                        cnn_entry("again", image, 4)], arrays, seed, net=CNN_NET)
    assert stats["cnn"]["layer_cycles_last_batch"][0] > 0
    assert len(stats["cnn"]["layer_cycles_last_batch"]) == 4     # the pooling is fused


@pytest.mark.parametrize("burst", [1, 40])
def test_back_to_back_images_under_bursty_stalls(burst, seed):
    rng = np.random.default_rng(seed)
    _, image, x, expected, writes = cnn_case(rng, CNN_NET, CHAIN, [5], images=10)
    run_accelerator(f"cnn_stalls_{burst}", [cnn_entry("run", image, 10)],
                    {"run_writes": writes, "run_x": x, "run_expected": expected}, seed,
                    idle=0.5, stall=0.6, burst=burst, net=CNN_NET)


def test_reset_in_the_middle_of_a_convolution_then_a_correct_inference(seed):
    rng = np.random.default_rng(seed)
    _, image, x, expected, writes = cnn_case(rng, CNN_NET, CHAIN, [5], images=4)
    run_accelerator("cnn_reset", [cnn_entry("run", image, 4, reset_after=400)],
                    {"run_writes": writes, "run_x": x, "run_expected": expected}, seed,
                    net=CNN_NET)


def test_invalid_convolution_descriptors_are_flagged_not_run(seed):
    rng = np.random.default_rng(seed)
    _, image, x, expected, writes = cnn_case(rng, CNN_NET, CHAIN, [5], images=2)
    cases = {   # (layer, {field: value}, expected code)
        "kernel_past_max": (0, {"kernel_h": 7}, ErrorCode.GEOMETRY_RANGE),
        "side_past_max": (0, {"in_h": 40}, ErrorCode.GEOMETRY_RANGE),
        "padding_not_below_kernel": (1, {"pad_w": 3}, ErrorCode.GEOMETRY_RANGE),
        "stride_zero": (1, {"stride_h": 0}, ErrorCode.GEOMETRY_RANGE),
        "pool_window_too_wide": (0, {"pool_h": 5}, ErrorCode.GEOMETRY_RANGE),
        "pool_larger_than_map": (1, {"pool": 1, "pool_h": 4, "pool_w": 4, "pool_stride_h": 2,
                                     "pool_stride_w": 2}, ErrorCode.GEOMETRY_RANGE),
        "kind_unknown": (1, {"kind": 2}, ErrorCode.GEOMETRY_RANGE),
        "map_past_buffer": (0, {"in_h": 10, "in_w": 10, "in_c": 16}, ErrorCode.MAP_OVERFLOW),
        "patch_past_q": (1, {"kernel_h": 5, "kernel_w": 5, "pad_h": 2, "pad_w": 2},
                         ErrorCode.PATCH_SIZE),
        "map_does_not_chain": (1, {"in_c": 4}, ErrorCode.SHAPE_CHAIN),
        "convolution_writes_out": (1, {"dst": 3}, ErrorCode.BUFFER_CHAIN),
    }
    runs, arrays = [], {}
    for name, (layer, fields, code) in cases.items():
        extra = [[descriptor_address(layer, f), v] for f, v in fields.items()]
        arrays[f"{name}_writes"] = np.concatenate([writes, extra])
        runs.append(dict(name=name, expect_error=[int(code), layer]))
    arrays.update({"good_writes": writes, "good_x": x, "good_expected": expected})
    runs.append(cnn_entry("good", image, 2))     # not left hung
    stats = run_accelerator("cnn_invalid", runs, arrays, seed, net=CNN_NET)
    assert stats["map_past_buffer"]["error_code"] == ErrorCode.MAP_OVERFLOW


# --- refused by the compiler, before any simulation -------------------------------------

def _laid_out(rng, net, convs, dense_outs=(5,)):
    from cnn_cases import random_cnn
    from circnn.compiler import compile_cnn
    bundle = random_cnn(rng, net.engine.k, convs, list(dense_outs))
    steps = compile_cnn(bundle, net.engine, rng.uniform(-1, 1, (8, int(np.prod(bundle.in_shape)))))
    return build_image(steps, net)


@pytest.mark.parametrize("net_change,convs,message", [
    ({"max_map": 200}, CHAIN, r"layer 0 \(conv2d\): its input map 6x6x1 is 36 values|"
                              r"layer 0 \(conv2d\): its output map 3x3x8 is 72 values"),
    ({"max_map": 50}, CHAIN, r"layer 0 \(conv2d\): its output map 3x3x8 is 72 values; the "
                             r"activation buffers hold max_map=50 values per image"),
    ({"max_kernel": 2}, CHAIN, r"layer 0 \(conv2d\): its kernel is 3; the accelerator's patch "
                               r"walker takes at most max_kernel=2"),
    ({"max_side": 5}, CHAIN, r"layer 0 \(conv2d\): its input side is 6; .* max_side=5"),
    ({"max_channels": 4}, CHAIN, r"layer 2 \(conv2d\): its input channels is 8; .* "
                                 r"max_channels=4"),
    ({"max_layers": 2}, CHAIN, r"the network needs 3 descriptors \(maxpool2d fused into its "
                               r"conv2d\); the accelerator's table has max_layers=2 slots"),
    ({"convolution": False}, CHAIN, r"layer 0 \(conv2d\): the accelerator was built without "
                                    r"convolution \(convolution=False\)"),
])
def test_the_compiler_refuses_a_cnn_that_does_not_fit(net_change, convs, message, seed):
    rng = np.random.default_rng(seed)
    patch = {k: v for k, v in net_change.items() if k.startswith("max_") and k not in
             ("max_map", "max_layers")}
    net = NetworkConfig(CNN_NET.engine, max_layers=net_change.get("max_layers", 5),
                        max_map=net_change.get("max_map", CNN_NET.max_map),
                        convolution=net_change.get("convolution", True),
                        patch=PatchConfig(**{**CNN_NET.patch.__dict__, **patch}))
    if net_change == {"max_map": 200}:
        _laid_out(rng, net, convs)            # fits: 6x6x8 = 288 > 200 is pooled to 72
        return
    with pytest.raises(CircnnError, match=message):
        _laid_out(rng, net, convs)


def test_the_compiler_refuses_layouts_the_hardware_does_not_run(seed):
    from circnn.bundle import Bundle, Layer, MaxPool2d
    from circnn.compiler import compile_cnn
    from circnn.sim.model.cnn import PoolStep
    from test_conv_model import random_conv
    rng = np.random.default_rng(seed)
    eng = CNN_NET.engine
    conv = random_conv(rng, 8, 1, (3, 3), (1, 1), (1, 1), (6, 6), 8)
    # a convolution as the last layer: its map cannot leave as vectors
    steps = compile_cnn(Bundle([conv]), eng, rng.uniform(-1, 1, (4, 36)))
    with pytest.raises(CircnnError, match=r"layer 0 \(conv2d\): the last layer must be dense"):
        build_image(steps, CNN_NET)
    # pooling not after a convolution
    dense = Layer(rng.normal(size=(1, 36, 8)), np.zeros(8), "relu")
    steps = compile_cnn(Bundle([dense, Layer(rng.normal(size=(1, 1, 8)), np.zeros(8), "none")]),
                        eng, rng.uniform(-1, 1, (4, 288)))
    steps.insert(1, PoolStep((2, 2, 2), (2, 2), (2, 2)))
    with pytest.raises(CircnnError, match=r"layer 1 \(maxpool2d\): the accelerator pools in the "
                                          r"writer of the conv2d layer before it, and layer 0 is "
                                          r"a dense layer"):
        build_image(steps, CNN_NET)
    # windows more than twice the stride wide
    pool = MaxPool2d(conv.out_shape, (3, 3), (1, 1))
    tail = Layer(rng.normal(size=(1, 16, 8)) * 0.1, np.zeros(8), "none")
    steps = compile_cnn(Bundle([conv, pool, tail]), eng, rng.uniform(-1, 1, (4, 36)))
    with pytest.raises(CircnnError, match=r"layer 1 \(maxpool2d\): kernel \(3, 3\) with stride "
                                          r"\(1, 1\): the writer pools windows at most twice the "
                                          r"stride wide"):
        build_image(steps, CNN_NET)
