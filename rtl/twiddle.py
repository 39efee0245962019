"""``TwiddleStage``: multiplies a butterfly stage's differences by their twiddles.

Model twin: :func:`circnn.sim.model.fft.twiddle_multiply`; the ROM contents
come from :func:`circnn.sim.model.fft.twiddle_table` (the twiddle ROM
generator), so RTL and model use the same codes.

A butterfly stage of span ``D`` emits frames of ``D`` sums (passed through)
and ``D`` differences; difference ``n`` is multiplied by ``W_{2D}^n``.
Twiddle 1 (n = 0) and -j (n = D/2) are applied exactly by wiring; the
others take a :class:`TwiddleMultiplier` (the stage's twiddle ROM and an
exact complex multiplier: three MULT18X18D, or adders only where
``FFTConfig.uses_shift_add`` says so, and the registered rounding back to the
internal width).  The output register only chooses between the rounded
product and the bypass, whose -j rotation is done as it leaves the first
register; so no path here has more than a carry chain and a LUT.  Every sample, multiplied or not, takes the same
``latency`` clocks, so order is kept.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import MAX_OPERAND_BITS, FFTConfig, stage_twiddles

from .arith import round_shift
from .butterfly import stage_layout
from .delay import delay
from .twiddle_multiplier import TwiddleMultiplier

__all__ = ["TwiddleStage", "stage_twiddles"]

PASS, MINUS_J, MULTIPLY = 0, 1, 2


class TwiddleStage(wiring.Component):
    """Twiddle unit of one stage (``D >= 2``).

    Stages with ``D = 2`` have only the twiddles 1 and -j: they get a
    one-register exact rotator and no multiplier.
    """

    #: ROM/data register, multiplier and rounding, output multiplexer.
    FULL_LATENCY = 1 + TwiddleMultiplier.latency + 1

    @classmethod
    def latency_of(cls, cfg: FFTConfig, stage: int) -> int:
        return cls.FULL_LATENCY if cfg.has_multiplier(stage) else 1

    def __init__(self, cfg: FFTConfig, stage: int):
        self.cfg = cfg
        self.stage = stage
        self.span = cfg.span(stage)
        if self.span < 2:
            raise ValueError("a stage with D = 1 has no twiddles")
        self.latency = self.latency_of(cfg, stage)
        layout = stage_layout(cfg)
        super().__init__({
            "i": In(stream.Signature(layout, always_ready=True)),
            "o": Out(stream.Signature(layout, always_ready=True)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, D = self.cfg, self.span
        iw, tw = cfg.internal_width, cfg.twiddle_width
        layout = stage_layout(cfg)
        aw = min(iw, MAX_OPERAND_BITS)

        # Position within the stage's 2D-sample output frame.
        idx = Signal(range(2 * D))
        with m.If(self.i.valid):
            m.d.sync += idx.eq(idx + 1)
        is_diff = idx >= D
        n = Signal(range(D))
        m.d.comb += n.eq(idx - D)
        kind = Signal(2)
        with m.If(~is_diff | (n == 0)):
            m.d.comb += kind.eq(PASS)
        with m.Elif(n == D // 2):
            m.d.comb += kind.eq(MINUS_J)
        with m.Else():
            m.d.comb += kind.eq(MULTIPLY)

        if not cfg.has_multiplier(self.stage):
            return self._elaborate_trivial(m, kind)

        # Stage 1: twiddle ROM read (addressed now) and data register, aligned.
        cm = m.submodules.tmul = TwiddleMultiplier(
            aw, tw, stage_twiddles(cfg, self.stage), cfg.multiplied_twiddles(self.stage),
            shift_add=cfg.uses_shift_add(self.stage), shift=tw - 1 - cfg.mult_shift,
            rounding=cfg.rounding, q_width=iw)
        m.d.comb += cm.addr.eq(n)

        d1 = Signal(layout)
        v1 = Signal()
        k1 = Signal(2)
        m.d.sync += [d1.eq(self.i.payload), v1.eq(self.i.valid), k1.eq(kind)]

        # Operands: at most 18 bits (rounded first when the datapath is wider).
        m.d.comb += [
            cm.a.re.eq(round_shift(d1.re, cfg.mult_shift, cfg.rounding)[:aw].as_signed()),
            cm.a.im.eq(round_shift(d1.im, cfg.mult_shift, cfg.rounding)[:aw].as_signed()),
        ]

        # Bypass path: the samples not multiplied, rotated by -j where needed as they
        # leave d1 (-re = ~(re - 1): an adder of a constant and the inverter in the
        # multiplexer, no inverter in front of the carry chain), then delayed like
        # the product; one bit says which of the two the output takes.
        L = TwiddleMultiplier.latency
        d2 = Signal(layout)
        v2, mul2 = Signal(), Signal()
        m.d.sync += [d2.eq(d1), v2.eq(v1), mul2.eq(k1 == MULTIPLY)]
        with m.If(k1 == MINUS_J):
            m.d.sync += [d2.re.eq(d1.im), d2.im.eq(~(d1.re - 1)[:iw])]
        dq, vq, mulq = (delay(m, d2, L - 1, "d"), delay(m, v2, L - 1, "v"),
                        delay(m, mul2, L - 1, "mul"))
        m.d.sync += [self.o.payload.eq(dq), self.o.valid.eq(vq)]
        with m.If(mulq):
            m.d.sync += [self.o.payload.re.eq(cm.q.re), self.o.payload.im.eq(cm.q.im)]
        return m

    def _elaborate_trivial(self, m, kind):
        iw = self.cfg.internal_width
        x = self.i.payload
        m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(x)]
        with m.If(kind == MINUS_J):
            # -re = ~(re - 1): no inverter in front of the carry chain
            m.d.sync += [self.o.payload.re.eq(x.im), self.o.payload.im.eq(~(x.re - 1)[:iw])]
        return m
