"""Proofs of ``CreditQueue`` (``rtl/credit_queue.py``): the credit-counted output queue.

The harness is the queue's user: a producer admits a word on any clock
``can_admit`` allows (``AnySeq``), the word enters a free-running pipeline
of ``latency`` clocks (harness registers) and arrives on ``i``; the
consumer's ``o.ready`` is free on every clock.  Words are tagged with the
count of admissions before them (``SEQ`` bits), so a word lost, duplicated
or overtaken shows as a wrong number on ``o``.

With ``C = seen - admitted + left`` the credits free now (the queue's
registers: the count seen on the clock before, corrected by that clock's
admission and departure, as ``rtl/credit_queue.py`` defines it):

* ``credits`` (prove): ``C + level + in flight = slots`` on every clock
  (``level``: the FIFO's words; in flight: the pipeline's), ``can_admit``
  only while ``C >= 1``, and no word arrives at a full FIFO (nothing lost);
* ``hold`` (prove): ``o.valid``, once high, stays high with the same
  payload until the word is taken;
* ``order`` (bmc): the words leave in the order admitted, each once
  (the FIFO's memory holds words for arbitrarily long, so an induction
  would need its contents; bounded instead, over ``depth`` clocks, several
  times the queue's fill and drain);
* ``no_combinational_handshake`` (bmc): two copies fed alike up to the
  present clock and then with any ``admit`` and ``o.ready`` each show the
  same ``can_admit``, ``o.valid`` and ``o.payload``;
* ``cover``: the queue full, ``can_admit`` low, full and then empty again.
"""

from __future__ import annotations

from amaranth.hdl import Assert, Cover, Module, Signal

from circnn.rtl.credit_queue import CreditQueue

from .harness import AnySeq, after_first_clock, counter, no_reset, registered
from .internals import Opened
from .properties import FormalProperty

__all__ = ["PROPERTIES", "MUTATIONS"]

SEQ = 5

MUTATIONS = {
    "off_by_one_credit": "can_admit from the count seen a clock ago, without that clock's "
                         "admission: one credit handed out twice",
    "drop_word": "the word tagged 2 is not written into the FIFO",
    "pop_unaccepted": "the FIFO's head is popped on every clock, taken or not",
    "valid_after_ready": "o.valid = the FIFO's flag AND o.ready",
    "no_credit": "can_admit stuck low",
}


class _Queue:
    def __init__(self, slots, mutation):
        self.dut = dut = CreditQueue(SEQ, slots)
        self.opened = o = Opened(dut)
        self.fifo = o.submodule("fifo")
        self.seen, self.left = o.signal("seen"), o.signal("left")
        self.admitted = o.assigned_from(dut.admit)
        m = o.module
        if mutation == "off_by_one_credit":
            m.d.sync += o.signal("plenty").eq(self.seen >= 2)
        elif mutation == "drop_word":
            m.d.comb += self.fifo.w_en.eq(dut.i.valid & (dut.i.payload != 2))
        elif mutation == "pop_unaccepted":
            m.d.comb += self.fifo.r_en.eq(1)
        elif mutation == "valid_after_ready":
            m.d.comb += dut.o.valid.eq(self.fifo.r_rdy & dut.o.ready)
        elif mutation == "no_credit":
            m.d.comb += dut.can_admit.eq(0)
        elif mutation is not None:
            raise ValueError(f"unknown mutation {mutation!r}")

    def credits(self):
        return self.seen - self.admitted + self.left


def _pipeline(m, q: _Queue, latency: int, admit):
    """The producer and its free-running pipeline; (words in flight, admissions)."""
    dut = q.dut
    m.d.comb += dut.admit.eq(admit)
    n_admit = counter(m, admit, SEQ, "n_admit")
    valid, tag = admit, n_admit
    stages = []
    for n in range(latency):
        v, t = Signal(name=f"pipe{n}_valid"), Signal(SEQ, name=f"pipe{n}_tag")
        m.d.sync += [v.eq(valid), t.eq(tag)]
        valid, tag = v, t
        stages.append(v)
    m.d.comb += [dut.i.valid.eq(valid), dut.i.payload.eq(tag)]
    in_flight = sum(stages) if stages else 0
    return in_flight


def _harness(slots, latency, mutation):
    m = Module()
    q = _Queue(slots, mutation)
    m.submodules.dut = q.opened.module
    no_reset(m)
    in_flight = _pipeline(m, q, latency, AnySeq(1) & q.dut.can_admit)
    m.d.comb += q.dut.o.ready.eq(AnySeq(1))
    return m, q, in_flight


