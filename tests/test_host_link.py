# amaranth: UnusedElaboratable=no
"""``HostLink`` (Amaranth simulator): frames in, the accelerator's ports driven, replies out.

The testbench plays the host with the framing code of
:mod:`circnn.sim.model.host_link` (bytes straight into the link's ``rx``
stream, replies read from ``tx`` with its :class:`FrameParser`) and plays the
accelerator's side by hand: a bus model (a dict, reads answered
READ_LATENCY clocks after ``r_en``), a consumer on ``i`` with random stalls
that can be blocked, a producer on ``o`` fed from a queue.  Expected values
are the test's own: the writes it sent, the words it queued, the counts it
kept.  The framing code's CRC is checked against ``binascii.crc_hqx`` and
the standard check value.
"""

import binascii
import random
from collections import deque

from amaranth.hdl import unsigned
from amaranth.sim import Simulator

from circnn.config import (IDENTITY_FIELDS, LINK_STATUS_FIELDS, MAX_PAYLOAD, PROTOCOL_VERSION,
                           SYNC, Command, LinkConfig, LinkStatus)
from circnn.rtl.host_bus import ADDR_WIDTH, READ_LATENCY
from circnn.rtl.host_link import HostLink
from circnn.sim.model.crc16 import crc16
from circnn.sim.model.host_link import (FrameParser, LinkWidths, decode_record, encode_reply,
                                        encode_request, pack_words, pull_payload, read_payload,
                                        unpack_words, write_payload)

from component_refs import run_sim
from streams import check_stream

#: divisor 4 (40 clocks a byte), timeout two byte times
LINK = LinkConfig(clk_hz=100_000_000, baud=25_000_000, build_id=0xC1A0_5EED, timeout_bytes=2)
DATA, IN, OUT = 36, 24, 37
WIDTHS = LinkWidths(ADDR_WIDTH, DATA, IN, OUT)


def bus_read_value(addr: int) -> int:
    """What the bus model returns for an address never written."""
    return (addr * 0x9E3779B1) % (1 << DATA)


