"""Proofs of ``StreamRegister`` (``rtl/stream_register.py``): the register slice of a stream.

The words are tagged: the source sends its words' sequence numbers
(``SEQ`` bits, the count of words it has handed over) beside ``DATA`` free
bits, so that a word lost, duplicated or overtaken shows as a wrong number
at the output, and a word's data bits are followed through the slice for
one arbitrary chosen sequence number (``AnyConst``).  The consumer's
``ready`` is free on every clock; the source keeps the stream rules.

* ``order`` (prove): every word leaves once, in order, with its data; the
  output and skid registers hold the next one or two numbers, and their
  count is the words in minus the words out (the invariants the induction
  needs; the registers are found with :class:`~.internals.Opened`);
* ``hold`` (prove): a word offered and not taken is offered again, unchanged;
* ``no_combinational_handshake`` (prove): two copies, fed alike up to the
  present clock and then with any ``o.ready`` and ``i.valid`` each, show the
  same ``o.valid``, ``o.payload`` and ``i.ready`` (``o.valid`` does not
  depend on ``o.ready``, nor ``i.ready`` on ``i.valid``): registers equal
  while the inputs so far were;
* ``cover``: the skid register full (``i.ready`` low), three transfers on
  consecutive clocks, a word taken in while the output stalls.
"""

from __future__ import annotations

from amaranth.hdl import Assert, Cat, Cover, Module, Signal

from circnn.rtl.stream_register import StreamRegister

from .harness import AnyConst, AnySeq, after_first_clock, counter, no_reset, registered, \
    source_rules
from .internals import Opened
from .properties import FormalProperty

__all__ = ["PROPERTIES", "MUTATIONS"]

SEQ, DATA = 4, 3
WIDTH = SEQ + DATA

#: broken variants, each caught by a property (tests/test_formal.py)
MUTATIONS = {
    "drop_when_full": "i.ready stuck high: the word offered while both registers are full is lost",
    "withdraw_valid": "the output register empties when its word is not taken",
    "valid_after_ready": "o.valid = the output register's flag AND o.ready",
    "stuck": "i.ready stuck low: no word ever enters",
}


class _Slice:
    """A ``StreamRegister`` opened, with its registers, broken by ``mutation``."""

    def __init__(self, mutation):
        self.dut = dut = StreamRegister(WIDTH)
        self.opened = o = Opened(dut)
        self.out_valid, self.out_data = o.driver_of(dut.o.valid), o.driver_of(dut.o.payload)
        self.skid_valid = o.signal("skid_valid")
        self.skid_data = next(r for r in o.loaded_from(dut.i.payload) if r is not self.out_data)
        m = o.module
        if mutation == "drop_when_full":
            m.d.comb += dut.i.ready.eq(1)
        elif mutation == "withdraw_valid":
            with m.If(self.out_valid & ~dut.o.ready):
                m.d.sync += self.out_valid.eq(0)
        elif mutation == "valid_after_ready":
            m.d.comb += dut.o.valid.eq(self.out_valid & dut.o.ready)
        elif mutation == "stuck":
            m.d.comb += dut.i.ready.eq(0)
        elif mutation is not None:
            raise ValueError(f"unknown mutation {mutation!r}")

    def registers(self):
        return Cat(self.out_valid, self.out_data, self.skid_valid, self.skid_data)


def _tagged(m, s: _Slice):
    """The slice between a tagged source and a free consumer; the counts."""
    dut = s.dut
    m.submodules.dut = s.opened.module
    no_reset(m)
    started = after_first_clock(m)
    data = Signal(DATA, name="data")
    n_in = counter(m, dut.i.valid & dut.i.ready, SEQ, "n_in")
    n_out = counter(m, dut.o.valid & dut.o.ready, SEQ, "n_out")
    m.d.comb += [dut.i.valid.eq(AnySeq(1)), data.eq(AnySeq(DATA)),
                 dut.i.payload.eq(Cat(n_in, data)), dut.o.ready.eq(AnySeq(1))]
    source_rules(m, dut.i.valid, dut.i.ready, dut.i.payload, started, "source")
    return started, n_in, n_out


