"""``DenseLayer``: the dense baseline engine, ``y = act(W x + b)`` for a dense (m, n) W.

Model twin: :func:`circnn.sim.model.dense.dense_forward`.  This is the
engine a user would build without the circulant structure, for comparison
with :class:`circnn.rtl.layer.CirculantLayer` (``docs/architecture.md``,
"The dense baseline").  Its streams have the circulant layer's layouts, so
hosts and benches drive both alike::

    i (x pairs) ─► input buffer (2 banks) ──x[b, j]──► M x (weight bank ─► Multiplier ─► B accumulators)
                                ▲                                                  │ finished sums
                   scheduler ───┘ (g, j, b loops; one step per clock)               ▼ (2 banks)
    o (y pairs) ◄─ queue ◄─ emitter ◄─ output buffer (2 banks) ◄─ drain: + bias, ReLU, requantise

Schedule, for a batch of B vectors whose inputs are buffered::

    for g in 0 .. ceil(m/M) - 1:         # pass: rows g*M .. g*M+M-1, one per multiplier
        for j in 0 .. n-1:               # input element (weight word read once ...)
            for b in 0 .. B-1:           # ... and used for B consecutive clocks
                acc[mult][b] (=|+=) W[g*M + mult, j] * x[b, j]

so a vector costs ``ceil(m/M) * n`` MAC clocks.  Passes alternate between
two banks of finished sums, so the drain (one sum per clock: bias, ReLU,
requantise, into the output buffer) overlaps the next pass; the output
buffer has two banks, so a batch's outputs leave while the next batch
computes.  Outputs leave vector by vector, in blocks of k (k/2 pairs, tagged
``block`` and ``vector``, ``last`` on the block's last pair); elements past
``m`` in the last block are zero.

Built from the circulant layer's parts: a :class:`BatchBuffer` for the
inputs, a :class:`BankPair` each for the finished sums and the output
buffer, a :class:`Requantizer`, :class:`CreditQueue` components and
:class:`BlockRAM` weight
banks; the stages are :class:`DenseScheduler`, :class:`DenseMACArray`,
:class:`DenseDrain` and :class:`DenseOutputBuffer`.

Run-time configuration: registers ``n``, ``m``, ``out_shift``, ``relu``
(a :class:`circnn.config.DenseRegisters`, reset to the values given at
elaboration, writable through ``load`` at the
:class:`circnn.config.DenseField` addresses), the weight banks (multiplier
``pe``, word ``g*n + j`` holds ``W[g*M + pe, j]``) and the bias memory
(word = row), initialised from a :class:`circnn.config.DenseMemoryImage`.
"""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import (MAX_LEFT_SHIFT, DenseConfig, DenseField, DenseMemoryImage,
                           DenseRegisters, LoadTarget)

from .bank_pair import BankPair
from .batch_buffer import BatchBuffer
from .dense_drain import DenseDrain
from .dense_mac import DenseMACArray, input_pair_layout
from .dense_output import DenseOutputBuffer, dense_output_layout
from .dense_scheduler import DenseScheduler
from .load import dense_load_layout

__all__ = ["DenseLayer", "dense_input_layout"]


def dense_input_layout(cfg: DenseConfig):
    """``{x0, x1}``: CirculantLayer's input layout (``real_input_layout``) at ``act_width``."""
    return data.StructLayout({"x0": signed(cfg.act_width), "x1": signed(cfg.act_width)})


