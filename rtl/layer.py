"""``CirculantLayer``: one block-circulant fully-connected layer, ``y = act(W x + b)``.

Model twin: :func:`circnn.sim.model.layer.layer_forward`.  Dataflow
(``docs/architecture.md``)::

    i (x pairs) ─► RealFFT ─► SpectrumBuffer (2 banks) ──x──► PEArray (P x CirculantPE,
                                   ▲                          │      weight bank each)
                          MACScheduler ──steps────────────────┘
                                                              │ finished accumulator banks
    o (y pairs) ◄─ OutputStage ◄─ RealIFFT ◄─ AccumulatorDrain ◄┘
                   (bias, ReLU,                (round+saturate,
                    requantise)                 block tags)

(a register slice, :class:`StreamRegister`, on either side of the RealIFFT,
and between the RealFFT and the spectrum buffer)

Input: B vectors per batch, each q*k activations sent as q*k/2 pairs
``(x[2n], x[2n+1])``, vector after vector.  Output: for each PE pass
g, for each vector b, the blocks ``g*P .. g*P+P-1`` of vector b, each as k/2
pairs tagged with ``block`` and ``vector`` (with B = 1: natural order).

The layer's shape and requantisation live in registers (``q``, ``p``,
``acc_shift``, ``out_shift``, ``relu``, ``out_features``, ``w_base``,
``b_base``: a :class:`circnn.config.LayerRegisters`) whose reset values are
given at elaboration; weights and biases are memory contents, initialised
from a :class:`circnn.config.MemoryImage`.  All of them can be rewritten at
run time through ``load`` (:mod:`circnn.rtl.load`; register addresses
:class:`circnn.config.LayerField`).
"""

from amaranth.hdl import Module, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import EngineConfig, LayerField, LayerRegisters, LoadTarget, MemoryImage

from .bank_pair import BankPair
from .drain import AccumulatorDrain
from .load import load_layout
from .output_stage import OutputStage, layer_output_layout
from .pe_array import PEArray
from .real_fft import RealFFT, real_input_layout
from .real_ifft import RealIFFT
from .scheduler import MACScheduler
from .spectrum_buffer import SpectrumBuffer
from .stream_register import StreamRegister

__all__ = ["CirculantLayer", "layer_config_layout"]


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


def layer_config_layout(eng: EngineConfig) -> data.StructLayout:
    """One layer's configuration (:class:`~circnn.config.LayerRegisters`), as the core sees it."""
    lo, hi = eng.out_shift_range
    return data.StructLayout({
        "q": range(eng.max_q + 1),
        "p": range(eng.max_p + 1),
        "acc_shift": range(eng.acc_width),
        "out_shift": range(lo, hi + 1),
        "relu": 1,
        "out_features": range(eng.max_p * eng.k + 1),
        "w_base": _bits(eng.weight_words),
        "b_base": _bits(eng.bias_words),
    })


