"""``RealFFT``: bins 0..k/2 of real blocks, two real samples per clock.

Model twin: :func:`circnn.sim.model.real_fft.real_fft` (and
:func:`~circnn.sim.model.real_fft.real_spectrum_post` for
:class:`RealSpectrumPost`).

A real block of ``k`` samples enters as ``k/2`` pairs ``(x[2n], x[2n+1])``,
is transformed as one ``k/2``-point complex frame by :class:`FFT`, and
:class:`RealSpectrumPost` splits the result into the packed real spectrum:
``k/2`` words per block in natural order, word 0 = ``(X[0], X[k/2]) / k``,
word f = ``X[f] / k``.  Throughput: one block per ``k/2`` clocks, i.e. two
real samples in and one spectrum word out per clock; full back-pressure.
"""

from amaranth.hdl import Cat, Module, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import RealFFTConfig, post_twiddles

from .complex import complex_layout
from .fft import FFT, fft_output_layout
from .spectrum_pair import SpectrumPairStage

__all__ = ["RealFFT", "RealSpectrumPost", "real_input_layout", "spectrum_layout"]


def real_input_layout(cfg: RealFFTConfig):
    return data.StructLayout({"x0": signed(cfg.width), "x1": signed(cfg.width)})


def spectrum_layout(cfg: RealFFTConfig):
    return complex_layout(cfg.output_width, last=1)


class RealSpectrumPost(SpectrumPairStage):
    """Bit-reversed ``Z/N`` frames in, packed natural-order ``X/k`` frames out.

    The :class:`SpectrumPairStage` with ``S = Z`` written in bit-reversed
    order (reversing the index bits is wiring on the write address), the
    rotation ``V_f = -j W_k^f`` (``V_0 = -j`` and ``V_{k/4} = -1`` exact),
    and word 0 packed as ``(X[0], X[k/2]) = ((e + t)/2, (e - t)/2)`` real parts.
    """

    def __init__(self, cfg: RealFFTConfig):
        super().__init__(cfg, fft_output_layout(cfg.core), spectrum_layout(cfg),
                         cfg.internal_width)

    def write_position(self, wpos, bits):
        return Cat(*[wpos[b] for b in reversed(range(bits))])

    def rotation_codes(self):
        v_re, v_im = post_twiddles(self.cfg)
        return v_re.tolist(), v_im.tolist()

    def exact_rotations(self, m, fx, o, t, e, e_next):
        iw = self.cfg.internal_width
        # -v = ~(v - 1): no inverter in front of the carry chain
        wrapped_neg = lambda v: (~(v - 1))[:iw].as_signed()
        with m.If(fx == 0):        # V_0 = -j; word 0 leaves as ((e + t) / 2, (e - t) / 2)
            # of real parts: its output sum takes -t.re (exact, in t's extra bit) and
            # e.re in the imaginary lane
            m.d.sync += [t.re.eq(o.im), t.im.eq(~(o.im - 1)), e_next.im.eq(e.re)]
        with m.Elif(fx == self.cfg.half // 2):  # V_{k/4} = -1
            m.d.sync += [t.re.eq(wrapped_neg(o.re)), t.im.eq(wrapped_neg(o.im))]


class RealFFT(wiring.Component):
    """Real-input FFT: ``k/2`` sample pairs in, ``k/2`` packed spectrum words out."""

    def __init__(self, cfg: RealFFTConfig):
        if not isinstance(cfg, RealFFTConfig):
            raise TypeError("cfg must be a RealFFTConfig")
        self.cfg = cfg
        super().__init__({
            "i": In(stream.Signature(real_input_layout(cfg))),
            "o": Out(stream.Signature(spectrum_layout(cfg))),
        })

    def elaborate(self, platform):
        m = Module()
        core = m.submodules.core = FFT(self.cfg.core)
        post = m.submodules.post = RealSpectrumPost(self.cfg)
        m.d.comb += [
            core.i.valid.eq(self.i.valid), self.i.ready.eq(core.i.ready),
            core.i.payload.re.eq(self.i.payload.x0), core.i.payload.im.eq(self.i.payload.x1),
            core.i.payload.inverse.eq(0),
        ]
        wiring.connect(m, core.o, post.i)
        wiring.connect(m, post.o, wiring.flipped(self.o))
        return m

