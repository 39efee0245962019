"""``SpectrumPairStage``: the split/merge step shared by the real FFT and its inverse.

Both real transforms run a k-point real block through a ``N = k/2``-point
complex FFT and fix the spectrum up with the same pipeline (model twins
:func:`circnn.sim.model.real_fft.real_spectrum_post` and
:func:`~circnn.sim.model.real_fft.real_spectrum_pre`)::

    A = S[f],  B = conj(S[(N - f) mod N])
    e = (A + B) / 2,  o = (A - B) / 2,  t = o * R_f,  out = (e + t) / 2

A two-bank frame buffer (:class:`BankPair`) takes one frame while the other
is read out pairwise (``S[f]`` and ``S[(N-f) mod N]`` through two read
ports); a free-running pipeline forms and rotates each pair; a
:class:`CreditQueue` at its end gives full back-pressure.  What differs between the two
directions is given by the subclasses: the write order into the buffer,
the rotation codes ``R_f``, the rotations applied exactly by wiring, and
what word 0 (which carries two real bins) becomes.

Pipeline: c1 memory data, c2 exact sum / difference, c3 halved (rounded;
ROM read at c2), the :class:`TwiddleMultiplier` (three MULT18X18D, or
adders only where ``cfg.split_uses_shift_add``; its last register is the
rounded product), one register choosing the rotation (the product, or one
done exactly), one for the output sum.  The sums and their roundings take
a clock each, or one adder with the half LSB as its carry in
(:func:`~circnn.rtl.arith.half_sum`): two carry chains in series in one
clock set the accelerator's clock.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import MAX_OPERAND_BITS

from .arith import half_sum, round_shift
from .bank_pair import BankPair
from .complex import complex_layout
from .credit_queue import CreditQueue, queue_depth
from .delay import delay
from .twiddle_multiplier import TwiddleMultiplier

__all__ = ["SpectrumPairStage"]


class SpectrumPairStage(wiring.Component):
    """Base of :class:`~circnn.rtl.real_fft.RealSpectrumPost` and
    :class:`~circnn.rtl.real_ifft.RealSpectrumPre` (``N = cfg.half >= 2``)."""

    def __init__(self, cfg, in_layout, out_layout, buffer_width: int):
        self.cfg = cfg
        self.out_layout = out_layout
        self.buffer_width = buffer_width
        #: clocks from a pair's read to its output word: memory, sums, halves,
        #: the multiplier and its rounding, rotation, output sum (plus one spare)
        self.pipeline_latency = 4 + TwiddleMultiplier.latency + 2
        self.queue_depth = queue_depth(self.pipeline_latency)
        super().__init__({
            "i": In(stream.Signature(in_layout)),
            "o": Out(stream.Signature(out_layout)),
        })

    # --- what the subclasses say ------------------------------------------
    def write_position(self, wpos, bits: int):
        """Buffer position of the ``wpos``-th input word of a frame."""
        raise NotImplementedError

    def rotation_codes(self):
        """``(re, im)`` code lists of ``R_f``, f = 0..N-1 (only those of
        ``cfg.split_positions`` are multiplied by)."""
        raise NotImplementedError

    def word0_sums(self, m, a, e3) -> None:
        """At c3, for word 0 (``a`` = the word, registered): override ``e3`` if needed."""

    def exact_rotations(self, m, fx, o, t, e, e_next) -> None:
        """At the rotation register (``t``, ``e_next``, loaded from the rounded product
        and ``e``): the ``R_f`` applied exactly (``t`` from ``o``), and whatever
        word 0's output sum needs there."""
        raise NotImplementedError

    def word0_output(self, m, out, e, t) -> None:
        """At the output register, for word 0: what it becomes, if not ``(e + t) / 2``."""

    # --- the shared pipeline ------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        N, iw, tw, r = cfg.half, cfg.internal_width, cfg.twiddle_width, cfg.rounding
        bits = N.bit_length() - 1
        sample = complex_layout(iw)
        aw = min(iw, MAX_OPERAND_BITS)

        # --- two-bank frame buffer ---------------------------------------
        m.submodules.buf = buf = memory.Memory(shape=complex_layout(self.buffer_width),
                                               depth=2 * N, init=[])
        m.submodules.banks = banks = BankPair()
        wr = buf.write_port()
        rd_a = buf.read_port()
        rd_b = buf.read_port()
        wpos = Signal(bits)
        accept = Signal()
        m.d.comb += [
            self.i.ready.eq(banks.writer.free),
            accept.eq(self.i.valid & self.i.ready),
            wr.addr.eq(Cat(self.write_position(wpos, bits), banks.writer.bank)),
            wr.data.re.eq(self.i.payload.re), wr.data.im.eq(self.i.payload.im),
            wr.en.eq(accept),
            banks.writer.commit.eq(accept & (wpos == N - 1)),
        ]
        with m.If(accept):
            m.d.sync += wpos.eq(wpos + 1)

        # --- reader: one pair per clock while credits last -----------------
        m.submodules.queue = queue = CreditQueue(self.out_layout, self.queue_depth)
        rbank = banks.reader.bank
        f = Signal(bits)
        issue = Signal()
        m.d.comb += [
            issue.eq(banks.reader.ready & queue.can_admit),
            queue.admit.eq(issue),
            banks.reader.release.eq(issue & (f == N - 1)),
            rd_a.addr.eq(Cat(f, rbank)),
            rd_b.addr.eq(Cat((N - f)[:bits], rbank)),   # (N - f) mod N
        ]
        with m.If(issue):
            m.d.sync += f.eq(f + 1)

        # --- c1: memory data; c2: sum / difference; c3: halved ---------------
        v1, f1 = Signal(), Signal(bits)
        m.d.sync += [v1.eq(issue), f1.eq(f)]
        a, b = rd_a.data, rd_b.data                   # B = conj(S[(N - f) mod N])
        exact = complex_layout(self.buffer_width + 1)
        sum2, dif2 = Signal(exact), Signal(exact)     # A + B, A - B
        a2 = Signal.like(a)                           # word 0's own sums (subclass)
        v2, f2 = Signal(), Signal(bits)
        m.d.sync += [
            sum2.re.eq(a.re + b.re), sum2.im.eq(a.im - b.im),
            dif2.re.eq(a.re - b.re), dif2.im.eq(a.im + b.im),
            a2.eq(a), v2.eq(v1), f2.eq(f1),
        ]
        half = lambda v: round_shift(v, 1, r)[:iw].as_signed()
        e3, o3 = Signal(sample), Signal(sample)
        v3, f3 = Signal(), Signal(bits)
        m.d.sync += [
            e3.re.eq(half(sum2.re)), e3.im.eq(half(sum2.im)),
            o3.re.eq(half(dif2.re)), o3.im.eq(half(dif2.im)),
            v3.eq(v2), f3.eq(f2),
        ]
        with m.If(f2 == 0):
            self.word0_sums(m, a2, e3)

        # --- rotation by R_f (ROM addressed at c2) -------------------------
        r_re, r_im = self.rotation_codes()
        cm = m.submodules.tmul = TwiddleMultiplier(aw, tw, zip(r_re, r_im), cfg.split_positions,
                                                   shift_add=cfg.split_uses_shift_add,
                                                   shift=tw - 1 - cfg.mult_shift, rounding=r,
                                                   q_width=iw)
        m.d.comb += [
            cm.addr.eq(f2),
            cm.a.re.eq(round_shift(o3.re, cfg.mult_shift, r)[:aw].as_signed()),
            cm.a.im.eq(round_shift(o3.im, cfg.mult_shift, r)[:aw].as_signed()),
        ]
        L = TwiddleMultiplier.latency
        e, o, v, fx = (delay(m, e3, L, "e"), delay(m, o3, L, "o"), delay(m, v3, L, "v"),
                       delay(m, f3, L, "f"))
        # the rotation register: the rounded product, or a rotation done exactly (one
        # bit wider: word 0 of the split needs an exact negation there)
        t7, e7 = Signal(complex_layout(iw + 1)), Signal(sample)
        v7, f7 = Signal(), Signal(bits)
        m.d.sync += [e7.eq(e), v7.eq(v), f7.eq(fx), t7.re.eq(cm.q.re), t7.im.eq(cm.q.im)]
        self.exact_rotations(m, fx, o, t7, e, e7)

        # --- output: (e + t) / 2 (one adder), word 0 as the subclass says ---
        out = queue.i.payload
        m.d.sync += [queue.i.valid.eq(v7),
                     out.re.eq(half_sum(e7.re, t7.re, r)[:iw]),
                     out.im.eq(half_sum(e7.im, t7.im, r)[:iw]), out.last.eq(f7 == N - 1)]
        with m.If(f7 == 0):
            self.word0_output(m, out, e7, t7)
        wiring.connect(m, queue.o, wiring.flipped(self.o))
        return m
