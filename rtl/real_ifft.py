"""``RealIFFT``: real blocks from their packed spectra, two real samples per clock.

Model twin: :func:`circnn.sim.model.real_fft.real_ifft` (and
:func:`~circnn.sim.model.real_fft.real_spectrum_pre` for
:class:`RealSpectrumPre`).

The output side of the accelerator.  A block's packed spectrum enters as
``k/2`` words in natural order (word 0 = ``(X[0], X[k/2])`` as ``(re, im)``,
word f = ``X[f]``; ``width`` bits each, no ``last``: frames are counted).
:class:`RealSpectrumPre` merges it into ``Z/2``, the ``k/2``-point spectrum
of ``z[n] = x[2n] + j x[2n+1]`` (halved), the complex :class:`FFT` runs it
in inverse mode, and a :class:`FrameReorder` turns the bit-reversed result
into natural order: ``k/2`` pairs ``(x[2n], x[2n+1])`` of ``width + 2``
bits, ``last`` on each block's final pair.  The result is ``irfft(X) / 2``.
Throughput: one block per ``k/2`` clocks; full back-pressure.
"""

from amaranth.hdl import Module, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import RealIFFTConfig, twiddle_table

from .arith import round_shift
from .complex import complex_layout
from .fft import FFT
from .reorder import FrameReorder
from .spectrum_pair import SpectrumPairStage
from .stream_register import StreamRegister

__all__ = ["RealIFFT", "RealSpectrumPre", "packed_input_layout", "merged_layout",
           "real_output_layout"]


def packed_input_layout(cfg: RealIFFTConfig):
    """One packed spectrum word: ``{re, im}`` of ``width`` bits."""
    return complex_layout(cfg.width)


def merged_layout(cfg: RealIFFTConfig):
    """One word of ``Z/2``: ``{re, im}`` of ``width + 1`` bits, ``last`` per frame."""
    return complex_layout(cfg.internal_width, last=1)


def real_output_layout(cfg: RealIFFTConfig):
    """One output pair ``(x[2n], x[2n+1])`` of ``width + 2`` bits, ``last`` per block."""
    return data.StructLayout({"x0": signed(cfg.output_width), "x1": signed(cfg.output_width),
                              "last": 1})


class RealSpectrumPre(SpectrumPairStage):
    """Packed natural-order ``X`` frames in, natural-order ``Z/2`` frames out.

    The :class:`SpectrumPairStage` with ``S = X`` written in natural order,
    the rotation ``conj(V_f) = (-sin, cos)`` of the k-point twiddle ROM codes
    (``conj(V_{k/4}) = -1`` exact), and word 0 = ``(X[0], X[N])`` merged into
    ``((X[0] + X[N]) / 4, (X[0] - X[N]) / 4)``: the mirror of
    :class:`circnn.rtl.real_fft.RealSpectrumPost`.
    """

    def __init__(self, cfg: RealIFFTConfig):
        if not isinstance(cfg, RealIFFTConfig):
            raise TypeError("cfg must be a RealIFFTConfig")
        super().__init__(cfg, packed_input_layout(cfg), merged_layout(cfg), cfg.width)

    def write_position(self, wpos, bits):
        return wpos

    def rotation_codes(self):
        cos, msin = twiddle_table(self.cfg.points, self.cfg.twiddle_width)
        N = self.cfg.half
        return msin[:N].tolist(), cos[:N].tolist()

    def word0_sums(self, m, a, e3):
        # word 0 = (X[0], X[N]): e carries the exact sum and difference
        # (width + 1 bits) to the last stage, which divides them by 4
        m.d.sync += [e3.re.eq(a.re + a.im), e3.im.eq(a.re - a.im)]

    def exact_rotations(self, m, fx, o, t, e, e_next):
        iw = self.cfg.internal_width
        with m.If(fx == self.cfg.half // 2):   # conj(V_{k/4}) = -1 (-v = ~(v - 1): no
            # inverter in front of the carry chain)
            m.d.sync += [t.re.eq((~(o.re - 1))[:iw].as_signed()),
                         t.im.eq((~(o.im - 1))[:iw].as_signed())]

    def word0_output(self, m, out, e, t):
        iw, r = self.cfg.internal_width, self.cfg.rounding
        m.d.sync += [out.re.eq(round_shift(e.re, 2, r)[:iw].as_signed()),
                     out.im.eq(round_shift(e.im, 2, r)[:iw].as_signed())]


class RealIFFT(wiring.Component):
    """Inverse real FFT: ``k/2`` packed spectrum words in, ``k/2`` sample pairs out."""

    def __init__(self, cfg: RealIFFTConfig):
        if not isinstance(cfg, RealIFFTConfig):
            raise TypeError("cfg must be a RealIFFTConfig")
        self.cfg = cfg
        super().__init__({
            "i": In(stream.Signature(packed_input_layout(cfg))),
            "o": Out(stream.Signature(real_output_layout(cfg))),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        pre = m.submodules.pre = RealSpectrumPre(cfg)
        core = m.submodules.core = FFT(cfg.core)
        pair = data.StructLayout({"x0": signed(cfg.output_width), "x1": signed(cfg.output_width)})
        reorder = m.submodules.reorder = FrameReorder(cfg.half, pair, "bit_reverse")
        wiring.connect(m, wiring.flipped(self.i), pre.i)
        # a register slice between the merge stage's queue and the core: the core's
        # `ready` is a credit of its output queue, at the far end of its pipeline,
        # and must not reach the merge queue's read logic in the same clock
        link = m.submodules.core_link = StreamRegister(pre.o.payload.shape())
        wiring.connect(m, pre.o, link.i)
        m.d.comb += [
            core.i.valid.eq(link.o.valid), link.o.ready.eq(core.i.ready),
            core.i.payload.re.eq(link.o.payload.re), core.i.payload.im.eq(link.o.payload.im),
            core.i.payload.inverse.eq(1),
            reorder.i.valid.eq(core.o.valid), core.o.ready.eq(reorder.i.ready),
            reorder.i.payload.x0.eq(core.o.payload.re), reorder.i.payload.x1.eq(core.o.payload.im),
        ]
        wiring.connect(m, reorder.o, wiring.flipped(self.o))
        return m

