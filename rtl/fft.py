"""``FFT``: a pipelined radix-2 FFT/IFFT, one complex sample per clock, streaming.

Model twin: :func:`circnn.sim.fft_model.fft`.

Dataflow (see ``docs/fft.md``)::

    i ─► frame mode, swap if inverse, sign-extend to width+1 ─►
         ButterflyStage(D=N/2) ─► TwiddleStage ─► ButterflyStage(D=N/4) ─► ... ─►
         ButterflyStage(D=1) ─► swap back if inverse ─► output FIFO ─► o

* input frames of ``points`` samples in natural order; output in
  bit-reversed order (position p carries bin ``bit_reverse(N)[p]``), with
  ``last`` on each frame's final sample;
* ``inverse`` is read from each frame's first sample and applies to the
  whole frame (forward: ``FFT(x)/N``, inverse: ``IFFT(x)``);
* outputs are ``width + 1`` bits (the guard bit; never overflows);
* back-pressure: the stage pipeline never stalls; a FIFO at its end is
  sized so that every sample admitted has a reserved slot (credit
  counting), so ``i.ready`` falls only when the FIFO could fill up.
  Random idle cycles on ``i`` and stalls on ``o`` lose nothing.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.designs import TARGETS, register
from circnn.params import Param, check_choice
from circnn.sim.fft_model import ROUNDINGS, FFTConfig

from .butterfly import ButterflyStage, stage_layout
from .complex import complex_layout
from .twiddle import TwiddleStage

__all__ = ["FFT", "fft_input_layout", "fft_output_layout"]


def fft_input_layout(cfg: FFTConfig):
    return complex_layout(cfg.width, inverse=1)


def fft_output_layout(cfg: FFTConfig):
    return complex_layout(cfg.output_width, inverse=1, last=1)


class FFT(wiring.Component):
    def __init__(self, cfg: FFTConfig, target: str = "generic"):
        if not isinstance(cfg, FFTConfig):
            raise TypeError("cfg must be an FFTConfig")
        self.cfg = cfg
        self.target = check_choice("target", target, TARGETS)
        self.stage_latency = 1 + sum(
            ButterflyStage.latency + (TwiddleStage.latency_of(cfg, s) if cfg.span(s) >= 2 else 0)
            for s in range(cfg.stages)) + 1
        #: Samples that can be inside the pipeline: the delay lines (N - 1)
        #: plus the register stages; the FIFO reserves a slot for each.
        self.fifo_depth = cfg.points + self.stage_latency + 4
        super().__init__({
            "i": In(stream.Signature(fft_input_layout(cfg))),
            "o": Out(stream.Signature(fft_output_layout(cfg))),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        N = cfg.points
        layout = stage_layout(cfg)

        # --- admission: credit check against the output FIFO -------------
        m.submodules.out_fifo = out_fifo = fifo.SyncFIFOBuffered(
            width=fft_output_layout(cfg).size - 1, depth=self.fifo_depth)
        # credits = FIFO slots not yet promised to a sample: one counter, so
        # that i.ready is a register compare (the sum inflight + level would
        # put two adders between o.ready and i.ready).
        credits = Signal(range(self.fifo_depth + 1), init=self.fifo_depth)
        accept = Signal()
        released = Signal()
        written = Signal()
        m.d.comb += [
            self.i.ready.eq(credits != 0),
            accept.eq(self.i.valid & self.i.ready),
            released.eq(self.o.valid & self.o.ready),
        ]
        m.d.sync += credits.eq(credits - accept + released)

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
        valid, payload = head_valid, head
        for s in range(cfg.stages):
            bf = ButterflyStage(cfg, s)
            m.submodules[f"butterfly{s}"] = bf
            m.d.comb += [bf.i.valid.eq(valid), bf.i.payload.eq(payload)]
            valid, payload = bf.o.valid, bf.o.payload
            if cfg.span(s) >= 2:
                tw = TwiddleStage(cfg, s, self.target)
                m.submodules[f"twiddle{s}"] = tw
                m.d.comb += [tw.i.valid.eq(valid), tw.i.payload.eq(payload)]
                valid, payload = tw.o.valid, tw.o.payload

        # --- swap back, into the FIFO --------------------------------------
        tail = Signal(complex_layout(cfg.output_width, inverse=1))
        m.d.sync += [written.eq(valid), tail.re.eq(payload.re), tail.im.eq(payload.im),
                     tail.inverse.eq(payload.inv)]
        with m.If(payload.inv):
            m.d.sync += [tail.re.eq(payload.im), tail.im.eq(payload.re)]
        m.d.comb += [out_fifo.w_en.eq(written), out_fifo.w_data.eq(tail.as_value())]

        # --- output stream with frame markers ----------------------------
        out_pos = Signal(range(N))
        m.d.comb += [
            self.o.valid.eq(out_fifo.r_rdy),
            self.o.payload.as_value()[:-1].eq(out_fifo.r_data),
            self.o.payload.last.eq(out_pos == N - 1),
            out_fifo.r_en.eq(self.o.ready),
        ]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += out_pos.eq(out_pos + 1)
        return m


def _fft_config(params) -> FFTConfig:
    return FFTConfig(params["points"], params["width"], params["twiddle_width"], params["rounding"])


@register(
    "fft",
    description="pipelined radix-2 FFT/IFFT, one complex sample per clock, bit-reversed output",
    params=[
        Param("points", 16, "transform size N", 4, 256, power_of_two=True),
        Param("width", 16, "input sample width (outputs are width+1 bits)", 8, 18),
        Param("twiddle_width", 16, "twiddle width", 8, 18),
        Param("rounding", "half_up", "rounding of every scaling step", choices=ROUNDINGS, kind=str),
    ],
    lint_params={"points": 8, "width": 8, "twiddle_width": 8},
    validate=_fft_config,
)
def _build(params, target):
    return FFT(_fft_config(params), target)
