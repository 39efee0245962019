"""``DenseScheduler``: the loop nest of the dense baseline engine.

For a batch of B input vectors whose inputs are buffered (``inputs.ready``),
one step per clock::

    for g in 0 .. ceil(m/M) - 1:         # pass: rows g*M .. g*M+M-1, one per multiplier
        for j in 0 .. n-1:               # input element (weight word read once ...)
            for b in 0 .. B-1:           # ... and used for B consecutive clocks
                acc[mult][b] (=|+=) W[g*M + mult, j] * x[b, j]

so a vector costs ``ceil(m/M) * n`` clocks.  Each pass claims a bank of
finished sums (``banks``) and the next pass starts on the clock after the
last step of the previous one when its bank is free (and, after the
batch's last pass, when the next batch is loaded: ``inputs.ready_next``).
The step (:func:`dense_step_layout`) is combinational from the loop
registers; the weight address is a register itself, since it fans out to
every multiplier's block RAMs.

Model twin: the loop nest is the product of
:func:`circnn.sim.model.dense.dense_forward` (``tests/test_dense_scheduler.py``).
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import DenseConfig

from .bank_pair import BankReaderSignature, BankWriterSignature

__all__ = ["DenseScheduler", "dense_step_layout", "dense_weight_addr_bits"]


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


def dense_weight_addr_bits(cfg: DenseConfig) -> int:
    """Address bits of a multiplier's weight bank: word ``g*n + j``."""
    return _bits(cfg.groups * cfg.max_in)


def dense_step_layout(cfg: DenseConfig) -> data.StructLayout:
    """One step: the input pair ``x_addr`` (lane ``lane`` of it) times the weight
    word ``w_addr`` of every multiplier, into vector ``b``'s sum."""
    return data.StructLayout({
        "x_addr": range(max(2, cfg.batch * cfg.in_pairs)),
        "lane": 1,
        "w_addr": dense_weight_addr_bits(cfg),
        "first": 1,               # j = 0: a new sum
        "last": 1,                # j = n-1: the sum is finished
        "end_of_pass": 1,
        "b": range(max(2, cfg.batch)),
        "bank": 1,                # bank of finished sums
        "active": range(cfg.mults + 1),
    })


class DenseScheduler(wiring.Component):
    def __init__(self, cfg: DenseConfig):
        self.cfg = cfg
        super().__init__({
            # configuration (registered by the layer, stable while busy)
            "m": In(range(cfg.max_out + 1)),
            "n_last": In(range(cfg.max_in)),            # n - 1
            "n_pairs": In(range(cfg.in_pairs + 1)),     # ceil(n / 2)
            "inputs": Out(BankReaderSignature()),
            "banks": Out(BankWriterSignature()),
            "step": Out(stream.Signature(dense_step_layout(cfg), always_ready=True)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        M, B = cfg.mults, cfg.batch
        b = Signal(range(max(2, B)))
        j = Signal(range(max(2, cfg.max_in)))
        b_base = Signal(range(max(2, B * cfg.in_pairs)))    # b * n_pairs
        w_ptr = Signal(dense_weight_addr_bits(cfg))          # g * n + j: the weight word
        first_row = Signal(range(cfg.max_out + M + 1))       # g * M
        fbank = Signal()                                     # bank of finished sums
        last_g = Signal()                                    # the pass is the batch's last
        valid = self.step.valid
        last_b = b == B - 1
        last_j = j == self.n_last
        remaining = Signal(range(cfg.max_out + 1))
        step = self.step.payload
        m.d.comb += [
            remaining.eq(self.m - first_row),
            step.active.eq(Mux(remaining >= M, M, remaining)),
            step.x_addr.eq(b_base + (j >> 1)), step.lane.eq(j[0]), step.w_addr.eq(w_ptr),
            step.first.eq(j == 0), step.last.eq(last_j), step.end_of_pass.eq(last_j & last_b),
            step.b.eq(b), step.bank.eq(fbank),
        ]
        with m.FSM(name="sched"):
            with m.State("IDLE"):
                with m.If(self.inputs.ready):
                    m.d.sync += [w_ptr.eq(0), first_row.eq(0), last_g.eq(M >= self.m)]
                    m.next = "WAIT_BANK"
            with m.State("WAIT_BANK"):
                with m.If(self.banks.free):
                    m.d.comb += self.banks.commit.eq(1)
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += valid.eq(1)
                m.d.sync += [b.eq(b + 1), b_base.eq(b_base + self.n_pairs)]
                with m.If(last_b):
                    m.d.sync += [b.eq(0), b_base.eq(0), j.eq(j + 1), w_ptr.eq(w_ptr + 1)]
                    with m.If(last_j):
                        # end of the pass: the next one starts on the next clock
                        # when its bank is free (and, after the batch's last
                        # pass, when the next batch is loaded)
                        m.d.sync += [j.eq(0), fbank.eq(~fbank)]
                        more = Signal()
                        with m.If(last_g):
                            m.d.comb += [self.inputs.release.eq(1),
                                         more.eq(self.inputs.ready_next)]
                            m.d.sync += [w_ptr.eq(0), first_row.eq(0), last_g.eq(M >= self.m)]
                        with m.Else():
                            m.d.comb += more.eq(1)
                            m.d.sync += [first_row.eq(first_row + M),
                                         last_g.eq(first_row + 2 * M >= self.m)]
                        with m.If(more & self.banks.free):
                            m.d.comb += self.banks.commit.eq(1)
                        with m.Elif(more):
                            m.next = "WAIT_BANK"
                        with m.Else():
                            m.next = "IDLE"
        return m
