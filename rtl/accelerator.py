"""``Accelerator``: the reconfigurable engine that runs whole networks, layer after layer.

Three levels of control (``docs/controller.md``):

* network level: :class:`~circnn.rtl.network_controller.NetworkController`
  walks the layer descriptor table, checks each descriptor, counts;
* layer level: :class:`~circnn.rtl.layer_controller.LayerController` owns
  the activation buffers and feeds one layer through the core;
* PE level: the core's :class:`~circnn.rtl.scheduler.MACScheduler` and
  :class:`~circnn.rtl.pe.CirculantPE` (bin counters, accumulate/clear,
  valid tracking).

Host interface: ``i`` (activation pairs in), ``o`` (result pairs out, tagged
with block and vector), and ``bus``, a memory-mapped configuration port
(``docs/registers.md``): control and status registers, the descriptor
table, the weight banks and the bias memory.  A network can be given at
elaboration (memory and register reset values) and a new one loaded at run
time through ``bus``, without re-elaboration.
"""

from amaranth.hdl import Module, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.designs import TARGETS, register
from circnn.params import Param, check_choice
from circnn.sim.fft_model import ROUNDINGS
from circnn.sim.layer_model import EngineConfig
from circnn.sim.network_program import (DESCRIPTOR_FIELDS, REGION_SHIFT, REGISTERS, NetworkConfig,
                                        NetworkImage)

from .layer import CirculantLayer
from .layer_controller import LayerController
from .network_controller import NetworkController, descriptor_layout
from .output_stage import layer_output_layout
from .real_fft import real_input_layout

__all__ = ["Accelerator", "HostBusSignature"]

ADDR_WIDTH = REGION_SHIFT + 2


class HostBusSignature(wiring.Signature):
    """A simple synchronous register bus, seen from the host.

    A write takes one clock (``w_en`` with ``addr`` and ``w_data``); a read
    presents ``addr`` with ``r_en`` and finds ``r_data`` on the next clock.
    """

    def __init__(self, data_width: int):
        self.data_width = data_width
        super().__init__({
            "addr": Out(ADDR_WIDTH), "w_data": Out(data_width), "w_en": Out(1),
            "r_en": Out(1), "r_data": In(data_width),
        })


