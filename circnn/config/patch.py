"""Limits of the im2col address generator (:class:`circnn.rtl.patch_addresses.PatchAddresses`):
the largest feature map, kernel, stride and padding an elaborated generator walks."""

from __future__ import annotations

from dataclasses import dataclass

from .checks import param, validate_fields

__all__ = ["PatchConfig"]


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


@dataclass(frozen=True)
class PatchConfig:
    max_side: int = param(64, "largest feature-map side H or W", 1, 4096)
    max_channels: int = param(256, "largest channel count C", 1, 65536)
    max_kernel: int = param(5, "largest kernel side KH or KW", 1, 64)
    max_stride: int = param(2, "largest stride SH or SW", 1, 64)
    max_padding: int = param(2, "largest padding PH or PW", 0, 63)

    def __post_init__(self):
        validate_fields(self)

    @property
    def index_bits(self) -> int:
        """Bits of a value's index (y*W + x)*C + c in a channel-last map."""
        return _bits(self.max_side * self.max_side * self.max_channels)