def credits(slots, latency, mutation=None):
    m, q, in_flight = _harness(slots, latency, mutation)
    c = q.credits()
    m.d.comb += [
        Assert(c + q.fifo.level + in_flight == slots, "credits + level + in flight = slots"),
        Assert(~q.dut.can_admit | (c >= 1), "can_admit only while a credit is free"),
        Assert(~q.dut.i.valid | q.fifo.w_rdy, "no word arrives at a full FIFO"),
    ]
    return m


def hold(slots, latency, mutation=None):
    m, q, _ = _harness(slots, latency, mutation)
    dut = q.dut
    started = after_first_clock(m)
    waiting = registered(m, dut.o.valid & ~dut.o.ready, "waiting")
    offered = registered(m, dut.o.payload, "offered")
    m.d.comb += Assert(~(started & waiting) | (dut.o.valid & (dut.o.payload == offered)),
                       "a word not taken is offered again, unchanged")
    return m


def order(slots, latency, mutation=None):
    m, q, _ = _harness(slots, latency, mutation)
    dut = q.dut
    n_out = counter(m, dut.o.valid & dut.o.ready, SEQ, "n_out")
    m.d.comb += Assert(~dut.o.valid | (dut.o.payload == n_out), "the next word in order leaves")
    return m


def no_combinational_handshake(slots, latency, mutation=None):
    m = Module()
    a, b = _Queue(slots, mutation), _Queue(slots, mutation)
    m.submodules.a, m.submodules.b = a.opened.module, b.opened.module
    no_reset(m)
    admit, ready, valid, payload = AnySeq(1), AnySeq(1), AnySeq(1), AnySeq(SEQ)
    m.d.comb += [a.dut.admit.eq(admit), b.dut.admit.eq(AnySeq(1)),
                 a.dut.o.ready.eq(ready), b.dut.o.ready.eq(AnySeq(1))]
    for q in (a, b):
        m.d.comb += [q.dut.i.valid.eq(valid), q.dut.i.payload.eq(payload)]
    same = Signal(init=1, name="same_so_far")
    m.d.sync += same.eq(same & (a.dut.admit == b.dut.admit) & (a.dut.o.ready == b.dut.o.ready))
    m.d.comb += [
        Assert(~same | (a.dut.can_admit == b.dut.can_admit), "can_admit does not depend on admit"),
        Assert(~same | (a.dut.o.valid == b.dut.o.valid), "o.valid does not depend on o.ready"),
        Assert(~same | ~a.dut.o.valid | (a.dut.o.payload == b.dut.o.payload),
               "a valid o.payload does not depend on o.ready"),
    ]
    return m


def cover(slots, latency, mutation=None):
    m, q, _ = _harness(slots, latency, mutation)
    full = q.fifo.level == slots
    was_full = Signal(name="was_full")
    with m.If(full):
        m.d.sync += was_full.eq(1)
    m.d.comb += [Cover(full), Cover(~q.dut.can_admit),
                 Cover(was_full & (q.fifo.level == 0) & (q.credits() == slots))]
    return m


def _props(slots, latency, depths, slow):
    params = {"slots": slots, "latency": latency, "tag_bits": SEQ}

    def p(what, mode, depth, fn, mutation, doc):
        return FormalProperty(
            name=f"credit_queue.{what}" + ("" if not slow else f"_{slots}"),
            component="CreditQueue", params=params, mode=mode, depth=depth,
            harness=lambda mutation=None: fn(slots, latency, mutation), mutation=mutation,
            what=doc, slow=slow)
    return [
        p("credits", "prove", depths["credits"], credits, "off_by_one_credit",
          "credits + queue level + words in flight = slots; can_admit only with a credit free; "
          "no word arrives at a full FIFO"),
        p("hold", "prove", depths["hold"], hold, "pop_unaccepted",
          "o.valid held with its payload until the word is taken"),
        p("order", "bmc", depths["order"], order, "drop_word",
          "every admitted word leaves once, in admission order"),
        p("no_combinational_handshake", "bmc", depths["miter"], no_combinational_handshake,
          "valid_after_ready", "can_admit does not depend on admit, o.valid/o.payload not on "
          "o.ready"),
        p("cover", "cover", depths["cover"], cover, "no_credit",
          "covered: queue full, can_admit low, full then empty with every credit back"),
    ]


PROPERTIES = (_props(4, 2, dict(credits=3, hold=2, order=12, miter=10, cover=16), slow=False)
              + _props(8, 4, dict(credits=4, hold=2, order=20, miter=14, cover=24), slow=True))
