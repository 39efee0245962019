"""Configuration of the block-circulant layer engine: parameters, width plan, registers.

:class:`EngineConfig` is what is fixed when the engine is elaborated; the
width plan (``docs/width-plan.md``) is derived from it.  What a compiled
layer sets at run time is a :class:`LayerRegisters` value (written through
the ``load`` port at the :class:`LayerField` addresses) and a
:class:`MemoryImage` (the weight banks and the bias memory).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from amaranth.lib import enum

from circnn.errors import ParameterError

from .checks import param, validate_fields
from .fft import twiddle_multiplier_param
from .fixedpoint import MAX_OPERAND_BITS, ROUNDINGS
from .real_fft import RealFFTConfig, RealIFFTConfig

__all__ = ["EngineConfig", "MAX_LEFT_SHIFT", "LoadTarget", "LayerField", "LayerRegisters",
           "MemoryImage"]

#: ``out_shift`` may be as low as ``-MAX_LEFT_SHIFT``: an output format with
#: more fraction bits than the sum it comes from (a left shift) happens for
#: layers with very small outputs; eight bits cover every layer seen so far
#: and keep the requantiser's pre-shift narrow.
MAX_LEFT_SHIFT = 8


class LoadTarget(enum.IntEnum, shape=2):
    """Which memory a run-time ``load`` write goes to."""

    WEIGHTS = 0     #: a PE's weight bank (``pe``, ``addr`` = word)
    BIASES = 1      #: the bias memory (``addr`` = pair)
    REGISTERS = 2   #: a layer register (``addr``: :class:`LayerField`)


class LayerField(enum.IntEnum, shape=4):
    """A layer's configuration fields, by word offset.

    The first eight are the layer core's registers (their ``load`` addresses
    with :attr:`LoadTarget.REGISTERS`); all ten are the words of a layer's
    descriptor slot in the accelerator (``docs/registers.md``).
    """

    Q = 0               #: input blocks
    P = 1               #: output blocks
    ACC_SHIFT = 2       #: accumulator requantisation shift
    OUT_SHIFT = 3       #: output requantisation shift (negative: left)
    RELU = 4            #: 1: ReLU after the bias
    OUT_FEATURES = 5    #: real output width; outputs past it are zero
    W_BASE = 6          #: first word of the layer's weights in every PE bank
    B_BASE = 7          #: first pair of the layer's biases
    SRC = 8             #: activation buffer read (accelerator only)
    DST = 9             #: activation buffer written (accelerator only)

    @property
    def key(self) -> str:
        """The field's name as dataclasses and dicts spell it (``acc_shift``)."""
        return self.name.lower()


