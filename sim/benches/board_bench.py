"""cocotb bench: the board's top level driven through its UART, as a host would.

The DUT is :class:`circnn.rtl.board_top.BoardTop` in its ``sim`` form (ports
``clk``, ``rst``, ``uart_rx``, ``uart_tx``; the PLL bypassed).
cocotbext-uart's ``UartSource`` and ``UartSink`` are the serial port; every
frame is built and every reply read by the host link's framing code
(:mod:`circnn.sim.model.host_link`), with the host's rules: a new
sequence number per request, the same frame again after an error reply.

The run: identify (build id and widths checked); load the network (WRITE
frames of host-bus writes), the first frame sent once with a payload bit
flipped (BAD_CRC expected, then sent again); read registers back and compare
them with what was written; start; push the input words and pull the
output words, one push sent once with a payload or CRC byte dropped (TIMEOUT expected,
then sent again) and one pull sent twice (the second reply must be the
first's, its words not taken again); every output word compared with the
golden model's; the accelerator's STATUS must say done; the link's STATUS
counts exactly the two injected errors and no lost byte.

Configuration (``CIRCNN_BENCH``): ``data`` (an .npz with ``writes``, ``x``,
``expected``), ``baud``, ``identity`` (the expected identify record),
``k``, ``batch``, ``p``, ``max_p``, ``act_width`` (to place the output
words), ``seed``, ``stats`` (a JSON path the bench writes).
"""

import json
import logging
import random
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, Timer
from cocotb.utils import get_sim_time
from cocotbext.uart import UartSink, UartSource

from circnn.config import (IDENTITY_FIELDS, LINK_STATUS_FIELDS, REGION_SHIFT, Command,
                           HostRegister, LinkStatus, decode_status)
from circnn.sim.benches.layer_bench import reassemble
from circnn.sim.benches.streams import pair_words, start_clock_and_reset
from circnn.sim.harness.runner import bench_config
from circnn.sim.model.host_link import (FrameParser, HostSession, LinkWidths, Verdict,
                                        decode_record, pack_words, pull_payload, read_payload,
                                        unpack_words, write_payload)


class SerialHost:
    """The host's side of the link over a simulated serial port."""

    def __init__(self, dut, baud: int):
        self.source = UartSource(dut.uart_rx, baud=baud, bits=8, stop_bits=1)
        self.sink = UartSink(dut.uart_tx, baud=baud, bits=8, stop_bits=1)
        for port in (dut.uart_rx, dut.uart_tx):     # a line per byte is too much
            logging.getLogger(f"cocotb.{port._path}").setLevel(logging.WARNING)
        self.byte_ns = 10 * 1e9 / baud
        self.parser = FrameParser(reply=True)
        self.session = HostSession()    # the host's rules: numbering, retry or accept
        self.widths = None
        self.sent = self.received = 0
        self.errors = []

    async def exchange(self, frame: bytes):
        """Send ``frame``'s bytes; the one reply frame (its CRC checked)."""
        await self.source.write(frame)
        self.sent += len(frame)
        # the frame, then up to a MAX_PAYLOAD reply and the timeouts: far less than this
        deadline = get_sim_time("ns") + self.byte_ns * (len(frame) + 1200 + 400)
        while True:
            data = self.sink.read_nowait()
            self.received += len(data)
            frames = self.parser.feed(bytes(data))
            if frames:
                assert len(frames) == 1 and self.parser.pending == 0, \
                    f"one reply expected, got {len(frames)} and {self.parser.pending} bytes more"
                assert frames[0].crc_ok, "reply CRC"
                return frames[0]
            left = deadline - get_sim_time("ns")
            assert left > 0, f"no reply to a {len(frame)}-byte frame"
            await self.sink.wait(max(1, int(left)), "ns")

    async def call(self, command, payload=b"", *, spoil=None):
        """A request under a new sequence number, sent again (same number) while the
        session says so (:meth:`HostSession.judge`: after an error reply); its reply, status
        OK.  ``spoil(frame) -> (bytes, expected status)`` changes the first attempt."""
        request = self.session.request(command, payload)
        if spoil is not None:
            attempt, status = spoil(request.frame)
            reply = await self.exchange(attempt)
            assert reply.status == status, \
                f"{Command(command).name}: {LinkStatus(reply.status).name}, expected {status.name}"
            assert self.session.judge(request, reply) == Verdict.RETRY
            self.errors.append(LinkStatus(reply.status).name)
        for _ in range(3):
            reply = await self.exchange(request.frame)
            verdict = self.session.judge(request, reply)    # an error no retry mends raises
            if verdict != Verdict.RETRY:
                break
        assert verdict == Verdict.ACCEPT, f"{Command(command).name}: {verdict} " \
                                          f"({self.session.reason})"
        assert (reply.command, reply.sequence) == (command, request.sequence)
        return reply

    async def identify(self) -> dict:
        reply = await self.call(Command.IDENTIFY)
        identity = decode_record(reply.payload, IDENTITY_FIELDS)
        self.widths = LinkWidths.from_identity(identity)
        return identity

    async def write(self, pairs, spoil=None) -> None:
        w = self.widths
        for at in range(0, len(pairs), w.writes_per_frame):
            chunk = pairs[at:at + w.writes_per_frame]
            await self.call(Command.WRITE, write_payload(chunk, w.addr_bytes, w.data_bytes),
                            spoil=spoil if at == 0 else None)

    async def read(self, address: int, count: int = 1) -> list[int]:
        w = self.widths
        reply = await self.call(Command.READ, read_payload(address, count, w.addr_bytes))
        return unpack_words(reply.payload, w.data_bytes)


