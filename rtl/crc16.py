"""``crc16_next``: the CRC-16 of the host link, one byte at a time, as logic.

CRC-16/CCITT-FALSE (:data:`circnn.config.CRC_POLY` 0x1021, initial value
:data:`circnn.config.CRC_INIT` 0xFFFF, not reflected, no final XOR): the
register shifts left, the byte's bits enter most significant first.  The
eight shift steps of one byte are linear over GF(2), so they are worked
out here, at elaboration, into one XOR of register and byte bits per
output bit (at most a dozen inputs: two LUT levels on ECP5), written flat
rather than as eight nested steps.  Its twin, by name, is
:func:`circnn.sim.model.crc16.crc16_next` (the steps one by one).
"""

import functools
import operator

from amaranth.hdl import Cat, Value

from circnn.config import CRC_POLY

__all__ = ["crc16_next", "crc16_terms"]


@functools.cache
def crc16_terms() -> tuple:
    """For each output bit, the set of inputs it is the XOR of: ``("crc", i)`` and
    ``("byte", j)`` pairs."""
    crc = [frozenset({("crc", i)}) for i in range(16)]
    for bit in reversed(range(8)):
        feedback = crc[15] ^ {("byte", bit)}
        shifted = [frozenset()] + crc[:15]
        crc = [shifted[i] ^ feedback if (CRC_POLY >> i) & 1 else shifted[i] for i in range(16)]
    return tuple(crc)


def crc16_next(crc, byte):
    """The 16-bit value after ``byte`` (8 bits) enters the CRC register ``crc``."""
    inputs = {"crc": Value.cast(crc), "byte": Value.cast(byte)}
    return Cat(functools.reduce(operator.xor, [inputs[name][i] for name, i in sorted(terms)])
               for terms in crc16_terms())
