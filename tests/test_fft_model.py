"""The FFT bit-true models: hand-checked cases, error against numpy.fft, no overflow."""

import numpy as np
import pytest

from circnn.errors import ParameterError
from circnn.config import FFTConfig, bit_reverse, twiddle_table
from circnn.sim.model.fft import butterfly, fft, sqnr_db, sqnr_floor_db, to_natural_order
from circnn.sim.benches.stimulus import random_frames, structured_frames
from circnn.config import RealFFTConfig
from circnn.sim.model.real_fft import pack_spectrum, real_fft, unpack_spectrum


def test_bit_reverse_by_hand():
    assert bit_reverse(8).tolist() == [0, 4, 2, 6, 1, 5, 3, 7]
    assert bit_reverse(4).tolist() == [0, 2, 1, 3]


def test_twiddle_table_by_hand():
    re, im = twiddle_table(8, 8)  # W_8^n, n = 0..3, codes of 2**7
    assert re.tolist() == [127, 91, 0, -91]      # cos: 1 saturates to 127, 0.7071*128 = 90.5 -> 91
    assert im.tolist() == [0, -91, -128, -91]    # -sin: -1 is representable


def test_butterfly_rounding_by_hand():
    cfg = FFTConfig(4, 8, 8, "half_up")
    a = (np.array([3, -3]), np.array([0, 1]))
    b = (np.array([2, -2]), np.array([0, 0]))
    s, d = butterfly(a, b, cfg)
    assert s[0].tolist() == [3, -2]    # (3+2)/2 = 2.5 -> 3 ; (-5)/2 = -2.5 -> -2 (half up)
    assert d[0].tolist() == [1, -0]    # 1/2 -> 1 ; -1/2 -> 0
    assert s[1].tolist() == [0, 1]     # 1/2 -> 1


def test_four_point_transform_by_hand():
    # x = [4, 0, 0, 0] + j[0, 0, 0, 0]: FFT/4 = [1, 1, 1, 1]; stream order is bit-reversed
    cfg = FFTConfig(4, 8, 8)
    y = fft((np.array([[4, 0, 0, 0]]), np.zeros((1, 4), dtype=np.int64)), cfg)
    assert y[0].tolist() == [[1, 1, 1, 1]] and y[1].tolist() == [[0, 0, 0, 0]]
    # x[1] = 8: X[f] = 8 W^f / 4 = 2, -2j, -2, 2j in natural order
    y = fft((np.array([[0, 8, 0, 0]]), np.zeros((1, 4), dtype=np.int64)), cfg)
    nat = to_natural_order(y, 4)
    assert nat[0].tolist() == [[2, 0, -2, 0]] and nat[1].tolist() == [[0, -2, 0, 2]]


@pytest.mark.parametrize("points", [4, 8, 16, 64, 256])
@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("width", [8, 16, 18])
def test_model_tracks_numpy(points, inverse, width, seed):
    rng = np.random.default_rng(seed)
    cfg = FFTConfig(points, width, min(18, width + 2))
    re, im = random_frames(rng, 200, points, width)
    y = to_natural_order(fft((re, im), cfg, inverse), points)
    x = re + 1j * im
    ref = np.fft.ifft(x, axis=-1) if inverse else np.fft.fft(x, axis=-1) / points
    assert sqnr_db(y[0] + 1j * y[1], ref) > sqnr_floor_db(points, width)


def test_sqnr_16bit_k16_at_least_70db(seed):
    rng = np.random.default_rng(seed)
    cfg = FFTConfig(16, 16, 16)
    re, im = random_frames(rng, 2000, 16, 16)
    y = to_natural_order(fft((re, im), cfg), 16)
    s = sqnr_db(y[0] + 1j * y[1], np.fft.fft(re + 1j * im, axis=-1) / 16)
    print(f"SQNR 16-bit k=16: {s:.1f} dB")
    assert s >= 70


