"""What a design is elaborated for: vendor-neutral Verilog, or Lattice ECP5.

The choice reaches components through Amaranth's ``platform`` argument of
``elaborate``, never through their constructors: a component that has an
ECP5 primitive (the registered ``MULT18X18D`` of
:class:`circnn.rtl.multiplier.Multiplier`, the ``DP16KD`` with its output
register of :class:`circnn.rtl.block_ram.BlockRAM`) asks
:func:`uses_ecp5_primitives` and elaborates to the same behaviour in plain
Amaranth otherwise.  A real ECP5 board platform (amaranth-boards' ULX3S,
say) counts as ECP5; so does :class:`ECP5Target`, which stands in for one
when a design is generated out of context (``circnn generate --target
ecp5``, ``circnn synth``).
"""

from __future__ import annotations

from .checks import check_choice

__all__ = ["TARGETS", "ECP5Target", "platform_for", "uses_ecp5_primitives", "target_of"]

#: ``generic``: vendor-neutral Verilog (ASIC or any FPGA flow);
#: ``ecp5``: may instantiate ECP5 primitives.
TARGETS = ("generic", "ecp5")


class ECP5Target:
    """The platform of an out-of-context ECP5 elaboration (no pins, no clock resources)."""

    family = "ecp5"

    def __repr__(self) -> str:
        return "ECP5Target()"


def platform_for(target: str):
    """The ``platform`` to elaborate with for a target name (None for ``generic``)."""
    check_choice("target", target, TARGETS)
    return ECP5Target() if target == "ecp5" else None


def uses_ecp5_primitives(platform) -> bool:
    """True when ``platform`` is an ECP5 one (ours, or an Amaranth Lattice ECP5 platform)."""
    if platform is None:
        return False
    if isinstance(platform, ECP5Target):
        return True
    from amaranth.vendor import LatticeECP5Platform
    return isinstance(platform, LatticeECP5Platform)


def target_of(platform) -> str:
    return "ecp5" if uses_ecp5_primitives(platform) else "generic"
