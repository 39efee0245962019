"""``ButterflyStage``: one radix-2 decimation-in-frequency stage, single-path delay feedback.

Model twin: :func:`circnn.sim.model.fft.fft_stage` (butterfly part) and
:func:`circnn.sim.model.fft.butterfly`.

The stage sees frames of ``2D`` samples.  The first ``D`` samples of a frame
go into a ``D``-deep delay line; each of the last ``D`` meets its partner
``x[n]`` at the head of the line: the rounded half-sum leaves at once and the
half-difference takes the partner's place in the line.  Those differences
leave while the next frame's first half enters, so a stage's output per
frame is ``D`` sums then ``D`` differences.

The pipeline never stalls (``valid`` bubbles flow through it; the FFT's
output queue provides back-pressure).  When no input arrives at a frame
boundary the stage *drains*: it emits the pending differences on its own,
so the last frame of a burst leaves without waiting for another frame.
Only at a frame boundary, because a first half must enter the line
contiguously; the line is full of drained slots at most, which the next
frame's first half pushes out unseen.

Timing (every path between registers is at most one carry chain and one
LUT, and the line's clock enable is a flip-flop):

* ``i`` is registered first (``x``, ``v``), so that the line's shift enable
  for the next clock can be computed from ``i.valid`` and registered:
  the enable of the ``D`` x ``2(w + 2)`` line flip-flops (``w`` the
  internal width) leaves a flip-flop, with no logic on its long, wide
  route.  Which slots hold a difference still to leave is a tag bit
  travelling with each slot (in place of a counter and its compares);
* the line holds **complements**: a first-half sample ``a`` enters as
  ``~a`` (free in the multiplexer in front of the line), so that its
  partner's difference is formed without an inverter in front of the
  carry chain, ``~(a - b) = b + ~a``, and enters the line as such, exactly
  (``w + 1`` bits, unrounded): the loop from the line's head back to its
  tail is one carry chain and one multiplexer;
* the output register takes ``(a + b + 1) / 2`` (second half: ``~head +
  x + 1``) or ``(d + 1) / 2`` (first half: the difference ``d = ~head``):
  one adder whose carry in is the half-LSB of ``half_up``, so the rounding
  costs no second carry chain; ``truncate`` takes no carry in;
  ``half_even`` (its increment depends on the sum's bits) rounds in one
  more register.

Latency: :meth:`latency_of` (2 clocks, 3 with ``half_even``) from a
second-half sample on ``i`` to its half-sum on ``o``.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, Value, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import FFTConfig, Rounding

from .arith import half_sum, round_shift
from .complex import complex_layout
from .delay import delay

__all__ = ["ButterflyStage", "stage_layout"]


def stage_layout(cfg: FFTConfig):
    """Internal sample: ``width + 1``-bit re/im plus the frame's inverse flag."""
    return complex_layout(cfg.internal_width, inv=1)


def _extend(value, width: int) -> Value:
    """A signed ``value`` sign-extended to ``width`` bits."""
    value = Value.cast(value)
    return Cat(value, value[-1].replicate(width - len(value))).as_signed()


