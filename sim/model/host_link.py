"""The host link's framing, host side: the twin of :mod:`circnn.rtl.host_link`.

Pure Python, no I/O: it builds request frames and reads reply frames
(``docs/host-link.md``), for the cocotb bench (:mod:`circnn.sim.benches.board_bench`)
and the host driver that talks to a board through a serial port.

* :func:`encode_request` / :func:`encode_reply`: a frame's bytes (the
  reply encoder is the board's side, for tests);
* :class:`FrameParser`: bytes in, whole frames out (:class:`Frame`),
  skipping anything before a ``SYNC`` and checking the CRC
  (:func:`circnn.sim.model.crc16.crc16`);
* payloads: :func:`write_payload`, :func:`read_payload`,
  :func:`pull_payload`, :func:`pack_words` / :func:`unpack_words` (words
  little-endian in whole bytes), :func:`decode_record` (identify and status
  replies), :class:`LinkWidths` (the byte sizes an identify reply implies,
  and how many words fit a frame);
* the conversation's rules: :class:`HostSession` numbers the requests and
  judges each reply (:func:`HostSession.judge`: accept it, send the same
  frame again, skip a reply to another request, or give up on an error
  status no retry mends); the bench's and the driver's I/O loops
  (:mod:`circnn.board_driver`) are built around it.
"""

from __future__ import annotations

from dataclasses import dataclass

from circnn.config import (CRC_BYTES, MAX_PAYLOAD, REPLY_HEADER, REQUEST_HEADER, SYNC, Command,
                           LinkStatus, record_bytes)

from .crc16 import crc16

__all__ = ["Frame", "FrameParser", "encode_request", "encode_reply", "byte_count",
           "pack_words", "unpack_words", "write_payload", "read_payload", "pull_payload",
           "decode_record", "LinkWidths", "Command", "LinkStatus", "RETRY_STATUSES", "Request",
           "Verdict", "ReplyError", "HostSession"]


