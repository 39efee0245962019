"""Proofs of ``ButterflyStage`` (``rtl/butterfly.py``) and its adder (``rtl/arith.half_sum``).

The stage sees frames of ``2D`` samples; sample ``n`` of the first half
meets its partner ``n + D`` and the stage emits ``D`` rounded half-sums then
``D`` rounded half-differences per frame (the model:
:func:`circnn.sim.model.fft.butterfly`, ``wrap(round_shift(a +- b, 1), iw)``).
The harness sends samples on any clocks (``AnySeq`` valid, free values, one
inverse flag per frame), keeps the pair at one arbitrary chosen position
``p`` (``AnyConst``) of every frame (in four slots, by frame number: frames
overlap at the output) and checks the stage's output words ``p`` and
``D + p`` of each frame against the spec (:mod:`.fixed_spec`, the model's
definitions).

* ``model`` (bmc): for every input, the outputs are the model's, word for
  word, inverse flag included, for ``depth`` clocks (several frames, with
  idle clocks and the stage's own drain);
* ``no_overflow`` (bmc): for inputs in the documented range (components
  within ``+-(2**(iw-1) - 1)``, ``docs/fft.md``: every intermediate value
  of the transform stays below ``sqrt(2) 2**(width-1) + log2 N``), the
  outputs are the exact rounded half-sums and half-differences (nothing
  wraps);
* ``half_sum`` (prove): the adder the stage rounds with equals the model's
  ``round_shift(a + b, 1)`` for all operands of the full internal width;
* ``cover``: the chosen pair's difference leaves, after a drain.

Bounded (bmc): the delay line keeps a first-half sample for as long as its
partner takes to come, so an induction would need the line's contents; the
arithmetic is the same circuit on every clock, and ``half_sum`` proves it
unbounded.
"""

from __future__ import annotations

from amaranth.hdl import Array, Assert, Assume, Cover, Module, Signal, signed

from circnn.config import FFTConfig, Rounding
from circnn.rtl.arith import half_sum
from circnn.rtl.butterfly import ButterflyStage

from . import fixed_spec as spec
from .harness import AnyConst, AnySeq, no_reset
from .internals import Opened
from .properties import FormalProperty

__all__ = ["PROPERTIES", "MUTATIONS"]

SLOTS = 4        # recorded frames

MUTATIONS = {
    "rounding": "the stage (or adder) built with another rounding than the model's "
                "(truncate for half_up, half_up otherwise)",
    "widened_range": "inputs over the whole internal range, -2**(iw-1) included",
    "deaf": "the stage's input register never takes a valid sample",
}


def _other(rounding: str) -> str:
    return "truncate" if Rounding.parse(rounding) is Rounding.HALF_UP else "half_up"


def _stage_harness(cfg: FFTConfig, stage: int, mutation, range_limited: bool):
    m = Module()
    built = cfg if mutation != "rounding" else FFTConfig(
        cfg.points, cfg.width, cfg.twiddle_width, _other(cfg.rounding), cfg.twiddle_multiplier)
    dut = ButterflyStage(built, stage)
    opened = Opened(dut)
    if mutation == "deaf":
        opened.module.d.sync += opened.signal("v").eq(0)
    elif mutation not in (None, "rounding", "widened_range"):
        raise ValueError(f"unknown mutation {mutation!r}")
    m.submodules.dut = opened.module
    no_reset(m)
    D, iw = dut.span, cfg.internal_width
    i, o = dut.i, dut.o

    # the source: any samples on any clocks, one inverse flag per frame
    re, im, inv = AnySeq(signed(iw)), AnySeq(signed(iw)), AnySeq(1)
    m.d.comb += [i.valid.eq(AnySeq(1)), i.payload.re.eq(re), i.payload.im.eq(im),
                 i.payload.inv.eq(inv)]
    pos_in = Signal(range(2 * D), name="pos_in")
    frame_in = Signal(2, name="frame_in")          # frames mod 4 (they overlap at the output)
    frames_inv = Array([Signal(name=f"inv{f}") for f in range(SLOTS)])
    with m.If(i.valid):
        m.d.sync += pos_in.eq(pos_in + 1)
        with m.If(pos_in == 2 * D - 1):
            m.d.sync += frame_in.eq(frame_in + 1)
        with m.If(pos_in == 0):
            m.d.sync += frames_inv[frame_in].eq(inv)
    m.d.comb += Assume(~i.valid | (pos_in == 0) | (inv == frames_inv[frame_in]))
    if range_limited and mutation != "widened_range":
        top = (1 << (iw - 1)) - 1
        m.d.comb += Assume((re >= -top) & (im >= -top))

    # the chosen pair of every frame, by frame number mod 4: a frame's differences may
    # leave after two more frames began (D = 1 with the half_even rounding register)
    chosen = Signal(range(D), name="chosen")
    m.d.comb += chosen.eq(AnyConst(range(D)))
    slots = [{part: Array([Signal(signed(iw), name=f"{part}_{side}{f}") for f in range(SLOTS)])
              for part in ("re", "im")} for side in "ab"]
    for side, at in ((0, chosen), (1, chosen + D)):
        with m.If(i.valid & (pos_in == at)):
            m.d.sync += [slots[side]["re"][frame_in].eq(re), slots[side]["im"][frame_in].eq(im)]

    # the output: word p (half-sum) and D + p (half-difference) of each frame
    pos_out = Signal(range(2 * D), name="pos_out")
    frame_out = Signal(2, name="frame_out")
    with m.If(o.valid):
        m.d.sync += pos_out.eq(pos_out + 1)
        with m.If(pos_out == 2 * D - 1):
            m.d.sync += frame_out.eq(frame_out + 1)
    out_inv = frames_inv[frame_out]
    checks = {}
    for part in ("re", "im"):
        a, b = slots[0][part][frame_out], slots[1][part][frame_out]
        checks[part] = (spec.round_shift(a + b, 1, cfg.rounding),
                        spec.round_shift(a - b, 1, cfg.rounding))
    at_sum = o.valid & (pos_out == chosen)
    at_diff = o.valid & (pos_out == chosen + D)
    return m, dut, checks, at_sum, at_diff, out_inv


