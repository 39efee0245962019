"""``CirculantLayer``: one block-circulant fully-connected layer, ``y = act(W x + b)``.

Model twin: :func:`circnn.sim.layer_model.layer_forward`.  Dataflow
(``docs/architecture.md``)::

    i (x pairs) ─► RealFFT ─► SpectrumBuffer (2 banks) ──x──► PEArray (P x CirculantPE,
                                   ▲                          │      weight bank each)
                          MACScheduler ──steps────────────────┘
                                                              │ finished accumulator banks
    o (y pairs) ◄─ OutputStage ◄─ RealIFFT ◄─ AccumulatorDrain ◄┘
                   (bias, ReLU,                (round+saturate, block tags)
                    requantise)

Input: B vectors per batch, each q*k activations sent as k/2-pair... i.e.
``(x[2n], x[2n+1])`` pairs, vector after vector.  Output: for each PE pass
g, for each vector b, the blocks ``g*P .. g*P+P-1`` of vector b, each as k/2
pairs tagged with ``block`` and ``vector`` (with B = 1: natural order).

The layer's shape and requantisation live in registers (``q``, ``p``,
``acc_shift``, ``out_shift``, ``relu``, ``out_features``) whose reset
values come from the compiled layer given at elaboration; weights and
biases are memory contents, initialised from it.  All of them can be
rewritten at run time through ``load`` (``target`` 0 weights, 1 biases,
2 registers, addressed as :data:`LAYER_REGISTERS`).
"""

from amaranth.hdl import Module, Signal, Value
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.designs import TARGETS, register
from circnn.params import Param, check_choice
from circnn.sim.fft_model import ROUNDINGS
from circnn.sim.layer_model import EngineConfig, LayerProgram

from .drain import AccumulatorDrain, tag_layout
from .output_stage import MAX_LEFT_SHIFT, OutputStage, layer_output_layout
from .pe_array import PEArray, load_layout
from .real_fft import RealFFT, real_input_layout
from .real_ifft import RealIFFT
from .scheduler import MACScheduler
from .spectrum_buffer import SpectrumBuffer

__all__ = ["CirculantLayer", "LAYER_REGISTERS", "layer_config_layout"]

#: Register addresses for ``load`` writes with ``target = 2``.
LAYER_REGISTERS = {"q": 0, "p": 1, "acc_shift": 2, "out_shift": 3, "relu": 4, "out_features": 5,
                   "w_base": 6, "b_base": 7}


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


