"""``RealFFT``: bins 0..k/2 of real blocks, two real samples per clock.

Model twin: :func:`circnn.sim.real_fft_model.real_fft` (and
:func:`~circnn.sim.real_fft_model.real_spectrum_post` for
:class:`RealSpectrumPost`).

A real block of ``k`` samples enters as ``k/2`` pairs ``(x[2n], x[2n+1])``,
is transformed as one ``k/2``-point complex frame by :class:`FFT`, and
:class:`RealSpectrumPost` splits the result into the packed real spectrum:
``k/2`` words per block in natural order, word 0 = ``(X[0], X[k/2]) / k``,
word f = ``X[f] / k``.  Throughput: one block per ``k/2`` clocks, i.e. two
real samples in and one spectrum word out per clock; full back-pressure.
"""

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.designs import TARGETS, register
from circnn.params import Param, check_choice
from circnn.sim.fft_model import ROUNDINGS
from circnn.sim.real_fft_model import RealFFTConfig, post_twiddles

from .arith import round_shift
from .complex import complex_layout
from .complex_mult import ComplexMultiplier
from .fft import FFT, fft_output_layout

__all__ = ["RealFFT", "RealSpectrumPost", "real_input_layout", "spectrum_layout"]


def real_input_layout(cfg: RealFFTConfig):
    return data.StructLayout({"x0": signed(cfg.width), "x1": signed(cfg.width)})


def spectrum_layout(cfg: RealFFTConfig):
    return complex_layout(cfg.output_width, last=1)


