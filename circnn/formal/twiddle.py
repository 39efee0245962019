"""Proofs of ``TwiddleStage`` (``rtl/twiddle.py``): a stage's differences times their twiddles.

A stage of span ``D`` passes ``D`` sums and multiplies difference ``n`` by
``W_{2D}^n`` (the model: :func:`circnn.sim.model.fft.twiddle_multiply`):
``n = 0`` passes, ``n = D/2`` is the exact ``-j`` rotation, every other
``n`` the exact complex product of the (at most 18-bit) rounded difference
and the twiddle code, rounded by ``twiddle_width - 1 - mult_shift`` bits
and wrapped to the internal width.  The harness sends samples on any
clocks, counts their positions itself (``pos``, tied to the stage's own
counter for the induction) and computes the model's value of each as it
enters (:mod:`.fixed_spec`; the codes from the twiddle table, the ROM's
source, each product a multiplication by that constant), then delays it
by the stage's latency in registers of its own.

* ``routing`` (prove): every sample leaves after exactly the stage's
  latency with its inverse flag, and the words not multiplied (the sums,
  difference 0, the ``-j`` rotation of difference ``D/2``) are the model's;
* ``routing_no_overflow`` (prove): those words are exact (the ``-j``
  rotation does not wrap) for inputs of the documented magnitude
  (``|d| <= sqrt(2) 2**(width-1) + log2 N``, ``docs/fft.md``; assumed as the
  octagon ``|re|, |im| <= r``, ``|re| + |im| <= sqrt(2) r`` around that disc);
* ``model`` and ``no_overflow`` (prove, ``--all``, at 8-bit data and 8-bit
  twiddles only): the same for every word, the multiplied differences
  included.  The products are where the solver struggles: the hardware
  forms ``c_re a_re - c_im a_im`` from shared shift-and-add trees (or
  Gauss's three products), the spec from two products, and a SAT solver
  proves such sums equal only by exhausting the operands: minutes at 8
  bits, no result at 16 (docs/verification.md);
* ``cover``: a multiplied difference leaves with both parts non-zero.

Induction: every register of the stage but its position counter is
overwritten on every clock, so a depth of the latency and one suffices.
"""

from __future__ import annotations

import math

from amaranth.hdl import Assert, Assume, Cover, Module, Mux, Signal, signed
from amaranth.lib import data

from circnn.config import MAX_OPERAND_BITS, FFTConfig, Rounding, stage_twiddles
from circnn.rtl.butterfly import stage_layout
from circnn.rtl.twiddle import TwiddleStage

from . import fixed_spec as spec
from .harness import AnySeq, no_reset
from .internals import Opened
from .properties import FormalProperty

__all__ = ["PROPERTIES", "MUTATIONS", "documented_radius"]

MUTATIONS = {
    "minus_j_swapped": "the -j rotation's result leaves with its parts swapped",
    "rounding": "the stage built with another rounding than the model's "
                "(truncate for half_up, half_up otherwise)",
    "widened_range": "inputs over the whole internal range",
    "deaf": "the stage's first register never takes a valid sample",
}


def documented_radius(cfg: FFTConfig) -> int:
    """``sqrt(2) 2**(width-1) + log2 N``, rounded up: the documented bound on every
    intermediate sample's magnitude."""
    return math.ceil(math.sqrt(2) * (1 << (cfg.width - 1))) + cfg.stages


