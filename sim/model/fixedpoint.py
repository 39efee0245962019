"""Fixed-point toolkit shared by every bit-true model.

Values are carried as NumPy ``int64`` arrays holding the two's-complement
integer that a hardware register holds; a :class:`FixedFormat` says how many
bits the register has and where its binary point sits.  Each function here
has an RTL twin in :mod:`circnn.rtl.arith` that computes the same integers,
so a model built from these functions predicts the hardware bit for bit.

The rounding modes and register ranges are :mod:`circnn.config.fixedpoint`'s
(re-exported here, as the toolkit's vocabulary).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from circnn.config import MAX_FRAC, MAX_MODEL_BITS, Rounding, int_range

__all__ = [
    "Rounding", "FixedFormat", "round_shift", "saturate", "wrap", "fits",
    "requantize", "int_range", "as_int_array",
]


def _check_bits(bits: int) -> None:
    if not isinstance(bits, (int, np.integer)) or not 1 <= bits <= MAX_MODEL_BITS:
        raise ValueError(f"bits must be an integer in 1..{MAX_MODEL_BITS}, not {bits!r}")


def as_int_array(x) -> np.ndarray:
    """Convert to an int64 array, refusing non-integral values."""
    arr = np.asarray(x)
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError("expected integer values, got non-integral floats")
        return arr.astype(np.int64)
    if arr.dtype == object:
        return np.array([int(v) for v in arr.ravel()], dtype=np.int64).reshape(arr.shape)
    raise TypeError(f"expected an integer array, got dtype {arr.dtype}")


def fits(x, bits: int, signed: bool = True) -> bool:
    lo, hi = int_range(bits, signed)
    x = as_int_array(x)
    return bool(np.all((x >= lo) & (x <= hi)))


def saturate(x, bits: int, signed: bool = True) -> np.ndarray:
    """Clamp to the range of a ``bits``-wide register."""
    lo, hi = int_range(bits, signed)
    return np.clip(as_int_array(x), lo, hi)


def wrap(x, bits: int, signed: bool = True) -> np.ndarray:
    """Keep the low ``bits`` bits, as a register that overflows silently."""
    _check_bits(bits)
    x = as_int_array(x)
    mask = (1 << bits) - 1
    u = x & mask
    if signed:
        u = np.where(u >= (1 << (bits - 1)), u - (1 << bits), u)
    return u.astype(np.int64)


def round_shift(x, shift: int, rounding: Rounding | str = Rounding.HALF_UP) -> np.ndarray:
    """Divide by ``2**shift`` with the given rounding (``shift`` >= 0).

    A negative ``shift`` multiplies by ``2**-shift`` (exact).
    """
    rounding = Rounding.parse(rounding)
    x = as_int_array(x)
    if shift <= 0:
        return x << (-shift)
    if rounding is Rounding.TRUNCATE:
        return x >> shift
    half = np.int64(1) << (shift - 1)
    if rounding is Rounding.HALF_UP:
        return (x + half) >> shift
    q = x >> shift
    r = x & ((np.int64(1) << shift) - 1)
    return q + ((r > half) | ((r == half) & ((q & 1) == 1))).astype(np.int64)


def requantize(x, shift: int, out_bits: int, rounding: Rounding | str = Rounding.HALF_UP,
               saturating: bool = True, signed: bool = True) -> np.ndarray:
    """Round-shift then saturate (or wrap) into an ``out_bits`` register."""
    y = round_shift(x, shift, rounding)
    return saturate(y, out_bits, signed) if saturating else wrap(y, out_bits, signed)


@dataclass(frozen=True)
class FixedFormat:
    """A fixed-point register format: ``bits`` in all, ``frac`` of them after the point.

    ``frac`` may be negative (the LSB weighs more than 1) or larger than
    ``bits`` (all bits fractional, with leading zeros implied).
    """

    bits: int
    frac: int
    signed: bool = True

    def __post_init__(self):
        _check_bits(self.bits)
        if not isinstance(self.frac, (int, np.integer)) or not -MAX_FRAC <= self.frac <= MAX_FRAC:
            raise ValueError(f"frac must be an integer in -{MAX_FRAC}..{MAX_FRAC}, "
                             f"not {self.frac!r}")

    @property
    def min_int(self) -> int:
        return int_range(self.bits, self.signed)[0]

    @property
    def max_int(self) -> int:
        return int_range(self.bits, self.signed)[1]

    @property
    def lsb(self) -> float:
        return 2.0 ** -self.frac

    @property
    def min_value(self) -> float:
        return self.min_int * self.lsb

    @property
    def max_value(self) -> float:
        return self.max_int * self.lsb

    def quantize(self, x, rounding: Rounding | str = Rounding.HALF_EVEN,
                 saturating: bool = True) -> np.ndarray:
        """Float values to this format's integers.

        Out-of-range values saturate; with ``saturating=False`` they raise.
        """
        rounding = Rounding.parse(rounding)
        v = np.asarray(x, dtype=np.float64)
        if not np.all(np.isfinite(v)):
            raise ValueError(f"cannot quantise non-finite values to {self}")
        v = v * 2.0 ** self.frac
        if rounding is Rounding.TRUNCATE:
            q = np.floor(v)
        elif rounding is Rounding.HALF_UP:
            q = np.floor(v + 0.5)
        else:
            q = np.round(v)  # NumPy rounds ties to even
        if not saturating and (np.any(q < self.min_int) or np.any(q > self.max_int)):
            raise ValueError(f"values outside the range of {self} "
                             f"[{self.min_value}, {self.max_value}]")
        return np.clip(q, self.min_int, self.max_int).astype(np.int64)

    def to_float(self, q) -> np.ndarray:
        return as_int_array(q).astype(np.float64) * self.lsb

    def to_dict(self) -> dict:
        return {"bits": self.bits, "frac": self.frac, "signed": self.signed}

    @classmethod
    def from_dict(cls, d: dict) -> "FixedFormat":
        return cls(int(d["bits"]), int(d["frac"]), bool(d.get("signed", True)))

    def __str__(self) -> str:
        ints = self.bits - self.frac - (1 if self.signed else 0)
        return f"{'s' if self.signed else 'u'}Q{ints}.{self.frac}"
