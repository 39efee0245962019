"""``CreditQueue``: the output queue of a pipeline that never stalls.

Most of circnn's datapath stages are free-running pipelines: once a word is
in, it comes out a fixed number of clocks later, whatever the consumer
does.  Back-pressure is taken at the pipeline's *entry* instead, by credit
counting: the queue at the pipeline's end has ``depth`` slots, and a word is
admitted only while a slot (a credit) is free for it, from its admission
until it leaves on ``o``.  So the queue can never overflow, however the
consumer stalls, and nothing is lost.

Ports:

* ``admit`` (in): the producer admits a word into its pipeline this clock
  (it takes a credit); only while ``can_admit``;
* ``can_admit`` (out): a credit is free.  It is a register, so it never
  depends on ``o.ready`` within a clock;
* ``i`` (in, always ready): the words leaving the pipeline, in order;
* ``o`` (out): the queue's head; ``o.valid`` never depends on ``o.ready``.

The queue is an ``amaranth.lib.fifo.SyncFIFOBuffered`` (its output is a
register); :func:`queue_depth` gives the depth for a pipeline with a given
number of words in flight.
"""

from amaranth.hdl import Module, Shape, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import check_int

__all__ = ["CreditQueue", "queue_depth", "QUEUE_SLACK"]

#: Slots beyond the words in flight.  A credit comes back one clock after its
#: word left (the counter is a register) and the buffered FIFO holds one more
#: word in its output register: four spare slots keep a word per clock
#: flowing when the consumer takes a word per clock.
QUEUE_SLACK = 4


def queue_depth(in_flight: int) -> int:
    """Queue depth for a pipeline that holds up to ``in_flight`` words between
    admission and its output."""
    return check_int("in_flight", in_flight, 0) + QUEUE_SLACK


class CreditQueue(wiring.Component):
    """``depth`` slots of ``shape``, handed out as credits to a free-running pipeline."""

    def __init__(self, shape, depth: int):
        self.shape = shape
        # a buffered FIFO of depth 2 is one slot and its output register, and
        # refuses a write while its first word moves to the register: from
        # depth 3 every slot can be used back to back
        self.depth = check_int("depth", depth, 3)
        super().__init__({
            "admit": In(1),
            "can_admit": Out(1),
            "i": In(stream.Signature(shape, always_ready=True)),
            "o": Out(stream.Signature(shape)),
        })

    def elaborate(self, platform):
        m = Module()
        width = Shape.cast(self.shape).width
        m.submodules.fifo = queue = fifo.SyncFIFOBuffered(width=width, depth=self.depth)
        # credits = slots not yet promised to a word: one counter (inflight +
        # level would put two adders between o.ready and the producer's
        # admission), and "a credit is free" is a register of its own, so the
        # producer's ready leaves a flip-flop directly: it fans out across
        # the chip into the producer's admission logic
        credits = Signal(range(self.depth + 1), init=self.depth)
        credits_next = Signal.like(credits)
        has_credit = Signal(init=1)
        released = Signal()
        m.d.comb += [
            self.can_admit.eq(has_credit),
            credits_next.eq(credits - self.admit + released),
            queue.w_en.eq(self.i.valid),
            queue.w_data.eq(self.i.payload),
            self.o.valid.eq(queue.r_rdy),
            self.o.payload.eq(queue.r_data),
            queue.r_en.eq(self.o.ready),
            released.eq(self.o.valid & self.o.ready),
        ]
        m.d.sync += [credits.eq(credits_next), has_credit.eq(credits_next != 0)]
        return m
