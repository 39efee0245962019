"""``NetworkController``: the network level of the hierarchical controller.

On ``start`` it first checks the whole layer descriptor table against the
engine (every layer, before anything runs).  Then, for each batch of B
inferences and each layer, it fetches the layer's descriptor, drives the
layer core's configuration from it, waits (for layer 0) until the host has
filled the IN buffer, starts the layer controller and waits for the
layer's last output; after the last layer it counts the batch's
inferences and either starts the next batch or stops.

A descriptor the engine cannot run is not run: the controller stops with
``error`` set, the error code and the layer index in its status (codes:
:class:`circnn.config.ErrorCode`), instead of hanging.  A
``start`` while busy is ignored and flagged.  Counters: inferences, clocks
busy since the last start, and each layer's clocks in the last batch.
"""

from contextlib import contextmanager

from amaranth.hdl import Array, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import Buffer, ErrorCode, NetworkConfig

from .arith import mul_const
from .layer import layer_config_layout

__all__ = ["NetworkController", "descriptor_layout"]


def descriptor_layout(net: NetworkConfig) -> data.StructLayout:
    """A descriptor as the host writes it: fields wider than the core's, so that
    an out-of-range value is seen (and refused) instead of wrapping."""
    return data.StructLayout({
        "q": 16, "p": 16, "acc_shift": 8, "out_shift": signed(8), "relu": 1,
        "out_features": 24, "w_base": 24, "b_base": 24, "src": Buffer, "dst": Buffer,
    })


