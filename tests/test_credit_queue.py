# amaranth: UnusedElaboratable=no
"""``CreditQueue`` (Amaranth simulator) against a hand-kept credit count.

The testbench plays the producer and a free-running pipeline of ``L``
clocks (a Python shift register): a word admitted at clock t is presented
on ``i`` at clock t + L.  The reference is plain bookkeeping: a credit is
taken by each admission and given back one clock after its word left on
``o``, and ``can_admit`` is that count a clock late with one credit kept
back, so it must be exactly ``admitted - delivered < depth - 1`` as the
counts stood on the clock before (``True`` on the first clock); the words on ``o`` must be the admitted words, in order,
none lost or duplicated; the queue must never hold more than ``depth``
words; and with ``depth = queue_depth(L)`` an always-ready consumer gets
one word per clock.
"""

import random
from collections import deque

import pytest
from amaranth.hdl import signed
from amaranth.sim import Simulator

from circnn.errors import ParameterError
from circnn.rtl.credit_queue import QUEUE_SLACK, CreditQueue, queue_depth

from streams import StallPattern, check_stream

WIDTH = 10


def run_queue(depth, latency, words, idle, stall, patience=600):
    """Stream ``words`` through a ``latency``-clock pipeline into the queue.

    Returns (o rules, per-clock log of (can_admit, admitted, o transfer)).
    Gives up when no word has left for ``patience`` clocks.
    """
    dut = CreditQueue(WIDTH, depth)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    out = check_stream(sim, dut.o, "o")
    log = []
    problems = []

    async def bench(ctx):
        pipe = deque([None] * latency)      # the pipeline's contents, oldest first
        todo = deque(words)
        admitted = delivered = arrived = clock = last_move = 0
        expected_can = True         # the reference, computed a clock ahead
        while not (not todo and delivered == len(words)):
            if clock - last_move > patience:
                problems.append(f"{delivered} of {len(words)} words delivered; none for "
                                f"{patience} clocks; out so far ends "
                                f"{[hex(w) for w in out.words[-4:]]}")
                break
            can = ctx.get(dut.can_admit)
            if can != expected_can:
                problems.append(f"clock {clock}: can_admit={can}; a clock ago {admitted} "
                                f"admitted, {delivered} delivered, depth {depth}")
            expected_can = admitted - delivered < depth - 1
            admit = bool(can and todo and not idle.next())
            word = todo.popleft() if admit else None
            ctx.set(dut.admit, admit)
            pipe.append(word)
            arriving = pipe.popleft()
            ctx.set(dut.i.valid, arriving is not None)
            ctx.set(dut.i.payload, 0 if arriving is None else arriving)
            ready = not stall.next()
            # o.valid and can_admit never depend on o.ready within a clock
            ctx.set(dut.o.ready, not ready)
            other = (ctx.get(dut.o.valid), ctx.get(dut.can_admit))
            ctx.set(dut.o.ready, ready)
            if other != (ctx.get(dut.o.valid), ctx.get(dut.can_admit)):
                problems.append(f"clock {clock}: o.valid/can_admit follow o.ready")
            _, _, valid, taken = await ctx.tick().sample(dut.o.valid, dut.o.ready)
            moved = bool(valid and taken)
            admitted += admit
            delivered += moved
            arrived += arriving is not None
            if arrived - delivered > depth:
                problems.append(f"clock {clock}: {arrived - delivered} words queued, depth {depth}")
            log.append((can, admit, moved))
            clock += 1
            if moved:
                last_move = clock
        ctx.set(dut.admit, 0)
        ctx.set(dut.i.valid, 0)
    sim.add_testbench(bench)
    sim.run()
    assert not problems, problems[:5]
    out.check()
    return out, log


@pytest.mark.parametrize("depth,latency", [(3, 0), (3, 5), (4, 1), (5, 2), (9, 4), (12, 12)])
@pytest.mark.parametrize("idle,stall", [
    ((0.0, 1), (0.0, 1)),
    ((0.3, 1), (0.3, 1)),        # per-clock draws
    ((0.2, 6), (0.6, 8)),        # long runs of back-pressure fill every slot
    ((0.6, 5), (0.2, 3)),
    ((0.0, 1), (0.85, 20)),
])
def test_nothing_lost_duplicated_or_reordered(depth, latency, idle, stall, seed):
    rng = random.Random(seed)
    words = [rng.randrange(1 << WIDTH) for _ in range(150)]
    out, log = run_queue(depth, latency, words, StallPattern(*idle, rng=rng),
                         StallPattern(*stall, rng=rng))
    out.check_words(words)