class Bench:
    """One simulation: ``script(host)`` is an async function that talks to the link."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.dut = HostLink(LINK, data_width=DATA, in_shape=unsigned(IN), out_shape=unsigned(OUT))
        self.sim = Simulator(self.dut)
        self.sim.add_clock(1e-8)
        self.memory, self.writes, self.reads = {}, [], []
        self.i_blocked = False
        self.o_queue = deque()
        self.o_taken = []
        self.parser = FrameParser(reply=True)
        self.replies = deque()
        self.lost_at = None          # a clock at which `lost` pulses
        self.clock = 0
        self.i_words = check_stream(self.sim, self.dut.i, "i")
        self.sim.add_testbench(self._bus, background=True)
        self.sim.add_testbench(self._consumer, background=True)
        self.sim.add_testbench(self._producer, background=True)
        self.sim.add_testbench(self._collector, background=True)

    async def _bus(self, ctx):
        bus = self.dut.bus
        pending = deque()
        async for _, _, w_en, r_en, addr, data in ctx.tick().sample(
                bus.w_en, bus.r_en, bus.addr, bus.w_data):
            self.clock += 1
            if w_en:
                self.memory[addr] = data
                self.writes.append((addr, data))
            if r_en:
                self.reads.append(addr)
                pending.append((self.clock + READ_LATENCY - 1,
                                self.memory.get(addr, bus_read_value(addr))))
            if pending and pending[0][0] == self.clock:
                ctx.set(bus.r_data, pending.popleft()[1])
            else:
                ctx.set(bus.r_data, self.rng.randrange(1 << DATA))   # garbage otherwise
            ctx.set(self.dut.lost, self.clock == self.lost_at)

    async def _consumer(self, ctx):
        while True:
            ctx.set(self.dut.i.ready, not self.i_blocked and self.rng.random() < 0.6)
            await ctx.tick()

    async def _producer(self, ctx):
        o = self.dut.o
        while True:
            if not self.o_queue or self.rng.random() < 0.3:
                ctx.set(o.valid, 0)
                await ctx.tick()
                continue
            ctx.set(o.valid, 1)
            ctx.set(o.payload, self.o_queue[0])
            _, _, ready = await ctx.tick().sample(o.ready)
            if ready:
                self.o_taken.append(self.o_queue.popleft())
                ctx.set(o.valid, 0)

    async def _collector(self, ctx):
        tx = self.dut.tx
        async for _, _, valid, ready, byte in ctx.tick().sample(tx.valid, tx.ready, tx.payload):
            if valid and ready:
                self.replies.extend(self.parser.feed(bytes([byte])))
            ctx.set(tx.ready, self.rng.random() < 0.5)

    async def send(self, ctx, data: bytes, gap=(0, 6)):
        rx = self.dut.rx
        for byte in data:
            for _ in range(self.rng.randint(*gap)):
                await ctx.tick()
            ctx.set(rx.valid, 1)
            ctx.set(rx.payload, byte)
            while True:
                _, _, ready = await ctx.tick().sample(rx.ready)
                if ready:
                    break
            ctx.set(rx.valid, 0)

    async def exchange(self, ctx, data: bytes, clocks=20_000):
        """Send ``data`` and wait for one reply frame; check that no second one follows."""
        await self.send(ctx, data)
        for _ in range(clocks):
            if self.replies:
                reply = self.replies.popleft()
                assert reply.crc_ok, "reply CRC"
                return reply
            await ctx.tick()
        raise AssertionError(f"no reply in {clocks} clocks")

    async def request(self, ctx, command, sequence, payload=b"", expect=LinkStatus.OK):
        reply = await self.exchange(ctx, encode_request(command, sequence, payload))
        assert (reply.command, reply.sequence) == (command, sequence & 0xFF)
        assert reply.status == expect, \
            f"{Command(command).name}: status {LinkStatus(reply.status).name}, expected {expect.name}"
        return reply

    def run(self, script, clocks=400_000):
        async def main(ctx):
            await ctx.tick().repeat(3)
            await script(self, ctx)
            await ctx.tick().repeat(4 * LINK.timeout_clocks)
            assert not self.replies, f"unexpected replies {list(self.replies)}"
        self.sim.add_testbench(main)
        run_sim(self.sim, clocks)
        self.i_words.check()


def test_crc_matches_an_independent_reference(seed):
    rng = random.Random(seed)
    assert crc16(b"123456789") == 0x29B1
    for n in (0, 1, 2, 7, 100):
        data = bytes(rng.randrange(256) for _ in range(n))
        assert crc16(data) == binascii.crc_hqx(data, 0xFFFF)
    frame = encode_request(Command.WRITE, 7, b"\x01\x02\x03")
    assert frame[0] == SYNC and crc16(frame[1:]) == 0      # the CRC, high byte first, ends at 0


def test_frame_parser_skips_garbage_and_flags_a_bad_crc():
    good = encode_reply(Command.PULL, 3, LinkStatus.OK, b"abc")
    bad = bytearray(encode_reply(Command.READ, 4, LinkStatus.OK, b"xyz"))
    bad[7] ^= 0x10
    parser = FrameParser(reply=True)
    frames = []
    for byte in b"\x00\x13" + good + bytes(bad):
        frames += parser.feed(bytes([byte]))
    assert [(f.command, f.sequence, f.payload, f.crc_ok) for f in frames] == [
        (Command.PULL, 3, b"abc", True), (Command.READ, 4, b"xiz", False)]
    assert parser.skipped == 2 and parser.pending == 0


def test_identify_write_and_read_back(seed):
    bench = Bench(seed)
    rng = random.Random(seed + 1)
    pairs = [(rng.randrange(1 << ADDR_WIDTH), rng.randrange(1 << DATA)) for _ in range(40)]
    base = 0x3F_FF00

    async def script(self, ctx):
        reply = await self.request(ctx, Command.IDENTIFY, 0)
        identity = decode_record(reply.payload, IDENTITY_FIELDS)
        assert identity == {"build_id": 0xC1A0_5EED, "version": PROTOCOL_VERSION,
                            "addr_bits": ADDR_WIDTH, "data_bits": DATA, "in_bits": IN,
                            "out_bits": OUT, "max_payload": MAX_PAYLOAD}
        for seq, chunk in ((1, pairs[:25]), (2, pairs[25:])):
            reply = await self.request(ctx, Command.WRITE, seq,
                                       write_payload(chunk, WIDTHS.addr_bytes, WIDTHS.data_bytes))
            assert reply.payload == b""
        assert self.writes == pairs
        for a, d in [(base + 1, 5), (base + 3, 6)]:
            self.memory[a] = d
        reply = await self.request(ctx, Command.READ, 3, read_payload(base, 6, WIDTHS.addr_bytes))
        expected = [self.memory.get(base + j, bus_read_value(base + j)) for j in range(6)]
        assert unpack_words(reply.payload, WIDTHS.data_bytes) == expected
        reply = await self.request(ctx, Command.READ, 4, read_payload(base, 0, WIDTHS.addr_bytes))
        assert reply.payload == b""
    bench.run(script)
    assert bench.reads == [0x3F_FF00 + j for j in range(6)]


def test_push_honours_back_pressure_and_gives_up_after_the_timeout(seed):
    bench = Bench(seed)
    rng = random.Random(seed + 2)
    words = [rng.randrange(1 << IN) for _ in range(60)]

    async def script(self, ctx):
        reply = await self.request(ctx, Command.PUSH, 10, pack_words(words[:40], WIDTHS.in_bytes))
        assert unpack_words(reply.payload, 2) == [40]
        self.i_blocked = True               # nothing taken: the holding register fills
        reply = await self.request(ctx, Command.PUSH, 11, pack_words(words[40:], WIDTHS.in_bytes))
        accepted = unpack_words(reply.payload, 2)[0]
        assert accepted == 1, "one word waits in the holding register, the rest is refused"
        self.i_blocked = False
        await ctx.tick().repeat(50)
        reply = await self.request(ctx, Command.PUSH, 12,
                                   pack_words(words[40 + accepted:], WIDTHS.in_bytes))
        assert unpack_words(reply.payload, 2) == [60 - 40 - accepted]
        await ctx.tick().repeat(50)
    bench.run(script)
    assert bench.i_words.words == words, "every word once, in order"


def test_pull_takes_what_is_there(seed):
    bench = Bench(seed)
    rng = random.Random(seed + 3)
    words = [rng.randrange(1 << OUT) for _ in range(30)]

    async def script(self, ctx):
        reply = await self.request(ctx, Command.PULL, 1, pull_payload(5))
        assert reply.payload == b"", "nothing to pull yet"
        self.o_queue.extend(words)
        got = []
        reply = await self.request(ctx, Command.PULL, 2, pull_payload(10))
        got += unpack_words(reply.payload, WIDTHS.out_bytes)
        assert len(got) == 10
        reply = await self.request(ctx, Command.PULL, 3, pull_payload(100))
        got += unpack_words(reply.payload, WIDTHS.out_bytes)
        assert got == words
        await self.request(ctx, Command.PULL, 4, pull_payload(MAX_PAYLOAD // WIDTHS.out_bytes + 1),
                           expect=LinkStatus.BAD_LENGTH)
    bench.run(script)


def test_errors_are_answered_once_and_the_link_recovers(seed):
    bench = Bench(seed)
    pairs = [(0x10, 0x1234), (0x11, 0x5678)]
    good = encode_request(Command.WRITE, 5, write_payload(pairs, WIDTHS.addr_bytes,
                                                          WIDTHS.data_bytes))

    async def script(self, ctx):
        corrupt = bytearray(good)
        corrupt[8] ^= 0x04                              # a payload bit
        reply = await self.exchange(ctx, bytes(corrupt))
        assert reply.status == LinkStatus.BAD_CRC and self.writes == []
        dropped = good[:9] + good[10:]                  # a payload byte lost on the way
        reply = await self.exchange(ctx, dropped)
        assert reply.status == LinkStatus.TIMEOUT and self.writes == []
        reply = await self.exchange(ctx, b"\x00\xff\x13" + good)    # garbage first, then the frame
        assert reply.status == LinkStatus.OK and self.writes == pairs
        await self.request(ctx, 0x7E, 6, expect=LinkStatus.UNKNOWN_COMMAND)
        await self.request(ctx, Command.WRITE, 7, b"\x01" * 13, expect=LinkStatus.BAD_LENGTH)
        await self.request(ctx, Command.IDENTIFY, 8, b"\x00", expect=LinkStatus.BAD_LENGTH)
        await self.request(ctx, Command.READ, 9,
                           read_payload(0, MAX_PAYLOAD // WIDTHS.data_bytes + 1, WIDTHS.addr_bytes),
                           expect=LinkStatus.BAD_LENGTH)
        # a length beyond MAX_PAYLOAD: the rest of the frame is swallowed, one reply
        too_long = bytes([SYNC, Command.PUSH, 10]) + (MAX_PAYLOAD + 1).to_bytes(2, "little")
        reply = await self.exchange(ctx, too_long + bytes([SYNC]) * 12)
        assert reply.status == LinkStatus.BAD_LENGTH
        # a byte lost by the UART in the middle of a frame
        frame = encode_request(Command.WRITE, 11, write_payload([(0x20, 1)], 3, WIDTHS.data_bytes))
        await self.send(ctx, frame[:6])
        self.lost_at = self.clock + 2
        reply = await self.exchange(ctx, frame[6:])
        assert reply.status == LinkStatus.OVERFLOW and len(self.writes) == 2
        reply = await self.request(ctx, Command.STATUS, 12)
        assert decode_record(reply.payload, LINK_STATUS_FIELDS) == {
            "frames": 1, "errors": 8, "last_error": LinkStatus.OVERFLOW, "lost_bytes": 1}
    bench.run(script)


def test_a_retried_frame_is_answered_again_not_carried_out_again(seed):
    bench = Bench(seed)
    rng = random.Random(seed + 4)
    words = [rng.randrange(1 << IN) for _ in range(8)]
    outs = [rng.randrange(1 << OUT) for _ in range(12)]

    async def script(self, ctx):
        await self.request(ctx, Command.IDENTIFY, 0)
        push = encode_request(Command.PUSH, 1, pack_words(words, WIDTHS.in_bytes))
        first = await self.exchange(ctx, push)
        again = await self.exchange(ctx, push)          # as if the reply had been lost
        assert first == again and unpack_words(first.payload, 2) == [8]
        self.o_queue.extend(outs)
        pull = encode_request(Command.PULL, 2, pull_payload(6))
        first = await self.exchange(ctx, pull)
        again = await self.exchange(ctx, pull)
        assert first == again and unpack_words(first.payload, WIDTHS.out_bytes) == outs[:6]
        assert len(self.o_queue) == 6
        # a new session: identify forgets the last frame, the same numbers run again
        await self.request(ctx, Command.IDENTIFY, 0)
        reply = await self.exchange(ctx, pull)
        assert unpack_words(reply.payload, WIDTHS.out_bytes) == outs[6:]
    bench.run(script)
    assert bench.i_words.words == words