class RealSpectrumPost(wiring.Component):
    """Bit-reversed ``Z/N`` frames in, packed natural-order ``X/k`` frames out.

    A two-bank frame buffer takes one frame in bit-reversed order while the
    other is read out pairwise (``Z[f]`` and ``Z[N-f]`` through two read
    ports); a free-running pipeline splits and rotates each pair, and an
    output FIFO with credit counting gives full back-pressure.
    """

    def __init__(self, cfg: RealFFTConfig, target: str = "generic"):
        self.cfg = cfg
        self.target = target
        self.pipeline_latency = 3 + ComplexMultiplier.latency + 2
        self.fifo_depth = self.pipeline_latency + 4
        super().__init__({
            "i": In(stream.Signature(fft_output_layout(cfg.core))),
            "o": Out(stream.Signature(spectrum_layout(cfg))),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        N, iw, tw, r = cfg.half, cfg.internal_width, cfg.twiddle_width, cfg.rounding
        sample = complex_layout(iw)
        aw = min(iw, 18)

        # --- two-bank frame buffer ---------------------------------------
        m.submodules.buf = buf = memory.Memory(shape=sample, depth=2 * N, init=[])
        wr = buf.write_port()
        rd_a = buf.read_port()
        rd_b = buf.read_port()
        full = [Signal(name="full0"), Signal(name="full1")]  # bank holds a whole frame
        wbank = Signal()
        wpos = Signal(range(N))
        bits = N.bit_length() - 1
        # bit-reversed write address: reversing the index bits is wiring
        rev_pos = Cat(*[wpos[b] for b in reversed(range(bits))]) if bits else C(0, 1)
        m.d.comb += [
            self.i.ready.eq(~Mux(wbank, full[1], full[0])),
            wr.addr.eq(Cat(rev_pos, wbank) if bits else wbank),
            wr.data.re.eq(self.i.payload.re), wr.data.im.eq(self.i.payload.im),
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
        f = Signal(range(N))
        issue = Signal()
        m.d.comb += issue.eq(Mux(rbank, full[1], full[0]) & (credits != 0))
        bank_base = rbank << (N.bit_length() - 1) if N > 1 else rbank
        m.d.comb += [rd_a.addr.eq(bank_base | f),
                     rd_b.addr.eq(bank_base | ((N - f)[:max(1, N.bit_length() - 1)] if N > 1 else 0))]
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
        v1, f1 = Signal(), Signal(range(N))
        m.d.sync += [v1.eq(issue), f1.eq(f)]
        a, b_raw = rd_a.data, rd_b.data
        b_re, b_im = b_raw.re, (-b_raw.im)
        half = lambda v: round_shift(v, 1, r)[:iw].as_signed()
        e2, o2 = Signal(sample), Signal(sample)
        v2, f2 = Signal(), Signal(range(N))
        m.d.sync += [
            e2.re.eq(half(a.re + b_re)), e2.im.eq(half(a.im + b_im)),
            o2.re.eq(half(a.re - b_re)), o2.im.eq(half(a.im - b_im)),
            v2.eq(v1), f2.eq(f1),
        ]

        # --- rotation by V_f (ROM addressed a cycle early, at c1) ----------
        v_re, v_im = post_twiddles(cfg)
        m.submodules.rom_re = rom_re = memory.Memory(shape=signed(tw), depth=N, init=v_re.tolist())
        m.submodules.rom_im = rom_im = memory.Memory(shape=signed(tw), depth=N, init=v_im.tolist())
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
            v_n, f_n = Signal(name=f"v{n + 3}"), Signal(range(N), name=f"f{n + 3}")
            m.d.sync += [e_n.eq(e), o_n.eq(o), v_n.eq(v), f_n.eq(fx)]
            e, o, v, fx = e_n, o_n, v_n, f_n
        shift = tw - 1 - cfg.mult_shift
        t7, e7 = Signal(sample), Signal(sample)
        v7, f7 = Signal(), Signal(range(N))
        m.d.sync += [e7.eq(e), v7.eq(v), f7.eq(fx),
                     t7.re.eq(round_shift(cm.p.re, shift, r)[:iw].as_signed()),
                     t7.im.eq(round_shift(cm.p.im, shift, r)[:iw].as_signed())]
        with m.If(fx == 0):        # V_0 = -j
            m.d.sync += [t7.re.eq(o.im), t7.im.eq((-o.re)[:iw].as_signed())]
        with m.Elif(fx == N // 2):  # V_{k/4} = -1
            m.d.sync += [t7.re.eq((-o.re)[:iw].as_signed()), t7.im.eq((-o.im)[:iw].as_signed())]

        # --- c8: X = (e + t) / 2, word 0 packed ----------------------------
        out = Signal(spectrum_layout(cfg))
        v8 = Signal()
        m.d.sync += [v8.eq(v7), out.re.eq(half(e7.re + t7.re)), out.im.eq(half(e7.im + t7.im)),
                     out.last.eq(f7 == N - 1)]
        with m.If(f7 == 0):
            m.d.sync += out.im.eq(half(e7.re - t7.re))

        # --- output FIFO ---------------------------------------------------
        m.submodules.out_fifo = out_fifo = fifo.SyncFIFOBuffered(
            width=spectrum_layout(cfg).size, depth=self.fifo_depth)
        m.d.comb += [
            out_fifo.w_en.eq(v8), out_fifo.w_data.eq(out.as_value()),
            self.o.valid.eq(out_fifo.r_rdy), self.o.payload.eq(out_fifo.r_data),
            out_fifo.r_en.eq(self.o.ready),
            released.eq(self.o.valid & self.o.ready),
        ]
        return m


class RealFFT(wiring.Component):
    """Real-input FFT: ``k/2`` sample pairs in, ``k/2`` packed spectrum words out."""

    def __init__(self, cfg: RealFFTConfig, target: str = "generic"):
        if not isinstance(cfg, RealFFTConfig):
            raise TypeError("cfg must be a RealFFTConfig")
        self.cfg = cfg
        self.target = check_choice("target", target, TARGETS)
        super().__init__({
            "i": In(stream.Signature(real_input_layout(cfg))),
            "o": Out(stream.Signature(spectrum_layout(cfg))),
        })

    def elaborate(self, platform):
        m = Module()
        core = m.submodules.core = FFT(self.cfg.core, self.target)
        post = m.submodules.post = RealSpectrumPost(self.cfg, self.target)
        m.d.comb += [
            core.i.valid.eq(self.i.valid), self.i.ready.eq(core.i.ready),
            core.i.payload.re.eq(self.i.payload.x0), core.i.payload.im.eq(self.i.payload.x1),
            core.i.payload.inverse.eq(0),
        ]
        wiring.connect(m, core.o, post.i)
        wiring.connect(m, post.o, wiring.flipped(self.o))
        return m


def _real_config(params) -> RealFFTConfig:
    return RealFFTConfig(params["points"], params["width"], params["twiddle_width"], params["rounding"])


@register(
    "real_fft",
    description="real-input FFT: bins 0..k/2 (packed) of real blocks, two samples per clock",
    params=[
        Param("points", 16, "real block size k", 4, 512, power_of_two=True),
        Param("width", 16, "input sample width (outputs are width+1 bits)", 8, 18),
        Param("twiddle_width", 16, "twiddle width", 8, 18),
        Param("rounding", "half_up", "rounding of every scaling step", choices=ROUNDINGS, kind=str),
    ],
    lint_params={"points": 16, "width": 8, "twiddle_width": 8},
    validate=_real_config,
)
def _build(params, target):
    return RealFFT(_real_config(params), target)