class NetworkController(wiring.Component):
    def __init__(self, net: NetworkConfig):
        self.net = net
        eng = net.engine
        L = net.max_layers
        super().__init__({
            "start": In(1),
            "n_layers": In(16),   # wide: a value above max_layers is refused, not wrapped
            "n_batches": In(32),
            "descriptors": In(data.ArrayLayout(descriptor_layout(net), L)),
            # to the layer core and the layer controller
            "config": Out(layer_config_layout(eng)),
            "running": Out(1),
            "in_pairs": Out(range(net.stride + 1)),
            "in_full": In(1),
            "layer_start": Out(1),
            "src": Out(Buffer), "dst": Out(Buffer),
            "layer_done": In(1),
            # status
            "busy": Out(1), "done": Out(1), "error": Out(1), "start_ignored": Out(1),
            "error_code": Out(ErrorCode), "error_layer": Out(range(L)),
            "inferences": Out(32), "cycles": Out(32),
            "layer_cycles": Out(data.ArrayLayout(32, L)),
        })

    def elaborate(self, platform):
        m = Module()
        net, eng = self.net, self.net.engine
        L, N, P = net.max_layers, eng.half, eng.pes
        log_n = N.bit_length() - 1
        desc_layout = descriptor_layout(net)

        layer = Signal(range(L))
        batch = Signal(32)
        cur = Signal(desc_layout)
        prev_p = Signal(range(eng.max_p + 1))
        prev_dst = Signal(Buffer)
        w_need = Signal(range(eng.groups * eng.max_q * N + (eng.max_q * N) + 1))
        covered = Signal(range(eng.max_p + P + 1))
        w_end = Signal.like(cur.w_base + w_need, name="w_end")              # past the weights
        b_end = Signal.like(cur.b_base + (cur.p << log_n), name="b_end")    # past the biases
        p_features = Signal.like(mul_const(cur.p, eng.k), name="p_features")
        layer_clock = Signal(32)
        checking = Signal()     # validating the table (1) or running it (0)
        bad = Signal(16)        # check results, one bit per ErrorCode value
        # registered compares: `layer` and `batch` change at most once per
        # several clocks (FETCH..CHECK, RUN..WAIT_LAYER), and these flags are
        # read only after that, so they are always up to date when used
        last_layer = Signal()
        last_batch = Signal()
        m.d.sync += [last_layer.eq(layer == self.n_layers - 1),
                     last_batch.eq(batch + 1 >= self.n_batches)]
        # checked on the clock after `start` (START), against n_layers as it was
        # on the clock of `start`
        n_layers_bad = Signal()
        m.d.sync += n_layers_bad.eq((self.n_layers == 0) | (self.n_layers > L))

        m.d.comb += [
            self.running.eq(self.busy & ~checking),   # input is accepted once the table is good
            self.src.eq(cur.src), self.dst.eq(cur.dst),
        ]
        for name in layer_config_layout(eng).members:
            # checked before the layer runs, so narrowing is safe
            m.d.comb += self.config[name].eq(cur[name])
        with m.If(self.busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)

        def fail(code):
            m.d.sync += [self.error.eq(1), self.error_code.eq(code), self.error_layer.eq(layer),
                         self.busy.eq(0), self.done.eq(1)]
            m.next = "IDLE"

        @contextmanager
        def verdict(*codes):
            """Fail with the first of ``codes`` whose check bit is set; else the body."""
            with m.If(bad[codes[0]]):
                fail(codes[0])
            for code in codes[1:]:
                with m.Elif(bad[code]):
                    fail(code)
            with m.Else():
                yield

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [self.busy.eq(1), self.done.eq(0), self.error.eq(0),
                                 self.error_code.eq(ErrorCode.NONE), self.start_ignored.eq(0),
                                 layer.eq(0), batch.eq(0), self.cycles.eq(0), checking.eq(1)]
                    m.next = "START"
            with m.State("START"):
                with m.If(n_layers_bad):
                    fail(ErrorCode.LAYER_COUNT)
                with m.Else():
                    m.next = "FETCH"
            with m.State("FETCH"):
                # an explicit multiplexer: indexing the array view with a signal
                # would compute the bit offset with a multiplication
                table = Array(self.descriptors[i] for i in range(L))
                m.d.sync += [cur.eq(table[layer]), w_need.eq(0), covered.eq(0)]
                with m.If(checking):
                    m.next = "RANGE"
                with m.Elif(layer == 0):
                    m.next = "WAIT_INPUT"
                with m.Else():
                    m.next = "RUN"
            with m.State("RANGE"):
                # shape and shifts first: the size loop below relies on them
                # (registered, as in CHECK / VERDICT)
                out_lo, out_hi = eng.out_shift_range
                m.d.sync += [
                    bad[ErrorCode.Q_RANGE].eq((cur.q == 0) | (cur.q > eng.max_q)),
                    bad[ErrorCode.P_RANGE].eq((cur.p == 0) | (cur.p > eng.max_p)),
                    bad[ErrorCode.SHIFT_RANGE].eq((cur.acc_shift > eng.acc_shift_range[1])
                                                  | (cur.out_shift < out_lo)
                                                  | (cur.out_shift > out_hi)),
                ]
                m.next = "RANGE_VERDICT"
            with m.State("RANGE_VERDICT"):
                with verdict(ErrorCode.Q_RANGE, ErrorCode.P_RANGE, ErrorCode.SHIFT_RANGE):
                    m.next = "SIZE"
            with m.State("SIZE"):
                # weight words of the layer: ceil(p/P) * q * k/2, by repeated addition
                with m.If(covered < cur.p):
                    m.d.sync += [w_need.eq(w_need + (cur.q << log_n)), covered.eq(covered + P)]
                with m.Else():
                    m.next = "SUMS"
            with m.State("SUMS"):
                # the sums the checks compare, registered (the descriptor
                # fields are wide and their registers spread out)
                m.d.sync += [w_end.eq(cur.w_base + w_need), b_end.eq(cur.b_base + (cur.p << log_n)),
                             p_features.eq(mul_const(cur.p, eng.k))]
                m.next = "CHECK"
            with m.State("CHECK"):
                # every check into a register first (one bit per error code),
                # the verdict on the next clock: keeps the adders and
                # comparators off the error registers' enables
                m.d.sync += [
                    bad[ErrorCode.WEIGHTS_OVERFLOW].eq(w_end > eng.weight_words),
                    bad[ErrorCode.BIASES_OVERFLOW].eq(b_end > eng.bias_words),
                    bad[ErrorCode.SHAPE_CHAIN].eq((layer != 0) & (cur.q != prev_p)),
                    bad[ErrorCode.BUFFER_CHAIN].eq(
                        Mux(layer == 0, cur.src != Buffer.IN, cur.src != prev_dst)
                        | Mux(last_layer, cur.dst != Buffer.OUT,
                              (cur.dst == Buffer.OUT) | (cur.dst == Buffer.IN)
                              | (cur.dst == cur.src))),
                    bad[ErrorCode.OUT_FEATURES_RANGE].eq((cur.out_features == 0)
                                                         | (cur.out_features > p_features)),
                ]
                m.next = "VERDICT"
            with m.State("VERDICT"):
                with verdict(ErrorCode.WEIGHTS_OVERFLOW, ErrorCode.BIASES_OVERFLOW,
                             ErrorCode.SHAPE_CHAIN, ErrorCode.BUFFER_CHAIN,
                             ErrorCode.OUT_FEATURES_RANGE):
                    m.d.sync += [prev_p.eq(cur.p), prev_dst.eq(cur.dst)]
                    with m.If(layer == 0):
                        m.d.sync += self.in_pairs.eq(cur.q << log_n)
                    with m.If(last_layer):
                        m.d.sync += [layer.eq(0), checking.eq(0)]   # the table is good: run it
                    with m.Else():
                        m.d.sync += layer.eq(layer + 1)
                    m.next = "FETCH"
            with m.State("WAIT_INPUT"):
                with m.If(self.in_full):
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += self.layer_start.eq(1)
                m.d.sync += layer_clock.eq(1)
                m.next = "WAIT_LAYER"
            with m.State("WAIT_LAYER"):
                m.d.sync += layer_clock.eq(layer_clock + 1)
                with m.If(self.layer_done):
                    with m.Switch(layer):
                        for i in range(L):
                            with m.Case(i):
                                m.d.sync += self.layer_cycles[i].eq(layer_clock + 1)
                    with m.If(last_layer):
                        m.d.sync += [self.inferences.eq(self.inferences + eng.batch),
                                     batch.eq(batch + 1), layer.eq(0)]
                        with m.If(last_batch):
                            m.d.sync += [self.busy.eq(0), self.done.eq(1)]
                            m.next = "IDLE"
                        with m.Else():
                            m.next = "FETCH"
                    with m.Else():
                        m.d.sync += layer.eq(layer + 1)
                        m.next = "FETCH"
        with m.If(self.start & self.busy):
            m.d.sync += self.start_ignored.eq(1)
        return m
