"""``NetworkController``: the network level of the hierarchical controller.

On ``start`` it first checks the whole layer descriptor table against the
engine (every layer, before anything runs).  Then, for each network batch
(``layer_batches`` x B inferences: each layer runs over all of them, B at a
time in the core, before the next layer starts) and each layer, it fetches
the layer's descriptor, drives the layer core's configuration from it,
waits (for layer 0) until the host has filled the IN buffer, starts the
layer controller and waits for the layer's last output (its ``layer_done``
pulse passes two registers on the way in and is acted on in a state of
its own, LAYER_END: the next layer's descriptor is fetched three clocks
after the pulse); after the last layer it counts the batch's inferences and either
starts the next batch or stops.

A descriptor the engine cannot run is not run: the controller stops with
``error`` set, the error code and the layer index in its status (codes:
:class:`circnn.config.ErrorCode`), instead of hanging.  A
``start`` while busy is ignored and flagged.  Counters: inferences, clocks
busy since the last start, the clocks between the last two batch
completions (the steady-state period of a batch), and each layer's clocks
in the last batch.
"""

import operator
from contextlib import contextmanager
from functools import reduce

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import Buffer, ErrorCode, LayerKind, NetworkConfig

from .arith import mul_const
from .delay import delay
from .layer import layer_config_layout
from .layer_shape import layer_shape_layout
from .map_geometry import MapGeometry
from .one_hot_fsm import OneHotFSM
from .split_counter import SplitCounter

__all__ = ["NetworkController", "descriptor_layout"]


