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
from circnn.rtl.real_fft import RealFFT
from circnn.sim.harness.runner import run_bench
from circnn.config import FFTConfig
from circnn.config import RealFFTConfig

RANDOM_VECTORS = 1000

COMPLEX = [
    # points, width, twiddle_width, rounding, mode
    (4, 16, 16, "half_up", "forward"),
    (4, 8, 8, "half_even", "inverse"),
    (8, 12, 10, "truncate", "mixed"),
    (16, 16, 16, "half_up", "forward"),
    (16, 16, 16, "half_up", "inverse"),
    (16, 18, 18, "half_even", "mixed"),
    (64, 16, 16, "half_up", "mixed"),
    (64, 10, 12, "truncate", "mixed"),
    (256, 16, 16, "half_up", "mixed"),
    (64, 18, 14, "half_even", "mixed"),
]

REAL = [
    (4, 16, 16, "half_up"),
    (8, 8, 8, "half_even"),
    (16, 16, 16, "half_up"),
    (16, 18, 18, "truncate"),
    (64, 16, 16, "half_up"),
    (256, 16, 16, "half_even"),
]


@pytest.mark.parametrize("points,width,twiddle_width,rounding,mode", COMPLEX)
def test_fft_matches_model(points, width, twiddle_width, rounding, mode, seed):
    cfg = FFTConfig(points, width, twiddle_width, rounding)
    run_bench(FFT(cfg), name=f"fft_{points}_{width}_{twiddle_width}_{rounding}_{mode}",
              test_module="circnn.sim.benches.fft_bench",
              config=dict(points=points, width=width, twiddle_width=twiddle_width,
                          rounding=rounding, mode=mode, random=RANDOM_VECTORS,
                          idle=0.15, stall=0.15, seed=seed))


@pytest.mark.parametrize("points,width,twiddle_width,rounding", REAL)
def test_real_fft_matches_model(points, width, twiddle_width, rounding, seed):
    cfg = RealFFTConfig(points, width, twiddle_width, rounding)
    run_bench(RealFFT(cfg), name=f"real_fft_{points}_{width}_{twiddle_width}_{rounding}",
              test_module="circnn.sim.benches.real_fft_bench",
              config=dict(points=points, width=width, twiddle_width=twiddle_width,
                          rounding=rounding, random=RANDOM_VECTORS, idle=0.15, stall=0.15,
                          seed=seed))


def test_fft_heavy_backpressure_loses_nothing(seed):
    # Mostly-stalled sink and mostly-idle source: the credit logic must
    # neither drop, duplicate nor reorder words.
    cfg = FFTConfig(16, 16, 16)
    run_bench(FFT(cfg), name="fft_16_backpressure", test_module="circnn.sim.benches.fft_bench",
              config=dict(points=16, width=16, twiddle_width=16, rounding="half_up",
                          mode="mixed", random=60, idle=0.6, stall=0.8, seed=seed))


@pytest.mark.parametrize("kwargs,name", [
    (dict(points=12), "points"), (dict(points=512), "points"), (dict(points=2 ** 10), "points"),
    (dict(points=16, width=7), "width"), (dict(points=16, width=19), "width"),
    (dict(points=16, twiddle_width=19), "twiddle_width"),
    (dict(points=16, twiddle_width=4), "twiddle_width"),
    (dict(points=16, rounding="nearest"), "rounding"),
])
def test_fft_rejects_bad_parameters_at_construction(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        FFT(FFTConfig(**kwargs))


def test_real_fft_rejects_bad_points():
    with pytest.raises(ParameterError, match="points"):
        RealFFTConfig(points=6)
    with pytest.raises(ParameterError, match="points"):
        RealFFTConfig(points=2)
