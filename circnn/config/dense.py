"""Configuration of the dense baseline engine (:mod:`circnn.rtl.dense`).

The engine a user would build without the circulant structure, for
comparison.  Width plan:

| point | width | rule |
| --- | --- | --- |
| input activation ``x`` | ``act_width`` | code of ``x * 2**fx`` |
| weight ``W`` | ``weight_width`` (<= 18) | code of ``w * 2**fw`` |
| product | ``act_width + weight_width`` | one MULT18X18D, exact |
| accumulator | ``product + ceil(log2 max_in)`` | exact sum over n: cannot overflow |
| bias | accumulator width | code of ``b * 2**(fx + fw)``, in the accumulator's scale |
| sum | accumulator + 1 | ``acc + bias``, then ReLU |
| output ``y`` | ``act_width`` | ``sat(round(sum / 2**out_shift))``, saturations counted |
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from amaranth.lib import enum

from circnn.errors import ParameterError

from .checks import param, validate_fields
from .engine import MAX_LEFT_SHIFT
from .fixedpoint import MAX_OPERAND_BITS, ROUNDINGS

__all__ = ["DenseConfig", "DenseField", "DenseRegisters", "DenseMemoryImage", "MAX_FEATURES"]

#: Largest ``max_in`` / ``max_out``.
MAX_FEATURES = 16384


class DenseField(enum.IntEnum, shape=3):
    """The dense engine's registers, by ``load`` address (``out_shift`` and
    ``relu`` at the circulant layer's addresses)."""

    N = 0
    M = 1
    OUT_SHIFT = 3
    RELU = 4

    @property
    def key(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class DenseConfig:
    """What is fixed when the dense engine is elaborated.

    ``mults`` multipliers compute ``mults`` output rows at a time; ``batch``
    input vectors share every weight read (batch innermost); ``max_in`` /
    ``max_out`` bound the layers it runs (they size the activation, weight,
    bias and output memories); ``k`` only groups the outputs into blocks of
    k (k/2 pairs) on the output stream, as the circulant engine emits them.
    """

    act_width: int = param(16, "activation width (input and output)", 8, MAX_OPERAND_BITS - 1)
    weight_width: int = param(16, "weight width", 4, MAX_OPERAND_BITS)
    rounding: str = param("half_up", "rounding of the output requantisation", choices=ROUNDINGS)
    mults: int = param(4, "multipliers M (output rows computed at once)", 1, 64)
    batch: int = param(1, "batch size B", 1, 64)
    max_in: int = param(256, "largest input count n", 1, MAX_FEATURES)
    max_out: int = param(256, "largest output count m", 1, MAX_FEATURES)
    k: int = param(16, "outputs per block on the output stream", 2, 256, power_of_two=True)

    def __post_init__(self):
        validate_fields(self)

    # --- the width plan --------------------------------------------------
    @property
    def product_width(self) -> int:
        return self.act_width + self.weight_width

    @property
    def acc_width(self) -> int:
        return self.product_width + (self.max_in - 1).bit_length()

    @property
    def bias_width(self) -> int:
        return self.acc_width

    @property
    def sum_width(self) -> int:
        return self.acc_width + 1

    @property
    def out_shift_range(self) -> tuple[int, int]:
        return -MAX_LEFT_SHIFT, self.sum_width - 1

    # --- memory geometry ---------------------------------------------------
    @property
    def half(self) -> int:
        """Output pairs per block (k/2)."""
        return self.k // 2

    @property
    def groups(self) -> int:
        """Passes for the largest layer: ceil(max_out / mults)."""
        return -(-self.max_out // self.mults)

    @property
    def max_p(self) -> int:
        """Output blocks of k for the largest layer (the output stream's ``block`` range)."""
        return -(-self.max_out // self.k)

    @property
    def in_pairs(self) -> int:
        """Input pairs per vector for the largest layer: ceil(max_in / 2)."""
        return -(-self.max_in // 2)

    def width_plan(self) -> dict[str, int]:
        return {"input": self.act_width, "weight": self.weight_width,
                "product": self.product_width, "accumulator": self.acc_width,
                "bias": self.bias_width, "sum": self.sum_width, "output": self.act_width}

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class DenseRegisters:
    """The dense engine's run-time configuration (one :class:`DenseField` each)."""

    n: int
    m: int
    out_shift: int = 0
    relu: bool = False

    @classmethod
    def largest(cls, cfg: DenseConfig) -> "DenseRegisters":
        return cls(n=cfg.max_in, m=cfg.max_out)

    def check(self, cfg: DenseConfig, name: str = "dense layer") -> None:
        if not 1 <= self.n <= cfg.max_in:
            raise ParameterError(f"{name}: n={self.n} inputs exceed the engine's max_in={cfg.max_in}")
        if not 1 <= self.m <= cfg.max_out:
            raise ParameterError(f"{name}: m={self.m} outputs exceed the engine's "
                                 f"max_out={cfg.max_out}")
        lo, hi = cfg.out_shift_range
        if not lo <= self.out_shift <= hi:
            raise ParameterError(f"{name}: out_shift={self.out_shift} outside {lo}..{hi}")


@dataclass(frozen=True)
class DenseMemoryImage:
    """Initial memory contents: one int array per multiplier's weight bank
    (word ``g*n + j`` holds ``W[g*M + mult, j]``) and the biases (one per row)."""

    weight_banks: tuple
    bias: np.ndarray
