"""A board in Python, for the host driver's tests: the board's side of the host link
(``docs/host-link.md``) over a pseudo-terminal, with an accelerator whose outputs come
from the golden model.

:class:`FakeBoard` takes request bytes and gives reply bytes, with the link's rules:
a CRC that does not check is answered BAD_CRC; the last request carried out (command
and sequence number) is remembered and a repeat is answered from that memory, not
carried out again; IDENTIFY always runs and clears it.  The accelerator: WRITE pairs
go to the registers (region 0) and are recorded; CTRL = 1 checks that the writes
before it are the network's (``expected_writes``, made by the test) and starts
``N_BATCHES`` network batches; PUSH takes input words (at most two network batches
ahead of the outputs); each network batch of input words is unpacked (the
accelerator's input layout), run through the golden model (``forward``) and its
output words queued in the order ``docs/registers.md`` gives (core batches, PE
passes, images, blocks), packed in the accelerator's output layout; PULL takes them.

``fault(index, command, reply) -> bytes | None`` sees every reply (its number, the
request's command) and may change it, or drop it (None).  :class:`PtyBoard` serves a
FakeBoard on a pseudo-terminal in a thread; its ``name`` is the port to open.
"""

from __future__ import annotations

import os
import select
import threading
import tty
from collections import deque

import numpy as np

from circnn.config import (IDENTITY_FIELDS, MAX_PAYLOAD, PROTOCOL_VERSION, REGION_SHIFT,
                           Command, HostRegister, LinkStatus, STATUS_LAYOUT)
from circnn.rtl.accelerator import Accelerator
from circnn.rtl.host_bus import ADDR_WIDTH
from circnn.sim.model.crc16 import crc16
from circnn.sim.model.host_link import FrameParser, encode_reply


def _layout(shape) -> dict:
    return {name: (f.offset, f.width) for name, f in shape}


def _pack(values: dict, layout: dict) -> int:
    word = 0
    for name, value in values.items():
        lo, width = layout[name]
        word |= (int(value) & ((1 << width) - 1)) << lo
    return word


def _unpack(word: int, layout: dict, name: str) -> int:
    lo, width = layout[name]
    v = (word >> lo) & ((1 << width) - 1)
    return v - (1 << width) if v >> (width - 1) else v


