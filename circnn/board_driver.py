"""The host driver: a build's network run on a board over its serial port.

:class:`BoardLink` speaks the host link's protocol (``docs/host-link.md``)
over any pyserial-like port (``write``, ``read`` returning within a short
timeout, ``in_waiting``, ``reset_input_buffer``): the frames and the rules come from
:mod:`circnn.sim.model.host_link` (:class:`~circnn.sim.model.host_link.HostSession`
numbers the requests and judges each reply); this module adds the waiting
and the retries.  Every reply is checked (CRC, command, sequence number,
status); a corrupt reply, an error reply that a retry mends (BAD_CRC,
TIMEOUT, OVERFLOW) or no reply within the deadline sends the same frame
again, up to ``retries`` times.  Anything it cannot mend is a
:class:`LinkError`: one line, exit status 2 on the command line.

:func:`run_words` runs one network: IDENTIFY (the build id and the widths
must be the build's), the accelerator idle, stale output words drained,
``program.bin``'s writes in WRITE frames, ``N_BATCHES`` and ``CTRL``, then
PUSH and PULL until every output word has come, then STATUS (done, no
error).  :func:`place_outputs` puts the tagged output words in their rows
(the order ``program.json`` gives), :func:`pack_inputs` makes the input
words; both from ``program.json``'s payload bit fields.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .config import (IDENTITY_FIELDS, LINK_STATUS_FIELDS, MAX_PAYLOAD, PROTOCOL_VERSION, Command,
                     HostRegister, decode_status)
from .errors import CircnnError
from .sim.model.host_link import (FrameParser, HostSession, LinkWidths, ReplyError, Verdict,
                                  decode_record, pack_words, pull_payload, read_payload,
                                  unpack_words, write_payload)

__all__ = ["LinkError", "BoardLink", "LinkStats", "run_words", "pack_inputs", "place_outputs",
           "line_rows_per_second", "open_port"]


class LinkError(CircnnError):
    """The board cannot be talked to, or does not run the build (one line)."""


@dataclass
class LinkStats:
    """Bytes and frames over the line, and the retries they took."""

    bytes_sent: int = 0
    bytes_received: int = 0
    frames: int = 0
    retries: int = 0
    reasons: list = field(default_factory=list)


def open_port(port: str, baud: int, timeout: float = 0.01):
    """The serial port ``port`` (a device or a pyserial URL) at ``baud``, 8N1, reads
    returning after ``timeout`` seconds without a byte (the driver polls its deadlines
    between them); a one-line LinkError when it cannot be opened."""
    import serial
    try:
        return serial.serial_for_url(port, baudrate=baud, bytesize=8, parity="N",
                                     stopbits=1, timeout=timeout, write_timeout=10)
    except (serial.SerialException, ValueError, OSError) as exc:
        reason = str(exc).split(": ", 1)[-1] if "could not open port" in str(exc) else str(exc)
        raise LinkError(f"--port {port!r}: cannot open it ({reason}); is the board plugged "
                        f"in, and is this its serial port?") from None


class BoardLink:
    """The host's side of the link over ``port`` at ``baud``.

    A reply is waited for until its bytes could have come (the request's and
    the largest reply's at ``baud``, with the board's own waits of
    ``timeout_bytes`` byte times) plus ``timeout_s`` seconds.
    """

    def __init__(self, port, *, baud: int, timeout_s: float = 2.0, retries: int = 3,
                 timeout_bytes: int = 32, say=None):
        self.port, self.baud = port, baud
        self.timeout_s, self.retries = timeout_s, retries
        self.timeout_bytes = timeout_bytes
        self.say = say or (lambda msg: None)
        self.session = HostSession()
        self.widths: LinkWidths | None = None
        self.stats = LinkStats()
        self._frames: list = []

    # -- frames ----------------------------------------------------------------------

    def _byte_s(self) -> float:
        return 10.0 / self.baud

    def _deadline(self, request) -> float:
        reply = 8 + MAX_PAYLOAD
        line = self._byte_s() * (len(request.frame) + reply + 3 * self.timeout_bytes)
        return time.monotonic() + self.timeout_s + line

    def _next_frame(self, parser: FrameParser, deadline: float):
        """The next whole frame, or None at the deadline."""
        while not self._frames:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            data = self.port.read(max(1, getattr(self.port, "in_waiting", 0) or 0))
            if data:
                self.stats.bytes_received += len(data)
                self._frames += parser.feed(bytes(data))
        return self._frames.pop(0)

    def _drain(self) -> None:
        """Before a retry: wait for the line to go quiet (what is still coming of a
        corrupt reply), at most a second, then drop what came."""
        quiet = max(0.02, 4 * self.timeout_bytes * self._byte_s())
        end = time.monotonic() + 1.0
        last = time.monotonic()
        while time.monotonic() < end and time.monotonic() - last < quiet:
            data = self.port.read(max(1, getattr(self.port, "in_waiting", 0) or 0))
            if data:
                self.stats.bytes_received += len(data)
                last = time.monotonic()
        self.port.reset_input_buffer()
        self._frames.clear()

    def call(self, command: int, payload: bytes = b""):
        """One request and its good reply (status OK), sent again after a corrupt, an
        error or no reply, up to ``retries`` times; a LinkError after that."""
        request = self.session.request(command, payload)
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retries += 1
                self.stats.reasons.append(f"{request.name}: {self.session.reason}")
                self._drain()
            self.port.write(request.frame)
            self.stats.bytes_sent += len(request.frame)
            parser, deadline = FrameParser(reply=True), self._deadline(request)
            while True:
                reply = self._next_frame(parser, deadline)
                try:
                    verdict = self.session.judge(request, reply)
                except ReplyError as exc:
                    raise LinkError(str(exc)) from None
                if verdict != Verdict.SKIP:
                    break
            if verdict == Verdict.ACCEPT:
                self.stats.frames += 1
                return reply
        reason = self.session.reason
        tries = self.retries + 1
        if reason == "no reply":
            raise LinkError(f"the board did not answer {request.name} ({tries} tries, "
                            f"{self.timeout_s:g} s each beyond the line time): is it "
                            f"programmed with this build and on this port, at {self.baud} "
                            f"baud? (--timeout, --retries)")
        raise LinkError(f"{request.name}: {reason} after each of {tries} tries: the line is "
                        f"not reliable (cable, baud rate {self.baud}?)")

    # -- commands --------------------------------------------------------------------

    def identify(self) -> dict:
        reply = self.call(Command.IDENTIFY)
        try:
            identity = decode_record(reply.payload, IDENTITY_FIELDS)
        except ValueError as exc:
            raise LinkError(f"IDENTIFY: {exc} (not a circnn board?)") from None
        self.widths = LinkWidths.from_identity(identity)
        return identity

    def write(self, pairs) -> None:
        w = self.widths
        for at in range(0, len(pairs), w.writes_per_frame):
            self.call(Command.WRITE, write_payload(pairs[at:at + w.writes_per_frame],
                                                   w.addr_bytes, w.data_bytes))

    def read(self, address: int, count: int = 1) -> list[int]:
        w = self.widths
        reply = self.call(Command.READ, read_payload(address, count, w.addr_bytes))
        words = unpack_words(reply.payload, w.data_bytes)
        if len(words) != count:
            raise LinkError(f"READ {address:#x}: {len(words)} words in the reply, asked {count}")
        return words

    def push(self, words) -> int:
        """Input words; how many the board took (the first ones)."""
        reply = self.call(Command.PUSH, pack_words(words, self.widths.in_bytes))
        if len(reply.payload) != 2:
            raise LinkError(f"PUSH: a reply of {len(reply.payload)} bytes, expected 2")
        taken = unpack_words(reply.payload, 2)[0]
        if taken > len(words):
            raise LinkError(f"PUSH: the board took {taken} of {len(words)} words")
        return taken

    def pull(self, count: int) -> list[int]:
        """Up to ``count`` output words."""
        reply = self.call(Command.PULL, pull_payload(count))
        out_bytes = self.widths.out_bytes
        if len(reply.payload) % out_bytes or len(reply.payload) > count * out_bytes:
            raise LinkError(f"PULL: a reply of {len(reply.payload)} bytes for at most {count} "
                            f"words of {out_bytes} bytes")
        return unpack_words(reply.payload, out_bytes)

    def link_status(self) -> dict:
        return decode_record(self.call(Command.STATUS).payload, LINK_STATUS_FIELDS)


# --- words ------------------------------------------------------------------------------

def _field(fields: dict, name: str) -> tuple[int, int]:
    lsb, msb = fields[name]
    return int(lsb), int(msb) - int(lsb) + 1


def pack_inputs(codes: np.ndarray, fields: dict) -> list[int]:
    """Input words of rows of codes (N, n): value 2j in ``x0``, 2j+1 in ``x1`` (a zero
    after an odd last value), two's complement in the fields' widths."""
    (lo0, w0), (lo1, w1) = _field(fields, "x0"), _field(fields, "x1")
    x = np.asarray(codes, dtype=np.int64)
    if x.shape[1] % 2:
        x = np.concatenate([x, np.zeros((x.shape[0], 1), dtype=np.int64)], axis=1)
    pairs = x.reshape(-1, 2)
    return [((int(a) & ((1 << w0) - 1)) << lo0) | ((int(b) & ((1 << w1) - 1)) << lo1)
            for a, b in pairs]


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


def place_outputs(words, fields: dict, *, k: int, batch: int, p: int, rows: int) -> np.ndarray:
    """Output codes (rows, p*k) from tagged output words in the accelerator's order:
    core batches of ``batch`` rows in input order; within one, blocks tagged
    ``block`` (< p) and ``vector`` (the row in the core batch), k/2 words each,
    ``last`` on a block's final word; word n holds values block*k + 2n (``y0``) and
    + 1 (``y1``).  A word out of that order is a LinkError."""
    get = {name: _field(fields, name) for name in ("y0", "y1", "block", "vector", "last")}

    def value(word, name, signed=False):
        lo, width = get[name]
        v = (word >> lo) & ((1 << width) - 1)
        return _signed(v, width) if signed else v
    half = k // 2
    y = np.zeros((rows, p * k), dtype=np.int64)
    seen = np.zeros((rows, p), dtype=np.int64)
    blocks, n = 0, 0
    for i, word in enumerate(words):
        block, vector = value(word, "block"), value(word, "vector")
        row = (blocks // (p * batch)) * batch + vector
        if block >= p or vector >= batch or row >= rows or n >= half:
            raise LinkError(f"output word {i} (block {block}, vector {vector}) is not one the "
                            f"network's {rows} rows of {p} blocks have")
        y[row, block * k + 2 * n] = value(word, "y0", True)
        y[row, block * k + 2 * n + 1] = value(word, "y1", True)
        n += 1
        if value(word, "last"):
            if n != half:
                raise LinkError(f"output word {i}: a block of {n} words, expected {half}")
            seen[row, block] += 1
            n, blocks = 0, blocks + 1
    if n or not np.all(seen == 1):
        raise LinkError("the output words do not hold every block of every row exactly once")
    return y


def line_rows_per_second(*, baud: int, in_words: int, in_bytes: int, out_words: int,
                         out_bytes: int, turnaround_s: float = 0.0) -> float:
    """Rows a second the line carries (``docs/host-link.md``): each row's input and
    output words and its share of PUSH and PULL frames (a push 7 + 10 bytes of framing,
    a pull 9 + 8), 10 bits a byte, one direction at a time; ``turnaround_s`` per frame."""
    f_in, f_out = MAX_PAYLOAD // in_bytes, MAX_PAYLOAD // out_bytes
    frames = in_words / f_in + out_words / f_out
    seconds = 10 / baud * (in_words * in_bytes + out_words * out_bytes + 17 * frames) \
        + turnaround_s * frames
    return 1 / seconds


# --- a run --------------------------------------------------------------------------------

def check_identity(identity: dict, *, build_id: int, data_bits: int, in_bits: int,
                   out_bits: int, folder: str) -> None:
    """Refuse, in one line, a board that does not run the build: another build id,
    protocol version or widths."""
    if identity["version"] != PROTOCOL_VERSION:
        raise LinkError(f"the board speaks host-link protocol version {identity['version']}; "
                        f"this circnn speaks {PROTOCOL_VERSION}")
    if identity["build_id"] != build_id:
        raise LinkError(f"the board does not run the build {folder!r}: its build id is "
                        f"{identity['build_id']:#010x}, the build's {build_id:#010x}; load the "
                        f"build's bitstream (circnn build ... --program, or openFPGALoader)")
    widths = {"data_bits": data_bits, "in_bits": in_bits, "out_bits": out_bits}
    for name, want in widths.items():
        if identity[name] != want:
            raise LinkError(f"the board's {name} is {identity[name]}, the build's {want}: it "
                            f"does not run the build {folder!r}")


def run_words(link: BoardLink, *, writes, n_batches: int, in_words: list, n_out: int,
              stall_s: float = 10.0, say=None) -> tuple[list[int], dict]:
    """Load the network (``writes``: program.bin's), start ``n_batches`` network batches,
    stream ``in_words`` in and take ``n_out`` output words; returns them and the
    run's timing.  The board must have been identified (``link.widths``)."""
    say = say or (lambda msg: None)
    w = link.widths
    status = decode_status(link.read(int(HostRegister.STATUS))[0])
    if status["busy"]:
        raise LinkError("the accelerator is busy with an earlier run that did not end; reset "
                        "the board (or load its bitstream again)")
    stale = 0
    for _ in range(64):                    # words an interrupted run left behind
        words = link.pull(w.pull_words_per_frame)
        stale += len(words)
        if not words:
            break
    if stale:
        say(f"dropped {stale} output words an earlier run left on the board")
    t0 = time.monotonic()
    sent0 = link.stats.bytes_sent
    say(f"loading the network: {len(writes)} writes in "
        f"{-(-len(writes) // w.writes_per_frame)} frames")
    link.write(list(writes))
    link.write([(int(HostRegister.N_BATCHES), n_batches), (int(HostRegister.CTRL), 1)])
    t1 = time.monotonic()
    load_bytes = link.stats.bytes_sent - sent0
    say(f"streaming {len(in_words)} input words, taking {n_out} output words")
    got, pushed, idle_since = [], 0, None
    while len(got) < n_out:
        moved = 0
        if pushed < len(in_words):
            taken = link.push(in_words[pushed:pushed + w.push_words_per_frame])
            pushed += taken
            moved += taken
        words = link.pull(min(w.pull_words_per_frame, n_out - len(got)))
        got += words
        moved += len(words)
        now = time.monotonic()
        if moved:
            idle_since = None
        elif idle_since is None:
            idle_since = now
        elif now - idle_since > stall_s:
            raise LinkError(f"the board stopped: no input taken and no output given for "
                            f"{stall_s:g} s ({pushed} of {len(in_words)} input words in, "
                            f"{len(got)} of {n_out} output words out)")
    t2 = time.monotonic()
    if pushed != len(in_words):
        raise LinkError(f"all {n_out} output words came with only {pushed} of "
                        f"{len(in_words)} input words in")
    for _ in range(100):
        status = decode_status(link.read(int(HostRegister.STATUS))[0])
        if status["done"] and not status["busy"]:
            break
        time.sleep(0.01)
    if status["error"] or not status["done"]:
        raise LinkError(f"the accelerator's STATUS after the run: {status} (error_code "
                        f"{status['error_code']} in descriptor {status['error_layer']})")
    counters = dict(zip(("inferences", "cycles", "acc_saturations", "out_saturations",
                         "batch_cycles"), link.read(int(HostRegister.INFERENCES), 5)))
    return got, {"load_s": t1 - t0, "load_bytes": load_bytes, "stream_s": t2 - t1,
                 "counters": counters}
