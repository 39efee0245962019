# amaranth: UnusedElaboratable=no
"""Faults on the whole accelerator, on Icarus (four-state): a reset in every state of the
network controller, X on inputs that carry no data, saturation far beyond the
calibration range; each followed by an inference equal to the bit-true model
(``sim/benches/fault_bench.py``)."""

import json

import numpy as np

from circnn.compiler import compile_network, quantize_inputs
from circnn.formal.internals import Opened
from circnn.rtl.accelerator import Accelerator
from circnn.rtl.network_controller import NetworkController
from circnn.sim.harness.runner import build_root, run_bench
from circnn.sim.harness.stream_shell import StreamShell, shell_addr_bits
from circnn.sim.model.accelerator import build_image, host_writes
from circnn.sim.model.network import network_forward

from network_cases import NET, network_case, random_bundle


def _run_faults(name, fault, programs, writes, x, expected, seed, arrays=None, **extra):
    path = build_root() / "programs" / f"faults_{name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, writes=writes, x=x, expected=expected, **(arrays or {}))
    stats_path = path.with_suffix(".stats.json")
    eng = NET.engine
    shell = StreamShell(Accelerator(NET), addr_bits=shell_addr_bits(max(x.size, expected.size)))
    run = dict(k=eng.k, p=programs[-1].p, batch=eng.batch, max_p=eng.max_p)
    run_bench(shell, name=f"faults_{name}", simulator="icarus",
              test_module="circnn.sim.benches.fault_bench",
              config=dict(data=str(path), fault=fault, seed=seed, stats=str(stats_path), run=run,
                          **extra))
    return json.loads(stats_path.read_text())


def _state_flags():
    """The network controller's one-hot state flags (their names in the Verilog)."""
    regs = Opened(NetworkController(NET)).registers()
    return sorted(r.name for r in regs if r.name.startswith("state_"))


def test_reset_in_every_controller_state_then_a_correct_inference(seed):
    rng = np.random.default_rng(seed)
    _, programs, _, x, expected, writes = network_case(rng, NET, [2, 2, 1], ["relu", "none"],
                                                       vectors=2)
    flags = _state_flags()
    stats = _run_faults("reset", "reset", programs, writes, x, expected, seed, state_flags=flags)
    print(f"visited {stats['visited']}; resets {stats['resets']}")
    hit = {r["state_at_reset"] for r in stats["resets"].values()}
    # a dense network goes through every state (a convolution's geometry wait for a
    # clock), and a reset hit each of them, each followed by a correct inference
    assert set(stats["visited"]) == set(flags)
    assert hit == set(flags), sorted(set(flags) - hit)


def test_x_on_idle_inputs_never_reaches_the_outputs(seed):
    rng = np.random.default_rng(seed)
    _, programs, _, x, expected, writes = network_case(rng, NET, [2, 3, 2], ["relu", "none"],
                                                       vectors=2)
    stats = _run_faults("x_idle", "x_idle", programs, writes, x, expected, seed)
    print(stats)
    assert stats["x_on_idle_input"] > 0 and stats["x_on_idle_bus"] > 0   # X was there
    assert stats["x_on_valid_output"] == 0


def test_saturation_counters_match_the_model_far_beyond_calibration(seed):
    rng = np.random.default_rng(seed)
    eng = NET.engine
    bundle = random_bundle(rng, eng.k, [2, 3, 2], ["relu", "none"])
    n_in = bundle.layers[0].n_in
    # calibration rows of values within +-0.01 but one full-scale value each (so the
    # input format spans +-1); run: every value at full scale, 100 times the
    # calibration's typical value
    calibration = rng.uniform(-0.01, 0.01, (64, n_in))
    calibration[np.arange(64), rng.integers(0, n_in, 64)] = rng.choice([-1.0, 1.0], 64)
    programs = compile_network(bundle, eng, calibration=calibration)
    image = build_image(programs, NET)
    x = quantize_inputs(rng.choice([-1.0, 1.0], (4, n_in)), programs[0].in_frac, eng, 2)
    expected, traces = network_forward(x, programs, eng, trace=True)
    writes = np.array(host_writes(image, n_batches=4 // NET.images), dtype=np.int64)
    acc = sum(t.acc_saturations for t in traces)
    out = sum(t.out_saturations for t in traces)
    assert acc + out > 0, "the inputs must saturate somewhere"
    stats = _run_faults("saturation", "saturation", programs, writes, x, expected, seed)
    print(f"model: acc {acc}, out {out}; RTL: {stats}")
    assert (stats["acc_saturations"], stats["out_saturations"]) == (acc, out)


def test_host_writes_while_busy_are_refused_and_flagged(seed):
    rng = np.random.default_rng(seed)
    blocks, acts = [2, 3, 2], ["relu", "none"]
    _, programs, _, x, expected, writes = network_case(rng, NET, blocks, acts, vectors=2)
    # a second network of the same shape (other weights, biases and shifts): written
    # over the first while it runs, it would change every output
    _, _, _, x2, expected2, writes2 = network_case(rng, NET, blocks, acts, vectors=2)
    assert not np.array_equal(expected, expected2)
    stats = _run_faults("busy_writes", "busy_writes", programs, writes, x, expected, seed,
                        arrays=dict(writes2=writes2, x2=x2, expected2=expected2))
    print(stats)
    for step in ("before_input", "while_streaming"):
        assert stats[step]["busy"] == 1 and stats[step]["write_ignored"] == 1, (step, stats[step])
    assert stats["first_done"]["write_ignored"] == 1          # sticky past the end of the run
    assert stats["second_done"]["write_ignored"] == 0         # cleared by the accepted start
    assert stats["second_done"]["done"] == 1 and stats["second_done"]["error"] == 0
