"""The boards ``circnn build --board`` targets, and what their FPGAs hold.

A board name (``--board``) chooses amaranth-boards' platform class (its
pins, clock and constraints: never a pin list of ours) and the ECP5 device
on it.  ``ulx3s`` is the ULX3S with the LFE5U-85F; ``ulx3s-12f``,
``ulx3s-25f``, ``ulx3s-45f`` and ``ulx3s-85f`` name the variant.

:class:`DeviceCapacity` is what a device offers, from the ECP5 family data
sheet (FPGA-DS-02012, table 1.1: LUTs, sysMEM blocks, 18 x 18 multipliers;
a flip-flop per LUT): the 25F, 45F and 85F LUT counts are the exact ones
nextpnr reports for their dies (24,288, 43,848, 83,640; the data sheet rounds
them to 24K, 44K and 84K).  The LFE5U-12F is the 25F's die sold with 12K
LUTs and 32 of its 56 block RAMs: nextpnr places a 12F design on the whole
die (its ``--12k`` takes the 25k chip database), so the build checks the
12F's own figures itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from circnn.errors import ParameterError

from .host_link import LinkConfig

__all__ = ["DeviceCapacity", "Board", "BOARDS", "DEVICE_CAPACITY", "BOARD_BAUD_DEFAULT",
           "BOARD_FREQ_DEFAULT", "board_named"]


@dataclass(frozen=True)
class DeviceCapacity:
    """LUT4s, flip-flops, MULT18X18D and DP16KD blocks of a device."""

    lut4: int
    ff: int
    mult18: int
    dp16kd: int

    def as_dict(self) -> dict:
        return {"lut4": self.lut4, "ff": self.ff, "mult18": self.mult18, "dp16kd": self.dp16kd}


#: ECP5 devices (LFE5U, no SERDES) and their resources
DEVICE_CAPACITY = {
    "LFE5U-12F": DeviceCapacity(lut4=12_000, ff=12_000, mult18=28, dp16kd=32),
    "LFE5U-25F": DeviceCapacity(lut4=24_288, ff=24_288, mult18=28, dp16kd=56),
    "LFE5U-45F": DeviceCapacity(lut4=43_848, ff=43_848, mult18=72, dp16kd=108),
    "LFE5U-85F": DeviceCapacity(lut4=83_640, ff=83_640, mult18=156, dp16kd=208),
}


@dataclass(frozen=True)
class Board:
    """A board: its name, the amaranth-boards platform class (``module:Class``), the
    device on it, the oscillator and the ``openFPGALoader -b`` name."""

    name: str
    platform: str
    device: str
    clock_hz: int
    loader_board: str

    @property
    def capacity(self) -> DeviceCapacity:
        return DEVICE_CAPACITY[self.device]


def _ulx3s(variant: str) -> Board:
    return Board(name=f"ulx3s-{variant.lower()}",
                 platform=f"amaranth_boards.ulx3s:ULX3S_{variant}_Platform",
                 device=f"LFE5U-{variant}", clock_hz=25_000_000, loader_board="ulx3s")


#: every ``--board`` name; ``ulx3s`` alone is the 85F
BOARDS = {b.name: b for b in (_ulx3s("12F"), _ulx3s("25F"), _ulx3s("45F"), _ulx3s("85F"))}
BOARDS = {"ulx3s": BOARDS["ulx3s-85f"], **BOARDS}

#: the UART's baud rate when ``--baud`` is not given: the link's default (LinkConfig.baud)
BOARD_BAUD_DEFAULT = LinkConfig.__dataclass_fields__["baud"].default
#: the first PLL frequency a board build places and routes for, MHz (``--freq``)
BOARD_FREQ_DEFAULT = 150.0


def board_named(name: str) -> Board:
    """The board ``--board`` names; a one-line ParameterError naming the choices."""
    board = BOARDS.get(str(name).lower())
    if board is None:
        raise ParameterError(f"--board must be one of {', '.join(BOARDS)}, not {name!r}")
    return board