def _expected(cfg: FFTConfig, stage: int, n, re, im):
    """The model's output for a difference ``n`` (a harness signal) of ``(re, im)``:
    (wrapped re, wrapped im, exact re, exact im)."""
    D, iw = cfg.span(stage), cfg.internal_width
    ms = cfg.mult_shift
    aw = min(iw, MAX_OPERAND_BITS)
    shift = cfg.twiddle_width - 1 - ms
    a_re = spec.wrap(spec.round_shift(re, ms, cfg.rounding), aw)
    a_im = spec.wrap(spec.round_shift(im, ms, cfg.rounding), aw)
    exact_re, exact_im = re, im                     # n = 0: passes
    for k, (wr, wi) in enumerate(stage_twiddles(cfg, stage)):
        if k == 0:
            continue
        if k == D // 2:
            p_re, p_im = im, -re                    # -j: (re, im) -> (im, -re)
        else:
            p_re = spec.round_shift(a_re * wr - a_im * wi, shift, cfg.rounding)
            p_im = spec.round_shift(a_re * wi + a_im * wr, shift, cfg.rounding)
        exact_re, exact_im = Mux(n == k, p_re, exact_re), Mux(n == k, p_im, exact_im)
    return spec.wrap(exact_re, iw), spec.wrap(exact_im, iw), exact_re, exact_im


def _harness(cfg, stage, mutation, range_limited):
    m = Module()
    built = cfg if mutation != "rounding" else FFTConfig(
        cfg.points, cfg.width, cfg.twiddle_width,
        "truncate" if Rounding.parse(cfg.rounding) is Rounding.HALF_UP else "half_up",
        cfg.twiddle_multiplier)
    dut = TwiddleStage(built, stage)
    opened = Opened(dut)
    if mutation == "deaf":
        opened.module.d.sync += opened.signal("v1").eq(0)
    elif mutation == "minus_j_swapped":
        d1, d2 = (data.View(stage_layout(cfg), opened.signal(n)) for n in ("d1", "d2"))
        k1 = opened.signal("k1")
        with opened.module.If(k1 == 1):                 # MINUS_J
            opened.module.d.sync += [d2.re.eq(~(d1.re - 1)[:cfg.internal_width]),
                                     d2.im.eq(d1.im)]
    elif mutation not in (None, "rounding", "widened_range"):
        raise ValueError(f"unknown mutation {mutation!r}")
    m.submodules.dut = opened.module
    no_reset(m)
    D, iw = dut.span, cfg.internal_width
    i = dut.i
    re, im, inv, valid = AnySeq(signed(iw)), AnySeq(signed(iw)), AnySeq(1), AnySeq(1)
    m.d.comb += [i.valid.eq(valid), i.payload.re.eq(re), i.payload.im.eq(im),
                 i.payload.inv.eq(inv)]
    if range_limited and mutation != "widened_range":
        r = documented_radius(cfg)
        assert r < (1 << (iw - 1)), "the documented bound must fit the internal width"
        diag = math.floor(math.sqrt(2) * r)
        mag_re, mag_im = Mux(re < 0, -re, re), Mux(im < 0, -im, im)
        m.d.comb += Assume((mag_re <= r) & (mag_im <= r) & (mag_re + mag_im <= diag))
    pos = Signal(range(2 * D), name="pos")
    with m.If(valid):
        m.d.sync += pos.eq(pos + 1)
    m.d.comb += Assert(pos == opened.signal("idx"), "the stage counts positions as the harness")
    n = Signal(range(D), name="n")
    m.d.comb += n.eq(pos - D)
    w_re, w_im, x_re, x_im = _expected(cfg, stage, n, re, im)
    second = pos >= D
    exp = [(valid, 1), (inv, 1), (Mux(second, w_re, re), iw), (Mux(second, w_im, im), iw),
           (Mux(second, x_re, re), len(x_re) + 1), (Mux(second, x_im, im), len(x_im) + 1)]
    regs = []
    for value, width in exp:
        for k in range(dut.latency):
            reg = Signal(signed(width) if width > 1 else 1, name=f"expected{len(regs)}_{k}")
            m.d.sync += reg.eq(value)
            value = reg
        regs.append(value)
    return m, dut, regs, second, n