class Accelerator(wiring.Component):
    def __init__(self, net: NetworkConfig, image: NetworkImage | None = None, target: str = "generic"):
        if not isinstance(net, NetworkConfig):
            raise TypeError("net must be a NetworkConfig")
        self.net = net
        self.image = image
        self.target = check_choice("target", target, TARGETS)
        eng = net.engine
        super().__init__({
            "i": In(stream.Signature(real_input_layout(eng.fft_config))),
            "o": Out(stream.Signature(layer_output_layout(eng))),
            "bus": In(HostBusSignature(net.data_width)),
        })

    def elaborate(self, platform):
        m = Module()
        net, eng = self.net, self.net.engine
        L = net.max_layers
        image = self.image
        memory_init = None
        desc_init = [{}] * L
        n_layers_init = 0
        if image is not None:
            memory_init = (image.weight_banks, image.bias_pairs)
            for i, d in enumerate(image.descriptors):
                desc_init[i] = dict(d)
            n_layers_init = image.n_layers

        core = m.submodules.core = CirculantLayer(eng, None, self.target, external_config=True,
                                                  memory_init=memory_init)
        lc = m.submodules.layers = LayerController(net, self.target)
        nc = m.submodules.network = NetworkController(net)

        # --- configuration registers --------------------------------------
        dl = descriptor_layout(net)
        descriptors = [Signal(dl, init=desc_init[i], name=f"descriptor{i}") for i in range(L)]
        n_layers = Signal(16, init=n_layers_init)
        n_batches = Signal(32, init=1)
        start = Signal()
        bus = self.bus
        region = bus.addr[REGION_SHIFT:]
        offset = bus.addr[:REGION_SHIFT]
        with m.If(bus.w_en & (region == 0)):
            with m.If(offset == REGISTERS["ctrl"]):
                m.d.comb += start.eq(bus.w_data[0])
            with m.If(offset == REGISTERS["n_layers"]):
                m.d.sync += n_layers.eq(bus.w_data)
            with m.If(offset == REGISTERS["n_batches"]):
                m.d.sync += n_batches.eq(bus.w_data)
            for i in range(L):
                for f, name in enumerate(DESCRIPTOR_FIELDS):
                    with m.If(offset == REGISTERS["descriptors"] + 16 * i + f):
                        field = descriptors[i][name]
                        m.d.sync += field.eq(bus.w_data[:len(Value.cast(field))])
        # weights and biases go to the core's load port (registered)
        m.d.sync += [
            core.load.en.eq(bus.w_en & ((region == 1) | (region == 2))),
            core.load.target.eq(region == 2),
            core.load.data.eq(bus.w_data),
        ]
        w_bits = max(1, (eng.weight_words - 1).bit_length())
        with m.If(region == 1):
            m.d.sync += [core.load.addr.eq(offset[:w_bits]), core.load.pe.eq(offset[w_bits:])]
        with m.Else():
            m.d.sync += [core.load.addr.eq(offset), core.load.pe.eq(0)]

        # --- status reads ---------------------------------------------------
        status = Signal(32)
        m.d.comb += status.eq(nc.busy | (nc.done << 1) | (nc.error << 2) | (nc.start_ignored << 3)
                              | (nc.error_layer << 8) | (nc.error_code << 16))
        with m.If(bus.r_en):
            m.d.sync += bus.r_data.eq(0)
            with m.If(region == 0):
                reads = {
                    REGISTERS["status"]: status, REGISTERS["n_layers"]: n_layers,
                    REGISTERS["n_batches"]: n_batches, REGISTERS["inferences"]: nc.inferences,
                    REGISTERS["cycles"]: nc.cycles,
                    REGISTERS["acc_saturations"]: core.acc_saturations,
                    REGISTERS["out_saturations"]: core.out_saturations,
                }
                for i in range(L):
                    reads[REGISTERS["layer_cycles"] + i] = nc.layer_cycles[i]
                    for f, name in enumerate(DESCRIPTOR_FIELDS):
                        reads[REGISTERS["descriptors"] + 16 * i + f] = descriptors[i][name]
                with m.Switch(offset):
                    for addr, value in reads.items():
                        with m.Case(addr):
                            m.d.sync += bus.r_data.eq(value)

        # --- the three levels -------------------------------------------------
        m.d.comb += [
            nc.start.eq(start), nc.n_layers.eq(n_layers), nc.n_batches.eq(n_batches),
            core.config.eq(nc.config),
            lc.accept_input.eq(nc.running), lc.in_pairs.eq(nc.in_pairs),
            nc.in_full.eq(lc.in_full),
            lc.start.eq(nc.layer_start), lc.src.eq(nc.src), lc.dst.eq(nc.dst),
            lc.q.eq(nc.config.q), lc.p.eq(nc.config.p),
            nc.layer_done.eq(lc.done),
        ]
        for i in range(L):
            m.d.comb += nc.descriptors[i].eq(descriptors[i])
        wiring.connect(m, wiring.flipped(self.i), lc.host_i)
        wiring.connect(m, lc.host_o, wiring.flipped(self.o))
        wiring.connect(m, lc.core_i, core.i)
        wiring.connect(m, core.o, lc.core_o)
        return m


def _network_from_params(params) -> NetworkConfig:
    eng = EngineConfig(k=params["k"], act_width=params["act_width"],
                       weight_width=params["weight_width"], ifft_width=params["ifft_width"],
                       twiddle_width=params["twiddle_width"], rounding=params["rounding"],
                       pes=params["pes"], batch=params["batch"], max_q=params["max_q"],
                       max_p=params["max_p"], weight_depth=params["weight_depth"],
                       bias_depth=params["bias_depth"])
    return NetworkConfig(eng, params["max_layers"])


@register(
    "accelerator",
    description="the whole engine: hierarchical controller, activation buffers, host port, layer core",
    params=[
        Param("k", 16, "block size", 4, 256, power_of_two=True),
        Param("act_width", 16, "activation width", 8, 17),
        Param("weight_width", 16, "weight spectrum width", 4, 18),
        Param("ifft_width", 16, "IFFT input width", 8, 17),
        Param("twiddle_width", 16, "twiddle width", 8, 18),
        Param("rounding", "half_up", "rounding of every scaling step", choices=ROUNDINGS, kind=str),
        Param("pes", 4, "processing elements P", 1, 64),
        Param("batch", 1, "batch size B", 1, 64),
        Param("max_q", 8, "largest input block count of a layer", 1, 4096),
        Param("max_p", 8, "largest output block count of a layer", 1, 4096),
        Param("weight_depth", 512, "words per PE weight bank (all layers)", 1, 1 << 20),
        Param("bias_depth", 256, "bias pairs (all layers)", 1, 1 << 20),
        Param("max_layers", 8, "descriptor table size", 1, 64),
    ],
    lint_params={"k": 4, "act_width": 8, "weight_width": 8, "ifft_width": 8, "twiddle_width": 8,
                 "pes": 2, "batch": 2, "max_q": 3, "max_p": 3, "weight_depth": 32,
                 "bias_depth": 16, "max_layers": 3},
    validate=_network_from_params,
)
def _build(params, target):
    return Accelerator(_network_from_params(params), None, target)
