# amaranth: UnusedElaboratable=no
"""Verilator and Icarus Verilog: the same benches, the same words, the same clocks.

A second opinion on every change: the system-level benches (one
``CirculantLayer``, and the whole ``Accelerator`` running a network) run on
both simulators for two configurations each, with random idle and
back-pressure.  Every output word must be identical between the two and
equal to the bit-true model, and so must the clock counts (the stream
shell draws the same idle and stall patterns on both).  These tests ignore
``SIM``: they always run both.

Then the long runs, on Verilator alone, that the speed buys: many random
networks through one accelerator build, and a layer on thousands of rows.
"""

import numpy as np
import pytest

from circnn.config import EngineConfig, NetworkConfig
from circnn.errors import CircnnError
from circnn.sim.harness.accelerator import simulate_network
from circnn.sim.harness.layer import simulate_layer
from circnn.sim.harness.simulators import SIMULATORS
from circnn.sim.harness.stream_shell import shell_addr_bits
from circnn.sim.model.layer import layer_forward
from circnn.sim.model.network import network_forward

from layer_cases import compiled_case
from network_cases import NET, SHELL_BITS, network_case, run_accelerator, run_entry

# (engine, p, q, rows): P not dividing p, B in {1, 2}, two roundings and widths
LAYERS = [
    (EngineConfig(k=8, pes=2, batch=2, max_q=3, max_p=5), 5, 3, 10),
    (EngineConfig(k=16, pes=4, batch=1, max_q=2, max_p=3, act_width=12, weight_width=12,
                  ifft_width=14, twiddle_width=14, rounding="half_even"), 3, 2, 6),
]
#: rows of the long layer runs; the short ones elaborate the same stream shell, so
#: that both share one Verilator build per configuration
LONG_ROWS = 2500
#: random networks a long run loads one after the other
NETWORK_COUNT = 12
# (network, blocks, activations, rows); the first is test_accelerator's (one build for both)
NETWORKS = [
    (NET, [3, 4, 2, 2], ["relu", "relu", "none"], 8),
    (NetworkConfig(EngineConfig(k=16, pes=4, batch=1, max_q=3, max_p=3, weight_depth=72,
                                bias_depth=48), max_layers=3), [2, 3, 1], ["relu", "none"], 5),
]


