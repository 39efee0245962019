"""The fixed-point toolkit at its edges. Expected values are written out by hand."""

import numpy as np
import pytest

from circnn.sim.model.fixedpoint import (FixedFormat, Rounding, fits, int_range, requantize, round_shift, saturate, wrap)


def test_int_range_signed_and_unsigned():
    assert int_range(8) == (-128, 127)
    assert int_range(8, signed=False) == (0, 255)
    assert int_range(1) == (-1, 0)
    with pytest.raises(ValueError, match="bits"):
        int_range(0)


def test_format_properties():
    f = FixedFormat(16, 15)
    assert (f.min_int, f.max_int) == (-32768, 32767)
    assert f.min_value == -1.0 and f.max_value == 1 - 2 ** -15
    assert str(f) == "sQ0.15"
    assert str(FixedFormat(8, 4, signed=False)) == "uQ4.4"
    assert FixedFormat.from_dict(f.to_dict()) == f


@pytest.mark.parametrize("rounding,expected", [
    # x / 4 for x = -6 -5 -4 -3 -2 -1 0 1 2 3 5 6 7 10
    ("truncate",  [-2, -2, -1, -1, -1, -1, 0, 0, 0, 0, 1, 1, 1, 2]),
    ("half_up",   [-1, -1, -1, -1,  0,  0, 0, 0, 1, 1, 1, 2, 2, 3]),
    ("half_even", [-2, -1, -1, -1,  0,  0, 0, 0, 0, 1, 1, 2, 2, 2]),
])
def test_round_shift_ties_and_signs(rounding, expected):
    x = np.array([-6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 5, 6, 7, 10])
    assert round_shift(x, 2, rounding).tolist() == expected


def test_round_shift_by_zero_and_negative_shift():
    x = np.array([-3, 0, 5])
    for r in Rounding:
        assert round_shift(x, 0, r).tolist() == [-3, 0, 5]
    assert round_shift(x, -2).tolist() == [-12, 0, 20]


def test_round_shift_most_negative_value():
    # -32768 / 2**15 is exactly -1 in every mode; -32767 rounds differently.
    assert round_shift([-32768], 15, "truncate").tolist() == [-1]
    assert round_shift([-32768], 15, "half_up").tolist() == [-1]
    assert round_shift([-32768], 15, "half_even").tolist() == [-1]
    assert round_shift([-32767], 15, "truncate").tolist() == [-1]
    assert round_shift([-16384], 15, "half_up").tolist() == [0]     # -0.5 -> 0
    assert round_shift([-16384], 15, "half_even").tolist() == [0]   # -0.5 -> 0 (even)
    assert round_shift([-49152], 15, "half_even").tolist() == [-2]  # -1.5 -> -2 (even)


def test_saturate_both_ways_and_wrap():
    assert saturate([-200, -129, -128, 0, 127, 128, 300], 8).tolist() == [-128, -128, -128, 0, 127, 127, 127]
    assert saturate([-5, 300], 8, signed=False).tolist() == [0, 255]
    assert wrap([128, -129, 255, 256], 8).tolist() == [-128, 127, -1, 0]
    assert wrap([-1, 256], 8, signed=False).tolist() == [255, 0]
    assert fits([-128, 127], 8) and not fits([128], 8)


def test_requantize_rounds_then_saturates():
    # 16-bit values to 8 bits after dropping 4 bits, half-up
    x = np.array([32767, -32768, 2040, 2047, -2048, -2056, 8, 7])
    assert requantize(x, 4, 8, "half_up").tolist() == [127, -128, 127, 127, -128, -128, 1, 0]
    # the carry out of rounding saturates: 2047 -> 127.94 -> 128 -> 127
    assert requantize([2039], 4, 8, "half_up").tolist() == [127]
    # wrapping instead of saturating
    assert requantize([2047], 4, 8, "half_up", saturating=False).tolist() == [-128]


@pytest.mark.parametrize("rounding,expected", [
    ("truncate", [-2, -1, -1, 0, 1, 1, 2]),
    ("half_up", [-1, -1, 0, 1, 1, 2, 2]),
    ("half_even", [-2, -1, 0, 0, 1, 2, 2]),
])
def test_quantize_ties(rounding, expected):
    f = FixedFormat(8, 1)  # LSB = 0.5
    x = [-0.75, -0.5, -0.25, 0.25, 0.5, 0.75, 1.0]
    assert f.quantize(x, rounding).tolist() == expected


def test_quantize_saturates_or_raises():
    f = FixedFormat(8, 7)  # [-1, 127/128]
    assert f.quantize([-3.0, -1.0, 0.999, 5.0]).tolist() == [-128, -128, 127, 127]
    with pytest.raises(ValueError, match="range"):
        f.quantize([1.0], saturating=False)
    with pytest.raises(ValueError, match="non-finite"):
        f.quantize([np.nan])


def test_round_shift_matches_exact_rational_rounding(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-(1 << 40), 1 << 40, 5000)
    for s in (1, 3, 17):
        exact = x / 2.0 ** s  # exact in float64 for |x| < 2**53
        assert np.array_equal(round_shift(x, s, "truncate"), np.floor(exact).astype(np.int64))
        assert np.array_equal(round_shift(x, s, "half_up"), np.floor(exact + 0.5).astype(np.int64))
        assert np.array_equal(round_shift(x, s, "half_even"), np.round(exact).astype(np.int64))


def test_bad_rounding_name():
    with pytest.raises(ValueError, match="rounding must be one of"):
        round_shift([1], 1, "nearest")