def order(mutation=None):
    m = Module()
    s = _Slice(mutation)
    dut = s.dut
    _, n_in, n_out = _tagged(m, s)
    chosen = Signal(SEQ, name="chosen")
    chosen_data = Signal(DATA, name="chosen_data")
    m.d.comb += chosen.eq(AnyConst(SEQ))
    with m.If(dut.i.valid & dut.i.ready & (n_in == chosen)):
        m.d.sync += chosen_data.eq(dut.i.payload[SEQ:])
    held = (s.out_valid + s.skid_valid)[:SEQ]
    out_seq, skid_seq = s.out_data[:SEQ], s.skid_data[:SEQ]
    m.d.comb += [
        Assert(((n_in - n_out)[:SEQ]) == held, "words in - words out = words held"),
        Assert(~dut.o.valid | (dut.o.payload[:SEQ] == n_out), "the next word in order leaves"),
        Assert(~s.skid_valid | (s.out_valid & (skid_seq == (n_out + 1)[:SEQ])),
               "the skid register holds the word after the output register's"),
        Assert(~(s.out_valid & (out_seq == chosen)) | (s.out_data[SEQ:] == chosen_data),
               "the chosen word's data in the output register"),
        Assert(~(s.skid_valid & (skid_seq == chosen)) | (s.skid_data[SEQ:] == chosen_data),
               "the chosen word's data in the skid register"),
    ]
    return m


def hold(mutation=None):
    m = Module()
    s = _Slice(mutation)
    dut = s.dut
    started, _, _ = _tagged(m, s)
    waiting = registered(m, dut.o.valid & ~dut.o.ready, "waiting")
    offered = registered(m, dut.o.payload, "offered")
    m.d.comb += Assert(~(started & waiting) | (dut.o.valid & (dut.o.payload == offered)),
                       "a word not taken is offered again, unchanged")
    return m


def no_combinational_handshake(mutation=None):
    m = Module()
    a, b = _Slice(mutation), _Slice(mutation)
    m.submodules.a, m.submodules.b = a.opened.module, b.opened.module
    no_reset(m)
    valid, payload, ready = AnySeq(1), AnySeq(WIDTH), AnySeq(1)
    m.d.comb += [a.dut.i.valid.eq(valid), a.dut.i.payload.eq(payload), a.dut.o.ready.eq(ready),
                 b.dut.i.payload.eq(payload), b.dut.i.valid.eq(AnySeq(1)),
                 b.dut.o.ready.eq(AnySeq(1))]
    same = Signal(init=1, name="same_so_far")    # the inputs were alike on every clock so far
    m.d.sync += same.eq(same & (a.dut.i.valid == b.dut.i.valid)
                        & (a.dut.o.ready == b.dut.o.ready))
    m.d.comb += [
        Assert(~same | (a.registers() == b.registers()), "alike so far: the same registers"),
        Assert(~same | ((a.dut.o.valid == b.dut.o.valid) & (a.dut.o.payload == b.dut.o.payload)),
               "o.valid and o.payload do not depend on o.ready or i.valid"),
        Assert(~same | (a.dut.i.ready == b.dut.i.ready), "i.ready does not depend on i.valid"),
    ]
    return m


def cover(mutation=None):
    m = Module()
    s = _Slice(mutation)
    dut = s.dut
    _tagged(m, s)
    out = dut.o.valid & dut.o.ready
    out1 = registered(m, out, "out1")
    out2 = registered(m, out1, "out2")
    m.d.comb += [
        Cover(dut.i.valid & ~dut.i.ready),
        Cover(out & out1 & out2),
        Cover(dut.i.valid & dut.i.ready & dut.o.valid & ~dut.o.ready),
    ]
    return m


def _prop(what, mode, depth, harness, mutation, doc, slow=False):
    return FormalProperty(name=f"stream_register.{what}", component="StreamRegister",
                          params={"width": WIDTH}, mode=mode, depth=depth, harness=harness,
                          mutation=mutation, what=doc, slow=slow)


PROPERTIES = [
    _prop("order", "prove", 3, order, "drop_when_full",
          "every word leaves once, in order, data intact (tags, one chosen word)"),
    _prop("hold", "prove", 2, hold, "withdraw_valid",
          "a word offered and not taken is offered again, unchanged"),
    _prop("no_combinational_handshake", "prove", 2, no_combinational_handshake,
          "valid_after_ready", "o.valid/o.payload do not depend on o.ready, i.ready not on i.valid"),
    _prop("cover", "cover", 8, cover, "stuck",
          "covered: skid full, three transfers back to back, a word in while the output stalls"),
]
