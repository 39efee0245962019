# amaranth: UnusedElaboratable=no
"""The whole accelerator (controller, buffers, host port, layer core) == the bit-true
network model, word for word; networks loaded at run time; reset; bad descriptors."""

import numpy as np
import pytest

from circnn.errors import CircnnError
from circnn.config import EngineConfig, ErrorCode, NetworkConfig, descriptor_address
from circnn.sim.model.accelerator import host_writes

from network_cases import NET, network_case, run_accelerator, run_entry


@pytest.mark.parametrize("blocks,activations", [
    ([3, 2], ["none"]),
    ([2, 4, 1], ["relu", "none"]),
    ([4, 3, 3, 2], ["relu", "relu", "none"]),
    ([1, 2, 4, 3, 2, 1], ["relu", "none", "relu", "relu", "none"]),
])
def test_network_runs_layer_after_layer(blocks, activations, seed):
    rng = np.random.default_rng(seed)
    _, programs, _, x, expected, writes = network_case(rng, NET, blocks, activations, vectors=6)
    stats = run_accelerator(f"net{len(activations)}", [run_entry("run", programs)],
                            {"run_writes": writes, "run_x": x, "run_expected": expected}, seed)
    print(stats)
    assert stats["run"]["inferences_counter"] == 6


def test_two_networks_in_one_simulation_and_padding(seed):
    rng = np.random.default_rng(seed)
    _, prog_a, _, xa, ya, wa = network_case(rng, NET, [2, 3, 2], ["relu", "none"], vectors=4)
    _, prog_b, _, xb, yb, wb = network_case(rng, NET, [3, 4, 1], ["relu", "relu"], vectors=4,
                                            in_features=21, out_features=5)
    run_accelerator("two_networks", [run_entry("a", prog_a), run_entry("b", prog_b)],
                    {"a_writes": wa, "a_x": xa, "a_expected": ya,
                     "b_writes": wb, "b_x": xb, "b_expected": yb}, seed)


def test_network_given_at_elaboration_needs_no_loading(seed):
    rng = np.random.default_rng(seed)
    _, programs, image, x, expected, writes = network_case(rng, NET, [2, 2, 3], ["relu", "relu"],
                                                           vectors=4)
    only_batches = host_writes(image, weights=False, n_batches=2)[-1:]
    run_accelerator("elaborated", [run_entry("run", programs)],
                    {"run_writes": np.array(only_batches), "run_x": x, "run_expected": expected},
                    seed, image=image, simulator="icarus")   # its own build: short, on Icarus


@pytest.mark.parametrize("burst", [1, 40])
def test_back_to_back_with_heavy_stalls(burst, seed):
    # per-clock draws, and long runs that fill the activation buffers' queues
    rng = np.random.default_rng(seed)
    _, programs, _, x, expected, writes = network_case(rng, NET, [3, 2, 2], ["relu", "none"],
                                                       vectors=10)
    run_accelerator(f"stalls_{burst}", [run_entry("run", programs)],
                    {"run_writes": writes, "run_x": x, "run_expected": expected}, seed,
                    idle=0.5, stall=0.6, burst=burst)


def test_reset_in_the_middle_then_a_correct_inference(seed):
    rng = np.random.default_rng(seed)
    _, programs, _, x, expected, writes = network_case(rng, NET, [2, 3, 2], ["relu", "none"], vectors=4)
    run_accelerator("reset", [run_entry("run", programs, reset_after=150)],
                    {"run_writes": writes, "run_x": x, "run_expected": expected}, seed)


def test_invalid_descriptors_are_flagged_not_run(seed):
    rng = np.random.default_rng(seed)
    _, programs, image, x, expected, writes = network_case(rng, NET, [2, 3, 2], ["relu", "none"], vectors=2)
    cases = {
        "q_too_big": (0, "q", 9, (ErrorCode.Q_RANGE, 0)),
        "p_zero": (1, "p", 0, (ErrorCode.P_RANGE, 1)),
        "weights_past_bank": (1, "w_base", 90, (ErrorCode.WEIGHTS_OVERFLOW, 1)),
        "bias_past_memory": (0, "b_base", 60, (ErrorCode.BIASES_OVERFLOW, 0)),
        "chain_mismatch": (1, "q", 2, (ErrorCode.SHAPE_CHAIN, 1)),
        "buffers_do_not_chain": (1, "src", 2, (ErrorCode.BUFFER_CHAIN, 1)),
        "out_features": (0, "out_features", 99, (ErrorCode.OUT_FEATURES_RANGE, 0)),
        "shift": (1, "acc_shift", 200, (ErrorCode.SHIFT_RANGE, 1)),
    }
    runs, arrays = [], {}
    for name, (layer, field, value, expect) in cases.items():
        arrays[f"{name}_writes"] = np.concatenate([writes, [[descriptor_address(layer, field), value]]])
        runs.append(dict(name=name, expect_error=[int(expect[0]), expect[1]]))
    # and a good run afterwards: the engine is not left hung
    arrays.update({"good_writes": writes, "good_x": x, "good_expected": expected})
    runs.append(run_entry("good", programs))
    stats = run_accelerator("invalid", runs, arrays, seed)
    assert stats["q_too_big"]["error_code"] == ErrorCode.Q_RANGE


def test_compiler_refuses_what_the_engine_cannot_hold(seed):
    rng = np.random.default_rng(seed)
    small = NetworkConfig(EngineConfig(k=8, pes=2, max_q=4, max_p=4, weight_depth=20, bias_depth=64),
                          max_layers=2)
    with pytest.raises(CircnnError, match="layer 1: its weights need words"):
        network_case(rng, small, [2, 3, 2], ["relu", "none"], vectors=2)
    with pytest.raises(CircnnError, match="the accelerator.s table has max_layers=2 slots"):
        network_case(rng, small, [1, 1, 1, 1], ["relu", "relu", "none"], vectors=2)


def test_a_dense_network_sized_by_the_compiler_runs(seed):
    """network_config_for sizes the accelerator of an MLP tightly (no maps, a patch walker
    of one value): a first layer of 64 values still chains (its in_values, wider than any
    map, once wrapped in a narrow register and was refused)."""
    from circnn.compiler import network_config_for
    from circnn.sim.harness.accelerator import simulate_network
    rng = np.random.default_rng(seed)
    eng = EngineConfig(k=4, pes=4, batch=2, max_q=16, max_p=4, weight_depth=512, bias_depth=64)
    _, programs, _, x, expected, _ = network_case(rng, NetworkConfig(eng, max_layers=2),
                                                  [16, 4, 3], ["relu", "none"], vectors=4)
    net = network_config_for(programs, eng)
    assert (net.max_map, net.patch.max_side, net.convolution) == (2, 1, False)
    # a few hundred clocks: Icarus builds in a second, Verilator in twenty
    y, _ = simulate_network(net, programs, x, name="sized_mlp", seed=seed, compare=True,
                            prefer="icarus")
    np.testing.assert_array_equal(y, expected)