def _layer_bits(eng, p, q):
    """The stream shell of the long run of this layer (pair words in or out)."""
    return shell_addr_bits(LONG_ROWS * max(p, q) * eng.k // 2)


@pytest.mark.parametrize("case", range(len(LAYERS)))
def test_a_layer_gives_the_same_words_and_clocks_on_both(case, seed):
    eng, p, q, rows = LAYERS[case]
    rng = np.random.default_rng(seed)
    _, prog, x = compiled_case(rng, eng, p, q, rows)
    outs, stats = {}, {}
    for simulator in SIMULATORS:
        outs[simulator], stats[simulator] = simulate_layer(
            eng, prog, x, name=f"both_layer{case}_{simulator}", idle=0.25, stall=0.25,
            seed=seed, compare=True, simulator=simulator, addr_bits=_layer_bits(eng, p, q))
        assert stats[simulator]["simulator"] == simulator
    np.testing.assert_array_equal(outs["verilator"], outs["icarus"])
    np.testing.assert_array_equal(outs["icarus"], layer_forward(x, prog, eng))
    for key in ("cycles", "mac_steps", "pe_steps", "acc_saturations", "out_saturations"):
        assert stats["verilator"][key] == stats["icarus"][key], key


@pytest.mark.parametrize("case", range(len(NETWORKS)))
def test_a_network_gives_the_same_words_and_clocks_on_both(case, seed):
    net, blocks, activations, rows = NETWORKS[case]
    rng = np.random.default_rng(seed)
    _, programs, _, x, _, _ = network_case(rng, net, blocks, activations, vectors=rows)
    outs, stats = {}, {}
    for simulator in SIMULATORS:
        outs[simulator], stats[simulator] = simulate_network(
            net, programs, x, name=f"both_net{case}_{simulator}", idle=0.2, stall=0.2,
            seed=seed, compare=True, simulator=simulator, addr_bits=SHELL_BITS)
    np.testing.assert_array_equal(outs["verilator"], outs["icarus"])
    np.testing.assert_array_equal(outs["icarus"], network_forward(x, programs, net.engine))
    for key in ("cycles", "layer_cycles", "inferences_counter", "stream_cycles"):
        assert stats["verilator"][key] == stats["icarus"][key], key


def test_a_cnn_gives_the_same_words_and_clocks_on_both(seed):
    """conv -> pool -> conv -> dense on the convolution accelerator of the CNN tests."""
    from cnn_cases import CNN_NET, cnn_case
    from test_cnn_accelerator import CHAIN
    rng = np.random.default_rng(seed)
    steps, _, x, expected, _ = cnn_case(rng, CNN_NET, CHAIN, [5], images=4)
    outs, stats = {}, {}
    for simulator in SIMULATORS:
        outs[simulator], stats[simulator] = simulate_network(
            CNN_NET, steps, x, name=f"both_cnn_{simulator}", idle=0.2, stall=0.2, seed=seed,
            compare=True, simulator=simulator, addr_bits=SHELL_BITS)
    np.testing.assert_array_equal(outs["verilator"], outs["icarus"])
    np.testing.assert_array_equal(outs["icarus"], expected)
    for key in ("cycles", "layer_cycles", "batch_cycles", "inferences_counter", "stream_cycles"):
        assert stats["verilator"][key] == stats["icarus"][key], key


# --- the long runs: Verilator only -----------------------------------------------------

def _random_networks(rng, net, count, rows_per_batch):
    """``count`` random networks that fit ``net``: depth 1..max_layers, 1..max blocks a
    layer, padded input and output widths now and then."""
    eng = net.engine
    cases = []
    while len(cases) < count:
        depth = int(rng.integers(1, net.max_layers + 1))
        blocks = [int(b) for b in rng.integers(1, min(eng.max_q, eng.max_p) + 1, size=depth + 1)]
        activations = [str(a) for a in rng.choice(["relu", "none"], size=depth)]
        in_features = int(rng.integers(blocks[0] * eng.k - eng.k + 1, blocks[0] * eng.k + 1)) \
            if rng.random() < 0.3 else None
        out_features = int(rng.integers(blocks[-1] * eng.k - eng.k + 1, blocks[-1] * eng.k + 1)) \
            if rng.random() < 0.3 else None
        rows = eng.batch * int(rng.integers(*rows_per_batch))
        try:
            cases.append(network_case(rng, net, blocks, activations, vectors=rows,
                                      in_features=in_features, out_features=out_features))
        except CircnnError:             # its weights do not fit the banks: draw another
            continue
    return cases


@pytest.mark.long
@pytest.mark.parametrize("case", range(len(NETWORKS)))
def test_many_random_networks_in_one_simulation(case, seed):
    """A dozen random networks loaded one after the other through the host bus,
    hundreds of rows each, with bursty idle and back-pressure: about a million clocks
    through one accelerator build in one simulation, every output word checked
    against the bit-true model by the bench."""
    net = NETWORKS[case][0]
    rng = np.random.default_rng(seed)
    runs, arrays = [], {}
    for n, (_, programs, _, x, expected, writes) in enumerate(
            _random_networks(rng, net, NETWORK_COUNT, (60, 160))):
        runs.append(run_entry(f"n{n}", programs, net))
        arrays.update({f"n{n}_writes": writes, f"n{n}_x": x, f"n{n}_expected": expected})
    stats = run_accelerator(f"many{case}", runs, arrays, seed, idle=0.1, stall=0.1, burst=4,
                            net=net, simulator="verilator")
    inferences = sum(stats[r["name"]]["vectors"] for r in runs)
    clocks = sum(stats[r["name"]]["cycles"] for r in runs)
    print(f"{len(runs)} networks, {inferences} inferences, {clocks} busy clocks")
    # the accelerator's inference counter runs on across networks (it counts since reset)
    assert stats[runs[-1]["name"]]["inferences_counter"] == inferences


@pytest.mark.long
@pytest.mark.parametrize("case", range(len(LAYERS)))
def test_a_layer_on_thousands_of_rows(case, seed):
    eng, p, q, _ = LAYERS[case]
    rng = np.random.default_rng(seed)
    _, prog, x = compiled_case(rng, eng, p, q, LONG_ROWS)
    y, stats = simulate_layer(eng, prog, x, name=f"long_layer{case}", idle=0.1, stall=0.1,
                              burst=8, seed=seed, compare=True, simulator="verilator",
                              addr_bits=_layer_bits(eng, p, q))
    np.testing.assert_array_equal(y, layer_forward(x, prog, eng))
    print(f"{stats['sim_clocks']} clocks in {stats['sim_wall_s']} s")