def _multiplied_later(m, cfg, stage, dut, n, second):
    """1 on the output words that were multiplied (the flag delayed like the words)."""
    D = cfg.span(stage)
    flag = second & (n != 0) & (n != D // 2)
    for k in range(dut.latency):
        reg = Signal(name=f"multiplied_{k}")
        m.d.sync += reg.eq(flag)
        flag = reg
    return flag


def model(cfg, stage, mutation=None, products=True):
    m, dut, (v, inv, w_re, w_im, _, _), second, n = _harness(cfg, stage, mutation, False)
    o = dut.o
    checked = v if products else v & ~_multiplied_later(m, cfg, stage, dut, n, second)
    m.d.comb += [
        Assert(o.valid == v, "each sample leaves after exactly the stage's latency"),
        Assert(~checked | ((o.payload.re == w_re) & (o.payload.im == w_im)), "the model's value"),
        Assert(~v | (o.payload.inv == inv), "the inverse flag"),
    ]
    return m


def no_overflow(cfg, stage, mutation=None, products=True):
    m, dut, (v, _, _, _, x_re, x_im), second, n = _harness(cfg, stage, mutation, True)
    o = dut.o
    checked = v if products else v & ~_multiplied_later(m, cfg, stage, dut, n, second)
    m.d.comb += Assert(~checked | ((o.payload.re == x_re) & (o.payload.im == x_im)),
                       "the exact rounded value (nothing wraps)")
    return m


def routing(cfg, stage, mutation=None):
    return model(cfg, stage, mutation, products=False)


def routing_no_overflow(cfg, stage, mutation=None):
    return no_overflow(cfg, stage, mutation, products=False)


def cover(cfg, stage, mutation=None):
    m, dut, (v, _, _, _, x_re, x_im), _, _ = _harness(cfg, stage, mutation, True)
    o = dut.o
    m.d.comb += Cover(v & o.valid & (o.payload.re != 0) & (o.payload.im != 0)
                      & (o.payload.re == x_re) & (o.payload.re != o.payload.im))
    return m


def _props(points, width, stage, slow, twiddle_multiplier="auto", rounding="half_up",
           products=False, twiddle_width=16):
    cfg = FFTConfig(points=points, width=width, twiddle_width=twiddle_width, rounding=rounding,
                    twiddle_multiplier=twiddle_multiplier)
    D = cfg.span(stage)
    how = "shift_add" if cfg.uses_shift_add(stage) else "dsp"
    tag = (f"n{points}_w{width}" + ("" if twiddle_width == 16 else f"_t{twiddle_width}")
           + f"_d{D}_{how}" + ("" if rounding == "half_up" else f"_{rounding}"))
    depth = TwiddleStage.latency_of(cfg, stage) + 1
    params = {"points": points, "width": width, "twiddle_width": cfg.twiddle_width,
              "stage": stage, "span": D, "rounding": rounding, "multiplier": how}

    def p(what, mode, fn, mutation, doc, d=depth, slow=slow):
        return FormalProperty(name=f"twiddle.{what}_{tag}", component="TwiddleStage",
                              params=params, mode=mode, depth=d,
                              harness=lambda mutation=None: fn(cfg, stage, mutation),
                              mutation=mutation, what=doc, slow=slow)
    if products:
        return [
            p("model", "prove", model, "rounding",
              "outputs = the model's twiddle_multiply (products included), exact latency"),
            p("no_overflow", "prove", no_overflow, "widened_range",
              "inputs of the documented magnitude: every output exact (nothing wraps)"),
        ]
    return [
        p("routing", "prove", routing, "minus_j_swapped",
          "exact latency, inverse flag; sums, difference 0 and the -j rotation = the model's"),
        p("routing_no_overflow", "prove", routing_no_overflow, "widened_range",
          "inputs of the documented magnitude: the words not multiplied are exact",
          slow=True),
        p("cover", "cover", cover, "deaf", "covered: a multiplied difference, both parts non-zero",
          d=depth + 4),
    ]


PROPERTIES = (
    _props(8, 8, 0, slow=False)
    + _props(8, 16, 0, slow=True)
    + _props(8, 17, 0, slow=True)
    + _props(8, 18, 0, slow=True)
    + _props(16, 16, 1, slow=True)
    # the products too, at 8-bit data and twiddles (minutes; wider: not finished)
    + _props(8, 8, 0, slow=True, products=True, twiddle_width=8)
)