class CirculantLayer(wiring.Component):
    """The layer engine.

    ``external_config=False`` (standalone): the configuration lives in
    registers reset to ``prog``'s values and written through ``load``.
    ``external_config=True``: it is the ``config`` input, driven by a
    controller (:class:`circnn.rtl.accelerator.Accelerator`).
    """

    def __init__(self, eng: EngineConfig, *, registers: LayerRegisters | None = None,
                 memory: MemoryImage | None = None, external_config: bool = False):
        if not isinstance(eng, EngineConfig):
            raise TypeError("eng must be an EngineConfig")
        self.eng = eng
        registers = registers if registers is not None else LayerRegisters.largest(eng)
        registers.check(eng)
        self.register_init = registers.values(eng)
        if memory is not None:
            memory.check(eng)
        self.memory = memory
        self.external_config = external_config
        ports = {
            "i": In(stream.Signature(real_input_layout(eng.fft_config))),
            "o": Out(stream.Signature(layer_output_layout(eng))),
            "load": In(load_layout(eng)),
            # activity and status
            "mac_steps": Out(32),       # clocks in which the PEs were issued a step
            "pe_steps": Out(32),        # sum over those clocks of the PEs doing useful work
            "acc_saturations": Out(32),
            "out_saturations": Out(32),
        }
        if external_config:
            ports["config"] = In(layer_config_layout(eng))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        eng = self.eng
        if self.external_config:
            cfg = self.config
        else:
            cfg = Signal(layer_config_layout(eng), init=self.register_init, name="config_regs")
            with m.If(self.load.en & (self.load.target == LoadTarget.REGISTERS)):
                with m.Switch(self.load.addr):
                    for field in LayerField:
                        if field.key in self.register_init:
                            with m.Case(int(field)):
                                target = cfg[field.key]
                                width = Value.cast(target).shape().width
                                m.d.sync += target.eq(self.load.data[:width])
        rfft = m.submodules.rfft = RealFFT(eng.fft_config)
        sbuf = m.submodules.spectra = SpectrumBuffer(eng)
        sched = m.submodules.scheduler = MACScheduler(eng)
        pes = m.submodules.pes = PEArray(eng, self.memory, x_latency=sbuf.latency)
        acc_banks = m.submodules.acc_banks = BankPair(landing=True)
        drain = m.submodules.drain = AccumulatorDrain(eng, pes.pe_addr_bits)
        rifft = m.submodules.rifft = RealIFFT(eng.ifft_config)
        bias = self.memory.bias_pairs if self.memory is not None else None
        ostage = m.submodules.output = OutputStage(eng, bias)

        # the data path
        wiring.connect(m, wiring.flipped(self.i), rfft.i)
        # the real FFT's output queue and the spectrum buffer's bank flags are far
        # apart: a register slice between them, so that the buffer's accept and
        # commit decisions start at registers beside it
        spectra_link = m.submodules.spectra_link = StreamRegister(rfft.o.payload.shape())
        wiring.connect(m, rfft.o, spectra_link.i)
        wiring.connect(m, spectra_link.o, sbuf.i)
        wiring.connect(m, sched.spectra, sbuf.reader)
        wiring.connect(m, sched.step, pes.step)
        m.d.comb += [sbuf.rd_addr.eq(sched.step.payload.x_addr), pes.x.eq(sbuf.rd_data)]
        # the accumulator banks: the scheduler claims, the PEs fill, the drain empties
        wiring.connect(m, sched.banks, acc_banks.writer)
        wiring.connect(m, pes.landed, acc_banks.landed)
        wiring.connect(m, drain.banks, acc_banks.reader)
        m.d.comb += [pes.rd_addr.eq(drain.rd_addr), drain.rd_data.eq(pes.rd_data)]
        # the drain sits by the PEs' accumulators, the inverse FFT by its own
        # memories and multipliers, often far apart: a register slice between them
        link = m.submodules.drain_link = StreamRegister(drain.o.payload.shape())
        wiring.connect(m, drain.o, link.i)
        wiring.connect(m, link.o, rifft.i)
        # and a register slice between the inverse FFT's reorder bank and the
        # output stage: the stage's ready comes from its queue's credits, which
        # the reorder bank's read decision must not wait on in the same clock
        out_link = m.submodules.ifft_link = StreamRegister(rifft.o.payload.shape())
        wiring.connect(m, rifft.o, out_link.i)
        wiring.connect(m, out_link.o, ostage.i)
        wiring.connect(m, drain.tag, ostage.tag)      # block tags travel beside the IFFT
        wiring.connect(m, ostage.o, wiring.flipped(self.o))

        # the configuration, and run-time writes into the memories
        m.d.comb += [
            sbuf.q.eq(cfg.q), sched.q.eq(cfg.q), sched.p.eq(cfg.p),
            pes.w_base.eq(cfg.w_base), ostage.b_base.eq(cfg.b_base),
            drain.p.eq(cfg.p), drain.acc_shift.eq(cfg.acc_shift),
            ostage.relu.eq(cfg.relu), ostage.out_shift.eq(cfg.out_shift),
            ostage.out_features.eq(cfg.out_features),
            pes.load.eq(self.load), ostage.load.eq(self.load),
            self.acc_saturations.eq(drain.saturations),
            self.out_saturations.eq(ostage.saturations),
        ]
        with m.If(sched.step.valid):
            m.d.sync += [self.mac_steps.eq(self.mac_steps + 1),
                         self.pe_steps.eq(self.pe_steps + sched.step.payload.active_pes)]
        return m