@pytest.mark.parametrize("points", [4, 16, 64, 256])
@pytest.mark.parametrize("width", [8, 16, 18])
def test_full_scale_inputs_never_overflow(points, width):
    # Structured worst cases: the guard bit leaves the top half of the range unused.
    cfg = FFTConfig(points, width, min(18, width + 2))
    re, im = structured_frames(points, width)
    for inverse in (False, True):
        y = fft((re, im), cfg, inverse)
        ref = (np.fft.ifft if inverse else lambda v, axis: np.fft.fft(v, axis=axis) / points)(
            re + 1j * im, axis=-1)
        nat = to_natural_order(y, points)
        assert np.abs(nat[0] - ref.real).max() <= 2 * cfg.stages + 1
        assert np.abs(nat[1] - ref.imag).max() <= 2 * cfg.stages + 1
        assert max(np.abs(y[0]).max(), np.abs(y[1]).max()) < 1 << (cfg.output_width - 1)


def test_inverse_undoes_forward_up_to_scale(seed):
    rng = np.random.default_rng(seed)
    cfg = FFTConfig(64, 16, 16)
    re, im = random_frames(rng, 50, 64, 14)  # headroom for the x64 rescale below
    X = to_natural_order(fft((re, im), cfg), 64)
    # forward gives X/N; scale back by N and invert (float) to recover x
    back = np.fft.ifft((X[0] + 1j * X[1]) * 64, axis=-1)
    assert np.abs(back - (re + 1j * im)).max() < 64


@pytest.mark.parametrize("points", [4, 8, 16, 32, 64, 256])
def test_real_model_tracks_numpy_rfft(points, seed):
    rng = np.random.default_rng(seed)
    cfg = RealFFTConfig(points, 16, 16)
    x = random_frames(rng, 300, points, 16)[0]
    y = unpack_spectrum(real_fft(x, cfg), points)
    s = sqnr_db(y, np.fft.rfft(x, axis=-1) / points)
    assert s > sqnr_floor_db(points, 16, real=True)


def test_real_model_by_hand():
    # x = [8, 8, 8, 8] -> X[0]/4 = 8, X[2]/4 = 0; packed word 0 = (8, 0)
    cfg = RealFFTConfig(4, 8, 8)
    re, im = real_fft(np.array([[8, 8, 8, 8]]), cfg)
    assert re.tolist() == [[8, 0]] and im.tolist() == [[0, 0]]
    # x = [8, -8, 8, -8] -> X[2]/4 = 8 (the Nyquist bin, packed in word 0's im)
    re, im = real_fft(np.array([[8, -8, 8, -8]]), cfg)
    assert re.tolist() == [[0, 0]] and im.tolist() == [[8, 0]]
    # x = [0, 8, 0, -8] -> X[1]/4 = (8 * (-j) - 8 * j)/4 = -4j
    re, im = real_fft(np.array([[0, 8, 0, -8]]), cfg)
    assert re.tolist() == [[0, 0]] and im.tolist() == [[0, -4]]


def test_pack_unpack_round_trip(seed):
    rng = np.random.default_rng(seed)
    bins = np.fft.rfft(rng.normal(size=(5, 16)), axis=-1)
    assert np.allclose(unpack_spectrum(pack_spectrum(bins), 16), bins)


@pytest.mark.parametrize("kwargs,name", [
    (dict(points=3), "points"), (dict(points=512), "points"), (dict(points=16, width=20), "width"),
    (dict(points=16, twiddle_width=7), "twiddle_width")])
def test_config_rejects_bad_parameters(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        FFTConfig(**kwargs)


def test_model_rejects_out_of_range_inputs():
    cfg = FFTConfig(4, 8, 8)
    with pytest.raises(ValueError, match="8-bit range"):
        fft((np.array([[128, 0, 0, 0]]), np.zeros((1, 4), dtype=np.int64)), cfg)