@dataclass(frozen=True)
class EngineConfig:
    """What is fixed when the engine is elaborated.

    ``max_q`` / ``max_p`` bound the layers it can run (they size the
    spectrum, weight and bias memories); ``pes`` output blocks are computed
    at once; ``batch`` input vectors share every weight read.
    """

    k: int = param(16, "block size", 4, 256, power_of_two=True)
    act_width: int = param(16, "activation width (input and output)", 8, MAX_OPERAND_BITS - 1)
    weight_width: int = param(16, "weight spectrum width", 4, MAX_OPERAND_BITS)
    ifft_width: int = param(16, "accumulator width after requantisation (IFFT input)", 8,
                            MAX_OPERAND_BITS - 1)
    twiddle_width: int = param(16, "twiddle width", 8, MAX_OPERAND_BITS)
    rounding: str = param("half_up", "rounding of every scaling step", choices=ROUNDINGS)
    pes: int = param(4, "processing elements P", 1, 64)
    batch: int = param(1, "batch size B (input vectors per weight read)", 1, 64)
    max_q: int = param(16, "largest input block count of a layer", 1, 4096)
    max_p: int = param(16, "largest output block count of a layer", 1, 4096)
    #: words per PE weight bank and bias pairs (0: just enough for one
    #: max_q x max_p layer); a network engine holds every layer's weights
    weight_depth: int = param(0, "words per PE weight bank, all layers (0: one largest layer)",
                              0, 1 << 20)
    bias_depth: int = param(0, "bias pairs, all layers (0: one largest layer)", 0, 1 << 20)
    #: how the real FFT and IFFT multiply by their twiddles (``docs/fft.md``)
    twiddle_multiplier: str = twiddle_multiplier_param()

    def __post_init__(self):
        validate_fields(self)
        self.fft_config
        self.ifft_config

    # --- the width plan --------------------------------------------------
    @property
    def half(self) -> int:
        """Packed spectrum words per block (k/2)."""
        return self.k // 2

    @property
    def spectrum_width(self) -> int:
        return self.act_width + 1

    @property
    def product_width(self) -> int:
        return self.spectrum_width + self.weight_width + 1

    @property
    def acc_width(self) -> int:
        return self.product_width + max(1, (self.max_q - 1).bit_length())

    @property
    def ifft_out_width(self) -> int:
        return self.ifft_width + 2

    @property
    def bias_width(self) -> int:
        return self.ifft_width + 4

    @property
    def sum_width(self) -> int:
        return max(self.ifft_out_width, self.bias_width) + 1

    @property
    def acc_shift_range(self) -> tuple[int, int]:
        """Smallest and largest accumulator shift."""
        return 0, self.acc_width - 1

    @property
    def out_shift_range(self) -> tuple[int, int]:
        """Smallest and largest output shift (negative: a left shift)."""
        return -MAX_LEFT_SHIFT, self.sum_width - 1

    @property
    def groups(self) -> int:
        """PE passes for the largest layer: ceil(max_p / pes)."""
        return -(-self.max_p // self.pes)

    @property
    def weight_words(self) -> int:
        """Words in each PE's weight bank."""
        return self.weight_depth or self.groups * self.max_q * self.half

    @property
    def bias_words(self) -> int:
        """Bias pairs in the bias memory."""
        return self.bias_depth or self.max_p * self.half

    @property
    def fft_config(self) -> RealFFTConfig:
        return RealFFTConfig(self.k, self.act_width, self.twiddle_width, self.rounding,
                             self.twiddle_multiplier)

    @property
    def ifft_config(self) -> RealIFFTConfig:
        return RealIFFTConfig(self.k, self.ifft_width, self.twiddle_width, self.rounding,
                              self.twiddle_multiplier)

    def width_plan(self) -> dict[str, int]:
        return {
            "input": self.act_width, "spectrum": self.spectrum_width,
            "weight": self.weight_width, "product": self.product_width,
            "accumulator": self.acc_width, "ifft_in": self.ifft_width,
            "ifft_out": self.ifft_out_width, "bias": self.bias_width,
            "output": self.act_width,
        }

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class LayerRegisters:
    """The layer core's run-time configuration (one :class:`LayerField` each).

    ``out_features`` 0 means all ``p * k`` outputs are real.
    """

    q: int
    p: int
    acc_shift: int = 0
    out_shift: int = 0
    relu: bool = False
    out_features: int = 0
    w_base: int = 0
    b_base: int = 0

    @classmethod
    def largest(cls, eng: EngineConfig) -> "LayerRegisters":
        """The values of an engine elaborated without a layer: its largest shape."""
        return cls(q=eng.max_q, p=eng.max_p)

    def values(self, eng: EngineConfig) -> dict[str, int]:
        """``{field: value}`` as the registers hold them (``out_features`` resolved)."""
        out = {f.name: int(getattr(self, f.name)) for f in fields(self)}
        out["out_features"] = self.out_features or self.p * eng.k
        return out

    def check(self, eng: EngineConfig, name: str = "layer") -> None:
        """Refuse values the engine cannot hold, naming the field."""
        if not 1 <= self.q <= eng.max_q:
            raise ParameterError(f"{name}: q={self.q} input blocks exceed the engine's "
                                 f"max_q={eng.max_q}")
        if not 1 <= self.p <= eng.max_p:
            raise ParameterError(f"{name}: p={self.p} output blocks exceed the engine's "
                                 f"max_p={eng.max_p}")
        lo, hi = eng.acc_shift_range
        if not lo <= self.acc_shift <= hi:
            raise ParameterError(f"{name}: acc_shift={self.acc_shift} outside {lo}..{hi}")
        lo, hi = eng.out_shift_range
        if not lo <= self.out_shift <= hi:
            raise ParameterError(f"{name}: out_shift={self.out_shift} outside {lo}..{hi}")
        if not 0 <= self.out_features <= self.p * eng.k:
            raise ParameterError(f"{name}: out_features={self.out_features} outside "
                                 f"0..p*k={self.p * eng.k}")


@dataclass(frozen=True)
class MemoryImage:
    """Initial contents of the engine's memories.

    ``weight_banks``: one ``(re, im)`` pair of int arrays per PE, word
    ``a`` of the bank at index ``a``; ``bias_pairs``: (pairs, 2) ints, the
    bias memory's words ``(b0, b1)``.
    """

    weight_banks: tuple
    bias_pairs: np.ndarray

    def check(self, eng: EngineConfig) -> None:
        if len(self.weight_banks) != eng.pes:
            raise ParameterError(f"memory image has {len(self.weight_banks)} weight banks, "
                                 f"the engine has pes={eng.pes}")
        for re, im in self.weight_banks:
            if len(re) > eng.weight_words or len(im) != len(re):
                raise ParameterError(f"a weight bank image of {len(re)} words does not fit "
                                     f"weight_depth={eng.weight_words}")
        if np.asarray(self.bias_pairs).reshape(-1, 2).shape[0] > eng.bias_words:
            raise ParameterError(f"the bias image does not fit bias_depth={eng.bias_words}")
