# amaranth: UnusedElaboratable=no
"""The inverse real FFT: bit-true model against numpy, RTL against the model.

Model tests: ``real_ifft`` tracks ``irfft(X) / 2`` (SQNR above the
documented floor), a k = 4 case computed by hand, the round trip
``real_fft -> real_ifft`` recovers ``x / (2k)``, full-scale spectra never
overflow, and bad parameters are refused naming the parameter.

RTL tests: ``RealIFFT`` and ``FrameReorder`` stream structured and random
frames under random idle cycles and stalls and match their models word for
word (``sim/benches/real_ifft_bench.py``).
"""

import numpy as np
import pytest
from amaranth.hdl import signed

from circnn.config import FFTConfig, RealFFTConfig, RealIFFTConfig, bit_reverse
from circnn.designs import get_design
from circnn.errors import ParameterError
from circnn.rtl.real_ifft import RealIFFT, RealSpectrumPre
from circnn.rtl.reorder import FrameReorder
from circnn.sim.benches.real_ifft_bench import random_spectra, structured_spectra
from circnn.sim.benches.stimulus import random_frames
from circnn.sim.harness.runner import run_bench
from circnn.sim.model.fft import fft, sqnr_db, to_natural_order
from circnn.sim.model.fixedpoint import int_range
from circnn.sim.model.real_fft import (real_fft, real_ifft, real_ifft_sqnr_floor_db,
                                       real_spectrum_pre, reorder_permutation, unpack_spectrum)

from fft_cases import run_transform_bench


RTL = [
    # points, width, twiddle_width, rounding
    (4, 17, 18, "half_even"),
    (8, 8, 8, "truncate"),
    (16, 16, 16, "half_up"),
    pytest.param(32, 12, 10, "half_even", marks=pytest.mark.long),
    pytest.param(64, 17, 16, "truncate", marks=pytest.mark.long),
    pytest.param(256, 16, 16, "half_up", marks=pytest.mark.long),
]


def irfft_half(packed, points):
    return np.fft.irfft(unpack_spectrum(packed, points), n=points, axis=-1) / 2


# --- model ----------------------------------------------------------------

@pytest.mark.parametrize("points", [4, 8, 16, 32, 64, 256, 512])
@pytest.mark.parametrize("width,twiddle_width,rounding", [
    (16, 16, "half_up"), (8, 10, "truncate"), (12, 12, "half_even"), (17, 18, "truncate")])
def test_real_ifft_model_tracks_numpy_irfft(points, width, twiddle_width, rounding, seed):
    cfg = RealIFFTConfig(points, width, twiddle_width, rounding)
    packed = random_spectra(np.random.default_rng(seed), 300, cfg)
    s = sqnr_db(real_ifft(packed, cfg), irfft_half(packed, points))
    assert s > real_ifft_sqnr_floor_db(points, width), f"SQNR {s:.1f} dB"


def test_real_ifft_16bit_k16_sqnr(seed):
    cfg = RealIFFTConfig(16, 16, 16)
    packed = random_spectra(np.random.default_rng(seed), 1000, cfg)
    assert sqnr_db(real_ifft(packed, cfg), irfft_half(packed, 16)) > 73.0