def layer_config_layout(eng: EngineConfig) -> data.StructLayout:
    """One layer's configuration, as the layer core sees it."""
    return data.StructLayout({
        "q": range(eng.max_q + 1),
        "p": range(eng.max_p + 1),
        "acc_shift": range(eng.acc_width),
        "out_shift": range(-MAX_LEFT_SHIFT, eng.sum_width),
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

    def __init__(self, eng: EngineConfig, prog: LayerProgram | None = None, target: str = "generic",
                 *, external_config: bool = False, memory_init=None):
        if not isinstance(eng, EngineConfig):
            raise TypeError("eng must be an EngineConfig")
        self.eng = eng
        self.target = check_choice("target", target, TARGETS)
        if prog is not None:
            prog.check(eng)
        self.prog = prog
        self.external_config = external_config
        #: (per-PE weight images, bias pairs) for a whole network; overrides prog
        self.memory_init = memory_init
        init = dict(q=eng.max_q, p=eng.max_p, acc_shift=0, out_shift=0, relu=0,
                    out_features=eng.max_p * eng.k, w_base=0, b_base=0)
        if prog is not None:
            init.update(q=prog.q, p=prog.p, acc_shift=prog.acc_shift, out_shift=prog.out_shift,
                        relu=int(prog.relu),
                        out_features=prog.out_features or prog.p * eng.k)
        self.register_init = init
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
        eng, t = self.eng, self.target
        if self.external_config:
            cfg = self.config
        else:
            init = self.register_init
            cfg = Signal(layer_config_layout(eng), init=init, name="config_regs")
            with m.If(self.load.en & (self.load.target == 2)):
                with m.Switch(self.load.addr):
                    for name, addr in LAYER_REGISTERS.items():
                        with m.Case(addr):
                            field = cfg[name]
                            width = Value.cast(field).shape().width
                            m.d.sync += field.eq(self.load.data[:width])
        rfft = m.submodules.rfft = RealFFT(eng.fft_config, t)
        sbuf = m.submodules.spectra = SpectrumBuffer(eng, t)
        sched = m.submodules.scheduler = MACScheduler(eng)
        weight_images = self.memory_init[0] if self.memory_init is not None else None
        bias_pairs = self.memory_init[1] if self.memory_init is not None else None
        pes = m.submodules.pes = PEArray(eng, self.prog, t, images=weight_images,
                                         x_latency=sbuf.latency)
        drain = m.submodules.drain = AccumulatorDrain(eng, pes.pe_addr_bits)
        tags = m.submodules.tags = fifo.SyncFIFOBuffered(width=tag_layout(eng).size, depth=8)
        rifft = m.submodules.rifft = RealIFFT(eng.ifft_config, t)
        ostage = m.submodules.output = OutputStage(eng, self.prog, bias_pairs=bias_pairs, target=t)

        wiring.connect(m, wiring.flipped(self.i), rfft.i)
        wiring.connect(m, rfft.o, sbuf.i)
        m.d.comb += [
            sbuf.q.eq(cfg.q),
            sched.q.eq(cfg.q), sched.p.eq(cfg.p), pes.w_base.eq(cfg.w_base),
            ostage.b_base.eq(cfg.b_base),
            sched.start.eq(sbuf.ready), sbuf.release.eq(sched.done),
            sbuf.rd_addr.eq(sched.x_addr),
            pes.x.eq(sbuf.rd_data), pes.w_addr.eq(sched.w_addr),
            pes.step.valid.eq(sched.valid), pes.step.acc_addr.eq(sched.acc_addr),
            pes.step.first.eq(sched.first), pes.step.real_pair.eq(sched.real_pair),
            pes.step.bank.eq(sched.bank), pes.step.end_of_pass.eq(sched.end_of_pass),
            pes.load.eq(self.load), ostage.load.eq(self.load),
            drain.pass_start.eq(sched.pass_start), drain.start_bank.eq(sched.bank),
            drain.pass_done.eq(pes.pass_done), drain.done_bank.eq(pes.pass_bank),
            sched.bank_free.eq(drain.bank_free),
            pes.rd_addr.eq(drain.rd_addr), drain.rd_data.eq(pes.rd_data),
            drain.p.eq(cfg.p), drain.acc_shift.eq(cfg.acc_shift),
            # block tags travel beside the inverse FFT
            tags.w_en.eq(drain.tag.valid), tags.w_data.eq(drain.tag.payload),
            drain.tag.ready.eq(tags.w_rdy),
            ostage.tag.valid.eq(tags.r_rdy), ostage.tag.payload.eq(tags.r_data),
            tags.r_en.eq(ostage.tag.ready),
            ostage.relu.eq(cfg.relu), ostage.out_shift.eq(cfg.out_shift),
            ostage.out_features.eq(cfg.out_features),
            self.acc_saturations.eq(drain.saturations),
            self.out_saturations.eq(ostage.saturations),
        ]
        wiring.connect(m, drain.o, rifft.i)
        wiring.connect(m, rifft.o, ostage.i)
        wiring.connect(m, ostage.o, wiring.flipped(self.o))
        with m.If(sched.valid):
            m.d.sync += [self.mac_steps.eq(self.mac_steps + 1),
                         self.pe_steps.eq(self.pe_steps + sched.active_pes)]
        return m


def engine_from_params(params) -> EngineConfig:
    return EngineConfig(k=params["k"], act_width=params["act_width"],
                        weight_width=params["weight_width"], ifft_width=params["ifft_width"],
                        twiddle_width=params["twiddle_width"], rounding=params["rounding"],
                        pes=params["pes"], batch=params["batch"], max_q=params["max_q"],
                        max_p=params["max_p"])


@register(
    "layer",
    description="one block-circulant FC layer: real FFT, P circulant PEs, IFFT, bias/ReLU/requantise",
    params=[
        Param("k", 16, "block size", 4, 256, power_of_two=True),
        Param("act_width", 16, "activation width (input and output)", 8, 17),
        Param("weight_width", 16, "weight spectrum width", 4, 18),
        Param("ifft_width", 16, "accumulator width after requantisation (IFFT input)", 8, 17),
        Param("twiddle_width", 16, "twiddle width", 8, 18),
        Param("rounding", "half_up", "rounding of every scaling step", choices=ROUNDINGS, kind=str),
        Param("pes", 4, "processing elements P", 1, 64),
        Param("batch", 1, "batch size B", 1, 64),
        Param("max_q", 16, "largest input block count", 1, 4096),
        Param("max_p", 16, "largest output block count", 1, 4096),
    ],
    lint_params={"k": 4, "act_width": 8, "weight_width": 8, "ifft_width": 8, "twiddle_width": 8,
                 "pes": 2, "batch": 2, "max_q": 3, "max_p": 3},
    validate=engine_from_params,
)
def _build(params, target):
    return CirculantLayer(engine_from_params(params), None, target)
