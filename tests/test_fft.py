# amaranth: UnusedElaboratable=no
"""FFT engine RTL == bit-true model, word for word, under random idle and back-pressure.

Each configuration streams the structured frames (impulses, constants,
full-scale positive and negative, alternating signs) and 1000 random
full-range frames; ``mixed`` draws forward or inverse at random per frame,
so both directions and every switch between them are exercised.
"""

import pytest

from circnn.errors import ParameterError
from circnn.rtl.fft import FFT
from circnn.config import FFTConfig

from fft_cases import run_transform_bench

LONG = pytest.mark.long

COMPLEX = [
    # points, width, twiddle_width, rounding, mode
    (4, 16, 16, "half_up", "forward"),
    (4, 8, 8, "half_even", "inverse"),
    (8, 12, 10, "truncate", "mixed"),
    (16, 16, 16, "half_up", "forward"),
    (16, 16, 16, "half_up", "inverse"),
    (16, 18, 18, "half_even", "mixed"),
    pytest.param(64, 16, 16, "half_up", "mixed", marks=LONG),
    pytest.param(64, 10, 12, "truncate", "mixed", marks=LONG),
    pytest.param(256, 16, 16, "half_up", "mixed", marks=LONG),
    pytest.param(64, 18, 14, "half_even", "mixed", marks=LONG),
]



@pytest.mark.parametrize("points,width,twiddle_width,rounding,mode", COMPLEX)
def test_fft_matches_model(points, width, twiddle_width, rounding, mode, seed):
    cfg = FFTConfig(points, width, twiddle_width, rounding)
    run_transform_bench(FFT(cfg), name=f"fft_{points}_{width}_{twiddle_width}_{rounding}_{mode}",
                        test_module="circnn.sim.benches.fft_bench", points=points,
                        config=dict(points=points, width=width, twiddle_width=twiddle_width,
                                    rounding=rounding, mode=mode, idle=0.15, stall=0.15,
                                    seed=seed))


MULTIPLIERS = [
    # points, width, twiddle_width, rounding, twiddle_multiplier; "auto" (every case
    # above) takes adders at 8 and 16 points, so these are the other choice
    (8, 12, 10, "truncate", "dsp"),
    (16, 16, 16, "half_up", "dsp"),
    (32, 16, 16, "half_even", "shift_add"),      # auto: dsp at D = 16, adders below
]


@pytest.mark.parametrize("points,width,twiddle_width,rounding,multiplier", MULTIPLIERS)
def test_fft_twiddle_multipliers_match_the_same_model(points, width, twiddle_width, rounding,
                                                      multiplier, seed):
    cfg = FFTConfig(points, width, twiddle_width, rounding, multiplier)
    auto = FFTConfig(points, width, twiddle_width, rounding)
    stages = [s for s in range(cfg.stages) if cfg.has_multiplier(s)]
    assert [auto.uses_shift_add(s) for s in stages] == [points <= 16 or s > 0 for s in stages]
    assert [cfg.uses_shift_add(s) for s in stages] == [multiplier == "shift_add"] * len(stages)
    run_transform_bench(FFT(cfg), name=f"fft_{points}_{multiplier}",
                        test_module="circnn.sim.benches.fft_bench", points=points, random=200,
                        config=dict(points=points, width=width, twiddle_width=twiddle_width,
                                    rounding=rounding, twiddle_multiplier=multiplier, mode="mixed",
                                    idle=0.15, stall=0.15, seed=seed))


@pytest.mark.parametrize("burst", [1, 24])
def test_fft_heavy_backpressure_loses_nothing(burst, seed):
    # Mostly-stalled sink and mostly-idle source, per clock and in long runs
    # that fill the output queue: the credit logic must neither drop,
    # duplicate nor reorder words.
    cfg = FFTConfig(16, 16, 16)
    run_transform_bench(FFT(cfg), name=f"fft_16_backpressure_{burst}",
                        test_module="circnn.sim.benches.fft_bench", points=16, random=60,
                        config=dict(points=16, width=16, twiddle_width=16, rounding="half_up",
                                    mode="mixed", idle=0.6, stall=0.8, burst=burst, seed=seed))


@pytest.mark.parametrize("kwargs,name", [
    (dict(points=12), "points"), (dict(points=512), "points"), (dict(points=2 ** 10), "points"),
    (dict(points=16, width=7), "width"), (dict(points=16, width=19), "width"),
    (dict(points=16, twiddle_width=19), "twiddle_width"),
    (dict(points=16, twiddle_width=4), "twiddle_width"),
    (dict(points=16, rounding="nearest"), "rounding"),
    (dict(points=16, twiddle_multiplier="adders"), "twiddle_multiplier"),
])
def test_fft_rejects_bad_parameters_at_construction(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        FFT(FFTConfig(**kwargs))
