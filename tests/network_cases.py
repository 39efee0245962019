"""Random block-circulant networks, compiled and laid out for the accelerator, and the
accelerator bench run on them (several networks in one simulation)."""

import json

import numpy as np

from circnn.compiler import compile_network, quantize_inputs
from circnn.config import EngineConfig, NetworkConfig
from circnn.bundle import Bundle, Layer
from circnn.sim.model.network import network_forward
from circnn.rtl.accelerator import Accelerator
from circnn.sim.harness.runner import build_root, run_bench
from circnn.sim.harness.stream_shell import StreamShell, shell_addr_bits
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
    writes = host_writes(image, n_batches=vectors // net.images)
    return bundle, programs, image, x, expected, np.array(writes, dtype=np.int64)


#: the stream shell's address bits in every accelerator test, so that the tests of
#: one configuration share one simulator build (16k pair words in and out)
SHELL_BITS = 14
#: the accelerator configuration most tests share (one simulator build for all of them)
NET = NetworkConfig(EngineConfig(k=8, pes=2, batch=2, max_q=4, max_p=4, weight_depth=96,
                                 bias_depth=64), max_layers=5)


def run_accelerator(name, runs, arrays, seed, idle=0.15, stall=0.15, burst=1, net=NET,
                    image=None, simulator=None):
    """The accelerator bench on ``runs`` (``run_entry`` dicts; ``arrays`` holds each
    run's ``{name}_writes``, ``_x``, ``_expected``) in one simulation; its stats.
    ``image``: a network elaborated into the memories.  ``simulator``: None, the
    suite's choice, Verilator unless ``$SIM`` says otherwise."""
    path = build_root() / "programs" / f"acc_{name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    stats_path = path.with_suffix(".stats.json")
    preload = {} if image is None else dict(memory=image.memory, descriptors=image.descriptors)
    # pair words in and out of the largest run: the depth of the shell's memories
    words = max([1] + [max(arrays[f"{r['name']}_x"].size, arrays[f"{r['name']}_expected"].size) // 2
                       for r in runs if f"{r['name']}_x" in arrays])
    shell = StreamShell(Accelerator(net, **preload), addr_bits=shell_addr_bits(words, SHELL_BITS))
    run_bench(shell, name=f"accelerator_{name}", simulator=simulator,
              test_module="circnn.sim.benches.accelerator_bench", prefer="verilator",
              config=dict(data=str(path), runs=runs, idle=idle, stall=stall, burst=burst, seed=seed,
                          stats=str(stats_path)))
    return json.loads(stats_path.read_text())


def run_entry(name, programs, net=NET, **extra):
    return dict(name=name, batch=net.engine.batch, k=net.engine.k, p=programs[-1].p,
                max_p=net.engine.max_p, layers=len(programs), **extra)
