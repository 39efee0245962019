"""``BankPair``: who owns which of two memory banks that a writer and a reader use in turn.

Double buffering (ping-pong) is how circnn overlaps the stages of a layer:
the real FFT fills one bank of the spectrum buffer while the PEs read the
other, a pass accumulates in one accumulator bank while the drain empties
the other, a frame reorder buffer writes one frame while it reads out the
previous one.  This component is the one place that bookkeeping lives.

Each bank is *free* (the writer may use it), *claimed* (the writer has
handed it on, its last data may still be landing) or *ready* (the reader
may read it).  Banks are used in turn, so three pointers say which bank
the next claim, landing and release concern; they toggle on each event.

* **writer** (:class:`BankWriterSignature`): ``bank`` is the bank to write
  next and ``free`` says it may be used; ``commit`` (a pulse) hands it on.
* **landing** (:class:`BankLandingSignature`, only with ``landing=True``):
  ``land`` (a pulse) says the oldest claimed bank's data have all arrived.
  Without a landing step, a commit makes the bank ready at once.
* **reader** (:class:`BankReaderSignature`): ``bank`` is the bank to read,
  ``ready`` says it holds data, ``ready_next`` says the other bank does too;
  ``release`` (a pulse) frees it.

All state is registered: a commit, landing or release shows in the flags on
the next clock.  A bank is never written while it is being read: it is free
for the writer only from its release until its next commit.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["BankPair", "BankWriterSignature", "BankLandingSignature", "BankReaderSignature"]


class BankWriterSignature(wiring.Signature):
    """The writer's side, seen from the writer."""

    def __init__(self):
        super().__init__({"bank": In(1), "free": In(1), "commit": Out(1)})


class BankLandingSignature(wiring.Signature):
    """Where the claimed bank's last data land, seen from there."""

    def __init__(self):
        super().__init__({"land": Out(1)})


class BankReaderSignature(wiring.Signature):
    """The reader's side, seen from the reader."""

    def __init__(self):
        super().__init__({"bank": In(1), "ready": In(1), "ready_next": In(1), "release": Out(1)})


class BankPair(wiring.Component):
    """Ownership flags of two banks; ``landing`` adds the claimed-but-not-landed state."""

    def __init__(self, *, landing: bool = False):
        self.landing = bool(landing)
        members = {
            "writer": In(BankWriterSignature()),
            "reader": In(BankReaderSignature()),
        }
        if self.landing:
            members["landed"] = In(BankLandingSignature())
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        w_bank, r_bank = Signal(), Signal()
        ready = [Signal(name="ready0"), Signal(name="ready1")]  # the reader may read it
        # `writer.free` is a flip-flop of its own, loaded with the value the flags
        # will have: the writer's accept and commit decisions start at a register
        # beside the writer, not at a multiplexer of this component's flags
        free = Signal(init=1)
        commit, release = self.writer.commit, self.reader.release
        w_bank_next = w_bank ^ commit
        m.d.sync += [w_bank.eq(w_bank_next), r_bank.eq(r_bank ^ release)]
        if self.landing:
            busy = [Signal(name="busy0"), Signal(name="busy1")]   # claimed or ready
            land, land_bank = self.landed.land, Signal()
            m.d.sync += land_bank.eq(land_bank ^ land)
        else:
            busy = ready
            land, land_bank = commit, w_bank
        busy_next = []
        for b in (0, 1):
            released = release & (r_bank == b)
            ready_next = (ready[b] | (land & (land_bank == b))) & ~released
            m.d.sync += ready[b].eq(ready_next)
            if self.landing:
                busy_next.append((busy[b] | (commit & (w_bank == b))) & ~released)
                m.d.sync += busy[b].eq(busy_next[b])
            else:
                busy_next.append(ready_next)
        m.d.sync += free.eq(~Mux(w_bank_next, busy_next[1], busy_next[0]))
        m.d.comb += [
            self.writer.bank.eq(w_bank),
            self.writer.free.eq(free),
            self.reader.bank.eq(r_bank),
            self.reader.ready.eq(Mux(r_bank, ready[1], ready[0])),
            self.reader.ready_next.eq(Mux(r_bank, ready[0], ready[1])),
        ]
        return m
