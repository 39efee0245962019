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
* ``can_admit`` (out): a credit is free.  It is a flip-flop: at least two
  credits were free on the clock before, so one is free now whatever was
  admitted since.  Admissions and departures are registered as they happen
  and counted a clock later, so neither ``admit`` nor ``o.ready`` (which
  come from stages that may sit across the chip) passes through any logic
  here before a flip-flop, and ``can_admit`` itself leaves a flip-flop: the
  producer's enables (often a skid buffer's, far from this queue at the
  end of a long pipeline) see the route and nothing else.  So the last free
  credit is taken only when it was not the last a clock before, and a
  credit is seen again two clocks after its word left (``QUEUE_SLACK``
  covers the round trip).  A producer admitting a word every clock may
  fill all ``depth`` slots; one that admits now and then is given
  ``depth - 1``;
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

#: Slots beyond the words in flight.  A credit is seen again two clocks after
#: its word left, ``can_admit`` is a clock behind the count, and the buffered
#: FIFO holds one more word in its output register: five spare slots keep a
#: word per clock flowing when the consumer takes a word per clock.
QUEUE_SLACK = 5


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
        # C(t), the credits free at clock t, is seen(t) - admitted(t) + left(t):
        # `seen` = C(t-1), counted from `admitted` / `left`, the admission and the
        # departure of the clock before, each registered as it happened.
        # `can_admit` is the flip-flop `plenty` = [seen >= 2] = [C(t-1) >= 2]: at
        # most one credit is taken per clock, so C(t) >= 1 follows
        seen = Signal(range(self.depth + 1), init=self.depth)
        admitted, left = Signal(), Signal()
        plenty = Signal(init=1)
        gain, loss = Signal(), Signal()         # seen moves up / down by one
        m.d.comb += [
            gain.eq(left & ~admitted), loss.eq(admitted & ~left),
            self.can_admit.eq(plenty),
            queue.w_en.eq(self.i.valid),
            queue.w_data.eq(self.i.payload),
            self.o.valid.eq(queue.r_rdy),
            self.o.payload.eq(queue.r_data),
            queue.r_en.eq(self.o.ready),
        ]
        m.d.sync += [admitted.eq(self.admit), left.eq(self.o.valid & self.o.ready)]
        with m.If(gain):
            m.d.sync += seen.eq(seen + 1)
        with m.Elif(loss):
            m.d.sync += seen.eq(seen - 1)
        # the next count's flag, from this count's small compares (no adder on
        # its path)
        m.d.sync += plenty.eq((seen >= 3) | ((seen == 2) & ~loss) | ((seen == 1) & gain))
        return m
