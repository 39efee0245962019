"""``MACScheduler``: the loop nest of one layer's multiply-accumulate passes.

For a batch of B input vectors whose spectra are loaded, the scheduler runs
``G = ceil(p / P)`` passes; pass g computes output blocks ``g*P .. g*P+P-1``
on the P processing elements.  Each pass issues one (j, f, b) step per clock,
with the weight word read once and used for B consecutive clocks::

    for g in passes:                      # PE group (waits for its accumulator bank)
        for j in 0..q-1:                  # input block
            for f in 0..k/2-1:            # packed spectrum word
                for b in 0..B-1:          # batch: same weight word, next vector
                    issue(x_addr = (b*q + j)*k/2 + f,  w_addr = (g*q + j)*k/2 + f,
                          acc_addr = b*k/2 + f,  first = j == 0,  real_pair = f == 0)

Passes alternate between the two accumulator banks, so the drain of pass g
overlaps the MACs of pass g+1; a pass waits only for its bank to have been
drained.  Addresses are kept as running sums (no multipliers).

Model twin: the loop nest is the sum of :func:`circnn.sim.model.layer.spectrum_mac`
(``tests/test_scheduler.py`` checks the step sequence against it).

Interfaces: ``spectra`` is the reader side of the spectrum buffer's banks
(``ready``: a batch is loaded; ``release``, registered, after the batch's
last step); ``banks`` is the writer side of the accumulator banks (a pass
waits for ``free`` and claims the bank with ``commit``); ``step`` is the
issued :func:`~circnn.rtl.mac_step.mac_step_layout` stream, registered.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from circnn.config import EngineConfig

from .bank_pair import BankReaderSignature, BankWriterSignature
from .mac_step import mac_step_signature, spectrum_words, weight_words_per_bank

__all__ = ["MACScheduler"]


class MACScheduler(wiring.Component):
    def __init__(self, eng: EngineConfig):
        self.eng = eng
        self.x_depth = spectrum_words(eng)
        self.w_depth = weight_words_per_bank(eng)
        super().__init__({
            # configuration (held stable while busy)
            "q": In(range(eng.max_q + 1)),
            "p": In(range(eng.max_p + 1)),
            "spectra": Out(BankReaderSignature()),
            "banks": Out(BankWriterSignature()),
            "step": Out(mac_step_signature(eng)),
        })

    def elaborate(self, platform):
        m = Module()
        eng = self.eng
        N, B, P = eng.half, eng.batch, eng.pes
        # The step is computed combinationally and leaves through a register:
        # the addresses feed block RAMs spread over the chip (measured: the
        # adder-to-RAM path limited the layer to 77-92 MHz before this).
        out = Signal.like(self.step.payload, name="step_c")
        valid = Signal(name="valid_c")
        done = Signal(name="done_c")
        m.d.sync += [self.step.payload.eq(out), self.step.valid.eq(valid),
                     self.spectra.release.eq(done)]
        log_n = N.bit_length() - 1

        qn = Signal(range(eng.max_q * N + 1))
        m.d.comb += qn.eq(self.q << log_n)

        b = Signal(range(max(2, B)))
        lin = Signal(range(max(2, eng.max_q * N)))     # j*N + f
        f = Signal(range(max(2, N)))
        j = Signal(range(max(2, eng.max_q)))
        b_base = Signal(range(max(2, self.x_depth)))   # b*q*N
        g_base = Signal(range(max(2, self.w_depth)))   # g*q*N
        acc_base = Signal(range(max(2, B * N)))        # b*N
        bank = Signal()
        first_out = Signal(range(eng.max_p + P + 1))   # g*P: first output block of the pass

        last_b = b == B - 1
        last_f = f == N - 1
        # loop-end conditions that need arithmetic on the configuration are
        # registers, so that no adder sits between a counter and the FSM
        q_last = Signal(range(eng.max_q + 1))
        last_j = Signal()
        last_g = Signal()
        m.d.sync += [q_last.eq(self.q - 1), last_j.eq(j == q_last)]
        with m.If(~valid | (last_b & last_f)):
            # j is about to change (or nothing runs): predict for the next j
            m.d.sync += last_j.eq(Mux(valid, (j + 1 == q_last) & ~last_j, j == q_last))
        with m.If(valid & last_b & last_f & last_j):
            m.d.sync += last_j.eq(q_last == 0)
        m.d.sync += last_g.eq(first_out + P >= self.p)

        m.d.comb += [
            out.x_addr.eq(b_base + lin),
            out.w_addr.eq(g_base + lin),
            out.acc_addr.eq(acc_base + f),
            out.first.eq(j == 0),
            out.real_pair.eq(f == 0),
            out.bank.eq(bank),
        ]
        # output blocks from this pass on (p - first_out), kept in a register
        remaining = Signal(range(eng.max_p + 1))
        m.d.comb += out.active_pes.eq(remaining if P > 1 else 1)
        with m.If(remaining >= P):
            m.d.comb += out.active_pes.eq(P)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.spectra.ready):
                    m.d.sync += [b.eq(0), lin.eq(0), f.eq(0), j.eq(0), b_base.eq(0),
                                 g_base.eq(0), acc_base.eq(0), first_out.eq(0),
                                 remaining.eq(self.p)]
                    m.next = "WAIT_BANK"
            with m.State("WAIT_BANK"):
                with m.If(self.banks.free):
                    # claim the bank (it stays busy until the drain has read it)
                    m.d.comb += self.banks.commit.eq(1)
                    m.d.sync += bank.eq(self.banks.bank)
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += valid.eq(1)
                m.d.comb += out.end_of_pass.eq(last_b & last_f & last_j)
                # innermost: batch
                m.d.sync += [b.eq(b + 1), b_base.eq(b_base + qn), acc_base.eq(acc_base + N)]
                with m.If(last_b):
                    m.d.sync += [b.eq(0), b_base.eq(0), acc_base.eq(0),
                                 lin.eq(lin + 1), f.eq(f + 1)]
                    with m.If(last_f):
                        m.d.sync += [f.eq(0), j.eq(j + 1)]
                        with m.If(last_j):
                            m.d.sync += [j.eq(0), lin.eq(0), g_base.eq(g_base + qn),
                                         first_out.eq(first_out + P),
                                         remaining.eq(remaining - P)]
                            with m.If(last_g):
                                m.d.comb += done.eq(1)
                                m.next = "RELEASE"
                            with m.Else():
                                m.next = "WAIT_BANK"
            with m.State("RELEASE"):
                # the release leaves through a register: wait for the spectrum
                # buffer to have seen it before looking at `ready` again
                m.next = "IDLE"
        return m