class FakeBoard:
    def __init__(self, net, forward, *, build_id: int, expected_writes, fault=None,
                 values_in: int, p_last: int):
        acc = Accelerator(net)
        acc._MustUse__silence = True
        self.net, self.eng = net, net.engine
        self.forward = forward                  # input codes (n, values_in) -> (n, p*k)
        self.values_in, self.p_last = values_in, p_last
        self.in_layout = _layout(acc.i.payload.shape())
        self.out_layout = _layout(acc.o.payload.shape())
        self.in_bytes = -(-acc.i.payload.shape().size // 8)
        self.out_bytes = -(-acc.o.payload.shape().size // 8)
        self.data_bytes = -(-net.data_width // 8)
        self.addr_bytes = -(-ADDR_WIDTH // 8)
        self.identity = {"build_id": build_id, "version": PROTOCOL_VERSION,
                         "addr_bits": ADDR_WIDTH, "data_bits": net.data_width,
                         "in_bits": acc.i.payload.shape().size,
                         "out_bits": acc.o.payload.shape().size, "max_payload": MAX_PAYLOAD}
        self.expected_writes = [tuple(map(int, w)) for w in expected_writes]
        self.fault = fault
        self.parser = FrameParser(reply=False)
        self.last = None                        # (command, sequence, reply bytes)
        self.replies = 0
        self.frames = self.errors = 0
        self.registers = {}
        self.writes = []
        self.inputs, self.outputs = [], deque()
        self.running, self.batches_left, self.inferences = False, 0, 0
        self.done, self.error = False, False
        self.problems = []                      # what the driver did wrong

    # -- frames ----------------------------------------------------------------------

    def receive(self, data: bytes) -> bytes:
        out = b""
        for frame in self.parser.feed(data):
            reply = self._answer(frame)
            self.replies += 1
            if self.fault is not None:
                reply = self.fault(self.replies, frame.command, reply)
            out += reply or b""
        return out

    def _answer(self, frame) -> bytes:
        if not frame.crc_ok:
            self.errors += 1
            return encode_reply(frame.command, frame.sequence, LinkStatus.BAD_CRC)
        key = (frame.command, frame.sequence)
        if frame.command != Command.IDENTIFY and self.last is not None and self.last[:2] == key:
            return self.last[2]                 # a retry: the same reply, not run again
        try:
            command = Command(frame.command)
        except ValueError:
            self.errors += 1
            return encode_reply(frame.command, frame.sequence, LinkStatus.UNKNOWN_COMMAND)
        status, payload = getattr(self, f"_{command.name.lower()}")(frame.payload)
        if status != LinkStatus.OK:
            self.errors += 1
        else:
            self.frames += 1
        reply = encode_reply(frame.command, frame.sequence, status, payload)
        self.last = None if command == Command.IDENTIFY else (*key, reply)
        return reply

    # -- commands --------------------------------------------------------------------

    def _identify(self, payload):
        out = b"".join(self.identity[name].to_bytes(size, "little")
                       for name, size in IDENTITY_FIELDS)
        return LinkStatus.OK, out

    def _status(self, payload):
        return LinkStatus.OK, (self.frames.to_bytes(2, "little") + self.errors.to_bytes(2, "little")
                               + bytes([0]) + (0).to_bytes(2, "little"))

    def _write(self, payload):
        record = self.addr_bytes + self.data_bytes
        if len(payload) % record:
            return LinkStatus.BAD_LENGTH, b""
        for at in range(0, len(payload), record):
            addr = int.from_bytes(payload[at:at + self.addr_bytes], "little")
            data = int.from_bytes(payload[at + self.addr_bytes:at + record], "little")
            self.writes.append((addr, data))
            if addr >> REGION_SHIFT == 0:
                self.registers[addr] = data
            if addr == HostRegister.CTRL and data & 1:
                self._start()
        return LinkStatus.OK, b""

    def _start(self):
        loaded = self.writes[:-1]
        expected = self.expected_writes + [(int(HostRegister.N_BATCHES),
                                            self.registers[int(HostRegister.N_BATCHES)])]
        if loaded[-len(expected):] != expected:
            self.problems.append(f"the writes before CTRL are not the network's "
                                 f"({len(loaded)} writes)")
        self.writes.clear()
        self.running, self.done = True, False
        self.batches_left = self.registers[int(HostRegister.N_BATCHES)]

    def _read(self, payload):
        if len(payload) != self.addr_bytes + 2:
            return LinkStatus.BAD_LENGTH, b""
        addr = int.from_bytes(payload[:self.addr_bytes], "little")
        count = int.from_bytes(payload[self.addr_bytes:], "little")
        words = []
        for a in range(addr, addr + count):
            if a == HostRegister.STATUS:
                bits = {"busy": self.running, "done": self.done, "error": self.error}
                words.append(sum(int(v) << dict((n, f.offset) for n, f in STATUS_LAYOUT)[n]
                                 for n, v in bits.items()))
            elif a == HostRegister.INFERENCES:
                words.append(self.inferences)
            elif a == HostRegister.BATCH_CYCLES:
                words.append(1000)
            else:
                words.append(self.registers.get(a, 0))
        return LinkStatus.OK, b"".join(w.to_bytes(self.data_bytes, "little") for w in words)

    def _words_per_batch(self) -> int:
        return self.net.images * -(-self.values_in // 2)

    def _push(self, payload):
        if len(payload) % self.in_bytes:
            return LinkStatus.BAD_LENGTH, b""
        words = [int.from_bytes(payload[i:i + self.in_bytes], "little")
                 for i in range(0, len(payload), self.in_bytes)]
        room = 2 * self._words_per_batch() - len(self.inputs) if self.running else 0
        taken = words[:max(0, min(room, self.batches_left * self._words_per_batch()
                                  - len(self.inputs)))]
        self.inputs += taken
        while self.running and len(self.inputs) >= self._words_per_batch():
            self._compute(self.inputs[:self._words_per_batch()])
            del self.inputs[:self._words_per_batch()]
        return LinkStatus.OK, len(taken).to_bytes(2, "little")

    def _compute(self, words):
        images = self.net.images
        values = np.array([[_unpack(w, self.in_layout, "x0"), _unpack(w, self.in_layout, "x1")]
                           for w in words], dtype=np.int64).reshape(images, -1)
        y = self.forward(values[:, :self.values_in])
        eng, p = self.eng, self.p_last
        half = eng.k // 2
        for core in range(images // eng.batch):
            for g in range(-(-p // eng.pes)):
                for b in range(eng.batch):
                    row = core * eng.batch + b
                    for block in range(g * eng.pes, min(p, (g + 1) * eng.pes)):
                        for n in range(half):
                            self.outputs.append(_pack(
                                {"y0": y[row, block * eng.k + 2 * n],
                                 "y1": y[row, block * eng.k + 2 * n + 1], "block": block,
                                 "vector": b, "last": n == half - 1}, self.out_layout))
        self.inferences += images
        self.batches_left -= 1
        if self.batches_left == 0:
            self.running, self.done = False, True

    def _pull(self, payload):
        if len(payload) != 2:
            return LinkStatus.BAD_LENGTH, b""
        n = int.from_bytes(payload, "little")
        if n * self.out_bytes > MAX_PAYLOAD:
            return LinkStatus.BAD_LENGTH, b""
        words = [self.outputs.popleft() for _ in range(min(n, len(self.outputs)))]
        return LinkStatus.OK, b"".join(w.to_bytes(self.out_bytes, "little") for w in words)


def flip_a_bit(reply: bytes, at: int = 2) -> bytes:
    """A reply with one bit of a byte flipped (by default the sequence number's: the frame
    still parses, and its CRC fails)."""
    bad = bytearray(reply)
    bad[at] ^= 0x10
    assert crc16(bytes(bad[1:])) != 0
    return bytes(bad)


class PtyBoard:
    """``board`` served on a pseudo-terminal by a thread until :meth:`close`."""

    def __init__(self, board: FakeBoard):
        self.board = board
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.name = os.ttyname(self.slave)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.02)
            if not ready:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                continue
            reply = self.board.receive(data)
            if reply:
                os.write(self.master, reply)

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        os.close(self.master)
        os.close(self.slave)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
