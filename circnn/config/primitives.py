"""Parameters of the datapath primitives that are designs of their own.

The multiplier, the block RAM and the requantiser are elaborated inside the
engines, and on their own by ``circnn generate`` / ``circnn synth`` (to
measure them and to lint them); these are their standalone parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from circnn.errors import ParameterError

from .checks import param, validate_fields
from .engine import MAX_LEFT_SHIFT
from .fixedpoint import MAX_OPERAND_BITS, ROUNDINGS

__all__ = ["MultiplierConfig", "BlockRAMConfig", "RequantizerConfig", "MAX_WORD_BITS"]

#: Widest word the requantiser takes (accumulators stay far below it).
MAX_WORD_BITS = 56


@dataclass(frozen=True)
class MultiplierConfig:
    a_width: int = param(18, "width of operand a", 2, MAX_OPERAND_BITS)
    b_width: int = param(18, "width of operand b", 2, MAX_OPERAND_BITS)

    def __post_init__(self):
        validate_fields(self)


@dataclass(frozen=True)
class BlockRAMConfig:
    width: int = param(32, "word width", 1, 72)
    depth: int = param(8192, "words", 2, 1 << 16)

    def __post_init__(self):
        validate_fields(self)


@dataclass(frozen=True)
class RequantizerConfig:
    """``sat(round(x / 2**shift))`` for a run-time ``shift`` in ``-max_left..max_shift``."""

    in_width: int = param(32, "input word width", 2, MAX_WORD_BITS)
    out_width: int = param(16, "output word width", 2, MAX_WORD_BITS)
    max_shift: int = param(16, "largest right shift", 0, MAX_WORD_BITS - 1)
    max_left: int = param(0, "largest left shift (negative shift)", 0, MAX_LEFT_SHIFT)
    rounding: str = param("half_up", "rounding mode", choices=ROUNDINGS)

    def __post_init__(self):
        validate_fields(self)
        if self.max_shift >= self.in_width:
            raise ParameterError(f"max_shift must be below in_width={self.in_width}, "
                                 f"not {self.max_shift}")
