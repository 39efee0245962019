# amaranth: UnusedElaboratable=no
"""``RealFFT`` (the k/2-point FFT and ``RealSpectrumPost``) RTL == ``real_fft`` of the
bit-true model, word for word, under random idle and back-pressure: structured
frames plus random full-range ones (``sim/benches/real_fft_bench.py``)."""

import pytest

from circnn.config import RealFFTConfig
from circnn.errors import ParameterError
from circnn.rtl.real_fft import RealFFT

from fft_cases import run_transform_bench

LONG = pytest.mark.long

REAL = [
    (4, 16, 16, "half_up"),
    (8, 8, 8, "half_even"),
    (16, 16, 16, "half_up"),
    (16, 18, 18, "truncate"),
    pytest.param(64, 16, 16, "half_up", marks=LONG),
    pytest.param(256, 16, 16, "half_even", marks=LONG),
]


@pytest.mark.parametrize("points,width,twiddle_width,rounding", REAL)
def test_real_fft_matches_model(points, width, twiddle_width, rounding, seed):
    cfg = RealFFTConfig(points, width, twiddle_width, rounding)
    run_transform_bench(RealFFT(cfg), name=f"real_fft_{points}_{width}_{twiddle_width}_{rounding}",
                        test_module="circnn.sim.benches.real_fft_bench", points=points,
                        config=dict(points=points, width=width, twiddle_width=twiddle_width,
                                    rounding=rounding, idle=0.15, stall=0.15, seed=seed))


@pytest.mark.parametrize("points,width,twiddle_width,rounding,multiplier", [
    (8, 8, 8, "half_even", "dsp"),
    (16, 16, 16, "half_up", "dsp"),                # "auto" (above): adders in both stages
    (32, 16, 16, "truncate", "shift_add"),        # auto: the split's 7 magnitudes on DSPs
])
def test_real_fft_twiddle_multipliers_match_the_same_model(points, width, twiddle_width, rounding,
                                                           multiplier, seed):
    cfg = RealFFTConfig(points, width, twiddle_width, rounding, multiplier)
    assert RealFFTConfig(points).split_uses_shift_add == (points <= 16)
    assert cfg.split_uses_shift_add == (multiplier == "shift_add")
    run_transform_bench(RealFFT(cfg), name=f"real_fft_{points}_{multiplier}",
                        test_module="circnn.sim.benches.real_fft_bench", points=points, random=200,
                        config=dict(points=points, width=width, twiddle_width=twiddle_width,
                                    rounding=rounding, twiddle_multiplier=multiplier, idle=0.15,
                                    stall=0.15, seed=seed))


def test_real_fft_rejects_bad_points():
    with pytest.raises(ParameterError, match="points"):
        RealFFTConfig(points=6)
    with pytest.raises(ParameterError, match="points"):
        RealFFTConfig(points=2)
