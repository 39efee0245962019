"""FFT engine RTL == bit-true model, word for word, under random idle and back-pressure."""

import pytest

from circnn.rtl.fft import FFT
from circnn.sim.cocotb_runner import run_bench
from circnn.sim.fft_model import FFTConfig

CONFIGS = [
    # points, width, twiddle_width, rounding, mode
    (16, 16, 16, "half_up", "mixed"),
]


@pytest.mark.parametrize("points,width,twiddle_width,rounding,mode", CONFIGS)
def test_fft_matches_model(points, width, twiddle_width, rounding, mode, seed):
    cfg = FFTConfig(points, width, twiddle_width, rounding)
    run_bench(FFT(cfg), name=f"fft_{points}_{width}_{twiddle_width}_{rounding}_{mode}",
              test_module="circnn.sim.benches.fft_bench",
              config=dict(points=points, width=width, twiddle_width=twiddle_width,
                          rounding=rounding, mode=mode, random=100, idle=0.2, stall=0.2,
                          seed=seed))