@pytest.mark.parametrize("depth", [3, 4])
def test_small_queue_back_to_back(depth):
    # the smallest depths, producer and consumer never waiting: three words in
    # a row through a one-clock pipeline must all come out, in order
    words = [0x11, 0x22, 0x33]
    out, log = run_queue(depth, 1, words, StallPattern(0.0), StallPattern(0.0), patience=50)
    out.check_words(words)


def test_can_admit_falls_exactly_when_all_credits_are_promised(seed):
    # consumer stalled for a long time: exactly `depth` admissions, then none
    # until a word leaves; the credit comes back on the clock after
    depth, latency = 6, 3
    rng = random.Random(seed)
    words = [rng.randrange(1 << WIDTH) for _ in range(3 * depth)]

    class Stalled:
        def __init__(self, clocks):
            self.clock, self.clocks = 0, clocks

        def next(self):
            self.clock += 1
            return self.clock <= self.clocks
    out, log = run_queue(depth, latency, words, StallPattern(0.0), Stalled(40))
    out.check_words(words)
    admits = [a for _, a, _ in log[:40]]
    assert admits[:depth] == [True] * depth and not any(admits[depth:]), admits
    assert [c for c, _, _ in log[depth:40]] == [False] * (40 - depth)
    first = next(n for n, (_, _, moved) in enumerate(log) if moved)
    assert first == 40                          # the consumer's first ready clock
    # can_admit shows a credit when two were free a clock before: the consumer
    # takes a word per clock from `first`, so credits are counted back from
    # first + 1, two of them by first + 2, seen by can_admit at first + 3
    assert [c for c, _, _ in log[first:first + 4]] == [False, False, False, True]


@pytest.mark.parametrize("latency", [0, 1, 3, 7, 16])
def test_queue_depth_sustains_one_word_per_clock(latency, seed):
    rng = random.Random(seed)
    count = 120
    words = [rng.randrange(1 << WIDTH) for _ in range(count)]
    depth = queue_depth(latency)
    assert depth > latency
    out, log = run_queue(depth, latency, words, StallPattern(0.0), StallPattern(0.0))
    out.check_words(words)
    admits = [n for n, (_, a, _) in enumerate(log) if a]
    moves = [n for n, (_, _, m) in enumerate(log) if m]
    assert admits == list(range(count)), "the producer was held back"
    assert moves == list(range(moves[0], moves[0] + count)), "a gap in the output"


def test_too_shallow_queue_cannot_sustain_a_word_per_clock(seed):
    # the other side of the slack: a queue only as deep as the pipeline
    # holds words runs out of credits (so the throughput test can fail)
    rng = random.Random(seed)
    latency, count = 6, 80
    words = [rng.randrange(1 << WIDTH) for _ in range(count)]
    out, log = run_queue(latency, latency, words, StallPattern(0.0), StallPattern(0.0))
    out.check_words(words)
    assert sum(1 for _, a, _ in log[:count] if a) < count


def test_signed_shape_words_pass_unchanged(seed):
    rng = random.Random(seed)
    dut = CreditQueue(signed(7), 4)
    words = [-64, 63, -1, 0] + [rng.randrange(-64, 64) for _ in range(40)]
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    out = check_stream(sim, dut.o, "o")
    got = []

    async def bench(ctx):
        todo, pipe = deque(words), deque([None, None])
        while len(got) < len(words):
            admit = bool(ctx.get(dut.can_admit) and todo)
            ctx.set(dut.admit, admit)
            pipe.append(todo.popleft() if admit else None)
            w = pipe.popleft()
            ctx.set(dut.i.valid, w is not None)
            ctx.set(dut.i.payload, 0 if w is None else w)
            ctx.set(dut.o.ready, rng.random() < 0.5)
            _, _, v, r, p = await ctx.tick().sample(dut.o.valid, dut.o.ready, dut.o.payload)
            if v and r:
                got.append(p)
    sim.add_testbench(bench)
    sim.run()
    out.check()
    assert got == words


def test_queue_depth_and_slack():
    assert QUEUE_SLACK == 5
    assert [queue_depth(n) for n in (0, 1, 10)] == [5, 6, 15]


@pytest.mark.parametrize("depth", [0, 1, 2, -3, True, 2.0, "4"])
def test_rejects_bad_depth(depth):
    # below 3 a buffered FIFO cannot take a word per clock into every slot
    with pytest.raises(ParameterError, match="depth"):
        CreditQueue(8, depth)


@pytest.mark.parametrize("in_flight", [-1, 1.5, None])
def test_queue_depth_rejects_bad_in_flight(in_flight):
    with pytest.raises(ParameterError, match="in_flight"):
        queue_depth(in_flight)
