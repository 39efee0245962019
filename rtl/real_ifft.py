"""``RealIFFT``: real blocks from their packed spectra, two real samples per clock.

Model twin: :func:`circnn.sim.real_fft_model.real_ifft` (and
:func:`~circnn.sim.real_fft_model.real_spectrum_pre` for
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

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.designs import TARGETS, register
from circnn.params import Param, check_choice
from circnn.sim.fft_model import ROUNDINGS, twiddle_table
from circnn.sim.real_fft_model import RealIFFTConfig

from .arith import round_shift
from .complex import complex_layout
from .complex_mult import ComplexMultiplier
from .fft import FFT
from .reorder import FrameReorder

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


class RealSpectrumPre(wiring.Component):
    """Packed natural-order ``X`` frames in, natural-order ``Z/2`` frames out.

    A two-bank frame buffer takes one frame in natural order while the other
    is read out pairwise (``X[f]`` and ``X[(N-f) mod N]`` through two read
    ports); a free-running pipeline merges and rotates each pair, and an
    output FIFO with credit counting gives full back-pressure.  The mirror
    of :class:`circnn.rtl.real_fft.RealSpectrumPost`.
    """

    def __init__(self, cfg: RealIFFTConfig, target: str = "generic"):
        if not isinstance(cfg, RealIFFTConfig):
            raise TypeError("cfg must be a RealIFFTConfig")
        self.cfg = cfg
        self.target = check_choice("target", target, TARGETS)
        self.pipeline_latency = 3 + ComplexMultiplier.latency + 2
        self.fifo_depth = self.pipeline_latency + 4
        super().__init__({
            "i": In(stream.Signature(packed_input_layout(cfg))),
            "o": Out(stream.Signature(merged_layout(cfg))),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        N, W, iw, tw, r = cfg.half, cfg.width, cfg.internal_width, cfg.twiddle_width, cfg.rounding
        bits = N.bit_length() - 1   # N >= 2
        sample = complex_layout(iw)
        aw = min(iw, 18)

        # --- two-bank frame buffer (natural order) -------------------------
        m.submodules.buf = buf = memory.Memory(shape=complex_layout(W), depth=2 * N, init=[])
        wr = buf.write_port()
        rd_a = buf.read_port()
        rd_b = buf.read_port()
        full = [Signal(name="full0"), Signal(name="full1")]  # bank holds a whole frame
        wbank = Signal()
        wpos = Signal(bits)
        m.d.comb += [
            self.i.ready.eq(~Mux(wbank, full[1], full[0])),
            wr.addr.eq(Cat(wpos, wbank)),
            wr.data.eq(self.i.payload),
            wr.en.eq(self.i.valid & self.i.ready),
        ]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += wpos.eq(wpos + 1)
            with m.If(wpos == N - 1):
                m.d.sync += wbank.eq(~wbank)

        # --- reader: one pair per clock while credits last -----------------
        credits = Signal(range(self.fifo_depth + 1), init=self.fifo_depth)
        released = Signal()
        rbank = Signal()
        f = Signal(bits)
        issue = Signal()
        m.d.comb += issue.eq(Mux(rbank, full[1], full[0]) & (credits != 0))
        m.d.comb += [rd_a.addr.eq(Cat(f, rbank)),
                     rd_b.addr.eq(Cat((N - f)[:bits], rbank))]   # (N - f) mod N
        frame_in = Signal()
        frame_out = Signal()
        m.d.comb += [frame_in.eq(self.i.valid & self.i.ready & (wpos == N - 1)),
                     frame_out.eq(issue & (f == N - 1))]
        with m.If(issue):
            m.d.sync += f.eq(f + 1)
            with m.If(f == N - 1):
                m.d.sync += rbank.eq(~rbank)
        for b in (0, 1):
            m.d.sync += full[b].eq((full[b] | (frame_in & (wbank == b)))
                                   & ~(frame_out & (rbank == b)))
        m.d.sync += credits.eq(credits - issue + released)

        # --- c1: memory data; c2: half sum / half difference ---------------
        v1, f1 = Signal(), Signal(bits)
        m.d.sync += [v1.eq(issue), f1.eq(f)]
        a, b_raw = rd_a.data, rd_b.data
        b_re, b_im = b_raw.re, (-b_raw.im)            # B = conj(X[(N - f) mod N])
        half = lambda v: round_shift(v, 1, r)[:iw].as_signed()
        e2, o2 = Signal(sample), Signal(sample)
        v2, f2 = Signal(), Signal(bits)
        m.d.sync += [
            e2.re.eq(half(a.re + b_re)), e2.im.eq(half(a.im + b_im)),
            o2.re.eq(half(a.re - b_re)), o2.im.eq(half(a.im - b_im)),
            v2.eq(v1), f2.eq(f1),
        ]
        with m.If(f1 == 0):
            # word 0 = (X[0], X[N]): e carries the exact sum and difference
            # (width + 1 bits) to the last stage, which divides them by 4
            m.d.sync += [e2.re.eq(a.re + a.im), e2.im.eq(a.re - a.im)]

        # --- rotation by conj(V_f) = (-sin, cos) codes (ROM addressed at c1) --
        cos, msin = twiddle_table(cfg.points, tw)
        m.submodules.rom_re = rom_re = memory.Memory(shape=signed(tw), depth=N,
                                                     init=msin[:N].tolist())
        m.submodules.rom_im = rom_im = memory.Memory(shape=signed(tw), depth=N,
                                                     init=cos[:N].tolist())
        tr_re, tr_im = rom_re.read_port(), rom_im.read_port()
        m.d.comb += [tr_re.addr.eq(f1), tr_im.addr.eq(f1)]
        cm = m.submodules.cmul = ComplexMultiplier(aw, tw, self.target)
        m.d.comb += [
            cm.a.re.eq(round_shift(o2.re, cfg.mult_shift, r)[:aw].as_signed()),
            cm.a.im.eq(round_shift(o2.im, cfg.mult_shift, r)[:aw].as_signed()),
            cm.b.re.eq(tr_re.data), cm.b.im.eq(tr_im.data),
        ]
        e, o, v, fx = e2, o2, v2, f2
        for n in range(ComplexMultiplier.latency):
            e_n, o_n = Signal(sample, name=f"e{n + 3}"), Signal(sample, name=f"o{n + 3}")
            v_n, f_n = Signal(name=f"v{n + 3}"), Signal(bits, name=f"f{n + 3}")
            m.d.sync += [e_n.eq(e), o_n.eq(o), v_n.eq(v), f_n.eq(fx)]
            e, o, v, fx = e_n, o_n, v_n, f_n
        shift = tw - 1 - cfg.mult_shift
        t7, e7 = Signal(sample), Signal(sample)
        v7, f7 = Signal(), Signal(bits)
        m.d.sync += [e7.eq(e), v7.eq(v), f7.eq(fx),
                     t7.re.eq(round_shift(cm.p.re, shift, r)[:iw].as_signed()),
                     t7.im.eq(round_shift(cm.p.im, shift, r)[:iw].as_signed())]
        with m.If(fx == N // 2):   # conj(V_{k/4}) = -1
            m.d.sync += [t7.re.eq((-o.re)[:iw].as_signed()), t7.im.eq((-o.im)[:iw].as_signed())]

        # --- c8: Z/2 = (e + t) / 2; word 0 = (X0 + XN, X0 - XN) / 4 ---------
        out = Signal(merged_layout(cfg))
        v8 = Signal()
        m.d.sync += [v8.eq(v7), out.re.eq(half(e7.re + t7.re)), out.im.eq(half(e7.im + t7.im)),
                     out.last.eq(f7 == N - 1)]
        with m.If(f7 == 0):
            m.d.sync += [out.re.eq(round_shift(e7.re, 2, r)[:iw].as_signed()),
                         out.im.eq(round_shift(e7.im, 2, r)[:iw].as_signed())]

        # --- output FIFO ---------------------------------------------------
        m.submodules.out_fifo = out_fifo = fifo.SyncFIFOBuffered(
            width=merged_layout(cfg).size, depth=self.fifo_depth)
        m.d.comb += [
            out_fifo.w_en.eq(v8), out_fifo.w_data.eq(out.as_value()),
            self.o.valid.eq(out_fifo.r_rdy), self.o.payload.eq(out_fifo.r_data),
            out_fifo.r_en.eq(self.o.ready),
            released.eq(self.o.valid & self.o.ready),
        ]
        return m


class RealIFFT(wiring.Component):
    """Inverse real FFT: ``k/2`` packed spectrum words in, ``k/2`` sample pairs out."""

    def __init__(self, cfg: RealIFFTConfig, target: str = "generic"):
        if not isinstance(cfg, RealIFFTConfig):
            raise TypeError("cfg must be a RealIFFTConfig")
        self.cfg = cfg
        self.target = check_choice("target", target, TARGETS)
        super().__init__({
            "i": In(stream.Signature(packed_input_layout(cfg))),
            "o": Out(stream.Signature(real_output_layout(cfg))),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        pre = m.submodules.pre = RealSpectrumPre(cfg, self.target)
        core = m.submodules.core = FFT(cfg.core, self.target)
        pair = data.StructLayout({"x0": signed(cfg.output_width), "x1": signed(cfg.output_width)})
        reorder = m.submodules.reorder = FrameReorder(cfg.half, pair, "bit_reverse")
        wiring.connect(m, wiring.flipped(self.i), pre.i)
        m.d.comb += [
            core.i.valid.eq(pre.o.valid), pre.o.ready.eq(core.i.ready),
            core.i.payload.re.eq(pre.o.payload.re), core.i.payload.im.eq(pre.o.payload.im),
            core.i.payload.inverse.eq(1),
            reorder.i.valid.eq(core.o.valid), core.o.ready.eq(reorder.i.ready),
            reorder.i.payload.x0.eq(core.o.payload.re), reorder.i.payload.x1.eq(core.o.payload.im),
        ]
        wiring.connect(m, reorder.o, wiring.flipped(self.o))
        return m


def _real_ifft_config(params) -> RealIFFTConfig:
    return RealIFFTConfig(params["points"], params["width"], params["twiddle_width"],
                          params["rounding"])


@register(
    "real_ifft",
    description="inverse real FFT: real blocks (x/2) from packed spectra, two samples per clock",
    params=[
        Param("points", 16, "real block size k", 4, 512, power_of_two=True),
        Param("width", 16, "packed spectrum word width (outputs are width+2 bits)", 8, 17),
        Param("twiddle_width", 16, "twiddle width", 8, 18),
        Param("rounding", "half_up", "rounding of every scaling step", choices=ROUNDINGS, kind=str),
    ],
    lint_params={"points": 16, "width": 8, "twiddle_width": 8},
    validate=_real_ifft_config,
)
def _build(params, target):
    return RealIFFT(_real_ifft_config(params), target)
