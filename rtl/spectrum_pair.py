"""``SpectrumPairStage``: the split/merge step shared by the real FFT and its inverse.

Both real transforms run a k-point real block through a ``N = k/2``-point
complex FFT and fix the spectrum up with the same pipeline (model twins
:func:`circnn.sim.real_fft_model.real_spectrum_post` and
:func:`~circnn.sim.real_fft_model.real_spectrum_pre`)::

    A = S[f],  B = conj(S[(N - f) mod N])
    e = (A + B) / 2,  o = (A - B) / 2,  t = o * R_f,  out = (e + t) / 2

A two-bank frame buffer takes one frame while the other is read out
pairwise (``S[f]`` and ``S[(N-f) mod N]`` through two read ports); a
free-running pipeline forms and rotates each pair; an output FIFO with
credit counting gives full back-pressure.  What differs between the two
directions is given by the subclasses: the write order into the buffer,
the rotation codes ``R_f``, the rotations applied exactly by wiring, and
what word 0 (which carries two real bins) becomes.

Pipeline: c1 memory data, c2 half sum / difference (ROM read at c1), the
:class:`ComplexMultiplier`, one register for the rounded rotation, one for
the output sum.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.designs import TARGETS
from circnn.params import check_choice

from .arith import round_shift
from .complex import complex_layout
from .complex_mult import ComplexMultiplier

__all__ = ["SpectrumPairStage"]


class SpectrumPairStage(wiring.Component):
    """Base of :class:`~circnn.rtl.real_fft.RealSpectrumPost` and
    :class:`~circnn.rtl.real_ifft.RealSpectrumPre` (``N = cfg.half >= 2``)."""

    def __init__(self, cfg, target: str, in_layout, out_layout, buffer_width: int):
        self.cfg = cfg
        self.target = check_choice("target", target, TARGETS)
        self.out_layout = out_layout
        self.buffer_width = buffer_width
        self.pipeline_latency = 3 + ComplexMultiplier.latency + 2
        self.fifo_depth = self.pipeline_latency + 4
        super().__init__({
            "i": In(stream.Signature(in_layout)),
            "o": Out(stream.Signature(out_layout)),
        })

    # --- what the subclasses say ------------------------------------------
    def write_position(self, wpos, bits: int):
        """Buffer position of the ``wpos``-th input word of a frame."""
        raise NotImplementedError

    def rotation_codes(self):
        """``(re, im)`` code lists of ``R_f``, f = 0..N-1."""
        raise NotImplementedError

    def word0_sums(self, m, a, e2) -> None:
        """At c2, for word 0 (``a`` = the word): override ``e2`` if needed."""

    def exact_rotations(self, m, fx, o, t) -> None:
        """At the rotation register: the ``R_f`` applied exactly (``t`` from ``o``)."""
        raise NotImplementedError

    def word0_output(self, m, out, e, t, half) -> None:
        """At the output register, for word 0: what it becomes."""
        raise NotImplementedError

    # --- the shared pipeline ------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        N, iw, tw, r = cfg.half, cfg.internal_width, cfg.twiddle_width, cfg.rounding
        bits = N.bit_length() - 1
        sample = complex_layout(iw)
        aw = min(iw, 18)

        # --- two-bank frame buffer ---------------------------------------
        m.submodules.buf = buf = memory.Memory(shape=complex_layout(self.buffer_width),
                                               depth=2 * N, init=[])
        wr = buf.write_port()
        rd_a = buf.read_port()
        rd_b = buf.read_port()
        full = [Signal(name="full0"), Signal(name="full1")]  # bank holds a whole frame
        wbank = Signal()
        wpos = Signal(bits)
        m.d.comb += [
            self.i.ready.eq(~Mux(wbank, full[1], full[0])),
            wr.addr.eq(Cat(self.write_position(wpos, bits), wbank)),
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
        b_re, b_im = b_raw.re, (-b_raw.im)            # B = conj(S[(N - f) mod N])
        half = lambda v: round_shift(v, 1, r)[:iw].as_signed()
        e2, o2 = Signal(sample), Signal(sample)
        v2, f2 = Signal(), Signal(bits)
        m.d.sync += [
            e2.re.eq(half(a.re + b_re)), e2.im.eq(half(a.im + b_im)),
            o2.re.eq(half(a.re - b_re)), o2.im.eq(half(a.im - b_im)),
            v2.eq(v1), f2.eq(f1),
        ]
        with m.If(f1 == 0):
            self.word0_sums(m, a, e2)

        # --- rotation by R_f (ROM addressed at c1) -------------------------
        r_re, r_im = self.rotation_codes()
        m.submodules.rom_re = rom_re = memory.Memory(shape=signed(tw), depth=N, init=r_re)
        m.submodules.rom_im = rom_im = memory.Memory(shape=signed(tw), depth=N, init=r_im)
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
        self.exact_rotations(m, fx, o, t7)

        # --- output: (e + t) / 2, word 0 as the subclass says ---------------
        out = Signal(self.out_layout)
        v8 = Signal()
        m.d.sync += [v8.eq(v7), out.re.eq(half(e7.re + t7.re)), out.im.eq(half(e7.im + t7.im)),
                     out.last.eq(f7 == N - 1)]
        with m.If(f7 == 0):
            self.word0_output(m, out, e7, t7, half)

        # --- output FIFO ---------------------------------------------------
        m.submodules.out_fifo = out_fifo = fifo.SyncFIFOBuffered(
            width=self.out_layout.size, depth=self.fifo_depth)
        m.d.comb += [
            out_fifo.w_en.eq(v8), out_fifo.w_data.eq(out.as_value()),
            self.o.valid.eq(out_fifo.r_rdy), self.o.payload.eq(out_fifo.r_data),
            out_fifo.r_en.eq(self.o.ready),
            released.eq(self.o.valid & self.o.ready),
        ]
        return m
