"""Proofs of ``BankPair`` (``rtl/bank_pair.py``): the two-bank ownership flags.

The harness is the three users: a writer that commits only a bank it was
told is free, a landing step that lands only a claimed bank, a reader that
releases only a bank it was told is ready (each on any clock it may:
``AnySeq``).  Beside them, the documented bookkeeping as a reference
model of harness registers: each bank free, claimed or ready; the next
commit, landing and release each concern the bank their own pointer names,
and each pointer toggles on its event; without a landing step a commit
makes the bank ready at once.

* ``exclusive`` (prove): a bank is never free for the writer while it is
  ready for the reader (never written while being read), and never ready
  while claimed (read before its last data landed): the flags agree with
  the model, and so do the component's per-bank registers (the
  induction's invariants);
* ``cover``: both banks ready at once, and the writer filling one bank
  while the reader reads the other.
"""

from __future__ import annotations

from amaranth.hdl import Array, Assert, Assume, Cover, Module, Mux, Signal

from circnn.rtl.bank_pair import BankPair

from .harness import AnySeq, no_reset
from .internals import Opened
from .properties import FormalProperty

__all__ = ["PROPERTIES", "MUTATIONS"]

FREE, CLAIMED, READY = 0, 1, 2

MUTATIONS = {
    "free_from_wrong_bank": "writer.free from the other bank's flag: the writer is let into "
                            "the bank being read",
    "never_ready": "reader.ready stuck low",
}


def _harness(landing, mutation):
    m = Module()
    dut = BankPair(landing=landing)
    opened = Opened(dut)
    m.submodules.dut = opened.module
    no_reset(m)
    ready = [opened.signal("ready0"), opened.signal("ready1")]
    busy = [opened.signal("busy0"), opened.signal("busy1")] if landing else ready
    w_bank = opened.driver_of(dut.writer.bank)
    if mutation == "free_from_wrong_bank":
        opened.module.d.comb += dut.writer.free.eq(~Mux(w_bank, busy[0], busy[1]))
    elif mutation == "never_ready":
        opened.module.d.comb += dut.reader.ready.eq(0)
    elif mutation is not None:
        raise ValueError(f"unknown mutation {mutation!r}")

    # the reference model
    state = Array([Signal(2, name="model0"), Signal(2, name="model1")])
    w, lp, r = Signal(name="model_w"), Signal(name="model_l"), Signal(name="model_r")
    commit = Signal(name="commit")
    release = Signal(name="release")
    m.d.comb += [commit.eq(AnySeq(1) & dut.writer.free),
                 release.eq(AnySeq(1) & dut.reader.ready),
                 dut.writer.commit.eq(commit), dut.reader.release.eq(release)]
    land = Signal(name="land")
    if landing:
        m.d.comb += [land.eq(AnySeq(1)), dut.landed.land.eq(land),
                     Assume(~land | (state[lp] == CLAIMED))]
    for b in (0, 1):
        with m.If(commit & (w == b)):
            m.d.sync += state[b].eq(CLAIMED if landing else READY)
        with m.If(land & (lp == b)):
            m.d.sync += state[b].eq(READY)
        with m.If(release & (r == b)):
            m.d.sync += state[b].eq(FREE)
    with m.If(commit):
        m.d.sync += w.eq(~w)
    with m.If(land):
        m.d.sync += lp.eq(~lp)
    with m.If(release):
        m.d.sync += r.eq(~r)
    return m, dut, opened, state, (w, lp, r), ready, busy


def exclusive(landing, mutation=None):
    m, dut, opened, state, (w, lp, r), ready, busy = _harness(landing, mutation)
    wr, rd = dut.writer, dut.reader
    m.d.comb += [
        Assert(~(wr.free & rd.ready & (wr.bank == rd.bank)),
               "no bank is free for the writer while ready for the reader"),
        Assert(~rd.ready | (state[rd.bank] == READY), "the reader reads only a ready bank"),
        Assert(~rd.ready_next | (state[~rd.bank] == READY), "ready_next: the other bank is ready"),
        Assert(~wr.free | (state[wr.bank] == FREE), "the writer writes only a free bank"),
        Assert((wr.bank == w) & (rd.bank == r), "banks used in turn"),
        Assert(wr.free == (state[w] == FREE), "a free bank is offered to the writer"),
        Assert(rd.ready == (state[r] == READY), "a ready bank is offered to the reader"),
    ]
    for b in (0, 1):
        m.d.comb += [Assert(ready[b] == (state[b] == READY), f"bank {b}: ready flag"),
                     Assert(busy[b] == (state[b] != FREE), f"bank {b}: busy flag"),
                     Assert(state[b] != 3, f"bank {b}: a state")]
    if landing:
        m.d.comb += Assert(opened.signal("land_bank") == lp, "landings in turn")
    return m


def cover(landing, mutation=None):
    m, dut, _, state, _, _, _ = _harness(landing, mutation)
    wr, rd = dut.writer, dut.reader
    m.d.comb += [Cover(rd.ready & rd.ready_next),
                 Cover(wr.free & rd.ready & (wr.bank != rd.bank))]
    return m


def _props(landing):
    suffix = "_landing" if landing else ""

    def p(what, mode, depth, fn, mutation, doc):
        return FormalProperty(name=f"bank_pair.{what}{suffix}", component="BankPair",
                              params={"landing": landing}, mode=mode, depth=depth,
                              harness=lambda mutation=None: fn(landing, mutation),
                              mutation=mutation, what=doc,
                              slow=landing and mode == "cover")
    return [
        p("exclusive", "prove", 2, exclusive, "free_from_wrong_bank",
          "a bank is never written while it is being read (free xor ready, in turn"
          + (", ready only once landed)" if landing else ")")),
        p("cover", "cover", 8, cover, "never_ready",
          "covered: both banks ready; writing one bank while the other is read"),
    ]


PROPERTIES = _props(False) + _props(True)
