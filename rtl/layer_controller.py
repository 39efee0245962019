"""``LayerController``: the layer level of the hierarchical controller.

It owns the activation buffers and moves one layer's data around the layer
core (:class:`circnn.rtl.layer.CirculantLayer`, whose own scheduler is the
PE level):

* **IN**: the host's input stream fills it with a batch (B vectors of
  ``in_pairs`` activation pairs) whenever it is empty, also while earlier
  inferences compute, so the next batch's input streams in early;
* **A**, **B**: ping-pong buffers between layers;
* on ``start``, the *reader* streams ``B x q x k/2`` pairs from buffer
  ``src`` into the core (the core's real FFTs start on the first block at
  once), and the *writer* places every output pair the core produces at
  ``(vector, block * k/2 + n)`` of buffer ``dst``, or passes it to the host
  output stream when ``dst`` is OUT; ``done`` pulses on the clock after the
  layer's last output has been placed.  IN is released as soon as the
  reader is done with it.

Every vector owns ``stride`` pairs (a power of two) in a buffer, so an
address is ``{vector, pair}`` and needs no multiplier.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import Buffer, NetworkConfig

from .arith import mul_const
from .block_ram import BlockRAM
from .credit_queue import CreditQueue, queue_depth
from .delay import delay
from .output_stage import layer_output_layout
from .real_fft import real_input_layout

__all__ = ["LayerController"]


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


class LayerController(wiring.Component):
    def __init__(self, net: NetworkConfig):
        self.net = net
        eng = net.engine
        self.pos_bits = _bits(net.stride)
        self.vec_bits = _bits(eng.batch) if eng.batch > 1 else 0
        pair = real_input_layout(eng.fft_config)
        out = layer_output_layout(eng)
        super().__init__({
            "host_i": In(stream.Signature(pair)),
            "host_o": Out(stream.Signature(out)),
            "core_i": Out(stream.Signature(pair)),
            "core_o": In(stream.Signature(out)),
            "accept_input": In(1),                  # the network is running
            "in_pairs": In(range(net.stride + 1)),  # pairs per input vector
            "in_full": Out(1),
            "start": In(1),
            "src": In(Buffer), "dst": In(Buffer),
            "q": In(range(eng.max_q + 1)), "p": In(range(eng.max_p + 1)),
            "done": Out(1),
        })

    def _address(self, pos, vec):
        return Cat(pos[:self.pos_bits], vec[:self.vec_bits]) if self.vec_bits else pos[:self.pos_bits]

    def elaborate(self, platform):
        m = Module()
        net, eng = self.net, self.net.engine
        N, B = eng.half, eng.batch
        log_n = N.bit_length() - 1
        pair = real_input_layout(eng.fft_config)
        depth = 1 << (self.pos_bits + self.vec_bits)
        bufs = {}
        for name in ("in", "a", "b"):
            bufs[name] = m.submodules[f"buf_{name}"] = BlockRAM(pair, depth)
        latency = bufs["in"].latency
        # a credit per read in flight: the buffer's latency, then the queue
        m.submodules.read_queue = rqueue = CreditQueue(pair, queue_depth(latency))

        # --- IN: filled by the host ------------------------------------
        in_pos = Signal(range(net.stride + 1))
        in_vec = Signal(range(max(2, B)))
        in_full = Signal()
        release_in = Signal()
        buf_in = bufs["in"]
        host_take = Signal()
        # in_pairs is set while the network checks its table, before input is
        # accepted; in_last follows it a clock later, and so does acceptance
        in_last = Signal(range(net.stride + 1))
        accepted = Signal()
        m.d.sync += [in_last.eq(self.in_pairs - 1), accepted.eq(self.accept_input)]
        m.d.comb += [
            self.host_i.ready.eq(self.accept_input & accepted & ~in_full),
            host_take.eq(self.host_i.valid & self.host_i.ready),
            buf_in.wr_addr.eq(self._address(in_pos, in_vec)), buf_in.wr_data.eq(self.host_i.payload),
            buf_in.wr_en.eq(host_take),
            self.in_full.eq(in_full),
        ]
        with m.If(host_take):
            m.d.sync += in_pos.eq(in_pos + 1)
            with m.If(in_pos == in_last):
                m.d.sync += [in_pos.eq(0), in_vec.eq(in_vec + 1)]
                with m.If(in_vec == B - 1):
                    m.d.sync += [in_vec.eq(0), in_full.eq(1)]
        release_in_d = Signal()     # registered: the reader's counters are far from IN's
        m.d.sync += release_in_d.eq(release_in)
        with m.If(release_in_d):
            m.d.sync += in_full.eq(0)

        # --- reader: src buffer -> core ---------------------------------
        src = Signal(Buffer)
        dst = Signal(Buffer)
        q_last = Signal(range(eng.max_q * N))       # pairs per vector, less one
        r_at_last = Signal()                        # r_pos == q_last, registered
        p_pairs = Signal(range(eng.max_p * N + 1))
        reading = Signal()
        r_pos = Signal(range(net.stride + 1))
        r_vec = Signal(range(max(2, B)))
        issue = Signal()
        m.d.comb += [issue.eq(reading & rqueue.can_admit), rqueue.admit.eq(issue)]
        for buf in bufs.values():
            m.d.comb += buf.rd_addr.eq(self._address(r_pos, r_vec))
        with m.If(self.start):
            m.d.sync += [src.eq(self.src), dst.eq(self.dst), q_last.eq((self.q << log_n) - 1),
                         r_at_last.eq((self.q << log_n) == 1),
                         p_pairs.eq(self.p << log_n), reading.eq(1), r_pos.eq(0), r_vec.eq(0)]
        with m.If(issue):
            m.d.sync += [r_pos.eq(r_pos + 1), r_at_last.eq(r_pos + 1 == q_last)]
            with m.If(r_at_last):
                m.d.sync += [r_pos.eq(0), r_vec.eq(r_vec + 1), r_at_last.eq(q_last == 0)]
                with m.If(r_vec == B - 1):
                    m.d.sync += reading.eq(0)
                    m.d.comb += release_in.eq(src == Buffer.IN)
        # the buffers' read data leaves registers (BlockRAM); the source
        # select feeds the queue
        read_valid = delay(m, issue, latency, "read_valid")
        read_src = delay(m, src, latency, "read_src")
        held = {name: buf.rd_data for name, buf in bufs.items()}
        m.d.comb += [
            rqueue.i.valid.eq(read_valid),
            rqueue.i.payload.eq(Mux(read_src == Buffer.A, held["a"],
                                    Mux(read_src == Buffer.B, held["b"], held["in"]))),
        ]
        wiring.connect(m, rqueue.o, wiring.flipped(self.core_i))

        # --- writer: core -> dst buffer or the host ----------------------
        out = self.core_o.payload
        to_host = dst == Buffer.OUT
        n = Signal(range(max(2, N)))
        written = Signal(range(eng.batch * eng.max_p * N + 1))
        # the layer's output count less one, latched (p_pairs is set on
        # `start`, and the first output arrives many clocks later)
        last_written = Signal(range(eng.batch * eng.max_p * N + 1))
        m.d.sync += last_written.eq(mul_const(p_pairs, B) - 1)
        moved = Signal()
        m.d.comb += [
            self.host_o.payload.eq(out),
            self.host_o.valid.eq(self.core_o.valid & to_host),
            self.core_o.ready.eq(Mux(to_host, self.host_o.ready, 1)),
            moved.eq(self.core_o.valid & self.core_o.ready),
        ]
        pair_pos = Signal(range(net.stride + 1))
        m.d.comb += pair_pos.eq((out.block << log_n) | n)
        for name in ("a", "b"):
            buf = bufs[name]
            m.d.comb += [
                buf.wr_addr.eq(self._address(pair_pos, out.vector)),
                buf.wr_data.x0.eq(out.y0), buf.wr_data.x1.eq(out.y1),
                buf.wr_en.eq(moved & (dst == Buffer[name.upper()])),
            ]
        # done is registered: it travels to the network controller's counters
        m.d.sync += self.done.eq(moved & (written == last_written))
        with m.If(moved):
            m.d.sync += [n.eq(Mux(out.last, 0, n + 1)), written.eq(written + 1)]
            with m.If(written == last_written):
                m.d.sync += written.eq(0)
        return m
