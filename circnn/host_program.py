"""``program.bin``: the ordered host-bus writes that load a network into an accelerator.

A build folder (``circnn build``, ``docs/build.md``) keeps the writes that
load its network (weights, biases, descriptors, ``N_LAYERS``,
``N_BATCHES`` = 1: :func:`circnn.sim.model.accelerator.host_writes`) in a
small binary file, all integers little-endian:

=======  ====  ===========================================================
offset   size  field
=======  ====  ===========================================================
0        8     magic ``CIRCNNHP``
8        2     format version (1)
10       1     address bits of the bus (24)
11       1     data bits of the bus (``max(32, 2*weight_width, 2*bias_width)``)
12       4     number of writes N
16       N*R   the writes in order, each the address (4 bytes) then the data
               (``ceil(data bits / 8)`` bytes): R = 4 + ceil(data bits / 8)
=======  ====  ===========================================================

:func:`encode_program` and :func:`decode_program` are exact inverses;
:func:`read_program` refuses, in one line naming the file, anything that
is not such a file.  :func:`write_regions` counts the writes per kind.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from .config import REGION_SHIFT, HostRegister, Region
from .errors import CircnnError

__all__ = ["MAGIC", "FORMAT_VERSION", "HEADER", "HostProgram", "encode_program",
           "decode_program", "read_program", "write_regions"]

MAGIC = b"CIRCNNHP"
FORMAT_VERSION = 1
#: magic, version, address bits, data bits, count
HEADER = struct.Struct("<8sHBBI")
#: a file of more writes than this is refused before it is read (256 MiB of records)
MAX_WRITES = 1 << 24


@dataclass(frozen=True)
class HostProgram:
    """The writes of a program file and the bus they are for."""

    addr_bits: int
    data_bits: int
    writes: list          # [(address, data), ...] in bus order

    @property
    def data_bytes(self) -> int:
        return -(-self.data_bits // 8)


def encode_program(writes, *, addr_bits: int, data_bits: int) -> bytes:
    """The bytes of a program file of ``writes`` ((address, data) pairs) on a bus of
    ``addr_bits`` / ``data_bits``; a ValueError for a write that does not fit it."""
    if not 1 <= addr_bits <= 32 or not 1 <= data_bits <= 255:
        raise ValueError(f"a program file holds buses of up to 32 address and 255 data bits, "
                         f"not {addr_bits} / {data_bits}")
    n_data = -(-data_bits // 8)
    out = [HEADER.pack(MAGIC, FORMAT_VERSION, addr_bits, data_bits, len(writes))]
    for i, (addr, data) in enumerate(writes):
        addr, data = int(addr), int(data)
        if not 0 <= addr < 1 << addr_bits or not 0 <= data < 1 << data_bits:
            raise ValueError(f"write {i}: address {addr:#x} / data {data:#x} do not fit a bus of "
                             f"{addr_bits} / {data_bits} bits")
        out.append(addr.to_bytes(4, "little") + data.to_bytes(n_data, "little"))
    return b"".join(out)


def decode_program(blob: bytes, name: str = "program file") -> HostProgram:
    """The writes of a program file's bytes; a one-line CircnnError naming ``name``
    and what is wrong for anything else."""
    if len(blob) < HEADER.size:
        raise CircnnError(f"{name}: {len(blob)} bytes, shorter than the {HEADER.size}-byte "
                          f"header of a circnn host program")
    magic, version, addr_bits, data_bits, count = HEADER.unpack_from(blob)
    if magic != MAGIC:
        raise CircnnError(f"{name}: not a circnn host program (magic {magic!r}, expected "
                          f"{MAGIC!r})")
    if version != FORMAT_VERSION:
        raise CircnnError(f"{name}: format version {version}; this circnn reads version "
                          f"{FORMAT_VERSION}")
    if not 1 <= addr_bits <= 32 or not 1 <= data_bits:
        raise CircnnError(f"{name}: a bus of {addr_bits} address and {data_bits} data bits "
                          f"(address bits must be 1..32, data bits at least 1)")
    if count > MAX_WRITES:
        raise CircnnError(f"{name}: {count} writes, more than the {MAX_WRITES} allowed")
    n_data = -(-data_bits // 8)
    size = 4 + n_data
    if len(blob) != HEADER.size + count * size:
        raise CircnnError(f"{name}: {len(blob)} bytes, but {count} writes of {size} bytes "
                          f"after the {HEADER.size}-byte header make "
                          f"{HEADER.size + count * size} (truncated or corrupt)")
    writes = []
    for i in range(count):
        at = HEADER.size + i * size
        addr = int.from_bytes(blob[at:at + 4], "little")
        data = int.from_bytes(blob[at + 4:at + size], "little")
        if addr >> addr_bits or data >> data_bits:
            raise CircnnError(f"{name}: write {i} (address {addr:#x}, data {data:#x}) does not "
                              f"fit the {addr_bits}-bit address / {data_bits}-bit data bus")
        writes.append((addr, data))
    return HostProgram(addr_bits, data_bits, writes)


def read_program(path) -> HostProgram:
    """:func:`decode_program` of a file, named in any error."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise CircnnError(f"{str(path)!r}: cannot read it: {exc.strerror or exc}") from None
    return decode_program(blob, repr(str(path)))


def write_regions(writes) -> dict[str, int]:
    """How many writes go to each kind of target: ``weights`` (region 1),
    ``biases`` (region 2), ``descriptors`` (the table in region 0) and
    ``registers`` (the rest of region 0)."""
    counts = dict(weights=0, biases=0, descriptors=0, registers=0)
    for addr, _ in writes:
        region, offset = addr >> REGION_SHIFT, addr & ((1 << REGION_SHIFT) - 1)
        if region == Region.WEIGHTS:
            counts["weights"] += 1
        elif region == Region.BIASES:
            counts["biases"] += 1
        elif offset >= HostRegister.DESCRIPTORS:
            counts["descriptors"] += 1
        else:
            counts["registers"] += 1
    return counts
