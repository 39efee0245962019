"""Proofs of ``delay`` (``rtl/delay.py``): a value through ``clocks`` registers.

The value sent is a word ``{valid, stamp, data}``: ``valid`` and ``data``
free (``AnySeq``), ``stamp`` the harness's count of clocks (``fixed``) or
of enabled clocks (``enabled``).  The valid bit goes through a chain with
reset, the stamp and data through a ``reset_less`` chain (as the FFT's
delay lines carry them), so both kinds are proved.

* ``fixed`` (prove): every valid word leaves exactly ``clocks`` clocks after
  it entered (its stamp is now's minus ``clocks``) with its data (followed
  for one arbitrary chosen stamp): none lost, duplicated or reordered;
* ``enabled`` (prove): with a free ``enable``, the output is the value of
  the ``clocks``-th enabled clock before (the stamp counts enabled clocks),
  data intact; each register of the chain holds the value of its own
  number of enabled clocks ago (the induction's invariants: a chain may
  hold a word for arbitrarily long);
* ``cover``: the chosen word reaches the output through a chain that
  paused on the way.
"""

from __future__ import annotations

from amaranth.hdl import Assert, Cat, Cover, Elaboratable, Module, Signal

from circnn.rtl.delay import delay

from .harness import AnyConst, AnySeq, counter, no_reset
from .internals import Opened
from .properties import FormalProperty

__all__ = ["PROPERTIES", "MUTATIONS"]

STAMP, DATA = 4, 3

MUTATIONS = {
    "one_register_short": "the chain has clocks - 1 registers",
    "last_ignores_enable": "the chain's last register loads on every clock",
    "stuck": "the enable never reaches the chain (it never shifts)",
}


class DelayLine(Elaboratable):
    """``delay`` of ``{valid, stamp, data}`` by ``clocks`` (with ``enable``, if any)."""

    def __init__(self, clocks: int, enabled: bool):
        self.clocks, self.enabled = clocks, enabled
        self.valid, self.stamp, self.data = Signal(), Signal(STAMP), Signal(DATA)
        self.enable = Signal()
        self.out_valid, self.out_word = Signal(), Signal(STAMP + DATA)

    def elaborate(self, platform):
        m = Module()
        en = self.enable if self.enabled else None
        v = delay(m, self.valid, self.clocks, "v", enable=en)
        w = delay(m, Cat(self.stamp, self.data), self.clocks, "w", enable=en, reset_less=True)
        m.d.comb += [self.out_valid.eq(v), self.out_word.eq(w)]
        return m


def _line(clocks, enabled, mutation):
    if mutation == "one_register_short":
        clocks -= 1
    line = DelayLine(clocks, enabled)
    opened = Opened(line)
    m = opened.module
    if mutation == "last_ignores_enable":
        m.d.sync += [opened.signal(f"v_d{clocks}").eq(opened.signal(f"v_d{clocks - 1}")),
                     opened.signal(f"w_d{clocks}").eq(opened.signal(f"w_d{clocks - 1}"))]
    elif mutation == "stuck":
        m.d.comb += line.enable.eq(0)
    elif mutation not in (None, "one_register_short"):
        raise ValueError(f"unknown mutation {mutation!r}")
    return line, opened


def _harness(clocks, enabled, mutation):
    m = Module()
    line, opened = _line(clocks, enabled, mutation)
    m.submodules.line = opened.module
    no_reset(m)
    step = line.enable if enabled else 1
    if enabled and mutation != "stuck":
        m.d.comb += line.enable.eq(AnySeq(1))
    now = counter(m, step, STAMP, "now")     # clocks (enabled clocks) so far
    m.d.comb += [line.valid.eq(AnySeq(1)), line.data.eq(AnySeq(DATA)), line.stamp.eq(now)]
    chosen = Signal(STAMP, name="chosen")
    chosen_data = Signal(DATA, name="chosen_data")
    m.d.comb += chosen.eq(AnyConst(STAMP))
    with m.If((now == chosen) & line.valid & step):
        m.d.sync += chosen_data.eq(line.data)
    return m, line, opened, now, chosen, chosen_data


def _word_checks(valid, word, age, now, chosen, chosen_data, where):
    stamp, data = word[:STAMP], word[STAMP:]
    return [
        Assert(~valid | (stamp == (now - age)[:STAMP]), f"{where}: the value of {age} steps ago"),
        Assert(~(valid & (stamp == chosen)) | (data == chosen_data), f"{where}: its data"),
    ]


def fixed(clocks, mutation=None):
    m, line, _, now, chosen, chosen_data = _harness(clocks, False, mutation)
    m.d.comb += _word_checks(line.out_valid, line.out_word, clocks, now, chosen, chosen_data,
                             "output")
    return m


def enabled(clocks, mutation=None):
    m, line, opened, now, chosen, chosen_data = _harness(clocks, True, mutation)
    m.d.comb += _word_checks(line.out_valid, line.out_word, clocks, now, chosen, chosen_data,
                             "output")
    for k in range(1, line.clocks):
        m.d.comb += _word_checks(opened.signal(f"v_d{k}"), opened.signal(f"w_d{k}"), k, now,
                                 chosen, chosen_data, f"register {k}")
    return m


def cover(clocks, mutation=None):
    m, line, _, now, chosen, chosen_data = _harness(clocks, True, mutation)
    paused = Signal(name="paused")
    with m.If(~line.enable):
        m.d.sync += paused.eq(1)
    m.d.comb += Cover(paused & line.out_valid & (line.out_word[:STAMP] == chosen)
                      & (chosen == 2))
    return m


def _props(clocks, slow):
    def p(what, mode, depth, fn, mutation, doc):
        return FormalProperty(name=f"delay.{what}" + (f"_{clocks}" if slow else ""),
                              component="delay", params={"clocks": clocks, "stamp_bits": STAMP,
                                                         "data_bits": DATA},
                              mode=mode, depth=depth,
                              harness=lambda mutation=None: fn(clocks, mutation),
                              mutation=mutation, what=doc, slow=slow)
    return [
        p("fixed", "prove", clocks + 2, fixed, "one_register_short",
          f"each word leaves exactly {clocks} clocks after it entered, data intact"),
        p("enabled", "prove", 3, enabled, "last_ignores_enable",
          f"with an enable: the value of {clocks} enabled clocks before, data intact"),
        p("cover", "cover", clocks + 6, cover, "stuck",
          "covered: a chosen word through a chain that paused"),
    ]


PROPERTIES = _props(3, slow=False) + _props(7, slow=True)