def test_real_ifft_model_by_hand():
    # X[0] = 8, X[1] = 2 - 6j, X[2] = 4: packed words (8, 4), (2, -6)
    # pre:  Z[0]/2 = ((8 + 4)/4, (8 - 4)/4) = (3, 1)
    #       f = 1 = N/2: A = 2 - 6j, B = conj(A) = 2 + 6j, e = (2, 0),
    #       o = (0, -6), t = -o = (0, 6), Z[1]/2 = (e + t)/2 = (1, 3)
    # core: IFFT_2 = ((a + b)/2, (a - b)/2) = (2 + 2j, 1 - 1j)
    # so x = (2, 2, 1, -1) = irfft([8, 2 - 6j, 4]) / 2 exactly
    cfg = RealIFFTConfig(4, 8, 16)
    packed = (np.array([[8, 2]]), np.array([[4, -6]]))
    z_re, z_im = real_spectrum_pre(packed, cfg)
    assert z_re.tolist() == [[3, 1]] and z_im.tolist() == [[1, 3]]
    assert real_ifft(packed, cfg).tolist() == [[2, 2, 1, -1]]
    assert np.array_equal(irfft_half(packed, 4), [[2, 2, 1, -1]])
    # with rounding: words (7, 2), (3, -5); irfft/2 = (1.875, 1.875, 0.375, -0.625)
    # word 0: (7 + 2)/4 = 2.25 -> 2, (7 - 2)/4 = 1.25 -> 1 in every mode
    # f = 1: e = (3, 0), o = (0, -5), t = (0, 5), Z[1]/2 = (1.5, 2.5), rounded per mode
    # core (inverse, on swapped parts): x0 + j x1 = (Z0 + Z1)/2, x2 + j x3 = (Z0 - Z1)/2
    packed = (np.array([[7, 3]]), np.array([[2, -5]]))
    expected = {
        # Z/2 = 2+1j, 2+3j; (4+4j)/2 = 2+2j, (0-2j)/2 = 0-1j
        "half_up": ([[2, 2]], [[1, 3]], [[2, 2, 0, -1]]),
        # Z/2 = 2+1j, 1+2j; (3+3j)/2 -> 1+1j, (1-1j)/2 -> 0-1j (floor)
        "truncate": ([[2, 1]], [[1, 2]], [[1, 1, 0, -1]]),
        # Z/2 = 2+1j, 2+2j; (4+3j)/2 -> 2+2j (1.5 -> 2), (0-1j)/2 -> 0+0j (-0.5 -> 0)
        "half_even": ([[2, 2]], [[1, 2]], [[2, 2, 0, 0]]),
    }
    for rounding, (z_re_e, z_im_e, x_e) in expected.items():
        cfg = RealIFFTConfig(4, 8, 16, rounding)
        z_re, z_im = real_spectrum_pre(packed, cfg)
        assert z_re.tolist() == z_re_e and z_im.tolist() == z_im_e, rounding
        assert real_ifft(packed, cfg).tolist() == x_e, rounding


@pytest.mark.parametrize("points", [4, 16, 64, 512])
@pytest.mark.parametrize("width", [8, 16])
def test_round_trip_recovers_x_over_2k(points, width, seed):
    # real_fft gives X/k in width+1 bits; real_ifft of that gives x/(2k)
    rng = np.random.default_rng(seed)
    x = random_frames(rng, 200, points, width)[0]
    packed = real_fft(x, RealFFTConfig(points, width, 16))
    y = real_ifft(packed, RealIFFTConfig(points, width + 1, 16))
    err = y - x / (2 * points)
    levels = points.bit_length() - 1
    assert np.abs(err).max() <= levels, np.abs(err).max()
    assert np.sqrt(np.mean(err ** 2)) < 1.5


@pytest.mark.parametrize("points,width,twiddle_width,rounding", RTL + [
    (512, 17, 18, "half_up"), (512, 8, 8, "truncate"), (128, 9, 9, "half_even")])
def test_full_scale_spectra_do_not_overflow(points, width, twiddle_width, rounding):
    cfg = RealIFFTConfig(points, width, twiddle_width, rounding)
    lo, hi = int_range(width)
    rng = np.random.default_rng(7)
    s_re, s_im = structured_spectra(cfg)
    ext = rng.choice([lo, hi], size=(2, 500, cfg.half))
    packed = (np.concatenate([s_re, ext[0]]), np.concatenate([s_im, ext[1]]))
    # the merged spectrum fits the core's width + 1 bits (no wrap inside)
    z_re, z_im = real_spectrum_pre(packed, cfg)
    assert max(np.abs(z_re).max(), np.abs(z_im).max()) < 0.62 * (1 << width)
    y = real_ifft(packed, cfg)
    # |irfft(X)/2| <= 2^(W-1)/sqrt(2): a quarter of the width+2-bit output range
    assert np.abs(y).max() < (1 << (width - 1))
    # and no wrap anywhere: every sample stays within a few LSBs of the exact value
    assert np.abs(y - irfft_half(packed, points)).max() <= points.bit_length() - 1


def test_reorder_permutation_puts_fft_output_in_natural_order(seed):
    cfg = FFTConfig(32, 12, 12)
    x = random_frames(np.random.default_rng(seed), 4, 32, 12)
    y = fft(x, cfg)
    perm = reorder_permutation(32)
    nat = to_natural_order(y, 32)
    assert np.array_equal(y[0][:, perm], nat[0]) and np.array_equal(y[1][:, perm], nat[1])
    assert np.array_equal(perm[perm], np.arange(32))   # an involution
    assert np.array_equal(perm, bit_reverse(32))
    assert np.array_equal(reorder_permutation(8, "natural"), np.arange(8))


