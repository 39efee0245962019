# amaranth: UnusedElaboratable=no
"""CirculantLayer RTL == bit-true layer model, word for word, with random idle and
back-pressure; saturation counters and MAC step counts checked too."""

import numpy as np
import pytest

from circnn.config import EngineConfig
from circnn.sim.model.layer import layer_forward
from circnn.sim.harness.layer import simulate_layer

from layer_cases import compiled_case, structured_case

# k, P, B, p, q, vectors: p != q, p = 1, q = 1, P not dividing p, B in {1, 4}
COMPILED = [
    (4, 1, 1, 3, 2, 8),
    (8, 2, 4, 5, 3, 8),
    (16, 4, 1, 6, 4, 6),
    (16, 4, 4, 1, 5, 8),
    (32, 2, 1, 3, 1, 6),
    (8, 4, 1, 4, 4, 6),
    (16, 1, 4, 2, 2, 8),
]


def run_layer(name, eng, prog, x, seed, idle=0.2, stall=0.2, burst=1):
    # the bench compares every output word, the saturation counts and the
    # MAC steps against the model; the returned codes must be the model's too
    y, stats = simulate_layer(eng, prog, x, name=name, idle=idle, stall=stall, burst=burst,
                              seed=seed, compare=True)
    np.testing.assert_array_equal(y, layer_forward(x, prog, eng))
    return stats


@pytest.mark.parametrize("k,pes,batch,p,q,vectors", COMPILED)
def test_compiled_layer_matches_model(k, pes, batch, p, q, vectors, seed):
    rng = np.random.default_rng(seed)
    eng = EngineConfig(k=k, pes=pes, batch=batch, max_q=q, max_p=p)
    _, prog, x = compiled_case(rng, eng, p, q, vectors)
    stats = run_layer(f"k{k}_P{pes}_B{batch}_p{p}_q{q}", eng, prog, x, seed)
    print(stats)


@pytest.mark.parametrize("pattern", ["full_scale", "alternating", "impulse"])
def test_structured_layer_matches_model(pattern, seed):
    rng = np.random.default_rng(seed)
    eng = EngineConfig(k=8, pes=2, batch=2, max_q=3, max_p=3, act_width=12, weight_width=12,
                       ifft_width=12)
    prog, x = structured_case(rng, eng, 3, 3, 6, pattern)
    stats = run_layer(f"structured_{pattern}", eng, prog, x, seed)
    print(stats)


def test_bursts_of_idle_and_backpressure(seed):
    # long runs of an idle source and a stalled sink fill every queue inside
    # the layer (drain, tags, inverse FFT, output stage) on the way
    rng = np.random.default_rng(seed)
    eng = EngineConfig(k=8, pes=2, batch=2, max_q=3, max_p=5)
    _, prog, x = compiled_case(rng, eng, 5, 3, 8)
    run_layer("bursts", eng, prog, x, seed, idle=0.5, stall=0.6, burst=30)


def test_padded_layer_masks_outputs(seed):
    rng = np.random.default_rng(seed)
    eng = EngineConfig(k=8, pes=2, batch=1, max_q=2, max_p=2)
    _, prog, x = compiled_case(rng, eng, 2, 2, 5, in_features=13, out_features=11)
    assert prog.out_features == 11
    run_layer("padded", eng, prog, x, seed)


def test_narrow_widths_and_half_even(seed):
    rng = np.random.default_rng(seed)
    eng = EngineConfig(k=16, pes=2, batch=1, max_q=2, max_p=3, act_width=9, weight_width=8,
                       ifft_width=10, twiddle_width=10, rounding="half_even")
    _, prog, x = compiled_case(rng, eng, 3, 2, 5, activation="none")
    run_layer("narrow", eng, prog, x, seed)


@pytest.mark.long
def test_deep_memories_match_model(seed):
    # weight banks, spectrum buffer and bias memory all deeper than one block
    # RAM: every BlockRAM read takes its three-clock path
    rng = np.random.default_rng(seed)
    eng = EngineConfig(k=8, pes=4, batch=4, max_q=70, max_p=260)
    assert eng.bias_words > 1024 and 2 * eng.batch * eng.max_q * eng.half > 1024
    _, prog, x = compiled_case(rng, eng, 5, 3, 8)
    run_layer("deep_memories", eng, prog, x, seed)
