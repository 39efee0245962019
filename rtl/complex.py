"""Payload layouts for complex samples."""

from amaranth.hdl import signed
from amaranth.lib import data

__all__ = ["complex_layout"]


def complex_layout(width: int, **extra) -> data.StructLayout:
    """``{re, im}`` signed fields of ``width`` bits, plus any extra fields."""
    return data.StructLayout({"re": signed(width), "im": signed(width), **extra})