class DenseLayer(wiring.Component):
    def __init__(self, cfg: DenseConfig, *, registers: DenseRegisters | None = None,
                 memory: DenseMemoryImage | None = None):
        if not isinstance(cfg, DenseConfig):
            raise TypeError("cfg must be a DenseConfig")
        self.cfg = cfg
        registers = registers if registers is not None else DenseRegisters.largest(cfg)
        registers.check(cfg)
        self.registers = registers
        self.memory = memory
        super().__init__({
            "i": In(stream.Signature(dense_input_layout(cfg))),
            "o": Out(stream.Signature(dense_output_layout(cfg))),
            "load": In(dense_load_layout(cfg)),
            "mac_steps": Out(32),        # clocks in which the multipliers were issued a step
            "pe_steps": Out(32),         # sum over those clocks of the busy multipliers
            "out_saturations": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, init = self.cfg, self.registers
        B, k = cfg.batch, cfg.k
        log_k, log_half = k.bit_length() - 1, cfg.half.bit_length() - 1

        # -- configuration registers, and what is derived from them (registered:
        #    they change only between layers, and keep adders off the loops)
        regs = {
            "n": Signal(range(cfg.max_in + 1), init=init.n, name="reg_n"),
            "m": Signal(range(cfg.max_out + 1), init=init.m, name="reg_m"),
            "out_shift": Signal(range(-MAX_LEFT_SHIFT, cfg.sum_width), init=init.out_shift,
                                name="reg_out_shift"),
            "relu": Signal(init=int(init.relu), name="reg_relu"),
        }
        ld = self.load
        with m.If(ld.en & (ld.target == LoadTarget.REGISTERS)):
            with m.Switch(ld.addr):
                for field in DenseField:
                    with m.Case(int(field)):
                        reg = regs[field.key]
                        m.d.sync += reg.eq(ld.data[:len(reg)])
        reg_n, reg_m = regs["n"], regs["m"]
        n_pairs0 = (init.n + 1) // 2
        n_pairs = Signal(range(cfg.in_pairs + 1), init=n_pairs0)
        n_last = Signal(range(cfg.max_in), init=init.n - 1)
        batch_last = Signal(range(B * cfg.in_pairs), init=B * n_pairs0 - 1)
        lin_end = Signal(range(cfg.max_p * cfg.half),
                         init=((init.m + k - 1) >> log_k << log_half) - 1)
        m.d.sync += [
            n_pairs.eq((reg_n + 1) >> 1),
            n_last.eq(reg_n - 1),
            batch_last.eq(n_pairs * B - 1),
            lin_end.eq((((reg_m + (k - 1)) >> log_k) << log_half) - 1),
        ]

        # -- the stages, and the banks they hand each other
        inputs = m.submodules.inputs = BatchBuffer(input_pair_layout(cfg), B * cfg.in_pairs)
        sched = m.submodules.scheduler = DenseScheduler(cfg)
        macs = m.submodules.macs = DenseMACArray(cfg, self.memory, x_latency=inputs.latency)
        sum_banks = m.submodules.sum_banks = BankPair(landing=True)
        drain = m.submodules.drain = DenseDrain(
            cfg, self.memory.bias if self.memory is not None else None)
        out_banks = m.submodules.out_banks = BankPair(landing=True)
        outputs = m.submodules.outputs = DenseOutputBuffer(cfg)

        m.d.comb += [
            inputs.i.valid.eq(self.i.valid), self.i.ready.eq(inputs.i.ready),
            inputs.i.payload[0].eq(self.i.payload.x0), inputs.i.payload[1].eq(self.i.payload.x1),
            inputs.last_word.eq(batch_last),
            inputs.rd_addr.eq(sched.step.payload.x_addr), macs.x.eq(inputs.rd_data),
            sched.m.eq(reg_m), sched.n_last.eq(n_last), sched.n_pairs.eq(n_pairs),
            drain.m.eq(reg_m), drain.relu.eq(regs["relu"]), drain.out_shift.eq(regs["out_shift"]),
            outputs.m.eq(reg_m), outputs.lin_end.eq(lin_end),
            macs.load.eq(ld), drain.load.eq(ld),
            macs.rd_addr.eq(drain.rd_addr), drain.rd_data.eq(macs.rd_data),
            outputs.wr.eq(drain.wr),
            self.out_saturations.eq(drain.saturations),
        ]
        wiring.connect(m, sched.inputs, inputs.reader)
        wiring.connect(m, sched.step, macs.step)
        # finished sums: the scheduler claims, the MAC array fills, the drain empties
        wiring.connect(m, sched.banks, sum_banks.writer)
        wiring.connect(m, macs.landed, sum_banks.landed)
        wiring.connect(m, drain.sums, sum_banks.reader)
        # the output buffer: the drain fills a batch, the emitter sends it
        wiring.connect(m, drain.out, out_banks.writer)
        wiring.connect(m, drain.landed, out_banks.landed)
        wiring.connect(m, outputs.reader, out_banks.reader)
        wiring.connect(m, outputs.o, wiring.flipped(self.o))

        # the activity counters count one clock late (the active count is registered)
        valid_d = Signal()
        active_d = Signal(range(cfg.mults + 1))
        m.d.sync += [valid_d.eq(sched.step.valid), active_d.eq(sched.step.payload.active)]
        with m.If(valid_d):
            m.d.sync += [self.mac_steps.eq(self.mac_steps + 1),
                         self.pe_steps.eq(self.pe_steps + active_d)]
        return m