def flip_a_payload_bit(rng):
    def spoil(frame):
        bad = bytearray(frame)
        bad[rng.randrange(5, len(frame) - 2)] ^= 1 << rng.randrange(8)
        return bytes(bad), LinkStatus.BAD_CRC
    return spoil


def drop_a_byte(rng):
    def spoil(frame):
        at = rng.randrange(5, len(frame))       # a payload or CRC byte: the frame stops short
        return frame[:at] + frame[at + 1:], LinkStatus.TIMEOUT
    return spoil


@cocotb.test()
async def board_runs_a_network_over_its_uart(dut):
    c = bench_config()
    rng = random.Random(c["seed"])
    dut._log.info(f"seed={c['seed']} baud={c['baud']}")
    data = np.load(c["data"], allow_pickle=False)
    host = SerialHost(dut, c["baud"])
    await start_clock_and_reset(dut, controls=())
    await ClockCycles(dut.clk, 5)
    t0 = get_sim_time("ns")

    identity = await host.identify()
    assert identity == c["identity"], f"identify: {identity}, expected {c['identity']}"
    w = host.widths

    # load the network; the first frame once with a corrupted byte
    writes = [(int(a), int(d)) for a, d in data["writes"]]
    await host.write(writes, spoil=flip_a_payload_bit(rng))
    last = dict(writes)
    registers = [a for a in last if a < 1 << REGION_SHIFT]      # region 0 reads back
    for address in (HostRegister.N_LAYERS, HostRegister.N_BATCHES, max(registers)):
        got = await host.read(int(address))
        assert got == [last[int(address)]], f"register {int(address):#x}: read {got}, wrote " \
                                            f"{last[int(address)]}"
    await host.write([(int(HostRegister.CTRL), 1)])

    # inputs in, outputs out; one push with a byte dropped, one pull sent twice
    words = pair_words(data["x"], c["act_width"])
    n_out = data["expected"].size // 2
    got, pushed, pushes, pulls = [], 0, 0, 0
    while len(got) < n_out:
        if pushed < len(words):
            chunk = words[pushed:pushed + min(w.push_words_per_frame, 6)]
            reply = await host.call(Command.PUSH, pack_words(chunk, w.in_bytes),
                                    spoil=drop_a_byte(rng) if pushes == 1 else None)
            pushed += unpack_words(reply.payload, 2)[0]
            pushes += 1
        pull = host.session.request(Command.PULL, pull_payload(w.pull_words_per_frame))
        reply = await host.exchange(pull.frame)
        assert host.session.judge(pull, reply) == Verdict.ACCEPT, LinkStatus(reply.status).name
        taken = unpack_words(reply.payload, w.out_bytes)
        if taken and pulls == 0:
            again = await host.exchange(pull.frame)     # as if the reply had been lost
            assert again == reply, "a repeated pull must be answered with the same words"
        pulls += bool(taken)
        got += taken
    assert len(got) == n_out and pushed == len(words)

    class Shape:    # what reassemble needs of the engine
        pass
    eng = Shape()
    eng.k, eng.half, eng.batch, eng.act_width, eng.max_p = \
        c["k"], c["k"] // 2, c["batch"], c["act_width"], c["max_p"]
    expected = data["expected"]
    y, seen = reassemble(got, eng, c["p"], expected.shape[0])
    assert np.all(seen == 1), "every output block exactly once"
    bad = np.argwhere(y != expected)
    if len(bad):
        r, e = bad[0]
        raise AssertionError(f"{len(bad)} of {y.size} outputs differ; first: vector {r} element "
                             f"{e}: got {y[r, e]}, model {expected[r, e]} (seed={c['seed']})")

    await Timer(100, "ns")
    status = decode_status((await host.read(int(HostRegister.STATUS)))[0])
    assert status["done"] and not status["busy"] and not status["error"], f"status {status}"
    reply = await host.call(Command.STATUS)
    counters = decode_record(reply.payload, LINK_STATUS_FIELDS)
    assert counters["errors"] == 2 and counters["lost_bytes"] == 0, counters
    assert host.errors == ["BAD_CRC", "TIMEOUT"], host.errors
    await Timer(int(host.byte_ns * 50), "ns")
    assert host.sink.empty(), "bytes after the last reply"
    stats = {"outputs": int(y.size), "bytes_sent": host.sent, "bytes_received": host.received,
             "frames": counters["frames"], "errors": host.errors, "pushes": pushes,
             "sim_us": (get_sim_time("ns") - t0) / 1000}
    dut._log.info(f"{y.size} outputs equal to the model; {stats}")
    Path(c["stats"]).write_text(json.dumps(stats, indent=2))