@pytest.mark.parametrize("kwargs,name", [
    (dict(points=6), "points"), (dict(points=2), "points"), (dict(points=1024), "points"),
    (dict(points=16, width=7), "width"), (dict(points=16, width=18), "width"),
    (dict(points=16, twiddle_width=7), "twiddle_width"),
    (dict(points=16, twiddle_width=19), "twiddle_width"),
    (dict(points=16, rounding="nearest"), "rounding"),
])
def test_config_rejects_bad_parameters(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        RealIFFT(RealIFFTConfig(**kwargs))


def test_design_rejects_bad_parameters():
    design = get_design("real_ifft")
    with pytest.raises(ParameterError, match="width"):
        design.resolve({"width": "18"})
    with pytest.raises(ParameterError, match="points"):
        design.resolve({"points": "24"})
    assert design.resolve({"points": "64"})["points"] == 64


def test_components_reject_bad_arguments():
    with pytest.raises(TypeError):
        RealSpectrumPre(RealFFTConfig(16))
    with pytest.raises(TypeError):
        RealIFFT(RealFFTConfig(16))


# --- RTL --------------------------------------------------------------------

@pytest.mark.parametrize("points,width,twiddle_width,rounding", RTL)
def test_real_ifft_matches_model(points, width, twiddle_width, rounding, seed):
    cfg = RealIFFTConfig(points, width, twiddle_width, rounding)
    run_transform_bench(RealIFFT(cfg), name=f"real_ifft_{points}_{width}_{twiddle_width}_{rounding}",
                        test_module="circnn.sim.benches.real_ifft_bench", points=points,
                        testcase="real_ifft_matches_model",
                        config=dict(points=points, width=width, twiddle_width=twiddle_width,
                                    rounding=rounding, idle=0.15, stall=0.15, seed=seed))


@pytest.mark.parametrize("points,width,twiddle_width,rounding,multiplier", [
    (8, 8, 8, "truncate", "dsp"),
    (16, 16, 16, "half_up", "dsp"),                # "auto" (above): adders in both stages
])
def test_real_ifft_twiddle_multipliers_match_the_same_model(points, width, twiddle_width,
                                                            rounding, multiplier, seed):
    cfg = RealIFFTConfig(points, width, twiddle_width, rounding, multiplier)
    assert RealIFFTConfig(points).split_uses_shift_add and not cfg.split_uses_shift_add
    run_transform_bench(RealIFFT(cfg), name=f"real_ifft_{points}_{multiplier}",
                        test_module="circnn.sim.benches.real_ifft_bench", points=points,
                        random=200, testcase="real_ifft_matches_model",
                        config=dict(points=points, width=width, twiddle_width=twiddle_width,
                                    rounding=rounding, twiddle_multiplier=multiplier, idle=0.15,
                                    stall=0.15, seed=seed))


@pytest.mark.parametrize("burst", [1, 24])
def test_real_ifft_heavy_backpressure_loses_nothing(burst, seed):
    # mostly idle source, mostly stalled sink: three buffers with their own
    # flow control in a row must neither drop, duplicate nor reorder words
    cfg = RealIFFTConfig(16, 10, 12, "half_up")
    run_transform_bench(RealIFFT(cfg), name=f"real_ifft_16_backpressure_{burst}",
                        test_module="circnn.sim.benches.real_ifft_bench", points=16, random=40,
                        testcase="real_ifft_matches_model",
                        config=dict(points=16, width=10, twiddle_width=12, rounding="half_up",
                                    idle=0.6, stall=0.8, burst=burst, seed=seed))


@pytest.mark.parametrize("depth,order,idle,stall,burst", [
    (8, "bit_reverse", 0.15, 0.15, 1),
    (2, "bit_reverse", 0.3, 0.3, 1),
    (32, "bit_reverse", 0.0, 0.0, 1),    # back to back: one word per clock both ways
    (16, "natural", 0.5, 0.8, 1),
    (8, "bit_reverse", 0.5, 0.6, 20),    # long runs of idle and stalls
])
def test_frame_reorder_matches_model(depth, order, idle, stall, burst, seed):
    run_bench(FrameReorder(depth, signed(12), order),
              name=f"frame_reorder_{depth}_{order}_{idle}_{stall}_{burst}",
              test_module="circnn.sim.benches.real_ifft_bench",
              testcase="frame_reorder_matches_model",
              config=dict(depth=depth, width=12, order=order, frames=60, idle=idle,
                          stall=stall, burst=burst, seed=seed))
