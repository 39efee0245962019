# amaranth: UnusedElaboratable=no
"""``BatchBuffer`` (Amaranth simulator) against a Python record of the batches written.

The input stream fills batches of ``last_word + 1`` words (random idle
clocks, per-clock draws and runs); a reader waits for ``reader.ready``,
reads the batch again and again at random addresses (random idle clocks
between reads), checks each ``rd_data`` ``latency`` clocks after its
``rd_addr`` against the words that were sent, then releases the bank.  The
bookkeeping reference, kept by hand at every clock from the transfers and
releases seen so far (W whole batches written, R released): ``i.ready`` is
``W - R < 2`` (the writer is blocked exactly while both banks are full),
``reader.ready`` is ``W - R >= 1``, ``reader.ready_next`` is ``W - R == 2``
and ``reader.bank`` is ``R mod 2`` (the banks alternate).
"""

import random

import pytest
from amaranth.hdl import signed
from amaranth.sim import Simulator

from circnn.errors import ParameterError
from circnn.rtl.batch_buffer import BatchBuffer

from streams import StallPattern, check_stream, send

WIDTH = 10


def run_buffer(words, last_word, batches, rng, idle, read_idle, passes, hold=None,
               shape=WIDTH):
    """Returns (i rules, per-clock log, reads checked, problems)."""
    dut = BatchBuffer(shape, words)
    size = last_word + 1
    signed_shape = shape != WIDTH
    lo, hi = (-(1 << (WIDTH - 1)), (1 << (WIDTH - 1)) - 1) if signed_shape else (0, (1 << WIDTH) - 1)
    data = [[rng.randint(lo, hi) for _ in range(size)] for _ in range(batches)]
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    i_rules = check_stream(sim, dut.i, "i")
    problems, log = [], []
    reads = []
    released = [0]

    async def watch(ctx):
        # the bookkeeping rules, clock by clock
        words_in = 0
        async for _, _, iv, ir, ready, nxt, bank, release in ctx.tick().sample(
                dut.i.valid, dut.i.ready, dut.reader.ready, dut.reader.ready_next,
                dut.reader.bank, dut.reader.release):
            W, R = words_in // size, released[0]
            got = dict(i_ready=ir, ready=ready, ready_next=nxt, bank=bank)
            want = dict(i_ready=int(W - R < 2), ready=int(W - R >= 1),
                        ready_next=int(W - R == 2), bank=R % 2)
            if got != want and len(problems) < 10:
                problems.append((len(log), f"W={W} R={R}", got, want))
            log.append(got)
            words_in += iv and ir
            released[0] += release

    async def producer(ctx):
        ctx.set(dut.last_word, last_word)
        await send(ctx, dut.i, [w for batch in data for w in batch], idle)

    async def reader(ctx):
        latency = dut.latency
        for n, batch in enumerate(data):
            while not ctx.get(dut.reader.ready):
                await ctx.tick()
            if hold is not None:             # a slow reader: the writer catches up
                for _ in range(hold):
                    await ctx.tick()
            addrs = []
            for _ in range(passes):
                order = list(range(size))
                rng.shuffle(order)
                addrs += order
            addrs += [rng.randrange(size) for _ in range(size)]    # and at random
            pending = []                     # (clock due, address)
            clock = 0
            while addrs or pending:
                if addrs and not read_idle.next():
                    addr = addrs.pop()
                    ctx.set(dut.rd_addr, addr)
                    pending.append((clock + latency, addr))
                else:
                    ctx.set(dut.rd_addr, rng.randrange(1 << dut.addr_bits))  # don't care
                ctx.set(dut.reader.release, 0)
                await ctx.tick()
                clock += 1
                while pending and pending[0][0] == clock:
                    _, addr = pending.pop(0)
                    got = ctx.get(dut.rd_data)
                    reads.append(addr)
                    if got != batch[addr] and len(problems) < 10:
                        problems.append(f"batch {n} word {addr}: read {got}, wrote {batch[addr]}")
            # every read issued before the release has returned; release (one pulse)
            ctx.set(dut.reader.release, 1)
            await ctx.tick()
            ctx.set(dut.reader.release, 0)
        for _ in range(3):
            await ctx.tick()
    sim.add_testbench(watch, background=True)
    sim.add_testbench(producer)
    sim.add_testbench(reader)
    sim.run()
    i_rules.check()
    i_rules.check_words([w for batch in data for w in batch])
    return dut, log, reads, problems


@pytest.mark.parametrize("words,last_word", [(5, 4), (5, 2), (1, 0), (2, 1), (16, 15),
                                             (16, 9), (600, 37)])
@pytest.mark.parametrize("idle,read_idle", [((0.0, 1), (0.0, 1)), ((0.3, 1), (0.4, 1)),
                                            ((0.5, 8), (0.5, 6))])
def test_batches_read_back(words, last_word, idle, read_idle, seed):
    rng = random.Random(seed)
    batches = 8 if last_word < 40 else 4
    dut, log, reads, problems = run_buffer(words, last_word, batches, rng,
                                           StallPattern(*idle, rng=rng),
                                           StallPattern(*read_idle, rng=rng), passes=2)
    assert not problems, problems
    assert len(reads) == batches * 3 * (last_word + 1)
    assert dut.latency == (3 if words > 512 else 2)   # two block RAMs: a select register


def test_writer_blocked_while_both_banks_full(seed):
    rng = random.Random(seed)
    dut, log, reads, problems = run_buffer(8, 7, 6, rng, StallPattern(0.0), StallPattern(0.0),
                                           passes=1, hold=40)
    assert not problems, problems
    blocked = [n for n, c in enumerate(log) if not c["i_ready"]]
    assert len(blocked) >= 5 * 20, "the writer never had to wait"
    assert any(c["ready_next"] for c in log)
    assert {c["bank"] for c in log} == {0, 1}


def test_long_batches_in_two_block_rams(seed):
    # the second bank lives in the second block RAM (latency 3)
    rng = random.Random(seed)
    dut, log, reads, problems = run_buffer(600, 599, 3, rng, StallPattern(0.1, 1, rng),
                                           StallPattern(0.1, 3, rng), passes=1)
    assert not problems, problems
    assert dut.latency == 3 and len(reads) == 3 * 2 * 600


def test_signed_words(seed):
    rng = random.Random(seed)
    dut, log, reads, problems = run_buffer(6, 5, 5, rng, StallPattern(0.2, 2, rng),
                                           StallPattern(0.2, 1, rng), passes=1,
                                           shape=signed(WIDTH))
    assert not problems, problems


@pytest.mark.parametrize("words", [0, -1, True, 2.5, "8"])
def test_rejects_bad_words(words):
    with pytest.raises(ParameterError, match="words"):
        BatchBuffer(8, words)
