"""``FFT``: a pipelined radix-2 FFT/IFFT, one complex sample per clock, streaming.

Model twin: :func:`circnn.sim.model.fft.fft`.

Dataflow (see ``docs/fft.md``)::

    i ─► frame mode, swap if inverse, sign-extend to width+1 ─►
         ButterflyStage(D=N/2) ─► TwiddleStage ─► ButterflyStage(D=N/4) ─► ... ─►
         ButterflyStage(D=1) ─► swap back if inverse ─► CreditQueue ─► o

* input frames of ``points`` samples in natural order; output in
  bit-reversed order (position p carries bin ``bit_reverse(N)[p]``), with
  ``last`` on each frame's final sample;
* ``inverse`` is read from each frame's first sample and applies to the
  whole frame (forward: ``FFT(x)/N``, inverse: ``IFFT(x)``);
* outputs are ``width + 1`` bits (the guard bit; never overflows);
* back-pressure: the stage pipeline never stalls; a :class:`CreditQueue`
  at its end has a slot reserved for every sample admitted, so ``i.ready``
  falls only when the queue could fill up.  Random idle cycles on ``i`` and
  stalls on ``o`` lose nothing.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import FFTConfig

from .butterfly import ButterflyStage, stage_layout
from .complex import complex_layout
from .credit_queue import CreditQueue, queue_depth
from .twiddle import TwiddleStage

__all__ = ["FFT", "fft_input_layout", "fft_output_layout"]


def fft_input_layout(cfg: FFTConfig):
    return complex_layout(cfg.width, inverse=1)


def fft_output_layout(cfg: FFTConfig):
    return complex_layout(cfg.output_width, inverse=1, last=1)


class FFT(wiring.Component):
    def __init__(self, cfg: FFTConfig):
        if not isinstance(cfg, FFTConfig):
            raise TypeError("cfg must be an FFTConfig")
        self.cfg = cfg
        #: Clocks from the input register through the stages into the queue.
        self.stage_latency = 1 + sum(
            ButterflyStage.latency_of(cfg)
            + (TwiddleStage.latency_of(cfg, s) if cfg.span(s) >= 2 else 0)
            for s in range(cfg.stages)) + 1
        #: Samples that can be inside the pipeline: the delay lines (N - 1)
        #: plus the register stages; the queue reserves a slot for each.
        self.queue_depth = queue_depth(cfg.points + self.stage_latency)
        super().__init__({
            "i": In(stream.Signature(fft_input_layout(cfg))),
            "o": Out(stream.Signature(fft_output_layout(cfg))),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        N = cfg.points
        layout = stage_layout(cfg)

        # --- admission: a credit of the output queue per sample -----------
        tail_layout = complex_layout(cfg.output_width, inverse=1)
        m.submodules.queue = queue = CreditQueue(tail_layout, self.queue_depth)
        accept = Signal()
        m.d.comb += [
            self.i.ready.eq(queue.can_admit),
            accept.eq(self.i.valid & self.i.ready),
            queue.admit.eq(accept),
        ]

        # --- frame mode and input swap -----------------------------------
        in_pos = Signal(range(N))
        frame_inverse = Signal()
        inverse = Signal()
        m.d.comb += inverse.eq(frame_inverse)
        with m.If(in_pos == 0):
            m.d.comb += inverse.eq(self.i.payload.inverse)
        with m.If(accept):
            m.d.sync += in_pos.eq(in_pos + 1)
            with m.If(in_pos == 0):
                m.d.sync += frame_inverse.eq(self.i.payload.inverse)

        head = Signal(layout)
        head_valid = Signal()
        x = self.i.payload
        m.d.sync += [
            head_valid.eq(accept),
            head.re.eq(x.re), head.im.eq(x.im), head.inv.eq(inverse),
        ]
        with m.If(inverse):
            m.d.sync += [head.re.eq(x.im), head.im.eq(x.re)]

        # --- the stage chain ---------------------------------------------
        stages = []
        for s in range(cfg.stages):
            m.submodules[f"butterfly{s}"] = butterfly = ButterflyStage(cfg, s)
            stages.append(butterfly)
            if cfg.span(s) >= 2:
                m.submodules[f"twiddle{s}"] = twiddle = TwiddleStage(cfg, s)
                stages.append(twiddle)
        m.d.comb += [stages[0].i.valid.eq(head_valid), stages[0].i.payload.eq(head)]
        for before, after in zip(stages, stages[1:]):
            wiring.connect(m, before.o, after.i)
        valid, payload = stages[-1].o.valid, stages[-1].o.payload

        # --- swap back, into the queue ------------------------------------
        tail = queue.i.payload
        m.d.sync += [queue.i.valid.eq(valid), tail.re.eq(payload.re), tail.im.eq(payload.im),
                     tail.inverse.eq(payload.inv)]
        with m.If(payload.inv):
            m.d.sync += [tail.re.eq(payload.im), tail.im.eq(payload.re)]

        # --- output stream with frame markers ----------------------------
        out_pos = Signal(range(N))
        m.d.comb += [
            self.o.valid.eq(queue.o.valid),
            self.o.payload.re.eq(queue.o.payload.re), self.o.payload.im.eq(queue.o.payload.im),
            self.o.payload.inverse.eq(queue.o.payload.inverse),
            self.o.payload.last.eq(out_pos == N - 1),
            queue.o.ready.eq(self.o.ready),
        ]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += out_pos.eq(out_pos + 1)
        return m

