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

from amaranth.hdl import Module, Mux, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import (DESCRIPTOR_FIELDS, DESCRIPTOR_SLOT, REGION_SHIFT, STATUS_LAYOUT,
                           HostRegister, LoadTarget, MemoryImage, NetworkConfig, Region)

from .host_bus import HostBusSignature
from .layer import CirculantLayer
from .layer_controller import LayerController
from .network_controller import NetworkController, descriptor_layout
from .output_stage import layer_output_layout
from .read_mux import registered_read_mux
from .real_fft import real_input_layout

__all__ = ["Accelerator"]


class Accelerator(wiring.Component):
    """``memory`` and ``descriptors`` (one ``{field: value}`` dict per layer,
    :data:`circnn.config.DESCRIPTOR_FIELDS`) preload a network at elaboration;
    without them the memories are empty and the table is loaded through ``bus``."""

    def __init__(self, net: NetworkConfig, *, memory: MemoryImage | None = None,
                 descriptors: list[dict] | None = None):
        if not isinstance(net, NetworkConfig):
            raise TypeError("net must be a NetworkConfig")
        self.net = net
        self.memory = memory
        self.descriptors = list(descriptors or [])
        if len(self.descriptors) > net.max_layers:
            raise ValueError(f"{len(self.descriptors)} descriptors, the table holds "
                             f"max_layers={net.max_layers}")
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
        desc_init = [dict(d) for d in self.descriptors] + [{}] * (L - len(self.descriptors))

        core = m.submodules.core = CirculantLayer(eng, memory=self.memory, external_config=True)
        lc = m.submodules.layers = LayerController(net)
        nc = m.submodules.network = NetworkController(net)

        # --- configuration registers --------------------------------------
        dl = descriptor_layout(net)
        descriptors = [Signal(dl, init=desc_init[i], name=f"descriptor{i}") for i in range(L)]
        n_layers = Signal(16, init=len(self.descriptors))
        n_batches = Signal(32, init=1)
        start = Signal()
        bus = self.bus
        region = bus.addr[REGION_SHIFT:]
        offset = bus.addr[:REGION_SHIFT]

        def descriptor_word(i, f):
            return HostRegister.DESCRIPTORS + DESCRIPTOR_SLOT * i + f

        # While the engine runs, the network it runs is frozen: a write to
        # anything but CTRL (descriptors, counts, weights, biases) is refused
        # and recorded in STATUS.write_ignored until the next accepted start,
        # so a host that writes too early sees it rather than a wrong result.
        # `frozen` is a flip-flop of its own (busy or starting, a clock ago),
        # placed by the write decode it gates rather than in the network
        # controller, where `busy` is; it stays high one clock after `busy`
        # falls, before which no host can have seen `done`.
        is_ctrl = (region == Region.REGISTERS) & (offset == HostRegister.CTRL)
        frozen = Signal()
        m.d.sync += frozen.eq(nc.busy | start)
        write = bus.w_en & ~frozen
        write_ignored = Signal()
        with m.If(bus.w_en & frozen & ~is_ctrl):
            m.d.sync += write_ignored.eq(1)
        with m.Elif(start & ~nc.busy):
            m.d.sync += write_ignored.eq(0)

        with m.If(bus.w_en & is_ctrl):
            m.d.comb += start.eq(bus.w_data[0])
        # Each register's write select is a wire of its own, from the bus alone,
        # marked `keep`: synthesis then maps the decode apart and `frozen` meets
        # each select in the register's enable, one LUT before it, instead of
        # entering at the head of a shared decode tree whose outputs fan out
        # across the chip (the path that limited the clock)
        def selected(word, name):
            sel = Signal(name=f"{name}_write", attrs={"keep": 1})
            m.d.comb += sel.eq(bus.w_en & (region == Region.REGISTERS) & (offset == word))
            return sel & ~frozen

        with m.If(selected(HostRegister.N_LAYERS, "n_layers")):
            m.d.sync += n_layers.eq(bus.w_data)
        with m.If(selected(HostRegister.N_BATCHES, "n_batches")):
            m.d.sync += n_batches.eq(bus.w_data)
        for i in range(L):
            for f, name in enumerate(DESCRIPTOR_FIELDS):
                with m.If(selected(descriptor_word(i, f), f"descriptor{i}_{name}")):
                    field = descriptors[i][name]
                    m.d.sync += field.eq(bus.w_data[:len(Value.cast(field))])
        # weights and biases go to the core's load port (registered)
        m.d.sync += [
            core.load.en.eq(write & ((region == Region.WEIGHTS) | (region == Region.BIASES))),
            core.load.target.eq(LoadTarget.WEIGHTS),
            core.load.data.eq(bus.w_data),
        ]
        with m.If(region == Region.BIASES):
            m.d.sync += core.load.target.eq(LoadTarget.BIASES)
        w_bits = max(1, (eng.weight_words - 1).bit_length())
        with m.If(region == Region.WEIGHTS):
            m.d.sync += [core.load.addr.eq(offset[:w_bits]), core.load.pe.eq(offset[w_bits:])]
        with m.Else():
            m.d.sync += [core.load.addr.eq(offset), core.load.pe.eq(0)]

        # --- status reads ---------------------------------------------------
        status = Signal(STATUS_LAYOUT)
        m.d.comb += [status.busy.eq(nc.busy), status.done.eq(nc.done), status.error.eq(nc.error),
                     status.start_ignored.eq(nc.start_ignored), status.write_ignored.eq(write_ignored),
                     status.error_layer.eq(nc.error_layer), status.error_code.eq(nc.error_code)]
        reads = {
            HostRegister.STATUS: status, HostRegister.N_LAYERS: n_layers,
            HostRegister.N_BATCHES: n_batches, HostRegister.INFERENCES: nc.inferences,
            HostRegister.CYCLES: nc.cycles, HostRegister.BATCH_CYCLES: nc.batch_cycles,
            HostRegister.ACC_SATURATIONS: core.acc_saturations,
            HostRegister.OUT_SATURATIONS: core.out_saturations,
        }
        for i in range(L):
            reads[HostRegister.LAYER_CYCLES + i] = nc.layer_cycles[i]
            for f, name in enumerate(DESCRIPTOR_FIELDS):
                reads[descriptor_word(i, f)] = descriptors[i][name]
        # the register region's offsets, and nothing (zero) elsewhere
        in_registers = region == Region.REGISTERS
        read_addr = Mux(in_registers, offset, (1 << REGION_SHIFT) - 1)
        m.d.comb += bus.r_data.eq(registered_read_mux(m, read_addr, bus.r_en, reads,
                                                      len(bus.r_data), "read_data"))

        # --- the three levels -------------------------------------------------
        m.d.comb += [
            nc.start.eq(start), nc.n_layers.eq(n_layers), nc.n_batches.eq(n_batches),
            lc.accept_input.eq(nc.running), lc.in_pairs.eq(nc.in_pairs),
            nc.in_full.eq(lc.in_full),
            lc.start.eq(nc.layer_start), lc.src.eq(nc.src), lc.dst.eq(nc.dst),
            lc.q.eq(nc.config.q), lc.p.eq(nc.config.p), lc.shape.eq(nc.shape),
            nc.layer_done.eq(lc.done),
        ]
        # the core's configuration, registered here: its fields leave the network
        # controller's descriptor register, far away, and reach every stage (the
        # requantisers' shifts, the ReLU, the bias and weight bases); they change
        # in FETCH, clocks before the layer starts.  `p` goes straight through:
        # registered, the accelerator bench's outputs were wrong (a one-clock
        # dependency of the pass logic on `p`, not yet found), and its compares
        # are not on a slow path
        for name in ("q", "acc_shift", "out_shift", "relu", "out_features", "w_base", "b_base"):
            m.d.sync += core.config[name].eq(nc.config[name])
        m.d.comb += core.config.p.eq(nc.config.p)
        for i in range(L):
            m.d.comb += nc.descriptors[i].eq(descriptors[i])
        wiring.connect(m, wiring.flipped(self.i), lc.host_i)
        wiring.connect(m, lc.host_o, wiring.flipped(self.o))
        wiring.connect(m, lc.core_i, core.i)
        wiring.connect(m, core.o, lc.core_o)
        return m