class ButterflyStage(wiring.Component):
    @staticmethod
    def latency_of(cfg: FFTConfig) -> int:
        """Clocks from a second-half sample on ``i`` to its half-sum on ``o``: the input
        register, the output register (and the rounding register of ``half_even``)."""
        return 3 if Rounding.parse(cfg.rounding) is Rounding.HALF_EVEN else 2

    def __init__(self, cfg: FFTConfig, stage: int):
        self.cfg = cfg
        self.stage = stage
        self.span = cfg.span(stage)
        self.latency = self.latency_of(cfg)
        layout = stage_layout(cfg)
        super().__init__({
            "i": In(stream.Signature(layout, always_ready=True)),
            "o": Out(stream.Signature(layout, always_ready=True)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, D = self.cfg, self.span
        iw = cfg.internal_width
        ew = iw + 1                       # a sum or difference, exact
        rounding = Rounding.parse(cfg.rounding)
        layout = stage_layout(cfg)

        # --- input register ----------------------------------------------
        x = Signal(layout, name="x")
        v = Signal(name="v")
        m.d.sync += [x.eq(self.i.payload), v.eq(self.i.valid)]

        # --- frame position: flags of registers only ------------------------
        pos = Signal(range(2 * D))        # position of x in its frame (wraps)
        first = Signal(init=1)            # pos == 0
        last = Signal()                   # pos == 2D - 1
        second_half = pos[-1]             # pos >= D (D is a power of two)
        with m.If(v):
            m.d.sync += [pos.eq(pos + 1), first.eq(last), last.eq(pos == 2 * D - 2)]

        # --- the delay line ------------------------------------------------
        # Data: complements of first-half samples, complements of exact
        # differences.  Tag: the slot holds a difference not yet emitted (reset,
        # so that an idle stage drains nothing).
        shift = Signal()                  # the line shifts this clock (a register)
        line_layout = data.StructLayout({"re": signed(ew), "im": signed(ew), "inv": 1})
        push = Signal(line_layout, name="line_in")
        head = self._register_line(m, push, D, shift)
        tag_in = second_half              # a shift in the second half pushes a difference
        tag_before = delay(m, tag_in, D - 1, "tag", enable=shift)
        tag_head = delay(m, tag_before, 1, "tag_head", enable=shift)

        # shift: an input sample, or (at a frame boundary only) a pending difference
        # to drain.  Registered: computed from the values v, first and tag_head take
        # next clock.
        first_next = Mux(v, last, first)
        tag_next = Mux(shift, tag_before, tag_head)
        m.d.sync += shift.eq(self.i.valid | (first_next & tag_next))

        # loop: second half ~(a - b) = b + ~a (no inverter before the adder), first
        # half ~x (the inverter is in the multiplexer)
        for part in ("re", "im"):
            xp, hp = getattr(x, part), getattr(head, part)
            m.d.comb += getattr(push, part).eq(
                Mux(second_half, (_extend(xp, ew) + hp)[:ew], ~_extend(xp, ew)))
        m.d.comb += push.inv.eq(x.inv)

        # --- output: (a + b) / 2 or d / 2, rounded -------------------------
        # ~head is a (second half: head = ~a) or d (first half: head = ~d)
        out_valid = shift & (tag_head | second_half)
        out_inv = Mux(second_half, x.inv, head.inv)
        terms = {}
        for part in ("re", "im"):
            xp, hp = getattr(x, part), getattr(head, part)
            terms[part] = (Mux(second_half, _extend(xp, ew), 0), ~hp)
        if rounding is Rounding.HALF_EVEN:
            # its increment depends on the sum's bits: the exact sum, then the rounding
            r1 = Signal(line_layout, name="sum")
            r1_valid = Signal(name="sum_valid")
            m.d.sync += [r1.re.eq(terms["re"][0] + terms["re"][1]),
                         r1.im.eq(terms["im"][0] + terms["im"][1]),
                         r1.inv.eq(out_inv), r1_valid.eq(out_valid)]
            m.d.sync += [
                self.o.payload.re.eq(round_shift(r1.re, 1, rounding)[:iw]),
                self.o.payload.im.eq(round_shift(r1.im, 1, rounding)[:iw]),
                self.o.payload.inv.eq(r1.inv), self.o.valid.eq(r1_valid),
            ]
        else:
            # one adder: the half LSB is its carry in
            m.d.sync += [
                self.o.payload.re.eq(half_sum(*terms["re"], rounding)[:iw]),
                self.o.payload.im.eq(half_sum(*terms["im"], rounding)[:iw]),
                self.o.payload.inv.eq(out_inv), self.o.valid.eq(out_valid),
            ]
        return m

    @staticmethod
    def _register_line(m, push, D, shift):
        """The delay line: a shift register of flip-flops with a clock enable.

        Flip-flops cost no LUTs.  Measured alternatives were worse on
        LFE5U-85F-6: rings in LUT RAM (64 points: 3200 LUT4 at 147 MHz
        against 2881 at 154 MHz) and in block RAM (256 points: 82 MHz, the
        unregistered DP16KD output alone takes 5.6 ns).
        """
        # The line holds data only: no reset needed (the tags say what is valid).
        return delay(m, push, D, "line", enable=shift, reset_less=True)
