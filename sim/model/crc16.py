"""The host link's CRC-16, the twin of :mod:`circnn.rtl.crc16` (same names, same steps).

CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, bits most
significant first, no final XOR (``b"123456789"`` -> 0x29B1).
"""

from __future__ import annotations

from circnn.config import CRC_INIT, CRC_POLY

__all__ = ["crc16_next", "crc16"]


def crc16_next(crc: int, byte: int) -> int:
    """The 16-bit value after ``byte`` enters the CRC register ``crc``."""
    for bit in reversed(range(8)):
        feedback = ((crc >> 15) ^ (byte >> bit)) & 1
        crc = (crc << 1) & 0xFFFF
        if feedback:
            crc ^= CRC_POLY
    return crc


def crc16(data: bytes, crc: int = CRC_INIT) -> int:
    """The CRC of ``data`` from ``crc`` (the initial value by default)."""
    for byte in data:
        crc = crc16_next(crc, byte)
    return crc
