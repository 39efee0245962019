"""``ECP5PLL``: an ECP5 ``EHXPLLL`` making one clock, and the search for its dividers.

The PLL divides its input by ``CLKI_DIV`` for the phase detector (PFD), and
locks ``CLKOP`` fed back through ``CLKFB_DIV`` to it; the VCO runs at
``CLKOP_DIV`` times the output::

    f_pfd = f_in / CLKI_DIV                  3.125 .. 400 MHz
    f_out = f_pfd * CLKFB_DIV                3.125 .. 400 MHz
    f_vco = f_out * CLKOP_DIV                400 .. 800 MHz

(all three dividers 1..128; the input 8..400 MHz: the ECP5 data sheet's
sysCLOCK PLL limits).  :func:`pll_settings` searches every divider
triple, without elaborating anything: the output nearest the one asked
for (or, with ``at_most``, the highest not above it, as a build wants
for a frequency that closed timing), then the highest PFD frequency (the
least multiplication of the input's jitter), then the VCO nearest the
middle of its range.  ``CLKOP_CPHASE`` is ``CLKOP_DIV - 1`` (no phase
shift; ``CLKOP_FPHASE`` 0).

:class:`ECP5PLL` instantiates the primitive (ECP5 targets only: it has no
simulation model; the board's top level bypasses it in simulation).
``locked`` is the PLL's ``LOCK`` output, asynchronous to both clocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from amaranth.hdl import Instance, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from circnn.config import ParameterError, uses_ecp5_primitives

__all__ = ["PLLSettings", "pll_settings", "ECP5PLL", "PFD_RANGE", "VCO_RANGE", "OUT_RANGE",
           "IN_RANGE", "DIVIDER_RANGE"]

MHZ = 1_000_000
#: input, PFD, VCO and output frequency limits, Hz (inclusive)
IN_RANGE = (8 * MHZ, 400 * MHZ)
PFD_RANGE = (Fraction(3125, 1000) * MHZ, 400 * MHZ)
VCO_RANGE = (400 * MHZ, 800 * MHZ)
OUT_RANGE = (Fraction(3125, 1000) * MHZ, 400 * MHZ)
#: every divider's range
DIVIDER_RANGE = (1, 128)


@dataclass(frozen=True)
class PLLSettings:
    """An ``EHXPLLL``'s dividers for an input of ``f_in`` Hz."""

    f_in: int
    clki_div: int
    clkfb_div: int
    clkop_div: int

    @property
    def clkop_cphase(self) -> int:
        return self.clkop_div - 1

    @property
    def pfd_hz(self) -> Fraction:
        return Fraction(self.f_in) / self.clki_div

    @property
    def out_hz(self) -> Fraction:
        """The output frequency, exactly."""
        return self.pfd_hz * self.clkfb_div

    @property
    def vco_hz(self) -> Fraction:
        return self.out_hz * self.clkop_div

    @property
    def f_out(self) -> float:
        """The output frequency, Hz."""
        return float(self.out_hz)

    def describe(self) -> str:
        return (f"EHXPLLL {self.f_in / MHZ:g} MHz -> {self.f_out / MHZ:.4f} MHz: CLKI_DIV="
                f"{self.clki_div}, CLKFB_DIV={self.clkfb_div}, CLKOP_DIV={self.clkop_div}, "
                f"CLKOP_CPHASE={self.clkop_cphase} (PFD {float(self.pfd_hz) / MHZ:.4f} MHz, "
                f"VCO {float(self.vco_hz) / MHZ:.4f} MHz)")


def _within(value, limits) -> bool:
    return limits[0] <= value <= limits[1]


def pll_settings(f_in: int, f_out, *, at_most: bool = False) -> PLLSettings:
    """The dividers that make ``f_out`` Hz (or the nearest; with ``at_most`` the highest
    not above it) from ``f_in`` Hz; a one-line ParameterError for frequencies out of
    range."""
    if isinstance(f_in, bool) or not isinstance(f_in, int) or not _within(f_in, IN_RANGE):
        raise ParameterError(f"f_in must be an integer number of Hz in {IN_RANGE[0]}.."
                             f"{IN_RANGE[1]}, not {f_in!r}")
    if isinstance(f_out, bool) or not isinstance(f_out, (int, float, Fraction)) \
            or not _within(f_out, OUT_RANGE):
        raise ParameterError(f"f_out must be in {float(OUT_RANGE[0]):.0f}..{OUT_RANGE[1]} Hz, "
                             f"not {f_out!r}")
    want = Fraction(f_out)
    lo, hi = DIVIDER_RANGE
    best, best_key = None, None
    for clki in range(lo, hi + 1):
        pfd = Fraction(f_in, clki)
        if not _within(pfd, PFD_RANGE):
            continue
        for clkfb in range(lo, hi + 1):
            out = pfd * clkfb
            if not _within(out, OUT_RANGE) or (at_most and out > want):
                continue
            # CLKOP_DIV: the VCO within its range, nearest its middle
            first = max(lo, -(-VCO_RANGE[0] // out))
            last = min(hi, VCO_RANGE[1] // out)
            if first > last:
                continue
            middle = Fraction(VCO_RANGE[0] + VCO_RANGE[1], 2)
            clkop = min(range(first, last + 1), key=lambda d: abs(out * d - middle))
            key = (abs(out - want), -pfd, abs(out * clkop - middle))
            if best_key is None or key < best_key:
                best, best_key = PLLSettings(f_in, clki, clkfb, clkop), key
    if best is None:
        raise ParameterError(f"f_out {float(want) / MHZ:.4f} MHz: no EHXPLLL setting from "
                             f"{f_in / MHZ:g} MHz at or below it")
    return best


class ECP5PLL(wiring.Component):
    """``clki`` in, ``clkop`` out at ``settings.f_out``, ``locked`` (PLL ``LOCK``)."""

    def __init__(self, settings: PLLSettings):
        if not isinstance(settings, PLLSettings):
            raise TypeError("settings must be PLLSettings (pll_settings())")
        self.settings = settings
        super().__init__({"clki": In(1), "clkop": Out(1), "locked": Out(1)})

    def elaborate(self, platform):
        if not uses_ecp5_primitives(platform):
            raise ParameterError("the ECP5 PLL elaborates for an ECP5 target only (it has no "
                                 "simulation model): bypass it (pll_bypass=True) elsewhere")
        s = self.settings
        m = Module()
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=f"{s.f_in / MHZ:g}",
            a_FREQUENCY_PIN_CLKOP=f"{s.f_out / MHZ:.6f}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
            a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
            p_CLKI_DIV=s.clki_div, p_CLKFB_DIV=s.clkfb_div, p_CLKOP_ENABLE="ENABLED",
            p_CLKOP_DIV=s.clkop_div, p_CLKOP_CPHASE=s.clkop_cphase, p_CLKOP_FPHASE=0,
            p_FEEDBK_PATH="CLKOP",
            i_CLKI=self.clki, i_CLKFB=self.clkop, o_CLKOP=self.clkop, o_LOCK=self.locked,
            i_RST=0, i_STDBY=0, i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1,
            i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0)
        return m