def descriptor_layout(net: NetworkConfig) -> data.StructLayout:
    """A descriptor as the host writes it: fields wider than the core's, so that
    an out-of-range value is seen (and refused) instead of wrapping."""
    return data.StructLayout({
        "q": 16, "p": 16, "acc_shift": 8, "out_shift": signed(8), "relu": 1,
        "out_features": 24, "w_base": 24, "b_base": 24, "src": Buffer, "dst": Buffer,
        "kind": 8, "in_h": 16, "in_w": 16, "in_c": 16, "kernel_h": 8, "kernel_w": 8,
        "stride_h": 8, "stride_w": 8, "pad_h": 8, "pad_w": 8, "pool": 8, "pool_h": 8,
        "pool_w": 8, "pool_stride_h": 8, "pool_stride_w": 8, "in_values": 24,
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
            "shape": Out(layer_shape_layout(net)),
            "layer_done": In(1),
            # status
            "busy": Out(1), "done": Out(1), "error": Out(1), "start_ignored": Out(1),
            "error_code": Out(ErrorCode), "error_layer": Out(range(L)),
            "inferences": Out(32), "cycles": Out(32), "batch_cycles": Out(32),
            "layer_cycles": Out(data.ArrayLayout(32, L)),
        })

    def elaborate(self, platform):
        m = Module()
        net, eng = self.net, self.net.engine
        L, N, P = net.max_layers, eng.half, eng.pes
        log_n = N.bit_length() - 1
        desc_layout = descriptor_layout(net)

        layer = Signal(range(L))
        # `layer` one-hot, kept beside it (set wherever `layer` is): FETCH picks the
        # descriptor with an AND-OR of these flip-flops, each one loading a slice
        # of the table, where a binary select fanned out to every multiplexer
        pick = Signal(L, init=1)
        batch = Signal(32)
        cur = Signal(desc_layout)
        prev_p = Signal(range(eng.max_p + 1))
        prev_dst = Signal(Buffer)
        w_need = Signal(range(eng.groups * eng.max_q * N + (eng.max_q * N) + 1))
        covered = Signal(range(eng.max_p + P + 1))
        w_end = Signal.like(cur.w_base + w_need, name="w_end")              # past the weights
        b_end = Signal.like(cur.b_base + (cur.p << log_n), name="b_end")    # past the biases
        p_features = Signal.like(mul_const(cur.p, eng.k), name="p_features")
        # the layer's clocks, start to done: from -1 (mod 2**32), as the done pulse
        # reaches LAYER_END through two registers, a clock more than the layer's
        # start-to-done
        layer_clock = m.submodules.layer_clock = SplitCounter(32, load_value=(1 << 32) - 1)
        pc = net.patch
        geo = m.submodules.geometry = MapGeometry(net)
        conv = Signal()             # the current layer is a convolution (set with `cur`)
        # each descriptor's "is a convolution", registered from the table on every
        # clock (a descriptor changes only while idle, two clocks or more before a
        # FETCH): FETCH's pick of it is then an AND-OR of flip-flop pairs, not of
        # the kind compares (4 LUT levels and a long route, the slowest path once
        # the host-write decode moved the table)
        desc_conv = Signal(L)
        if net.convolution:
            m.d.sync += [desc_conv[i].eq(self.descriptors[i].kind == LayerKind.CONV2D)
                         for i in range(L)]
        # values per image the layer reads, and writes (the chain compares them);
        # registered in SUMS, once the geometry is known
        # (a map's values, or a dense vector's: up to max(max_q, max_p)*k)
        values = max(geo.count_bits, (max(eng.max_q, eng.max_p) * eng.k).bit_length() + 1)
        in_values = Signal(values)
        out_values = Signal(values)
        prev_out_values = Signal(values)
        prev_conv = Signal()
        q_features = Signal.like(mul_const(cur.q, eng.k), name="q_features")

        # the shape and buffer chains' compares (CHECK), registered before they
        # are combined (CHAIN): the descriptor's fields are spread over the chip
        in_differs, q_differs, in_over_q = Signal(), Signal(), Signal()
        shift_bad = Signal(3)       # likewise the shifts' range compares (RANGE)
        src_not_in, src_not_prev, dst_is_out, dst_not_scratch = (Signal(), Signal(), Signal(),
                                                                 Signal())

        def outside(value, lo, hi):
            return (value < lo) | (value > hi)

        # the geometry a layer of its kind must have, check by check, each registered
        # apart (GEOMETRY_CHECK: a field's compare and no more), gated by the layer's
        # kind and ORed in GEOMETRY_ANY, their verdict in RANGE
        pooled = Signal()           # registered in GEOMETRY_SUMS
        padded_h = Signal(range(pc.max_side + 2 * pc.max_padding + 1))
        padded_w = Signal.like(padded_h)
        conv_checks = [
            outside(cur.in_h, 1, pc.max_side), outside(cur.in_w, 1, pc.max_side),
            outside(cur.in_c, 1, pc.max_channels),
            outside(cur.kernel_h, 1, pc.max_kernel), outside(cur.kernel_w, 1, pc.max_kernel),
            outside(cur.stride_h, 1, pc.max_stride), outside(cur.stride_w, 1, pc.max_stride),
            cur.pad_h > pc.max_padding, cur.pad_w > pc.max_padding,
            # the relations between fields, on the fields narrowed to their ranges (as
            # the geometry unit reads them; a field out of its range is flagged above):
            # the padded sides were registered in GEOMETRY_SUMS
            (geo.ph >= geo.kh) | (geo.pw >= geo.kw),
            geo.kh > padded_h, geo.kw > padded_w,
            cur.pool > 1,
        ]
        pool_checks = [
            outside(cur.pool_h, 1, pc.max_kernel), outside(cur.pool_w, 1, pc.max_kernel),
            outside(cur.pool_stride_h, 1, pc.max_stride),
            outside(cur.pool_stride_w, 1, pc.max_stride),
            # a value lies in at most two windows per direction
            geo.pool_kh > 2 * geo.pool_sh, geo.pool_kw > 2 * geo.pool_sw,
        ]
        dense_checks = [cur.in_values == 0,
                        cur.in_values > max(eng.max_q, eng.max_p) * eng.k]
        checks = ([cur.kind > (LayerKind.CONV2D if net.convolution else LayerKind.DENSE)]
                  + conv_checks + pool_checks + dense_checks)
        geometry_bad = Signal(len(checks))
        geometry_bad_r = Signal(len(checks))
        # which checks apply to the layer's kind, ANDed with their results in
        # GEOMETRY_ANY
        n_conv, n_pool = len(conv_checks), len(pool_checks)
        applies = Cat(1, conv.replicate(n_conv), (conv & pooled).replicate(n_pool),
                      (~conv).replicate(len(dense_checks)))
        geometry_any = Signal()
        m.d.comb += [geometry_bad[n].eq(c) for n, c in enumerate(checks)]
        # the geometry unit reads the descriptor narrowed to its ranges (checked first)
        for port, fld in (("h", "in_h"), ("w", "in_w"), ("c", "in_c"), ("kh", "kernel_h"),
                          ("kw", "kernel_w"), ("sh", "stride_h"), ("sw", "stride_w"),
                          ("ph", "pad_h"), ("pw", "pad_w"), ("pool_kh", "pool_h"),
                          ("pool_kw", "pool_w"), ("pool_sh", "pool_stride_h"),
                          ("pool_sw", "pool_stride_w"), ("c_out", "out_features")):
            m.d.comb += getattr(geo, port).eq(cur[fld])
        m.d.comb += geo.pool.eq(cur.pool[0])
        # the layer level's view of the layer
        shape = self.shape
        m.d.comb += [
            shape.conv.eq(conv), shape.h.eq(cur.in_h), shape.w.eq(cur.in_w),
            shape.c.eq(cur.in_c), shape.kh.eq(cur.kernel_h), shape.kw.eq(cur.kernel_w),
            shape.sh.eq(cur.stride_h), shape.sw.eq(cur.stride_w), shape.ph.eq(cur.pad_h),
            shape.pw.eq(cur.pad_w), shape.in_values.eq(cur.in_values),
            shape.c_out.eq(cur.out_features), shape.out_h.eq(geo.out_h),
            shape.out_w.eq(geo.out_w),
            shape.rows.eq(mul_const(Mux(conv, geo.rows, 1), net.layer_batches)),
            shape.pool.eq(cur.pool[0]), shape.pool_kh.eq(cur.pool_h),
            shape.pool_kw.eq(cur.pool_w), shape.pool_sh.eq(cur.pool_stride_h),
            shape.pool_sw.eq(cur.pool_stride_w), shape.pool_h.eq(geo.pool_h),
            shape.pool_w.eq(geo.pool_w), shape.pool_row.eq(geo.pool_row),
        ]
        checking = Signal()     # validating the table (1) or running it (0)
        # busy and not checking, as a flip-flop of its own (set when the table is
        # found good, cleared wherever `busy` is): it gates the host's input
        # stream at the layer level, far from `busy`'s many loads
        running = Signal()
        bad = Signal(16)        # check results, one bit per ErrorCode value
        # registered compares: `layer` and `batch` change at most once per
        # several clocks (FETCH..CHECK, RUN..WAIT_LAYER), and these flags are
        # read only after that, so they are always up to date when used
        last_layer = Signal()
        last_batch = Signal()
        # (the batch count less one is registered first: one carry chain per
        # register; a count of 0 runs one batch, as 1 does)
        batches_less_one = Signal(32)
        m.d.sync += [batches_less_one.eq(Mux(self.n_batches == 0, 0, self.n_batches - 1)),
                     last_layer.eq(layer == self.n_layers - 1),
                     last_batch.eq(batch >= batches_less_one)]
        # checked on the clock after `start` (START), against n_layers as it was
        # on the clock of `start`
        n_layers_bad = Signal()
        m.d.sync += n_layers_bad.eq((self.n_layers == 0) | (self.n_layers > L))

        # the layer level's done pulse, registered here: it is a multiplexer of the
        # layer controller's registers, far away, and it steers this state
        # machine (two clocks per layer)
        # (twice: the placer may put one register by each end of the route)
        layer_done = delay(m, self.layer_done, 2, "layer_done")
        # likewise the IN buffer's level (it falls while layer 0 runs, long
        # before WAIT_INPUT is entered again, so the clock it lags is harmless)
        in_full = delay(m, self.in_full, 1, "in_full")
        more_passes = Signal()      # SIZE: another pass of P output blocks is needed
        # high in LAYER_END (one clock): a layer ends, and it is the batch's last
        ending_layer, ending_batch = Signal(), Signal()

        m.d.comb += [
            self.running.eq(running),   # input is accepted once the table is good
            self.src.eq(cur.src), self.dst.eq(cur.dst),
        ]
        for name in layer_config_layout(eng).members:
            # checked before the layer runs, so narrowing is safe
            m.d.comb += self.config[name].eq(cur[name])
        # the status counters count in halves (SplitCounter: a 32-bit carry chain
        # ahead of the load multiplexer was the engine's slowest path)
        # clocks busy since the last start
        cycles = m.submodules.cycles = SplitCounter(32)
        # the period of the batches: clocks since the previous batch completed (the
        # first batch: since start), taken when a batch completes; it counts from
        # 1, so that the period taken is its value (no adder on the way)
        batch_clock = m.submodules.batch_clock = SplitCounter(32, load_value=1)
        m.d.comb += [cycles.inc.eq(self.busy), batch_clock.inc.eq(self.busy),
                     self.cycles.eq(cycles.value)]

        def fail(code):
            m.d.sync += [self.error.eq(1), self.error_code.eq(code), self.error_layer.eq(layer),
                         self.busy.eq(0), running.eq(0), self.done.eq(1)]
            fsm.next("IDLE")

        def first_failure(*codes):
            """A register pair (found, code): whether any of ``codes``' check bits is
            set and the first such code, following ``bad`` a clock behind, so that a
            verdict's state decodes one flip-flop (the check bits sit across the
            network controller)."""
            found = Signal(name=f"found_{codes[0].name.lower()}")
            code = Signal(ErrorCode, name=f"first_{codes[0].name.lower()}")
            first = ErrorCode.NONE
            for c in reversed(codes):
                first = Mux(bad[c], c, first)
            m.d.sync += [found.eq(Cat(*(bad[c] for c in codes)).any()), code.eq(first)]
            return found, code

        @contextmanager
        def verdict(found_code):
            """Fail with the first failing check (a settle clock after the checks were
            registered: see first_failure); else the body."""
            found, code = found_code
            with m.If(found):
                fail(code)
            with m.Else():
                yield

        range_failure = first_failure(ErrorCode.Q_RANGE, ErrorCode.P_RANGE,
                                      ErrorCode.SHIFT_RANGE, ErrorCode.GEOMETRY_RANGE)
        size_failure = first_failure(ErrorCode.WEIGHTS_OVERFLOW, ErrorCode.BIASES_OVERFLOW,
                                     ErrorCode.SHAPE_CHAIN, ErrorCode.BUFFER_CHAIN,
                                     ErrorCode.OUT_FEATURES_RANGE, ErrorCode.GEOMETRY_RANGE,
                                     ErrorCode.MAP_OVERFLOW, ErrorCode.PATCH_SIZE)

        # the state register one-hot (OneHotFSM): each state's actions and
        # transitions start at a flip-flop of their own
        fsm = OneHotFSM(m, (
            "IDLE", "START", "GEOMETRY_SUMS", "FETCH", "GEOMETRY_CHECK", "GEOMETRY_ANY",
            "RANGE", "RANGE_COMBINE", "RANGE_SETTLE", "RANGE_VERDICT", "GEOMETRY",
            "GEOMETRY_WAIT", "SIZE", "SIZE_STEP", "SUMS", "CHECK", "CHAIN", "SETTLE",
            "VERDICT", "WAIT_INPUT", "RUN", "WAIT_LAYER", "LAYER_END"), name="state")
        with fsm.state("IDLE"):
            with m.If(self.start):
                m.d.sync += [self.busy.eq(1), self.done.eq(0), self.error.eq(0),
                             self.error_code.eq(ErrorCode.NONE), self.start_ignored.eq(0),
                             layer.eq(0), batch.eq(0), checking.eq(1)]
                m.d.comb += [cycles.load.eq(1), batch_clock.load.eq(1)]
                fsm.next("START")
        with fsm.state("START"):
            with m.If(n_layers_bad):
                fail(ErrorCode.LAYER_COUNT)
            with m.Else():
                fsm.next("FETCH")
        with fsm.state("GEOMETRY_SUMS"):
            m.d.sync += [padded_h.eq(geo.h + 2 * geo.ph), padded_w.eq(geo.w + 2 * geo.pw),
                         pooled.eq(cur.pool == 1)]
            fsm.next("GEOMETRY_CHECK")
        with fsm.state("FETCH"):
            # an AND-OR of the one-hot `pick` (indexing the array view with a
            # signal would compute the bit offset with a multiplication)
            picked = [Mux(pick[i], self.descriptors[i].as_value(), 0) for i in range(L)]
            m.d.sync += [cur.eq(reduce(operator.or_, picked)), w_need.eq(0), covered.eq(0),
                         conv.eq((pick & desc_conv).any())]
            with m.If(checking):
                fsm.next("GEOMETRY_SUMS")
            with m.Else():
                fsm.next("GEOMETRY")
        with fsm.state("GEOMETRY_CHECK"):
            # the geometry fields' checks are many: into a register first,
            # then their OR into another
            m.d.sync += geometry_bad_r.eq(geometry_bad)
            fsm.next("GEOMETRY_ANY")
        with fsm.state("GEOMETRY_ANY"):
            m.d.sync += geometry_any.eq((geometry_bad_r & applies).any())
            fsm.next("RANGE")
        with fsm.state("RANGE"):
            # shape and shifts first: the size loop below relies on them
            # (registered, as in CHECK / VERDICT)
            out_lo, out_hi = eng.out_shift_range
            m.d.sync += [
                bad[ErrorCode.Q_RANGE].eq((cur.q == 0) | (cur.q > eng.max_q)),
                bad[ErrorCode.P_RANGE].eq((cur.p == 0) | (cur.p > eng.max_p)),
                # (the shifts' three compares are combined in RANGE_COMBINE)
                shift_bad.eq(Cat(cur.acc_shift > eng.acc_shift_range[1],
                                 cur.out_shift < out_lo, cur.out_shift > out_hi)),
                bad[ErrorCode.GEOMETRY_RANGE].eq(geometry_any),
            ]
            fsm.next("RANGE_COMBINE")
        with fsm.state("RANGE_COMBINE"):
            m.d.sync += bad[ErrorCode.SHIFT_RANGE].eq(shift_bad.any())
            fsm.next("RANGE_SETTLE")
        with fsm.state("RANGE_SETTLE"):
            fsm.next("RANGE_VERDICT")
        with fsm.state("RANGE_VERDICT"):
            with verdict(range_failure):
                fsm.next("GEOMETRY")
        with fsm.state("GEOMETRY"):
            # a convolution's sizes, formed by counting (also while running: the
            # layer level walks the maps with them)
            m.d.comb += geo.start.eq(conv)
            fsm.next("GEOMETRY_WAIT")
        with fsm.state("GEOMETRY_WAIT"):
            with m.If(~conv | geo.done):
                with m.If(checking):
                    fsm.next("SIZE")
                with m.Elif(layer == 0):
                    fsm.next("WAIT_INPUT")
                with m.Else():
                    fsm.next("RUN")
        with fsm.state("SIZE"):
            # weight words of the layer: ceil(p/P) * q * k/2, by repeated addition;
            # the compare is registered (SIZE_STEP acts on it), so the
            # state register sees a flip-flop, not a comparator
            m.d.sync += more_passes.eq(covered < cur.p)
            fsm.next("SIZE_STEP")
        with fsm.state("SIZE_STEP"):
            with m.If(more_passes):
                m.d.sync += [w_need.eq(w_need + (cur.q << log_n)), covered.eq(covered + P)]
                fsm.next("SIZE")
            with m.Else():
                fsm.next("SUMS")
        with fsm.state("SUMS"):
            # the sums the checks compare, registered (the descriptor
            # fields are wide and their registers spread out)
            m.d.sync += [w_end.eq(cur.w_base + w_need), b_end.eq(cur.b_base + (cur.p << log_n)),
                         p_features.eq(mul_const(cur.p, eng.k)),
                         q_features.eq(mul_const(cur.q, eng.k)),
                         in_values.eq(Mux(conv, geo.in_map, cur.in_values)),
                         out_values.eq(Mux(conv, geo.out_map, cur.out_features))]
            fsm.next("CHECK")
        with fsm.state("CHECK"):
            # every check into a register first (one bit per error code),
            # the verdict on the next clock: keeps the adders and
            # comparators off the error registers' enables
            m.d.sync += [
                bad[ErrorCode.WEIGHTS_OVERFLOW].eq(w_end > eng.weight_words),
                bad[ErrorCode.BIASES_OVERFLOW].eq(b_end > eng.bias_words),
                # the chain's compares, combined in CHAIN
                in_differs.eq(in_values != prev_out_values),
                q_differs.eq(cur.q != prev_p),
                in_over_q.eq(in_values > q_features),
                src_not_in.eq(cur.src != Buffer.IN), src_not_prev.eq(cur.src != prev_dst),
                dst_is_out.eq(cur.dst == Buffer.OUT),
                dst_not_scratch.eq((cur.dst == Buffer.IN) | (cur.dst == cur.src)),
                bad[ErrorCode.GEOMETRY_RANGE].eq(conv & ~geo.pool_fits),
                bad[ErrorCode.MAP_OVERFLOW].eq(conv & ((geo.in_map > net.max_map)
                                                       | (geo.out_map > net.max_map))),
                bad[ErrorCode.PATCH_SIZE].eq(conv & (geo.patch > q_features)),
                bad[ErrorCode.OUT_FEATURES_RANGE].eq((cur.out_features == 0)
                                                     | (cur.out_features > p_features)),
            ]
            fsm.next("CHAIN")
        with fsm.state("CHAIN"):
            m.d.sync += bad[ErrorCode.SHAPE_CHAIN].eq(
                ((layer != 0) & (in_differs | (~conv & ~prev_conv & q_differs)))
                | (~conv & in_over_q))
            m.d.sync += bad[ErrorCode.BUFFER_CHAIN].eq(
                Mux(layer == 0, src_not_in, src_not_prev)
                | Mux(last_layer, ~dst_is_out, dst_is_out | dst_not_scratch)
                | (conv & dst_is_out))      # a convolution's results leave as vectors
            fsm.next("SETTLE")
        with fsm.state("SETTLE"):
            fsm.next("VERDICT")
        with fsm.state("VERDICT"):
            with verdict(size_failure):
                m.d.sync += [prev_p.eq(cur.p), prev_dst.eq(cur.dst), prev_conv.eq(conv),
                             prev_out_values.eq(out_values)]
                with m.If(layer == 0):
                    # the host sends each input as pairs (an odd count gets a pad)
                    m.d.sync += self.in_pairs.eq((in_values + 1) >> 1)
                with m.If(last_layer):
                    # the table is good: run it (`layer` and `pick` step below)
                    m.d.sync += [checking.eq(0), running.eq(1)]
                fsm.next("FETCH")
        with fsm.state("WAIT_INPUT"):
            with m.If(in_full):
                fsm.next("RUN")
        with fsm.state("RUN"):
            m.d.comb += [self.layer_start.eq(1), layer_clock.load.eq(1)]
            fsm.next("WAIT_LAYER")
        with fsm.state("WAIT_LAYER"):
            m.d.comb += layer_clock.inc.eq(1)
            with m.If(layer_done):
                m.d.sync += [ending_layer.eq(1), ending_batch.eq(last_layer)]
                fsm.next("LAYER_END")
        with fsm.state("LAYER_END"):
            # the layer's end acted on in a state of its own: every register
            # it updates is enabled by the state register and flags beside it,
            # not by `layer_done` (whose register sits by the layer level, far
            # away); the wide status registers by `ending_*` alone (below)
            m.d.sync += [ending_layer.eq(0), ending_batch.eq(0)]
            with m.If(last_layer):
                with m.If(last_batch):
                    m.d.sync += [self.busy.eq(0), running.eq(0), self.done.eq(1)]
                    fsm.next("IDLE")
                with m.Else():
                    fsm.next("FETCH")
            with m.Else():
                fsm.next("FETCH")
        # the next layer (or the first again after the last), in one place for both
        # the table check (VERDICT, when good) and the run (LAYER_END): `pick`'s
        # input is then a few terms (the verdict's flop through four LUTs into it
        # was the slowest path); `pick` is set in START, the clock after `layer`
        # (nothing reads it before FETCH)
        size_found, _ = size_failure
        step_layer = Signal()
        m.d.comb += step_layer.eq((fsm.ongoing("VERDICT") & ~size_found) | fsm.ongoing("LAYER_END"))
        with m.If(fsm.ongoing("START")):
            m.d.sync += pick.eq(1)
        with m.Elif(step_layer):
            with m.If(last_layer):
                m.d.sync += [layer.eq(0), pick.eq(1)]
            with m.Else():
                m.d.sync += [layer.eq(layer + 1), pick.eq(pick << 1)]
        # the status registers a layer's (a batch's) end updates, 32 bits each and
        # many, enabled by one flip-flop each, set on the clock LAYER_END is
        # entered (a decode of the state register fanned out to them all was
        # the slowest path): the layer's clocks, start to done, are layer_clock
        for i in range(L):
            # (the one-hot `pick`, not a decode of `layer`)
            with m.If(ending_layer & pick[i]):
                m.d.sync += self.layer_cycles[i].eq(layer_clock.value)
        with m.If(ending_batch):
            m.d.sync += [self.inferences.eq(self.inferences + net.images),
                         batch.eq(batch + 1), self.batch_cycles.eq(batch_clock.value)]
            m.d.comb += batch_clock.load.eq(1)
        with m.If(self.start & self.busy):
            m.d.sync += self.start_ignored.eq(1)
        return m
