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
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from circnn.sim.layer_model import EngineConfig

__all__ = ["MACScheduler"]


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


class MACScheduler(wiring.Component):
    def __init__(self, eng: EngineConfig):
        self.eng = eng
        N, B = eng.half, eng.batch
        self.x_depth = B * eng.max_q * N
        self.w_depth = eng.groups * eng.max_q * N
        super().__init__({
            # configuration (held stable while busy)
            "q": In(range(eng.max_q + 1)),
            "p": In(range(eng.max_p + 1)),
            # handshake with the spectrum buffer
            "start": In(1),          # level: a batch of spectra is loaded
            "done": Out(1),          # pulse: last step of the batch issued
            # accumulator banks: 1 = free for a new pass
            "bank_free": In(2),
            "pass_start": Out(1),    # pulse: a pass claims accumulator bank `bank`
            # the issued step
            "valid": Out(1),
            "x_addr": Out(range(max(2, self.x_depth))),      # all step outputs are registered
            "w_addr": Out(range(max(2, self.w_depth))),
            "acc_addr": Out(range(max(2, B * N))),
            "first": Out(1),
            "real_pair": Out(1),
            "bank": Out(1),
            "end_of_pass": Out(1),
            "group": Out(range(max(2, eng.groups))),
            "active_pes": Out(range(eng.pes + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        eng = self.eng
        N, B, P = eng.half, eng.batch, eng.pes
        # The step is computed combinationally and leaves through a register:
        # the addresses feed block RAMs spread over the chip (measured: the
        # adder-to-RAM path limited the layer to 77-92 MHz before this).
        step_names = ("valid", "x_addr", "w_addr", "acc_addr", "first", "real_pair", "bank",
                      "end_of_pass", "group", "active_pes", "done")
        comb = {name: Signal.like(getattr(self, name), name=f"{name}_c") for name in step_names}
        for name in step_names:
            m.d.sync += getattr(self, name).eq(comb[name])
        out = type("Step", (), comb)
        log_n = N.bit_length() - 1

        qn = Signal(range(eng.max_q * N + 1))
        m.d.comb += qn.eq(self.q << log_n)

        b = Signal(range(max(2, B)))
        lin = Signal(range(max(2, eng.max_q * N)))     # j*N + f
        f = Signal(range(max(2, N)))
        j = Signal(range(max(2, eng.max_q)))
        g = Signal(range(max(2, eng.groups)))
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
        with m.If(~out.valid | (last_b & last_f)):
            # j is about to change (or nothing runs): predict for the next j
            m.d.sync += last_j.eq(Mux(out.valid, (j + 1 == q_last) & ~last_j, j == q_last))
        with m.If(out.valid & last_b & last_f & last_j):
            m.d.sync += last_j.eq(q_last == 0)
        m.d.sync += last_g.eq(first_out + P >= self.p)

        m.d.comb += [
            out.x_addr.eq(b_base + lin),
            out.w_addr.eq(g_base + lin),
            out.acc_addr.eq(acc_base + f),
            out.first.eq(j == 0),
            out.real_pair.eq(f == 0),
            out.bank.eq(bank),
            out.group.eq(g),
        ]
        # output blocks from this pass on (p - first_out), kept in a register
        remaining = Signal(range(eng.max_p + 1))
        m.d.comb += out.active_pes.eq(remaining if P > 1 else 1)
        with m.If(remaining >= P):
            m.d.comb += out.active_pes.eq(P)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    # (the bank keeps alternating across batches, as the drain expects)
                    m.d.sync += [b.eq(0), lin.eq(0), f.eq(0), j.eq(0), g.eq(0), b_base.eq(0),
                                 g_base.eq(0), acc_base.eq(0), first_out.eq(0),
                                 remaining.eq(self.p)]
                    m.next = "WAIT_BANK"
            with m.State("WAIT_BANK"):
                with m.If(Mux(bank, self.bank_free[1], self.bank_free[0])):
                    m.d.comb += self.pass_start.eq(1)
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += out.valid.eq(1)
                m.d.comb += out.end_of_pass.eq(last_b & last_f & last_j)
                # innermost: batch
                m.d.sync += [b.eq(b + 1), b_base.eq(b_base + qn), acc_base.eq(acc_base + N)]
                with m.If(last_b):
                    m.d.sync += [b.eq(0), b_base.eq(0), acc_base.eq(0),
                                 lin.eq(lin + 1), f.eq(f + 1)]
                    with m.If(last_f):
                        m.d.sync += [f.eq(0), j.eq(j + 1)]
                        with m.If(last_j):
                            m.d.sync += [j.eq(0), lin.eq(0), g.eq(g + 1), g_base.eq(g_base + qn),
                                         bank.eq(~bank), first_out.eq(first_out + P),
                                         remaining.eq(remaining - P)]
                            with m.If(last_g):
                                m.d.comb += out.done.eq(1)
                                m.next = "RELEASE"
                            with m.Else():
                                m.next = "WAIT_BANK"
            with m.State("RELEASE"):
                # `done` leaves through a register: wait for the spectrum
                # buffer to have released the bank before looking at `start`
                m.next = "IDLE"
        return m