def byte_count(bits: int) -> int:
    """Bytes a word of ``bits`` bits is packed into (the RTL's ``byte_count``)."""
    return -(-bits // 8)


def _frame(body: bytes) -> bytes:
    if len(body) > MAX_PAYLOAD + REPLY_HEADER:
        raise ValueError("frame too long")
    return bytes([SYNC]) + body + crc16(body).to_bytes(CRC_BYTES, "big")


def encode_request(command: int, sequence: int, payload: bytes = b"") -> bytes:
    """The bytes of a request frame."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"a payload of {len(payload)} bytes; a frame holds {MAX_PAYLOAD}")
    return _frame(bytes([int(command), sequence & 0xFF]) + len(payload).to_bytes(2, "little")
                  + bytes(payload))


def encode_reply(command: int, sequence: int, status: int, payload: bytes = b"") -> bytes:
    """The bytes of a reply frame (what the board sends)."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"a payload of {len(payload)} bytes; a frame holds {MAX_PAYLOAD}")
    return _frame(bytes([int(command), sequence & 0xFF, int(status)])
                  + len(payload).to_bytes(2, "little") + bytes(payload))


@dataclass(frozen=True)
class Frame:
    """A frame read by :class:`FrameParser`; ``status`` is None for a request."""

    command: int
    sequence: int
    status: int | None
    payload: bytes
    crc_ok: bool

    @property
    def ok(self) -> bool:
        return self.crc_ok and self.status in (None, LinkStatus.OK)


class FrameParser:
    """Bytes in (:meth:`feed`, any pieces), whole frames out, in order.

    ``reply`` chooses the layout (a reply has the status byte).  Bytes before
    a ``SYNC`` are skipped (counted in ``skipped``); a length above
    MAX_PAYLOAD makes the ``SYNC`` a false one (skipped too, and the search
    goes on from the next byte).  A frame whose CRC does not match is
    returned with ``crc_ok`` False.
    """

    def __init__(self, reply: bool = True):
        self.header = REPLY_HEADER if reply else REQUEST_HEADER
        self.reply = reply
        self.buffer = bytearray()
        self.skipped = 0

    def feed(self, data: bytes) -> list[Frame]:
        self.buffer += data
        frames = []
        while True:
            start = self.buffer.find(SYNC)
            if start < 0:
                self.skipped += len(self.buffer)
                self.buffer.clear()
                return frames
            self.skipped += start
            del self.buffer[:start]
            if len(self.buffer) < self.header:
                return frames
            length = int.from_bytes(self.buffer[self.header - 2:self.header], "little")
            if length > MAX_PAYLOAD:
                self.skipped += 1
                del self.buffer[:1]
                continue
            end = self.header + length + CRC_BYTES
            if len(self.buffer) < end:
                return frames
            body = bytes(self.buffer[1:end])
            del self.buffer[:end]
            frames.append(Frame(command=body[0], sequence=body[1],
                                status=body[2] if self.reply else None,
                                payload=body[self.header - 1:self.header - 1 + length],
                                crc_ok=crc16(body) == 0))

    @property
    def pending(self) -> int:
        """Bytes held, waiting for the rest of a frame."""
        return len(self.buffer)


def pack_words(words, nbytes: int) -> bytes:
    """Words (non-negative ints below 2**(8*nbytes)), each little-endian in ``nbytes``."""
    return b"".join(int(w).to_bytes(nbytes, "little") for w in words)


def unpack_words(payload: bytes, nbytes: int) -> list[int]:
    if len(payload) % nbytes:
        raise ValueError(f"{len(payload)} bytes are not whole {nbytes}-byte words")
    return [int.from_bytes(payload[j:j + nbytes], "little")
            for j in range(0, len(payload), nbytes)]


def write_payload(pairs, addr_bytes: int, data_bytes: int) -> bytes:
    """A WRITE payload: each (address, data) as the address then the data."""
    return b"".join(int(a).to_bytes(addr_bytes, "little") + int(d).to_bytes(data_bytes, "little")
                    for a, d in pairs)


def read_payload(address: int, count: int, addr_bytes: int) -> bytes:
    """A READ payload: ``count`` words from ``address`` on."""
    return int(address).to_bytes(addr_bytes, "little") + int(count).to_bytes(2, "little")


def pull_payload(count: int) -> bytes:
    """A PULL payload: up to ``count`` output words."""
    return int(count).to_bytes(2, "little")


def decode_record(payload: bytes, fields) -> dict:
    """An identify or status reply's payload as ``{field: value}`` (IDENTITY_FIELDS,
    LINK_STATUS_FIELDS)."""
    if len(payload) != record_bytes(fields):
        raise ValueError(f"a record of {record_bytes(fields)} bytes, not {len(payload)}")
    out, at = {}, 0
    for name, size in fields:
        out[name] = int.from_bytes(payload[at:at + size], "little")
        at += size
    return out


@dataclass(frozen=True)
class LinkWidths:
    """The widths a board reports (identify: ``addr_bits``, ``data_bits``, ``in_bits``,
    ``out_bits``, ``max_payload``), as bytes per field and words per frame."""

    addr_bits: int
    data_bits: int
    in_bits: int
    out_bits: int
    max_payload: int = MAX_PAYLOAD

    @classmethod
    def from_identity(cls, identity: dict) -> "LinkWidths":
        return cls(identity["addr_bits"], identity["data_bits"], identity["in_bits"],
                   identity["out_bits"], identity["max_payload"])

    @property
    def addr_bytes(self) -> int:
        return byte_count(self.addr_bits)

    @property
    def data_bytes(self) -> int:
        return byte_count(self.data_bits)

    @property
    def in_bytes(self) -> int:
        return byte_count(self.in_bits)

    @property
    def out_bytes(self) -> int:
        return byte_count(self.out_bits)

    @property
    def writes_per_frame(self) -> int:
        return self.max_payload // (self.addr_bytes + self.data_bytes)

    @property
    def reads_per_frame(self) -> int:
        return self.max_payload // self.data_bytes

    @property
    def push_words_per_frame(self) -> int:
        return self.max_payload // self.in_bytes

    @property
    def pull_words_per_frame(self) -> int:
        return self.max_payload // self.out_bytes


# --- the conversation ---------------------------------------------------------------

#: error replies after which the host sends the same frame again (same sequence number):
#: the board did not carry the request out, and the frame itself was (probably) fine
RETRY_STATUSES = (LinkStatus.BAD_CRC, LinkStatus.TIMEOUT, LinkStatus.OVERFLOW)


@dataclass(frozen=True)
class Request:
    """A request as sent: its command, sequence number, payload and frame bytes."""

    command: int
    sequence: int
    payload: bytes
    frame: bytes

    @property
    def name(self) -> str:
        try:
            return Command(self.command).name
        except ValueError:
            return f"command {self.command:#04x}"


class Verdict:
    """What :meth:`HostSession.judge` says of a reply."""

    ACCEPT = "accept"      #: the request's reply, status OK
    RETRY = "retry"        #: send the same frame again (error reply, corrupt reply, none)
    SKIP = "skip"          #: a reply to another request (a late one): keep waiting


class ReplyError(Exception):
    """The board answered a request with an error status that no retry mends
    (UNKNOWN_COMMAND, BAD_LENGTH, or a status this host does not know)."""

    def __init__(self, request: Request, status: int):
        self.request, self.status = request, status
        try:
            name = f"{LinkStatus(status).name} ({LinkStatus(status).meaning})"
        except ValueError:
            name = f"unknown status {status}"
        super().__init__(f"{request.name} refused by the board: {name}")


class HostSession:
    """The host's side of the rules (``docs/host-link.md``), without I/O.

    :meth:`request` numbers each new request (the previous number + 1, modulo
    256) and makes its frame; a retry sends that same :class:`Request` again.
    :meth:`judge` takes what came back (a :class:`Frame`, or None when nothing
    whole came in time) and says what to do: a corrupt reply (its CRC wrong),
    no reply, or an error reply in :data:`RETRY_STATUSES` -> send again; a
    good reply whose command and sequence number are not the request's -> skip
    it (a reply to an earlier frame that came late) and keep waiting; any other
    error status -> :class:`ReplyError`; else accept.  ``reason`` holds why the
    last retry was asked for.
    """

    def __init__(self, sequence: int = 0):
        self.sequence = sequence & 0xFF
        self.reason = ""

    def request(self, command: int, payload: bytes = b"") -> Request:
        self.sequence = (self.sequence + 1) & 0xFF
        return Request(int(command), self.sequence, bytes(payload),
                       encode_request(command, self.sequence, payload))

    def judge(self, request: Request, reply: Frame | None) -> str:
        if reply is None:
            self.reason = "no reply"
            return Verdict.RETRY
        if not reply.crc_ok:
            self.reason = "a reply with a wrong CRC"
            return Verdict.RETRY
        if reply.status in RETRY_STATUSES:
            self.reason = f"error reply {LinkStatus(reply.status).name}"
            return Verdict.RETRY
        if (reply.command, reply.sequence) != (request.command, request.sequence):
            return Verdict.SKIP
        if reply.status != LinkStatus.OK:
            raise ReplyError(request, reply.status)
        return Verdict.ACCEPT