def model(cfg, stage, mutation=None):
    m, dut, checks, at_sum, at_diff, out_inv = _stage_harness(cfg, stage, mutation, False)
    iw, o = cfg.internal_width, dut.o
    for part in ("re", "im"):
        s, d = checks[part]
        got = getattr(o.payload, part)
        m.d.comb += [Assert(~at_sum | (got == spec.wrap(s, iw)), f"{part}: the model's half-sum"),
                     Assert(~at_diff | (got == spec.wrap(d, iw)),
                            f"{part}: the model's half-difference")]
    m.d.comb += Assert(~o.valid | (o.payload.inv == out_inv), "the frame's inverse flag")
    return m


def no_overflow(cfg, stage, mutation=None):
    m, dut, checks, at_sum, at_diff, _ = _stage_harness(cfg, stage, mutation, True)
    o = dut.o
    for part in ("re", "im"):
        s, d = checks[part]
        got = getattr(o.payload, part)
        m.d.comb += [Assert(~at_sum | (got == s), f"{part}: the exact half-sum"),
                     Assert(~at_diff | (got == d), f"{part}: the exact half-difference")]
    return m


def cover(cfg, stage, mutation=None):
    m, dut, checks, at_sum, at_diff, _ = _stage_harness(cfg, stage, mutation, True)
    # a second frame's sum, and a difference that left by the stage's drain (no next
    # frame has begun)
    m.d.comb += [Cover(at_sum & (checks["re"][0] != 0) & (dut.o.payload.inv == 1)),
                 Cover(at_diff & (checks["im"][1] != 0) & ~dut.i.valid)]
    return m


def half_sum_proof(width, rounding, mutation=None):
    m = Module()
    built = _other(rounding) if mutation == "rounding" else rounding
    a, b = AnySeq(signed(width)), AnySeq(signed(width))
    m.d.comb += Assert(half_sum(a, b, built) == spec.round_shift(a + b, 1, rounding),
                       "half_sum = round_shift(a + b, 1)")
    return m


def _stage_props(points, width, stage, depth, slow, rounding="half_up"):
    cfg = FFTConfig(points=points, width=width, rounding=rounding)
    D = cfg.span(stage)
    tag = f"w{width}_d{D}" + ("" if rounding == "half_up" else f"_{rounding}")
    params = {"points": points, "width": width, "stage": stage, "span": D, "rounding": rounding}

    def p(what, mode, fn, mutation, doc, d=depth):
        return FormalProperty(name=f"butterfly.{what}_{tag}", component="ButterflyStage",
                              params=params, mode=mode, depth=d,
                              harness=lambda mutation=None: fn(cfg, stage, mutation),
                              mutation=mutation, what=doc, slow=slow)
    return [
        p("model", "bmc", model, "rounding",
          "outputs = the model's wrap(round_shift(a +- b, 1)), any input"),
        # truncation cannot overflow for any input (floor((a +- b) / 2) of two
        # iw-bit words is an iw-bit word), so a wider range breaks nothing there:
        # its mutant is the other rounding, whose outputs are not the exact ones
        p("no_overflow", "bmc", no_overflow,
          "rounding" if rounding == "truncate" else "widened_range",
          "inputs in the documented range: outputs exact (nothing wraps)"),
        p("cover", "cover", cover, "deaf",
          "covered: a checked half-sum of an inverse frame, a checked difference drained"),
    ]


def _half_sum_prop(width, rounding, slow):
    return FormalProperty(name=f"butterfly.half_sum_w{width}_{rounding}", component="half_sum",
                          params={"width": width, "rounding": rounding}, mode="prove", depth=1,
                          harness=lambda mutation=None: half_sum_proof(width, rounding, mutation),
                          mutation="rounding",
                          what="the stage's adder = round_shift(a + b, 1), every operand",
                          slow=slow)


PROPERTIES = (
    _stage_props(8, 8, 2, 8, slow=False)                    # D = 1
    + [_half_sum_prop(9, "half_up", slow=False)]
    + _stage_props(8, 8, 1, 12, slow=True)                  # D = 2
    + _stage_props(8, 16, 2, 10, slow=True)
    + _stage_props(8, 17, 2, 10, slow=True)
    + _stage_props(8, 18, 2, 10, slow=True)
    + _stage_props(8, 16, 1, 12, slow=True)
    + _stage_props(8, 16, 2, 10, slow=True, rounding="half_even")
    + _stage_props(8, 16, 2, 10, slow=True, rounding="truncate")
    + [_half_sum_prop(w, r, slow=True) for w in (17, 18, 19)
       for r in ("half_up", "half_even", "truncate")]
)
