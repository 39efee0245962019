"""The board's host link: the UART's parameters and the framed protocol's constants.

Defined once, for the RTL (:mod:`circnn.rtl.uart`, :mod:`circnn.rtl.frame_receiver`,
:mod:`circnn.rtl.frame_transmitter`, :mod:`circnn.rtl.host_link`), the host-side
framing code (:mod:`circnn.sim.model.host_link`) and the benches.  The protocol
is described in ``docs/host-link.md``.

A request frame is ``SYNC, command, sequence, length (2 bytes), payload,
CRC (2 bytes)``; a reply ``SYNC, command, sequence, status, length (2
bytes), payload, CRC (2 bytes)``.  Multi-byte fields are little-endian,
except the CRC (CRC-16/CCITT-FALSE over every byte after ``SYNC``), which
is sent high byte first: the CRC over the whole frame after ``SYNC``, CRC
included, is then 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.lib import enum

from circnn.errors import ParameterError

from .checks import param, validate_fields

__all__ = ["SYNC", "PROTOCOL_VERSION", "MAX_PAYLOAD", "REQUEST_HEADER", "REPLY_HEADER",
           "CRC_BYTES", "CRC_POLY", "CRC_INIT", "Command", "LinkStatus", "IDENTITY_FIELDS",
           "LINK_STATUS_FIELDS", "MIN_DIVISOR", "MAX_BAUD_ERROR", "LinkConfig",
           "uart_divisor", "record_bytes"]

#: the first byte of every frame, request or reply
SYNC = 0x5A
#: the protocol's version (the identify reply's ``version``)
PROTOCOL_VERSION = 1
#: the largest payload of a frame, request or reply, in bytes (a block RAM's worth)
MAX_PAYLOAD = 1024
#: request bytes before the payload: sync, command, sequence, length (2)
REQUEST_HEADER = 5
#: reply bytes before the payload: sync, command, sequence, status, length (2)
REPLY_HEADER = 6
CRC_BYTES = 2
#: CRC-16/CCITT-FALSE: x^16 + x^12 + x^5 + 1, not reflected, initial value 0xFFFF,
#: no final XOR ("123456789" -> 0x29B1)
CRC_POLY = 0x1021
CRC_INIT = 0xFFFF
#: the smallest UART divisor (clocks per bit): the receiver's synchroniser and
#: mid-bit sampling need a few clocks per bit
MIN_DIVISOR = 4
#: the largest relative difference allowed between the baud rate asked for and
#: the one the divisor gives
MAX_BAUD_ERROR = 0.02


class Command(enum.IntEnum, shape=8):
    """A request's ``command`` byte (the reply echoes it)."""

    IDENTIFY = 0x01     #: no payload -> IDENTITY_FIELDS
    WRITE = 0x02        #: (address, data) pairs -> nothing
    READ = 0x03         #: address, count -> count data words from address, address+1, ...
    PUSH = 0x04         #: input words -> the count accepted (2 bytes)
    PULL = 0x05         #: a count n -> up to n output words
    STATUS = 0x06       #: no payload -> LINK_STATUS_FIELDS

    @property
    def meaning(self) -> str:
        return _COMMAND_MEANINGS[self]


_COMMAND_MEANINGS = {
    Command.IDENTIFY: "identify the build and the link's widths",
    Command.WRITE: "host-bus writes, (address, data) pairs",
    Command.READ: "host-bus reads from consecutive addresses",
    Command.PUSH: "words into the accelerator's input stream",
    Command.PULL: "words from the accelerator's output stream",
    Command.STATUS: "the link's counters",
}


class LinkStatus(enum.IntEnum, shape=8):
    """A reply's ``status`` byte: 0, or why the request was not carried out."""

    OK = 0
    BAD_CRC = 1
    UNKNOWN_COMMAND = 2
    BAD_LENGTH = 3
    TIMEOUT = 4
    OVERFLOW = 5

    @property
    def meaning(self) -> str:
        return _STATUS_MEANINGS[self]


_STATUS_MEANINGS = {
    LinkStatus.OK: "carried out",
    LinkStatus.BAD_CRC: "the frame's CRC does not match its bytes",
    LinkStatus.UNKNOWN_COMMAND: "no such command",
    LinkStatus.BAD_LENGTH: "a payload length the command does not take (or above MAX_PAYLOAD)",
    LinkStatus.TIMEOUT: "the frame stopped before its end (the line went idle)",
    LinkStatus.OVERFLOW: "a byte was lost on the way in (it came while the link was busy, "
                         "or with a bad stop bit)",
}

#: the identify reply's payload: (field, bytes), little-endian, in order
IDENTITY_FIELDS = (("build_id", 4), ("version", 1), ("addr_bits", 1), ("data_bits", 1),
                   ("in_bits", 1), ("out_bits", 1), ("max_payload", 2))
#: the status reply's payload: frames carried out, error replies sent, the last
#: error's status, bytes lost on the way in (counters wrap at 2**16)
LINK_STATUS_FIELDS = (("frames", 2), ("errors", 2), ("last_error", 1), ("lost_bytes", 2))


def record_bytes(fields) -> int:
    """Bytes of a record (IDENTITY_FIELDS, LINK_STATUS_FIELDS)."""
    return sum(size for _, size in fields)


def uart_divisor(clk_hz: int, baud: int) -> int:
    """Clocks per bit, ``round(clk_hz / baud)``; a one-line ParameterError when it is
    below MIN_DIVISOR or misses ``baud`` by MAX_BAUD_ERROR or more."""
    divisor = round(clk_hz / baud)
    if divisor < MIN_DIVISOR:
        raise ParameterError(f"baud must be at most clk_hz/{MIN_DIVISOR} = "
                             f"{clk_hz // MIN_DIVISOR} at clk_hz={clk_hz}, not {baud}")
    error = abs(clk_hz / divisor - baud) / baud
    if error >= MAX_BAUD_ERROR:
        raise ParameterError(f"baud {baud} at clk_hz={clk_hz}: the nearest divisor {divisor} "
                             f"gives {clk_hz / divisor:.0f} baud, {100 * error:.1f} % off "
                             f"(allowed: under {100 * MAX_BAUD_ERROR:.0f} %)")
    return divisor


@dataclass(frozen=True)
class LinkConfig:
    """The host link of a board: its clock, the UART's baud rate, the build identifier
    the identify command returns and the inter-byte timeout."""

    clk_hz: int = param(100_000_000, "the link's clock (the accelerator's), Hz", 1_000_000,
                        1_000_000_000)
    baud: int = param(3_000_000, "the UART's bits per second", 300, 100_000_000)
    build_id: int = param(0, "a 32-bit value identifying the build (identify reply)", 0,
                          (1 << 32) - 1)
    timeout_bytes: int = param(32, "byte times of idle line inside a frame before it is "
                                   "given up (TIMEOUT); also how long a push waits for the "
                                   "input stream and a pull for the next output word", 2,
                               1 << 16)

    def __post_init__(self):
        validate_fields(self)
        uart_divisor(self.clk_hz, self.baud)

    @property
    def divisor(self) -> int:
        """Clocks per UART bit."""
        return uart_divisor(self.clk_hz, self.baud)

    @property
    def byte_clocks(self) -> int:
        """Clocks per UART byte (start, 8 data bits, stop)."""
        return 10 * self.divisor

    @property
    def timeout_clocks(self) -> int:
        return self.timeout_bytes * self.byte_clocks
