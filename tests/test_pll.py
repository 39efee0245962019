# amaranth: UnusedElaboratable=no
"""The ECP5 PLL's divider search against values worked out by hand.

25 -> 100 MHz: 100/25 = 4, so CLKI_DIV 1 (PFD 25 MHz, the highest), CLKFB_DIV 4; the
VCO (400..800 MHz) at 100 x CLKOP_DIV is nearest its middle, 600, at CLKOP_DIV 6.
25 -> 125: 5 = 5/1; VCO 500, 625 or 750: 625, CLKOP_DIV 5.  25 -> 120: 4.8 = 24/5,
the only ratio with a PFD (25/CLKI_DIV) of at least 3.125 MHz (CLKI_DIV <= 8);
VCO 600 at CLKOP_DIV 5.  Highest not above 152.8 MHz: 25*n/d for d <= 8 gives
150 (6/1), 153.125 (49/8), 153.57 (43/7), 154.17 (37/6), 155 (31/5) above and
nothing between 150 and 152.8, so 150 MHz at CLKI_DIV 1.
"""

from fractions import Fraction

import pytest
from amaranth.hdl import Fragment

from circnn.config import ECP5Target, ParameterError
from circnn.rtl.pll import ECP5PLL, pll_settings

MHZ = 1_000_000


@pytest.mark.parametrize("f_out,dividers,vco", [
    (100 * MHZ, (1, 4, 6), 600),
    (125 * MHZ, (1, 5, 5), 625),
    (120 * MHZ, (5, 24, 5), 600),
    (50 * MHZ, (1, 2, 12), 600),
])
def test_exact_frequencies(f_out, dividers, vco):
    s = pll_settings(25 * MHZ, f_out)
    assert (s.clki_div, s.clkfb_div, s.clkop_div) == dividers
    assert s.out_hz == f_out and s.vco_hz == vco * MHZ
    assert s.clkop_cphase == s.clkop_div - 1


def test_highest_not_above():
    s = pll_settings(25 * MHZ, 152.8e6, at_most=True)
    assert (s.clki_div, s.clkfb_div, s.clkop_div, s.out_hz) == (1, 6, 4, 150 * MHZ)
    nearest = pll_settings(25 * MHZ, 152.8e6)
    assert (nearest.clki_div, nearest.clkfb_div, nearest.out_hz) == (8, 49, Fraction(153_125_000))


def test_every_result_is_within_the_limits():
    for f in range(20, 400, 7):
        s = pll_settings(25 * MHZ, f * MHZ)
        assert 3.125 * MHZ <= s.pfd_hz <= 400 * MHZ
        assert 400 * MHZ <= s.vco_hz <= 800 * MHZ
        assert all(1 <= d <= 128 for d in (s.clki_div, s.clkfb_div, s.clkop_div))
        assert abs(s.out_hz - f * MHZ) <= Fraction(25 * MHZ, 16)   # a step of PFD/2 at worst


def test_out_of_range_is_one_line():
    with pytest.raises(ParameterError, match=r"^f_out must be in 3125000..400000000 Hz"):
        pll_settings(25 * MHZ, 500 * MHZ)
    with pytest.raises(ParameterError, match=r"^f_in must be an integer number of Hz"):
        pll_settings(5 * MHZ, 100 * MHZ)


def test_primitive_elaborates_for_ecp5_only():
    pll = ECP5PLL(pll_settings(25 * MHZ, 100 * MHZ))
    Fragment.get(pll, ECP5Target())
    with pytest.raises(ParameterError, match="ECP5 target only"):
        Fragment.get(ECP5PLL(pll.settings), None)
