"""``HostLink``: the frame engine between the UART's byte streams and the accelerator.

Protocol (``docs/host-link.md``; constants in :mod:`circnn.config.host_link`):
request frames come in on ``rx`` (:class:`~.frame_receiver.FrameReceiver`
checks them and stores the payload in a request buffer), a command
executor carries each good one out on the accelerator's ports and writes
its reply's payload to a reply buffer, and
:class:`~.frame_transmitter.FrameTransmitter` sends the reply on ``tx``.
Every frame gets exactly one reply.  Words are packed little-endian into
whole bytes: a bus address into ``A = ceil(ADDR_WIDTH/8)`` bytes, bus data
into ``D = ceil(data_width/8)``, an input word (``i``'s payload) into
``ceil(in_width/8)``, an output word (``o``'s payload, tags included) into
``ceil(out_width/8)``.

=========  ==========================  ============================================
command    request payload             reply payload
=========  ==========================  ============================================
IDENTIFY   (none)                      IDENTITY_FIELDS (build id, widths, ...)
WRITE      (address A, data D) x n     (none): n bus writes, in order
READ       address A, count (2)        count x data D, from address, address + 1, ...
PUSH       input word x n              count accepted (2); the first ones, in order
PULL       n (2)                       up to n output words (length / out bytes)
STATUS     (none)                      LINK_STATUS_FIELDS (counters)
=========  ==========================  ============================================

* Every length is checked before anything is done: a WRITE or PUSH payload
  must be a whole number of records (checked by repeated subtraction,
  about one clock per record), a READ or PULL reply must fit
  :data:`~circnn.config.MAX_PAYLOAD`; otherwise the reply is
  ``BAD_LENGTH`` and nothing happens.
* PUSH offers each word on ``i`` through a holding register: a word is
  accepted when the register takes it, and the register keeps offering it
  until ``i`` takes it, so a word counted is never lost.  When the
  register stays full for ``timeout`` clocks the push stops there and
  replies with the count so far (the host sends the rest later).
* PULL takes words from ``o`` until it has ``n`` or ``o`` offered none
  for ``timeout`` clocks.
* READ presents each address with ``r_en`` and takes ``r_data``
  :data:`~.host_bus.READ_LATENCY` clocks later.
* The link remembers the last frame it carried out: a frame with the same
  command and sequence number is not carried out again (its reply is sent
  again, from the reply buffer), so a retry after a lost reply neither
  loses nor repeats a push, a pull or a write.  IDENTIFY is always carried
  out and clears that memory (it starts a session).

Every port is driven from a register (the bus, ``i``, the buffers' write
ports) or from the state register (``o.ready``, the buffers' read
addresses).  For the clock: the request's compares (command, retry, length)
are registered as the frame is taken, and the counters that end a loop (the
timeout, the records or words left) are down-counters whose sign bit, a
flip-flop, says they have run out.  The link with its UART, out of context
on LFE5U-85F-6 placed for 160 MHz (seed 1): 142.9 MHz, 1876 logic cells,
766 FF, 2 DP16KD; its slowest path is the reply word register's input
multiplexer (six sources, selected from the state).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import (IDENTITY_FIELDS, LINK_STATUS_FIELDS, MAX_PAYLOAD, PROTOCOL_VERSION,
                           Command, LinkConfig, LinkStatus, record_bytes)

from .block_ram import BlockRAM
from .frame_receiver import BUFFER_ADDR_BITS, FrameReceiver, frame_layout
from .frame_transmitter import FrameTransmitter
from .host_bus import ADDR_WIDTH, READ_LATENCY, HostBusSignature

__all__ = ["HostLink", "byte_count"]


def byte_count(bits: int) -> int:
    """Bytes a word of ``bits`` bits is packed into."""
    return -(-bits // 8)


class HostLink(wiring.Component):
    """The frame engine of ``link`` (build id, timeout) for a bus of ``data_width``
    bits, an input stream of ``in_shape`` and an output stream of ``out_shape``."""

    def __init__(self, link: LinkConfig, *, data_width: int, in_shape, out_shape):
        if not isinstance(link, LinkConfig):
            raise TypeError("link must be a LinkConfig")
        self.link = link
        self.data_width = data_width
        self.in_shape, self.out_shape = in_shape, out_shape
        self.in_width = Shape.cast(in_shape).width
        self.out_width = Shape.cast(out_shape).width
        self.addr_bytes = byte_count(ADDR_WIDTH)
        self.data_bytes = byte_count(data_width)
        self.in_bytes = byte_count(self.in_width)
        self.out_bytes = byte_count(self.out_width)
        #: the identify reply's values
        self.identity = {"build_id": link.build_id, "version": PROTOCOL_VERSION,
                         "addr_bits": ADDR_WIDTH, "data_bits": data_width,
                         "in_bits": self.in_width, "out_bits": self.out_width,
                         "max_payload": MAX_PAYLOAD}
        super().__init__({
            "rx": In(stream.Signature(8)), "lost": In(1), "tx": Out(stream.Signature(8)),
            "bus": Out(HostBusSignature(data_width)),
            "i": Out(stream.Signature(in_shape)), "o": In(stream.Signature(out_shape)),
        })

    def elaborate(self, platform):
        m = Module()
        A, D = self.addr_bytes, self.data_bytes
        IN, OUT = self.in_bytes, self.out_bytes
        timeout = self.link.timeout_clocks
        receiver = m.submodules.receiver = FrameReceiver(timeout)
        request = m.submodules.request = BlockRAM(8, MAX_PAYLOAD)
        reply = m.submodules.reply = BlockRAM(8, MAX_PAYLOAD)
        transmitter = m.submodules.transmitter = FrameTransmitter(reply.latency)
        wiring.connect(m, wiring.flipped(self.rx), receiver.i)
        wiring.connect(m, transmitter.o, wiring.flipped(self.tx))
        m.d.comb += [
            receiver.lost.eq(self.lost),
            request.wr_addr.eq(receiver.wr_addr), request.wr_data.eq(receiver.wr_data),
            request.wr_en.eq(receiver.wr_en),
            reply.rd_addr.eq(transmitter.rd_addr), transmitter.rd_data.eq(reply.rd_data),
        ]

        # --- the request buffer's reader: `fetch` bytes shift in at the top of `acc`
        acc_bytes = max(A + D, A + 2, IN, 2)
        acc = Signal(8 * acc_bytes)
        rp = Signal(BUFFER_ADDR_BITS)               # next byte to read
        fetch = Signal(range(acc_bytes + 1))        # bytes still to issue
        flight = Signal(request.latency)            # reads on their way
        issue = fetch != 0
        m.d.comb += request.rd_addr.eq(rp)
        m.d.sync += flight.eq(Cat(issue, flight[:-1]))
        with m.If(issue):
            m.d.sync += [rp.eq(rp + 1), fetch.eq(fetch - 1)]
        with m.If(flight[-1]):
            m.d.sync += acc.eq(Cat(acc[8:], request.rd_data))
        fetching = issue | flight.any()

        def field(nbytes):
            """The last ``nbytes`` bytes fetched, the first of them least significant."""
            return acc[8 * (acc_bytes - nbytes):]

        # --- the reply buffer's writer: `store` bytes of `value`, lowest first
        value_bytes = max(D, OUT, record_bytes(IDENTITY_FIELDS),
                          record_bytes(LINK_STATUS_FIELDS), 2)
        value = Signal(8 * value_bytes)
        wp = Signal(range(MAX_PAYLOAD + 1))         # reply bytes written
        store = Signal(range(value_bytes + 1))
        m.d.comb += [reply.wr_addr.eq(wp), reply.wr_data.eq(value[:8]),
                     reply.wr_en.eq(store != 0)]
        with m.If(store != 0):
            m.d.sync += [value.eq(value[8:]), wp.eq(wp + 1), store.eq(store - 1)]
        storing = store != 0

        # --- the ports: registered
        bus = self.bus
        bus_addr, bus_data = Signal(len(bus.addr)), Signal(len(bus.w_data))
        w_en, r_en = Signal(), Signal()
        i_valid, i_data = Signal(), Signal(self.in_shape)
        m.d.comb += [bus.addr.eq(bus_addr), bus.w_data.eq(bus_data), bus.w_en.eq(w_en),
                     bus.r_en.eq(r_en), self.i.valid.eq(i_valid), self.i.payload.eq(i_data)]
        m.d.sync += [w_en.eq(0), r_en.eq(0)]
        with m.If(self.i.ready):
            m.d.sync += i_valid.eq(0)

        # --- the executor's state
        frame = Signal(frame_layout())
        status = Signal(LinkStatus)
        length = Signal(range(MAX_PAYLOAD + 1))     # the reply's payload bytes
        remaining = Signal(signed(12))              # payload bytes not yet checked, minus one
        count, n = Signal(16), Signal(16)
        # records or words still to do, minus one: its sign bit, a flip-flop, says none
        left = Signal(signed(17))
        done = left[-1]
        # a down-counter whose sign bit says it has run out: `expired` is a flip-flop
        timer = Signal(signed((timeout - 1).bit_length() + 1))
        expired = timer[-1]
        with m.If(~expired):
            m.d.sync += timer.eq(timer - 1)

        def start_timer(clocks):
            """``expired`` is high again ``clocks`` + 1 clocks after this one."""
            m.d.sync += timer.eq(clocks - 1)
        address = Signal(ADDR_WIDTH)
        last_valid, last_command, last_sequence = Signal(), Signal(8), Signal(8)
        last_length = Signal(range(MAX_PAYLOAD + 1))
        counters = {"frames": Signal(16), "errors": Signal(16), "last_error": Signal(8),
                    "lost_bytes": Signal(16)}
        with m.If(self.lost):
            m.d.sync += counters["lost_bytes"].eq(counters["lost_bytes"] + 1)
        identity = Cat(Const(self.identity[name], 8 * size) for name, size in IDENTITY_FIELDS)
        link_status = Cat(counters[name] for name, _ in LINK_STATUS_FIELDS)
        command = frame.command
        failed, again, empty, sized = Signal(), Signal(), Signal(), Signal()
        is_command = {code: Signal(name=f"is_{code.name.lower()}") for code in Command}

        def answer(code, nbytes=0):
            m.d.sync += [status.eq(code), length.eq(nbytes)]
            m.next = "REPLY"

        def store_then_answer(data, nbytes):
            m.d.sync += [value.eq(data), store.eq(nbytes)]
            m.next = "STORE"

        with m.FSM(name="executor"):
            with m.State("IDLE"):
                # the frame's record, and every compare DISPATCH needs, registered here
                incoming = receiver.frame.payload
                m.d.comb += receiver.frame.ready.eq(~transmitter.busy)
                with m.If(receiver.frame.valid & ~transmitter.busy):
                    m.d.sync += [
                        frame.eq(incoming), rp.eq(0), wp.eq(0), count.eq(0), left.eq(-1),
                        remaining.eq(incoming.length - 1),
                        failed.eq(incoming.status != LinkStatus.OK),
                        again.eq(last_valid & (incoming.command == last_command)
                                 & (incoming.sequence == last_sequence)
                                 & (incoming.command != Command.IDENTIFY)),
                        empty.eq(incoming.length == 0),
                        sized.eq(incoming.length == Mux(incoming.command == Command.READ, A + 2,
                                                        2)),
                    ]
                    for code, flag in is_command.items():
                        m.d.sync += flag.eq(incoming.command == code)
                    m.next = "DISPATCH"
            with m.State("DISPATCH"):
                with m.If(failed):
                    answer(frame.status)
                with m.Elif(again):
                    answer(LinkStatus.OK, last_length)          # a retry: the same reply
                with m.Elif(is_command[Command.IDENTIFY] | is_command[Command.STATUS]):
                    with m.If(~empty):
                        answer(LinkStatus.BAD_LENGTH)
                    with m.Elif(is_command[Command.IDENTIFY]):
                        store_then_answer(identity, record_bytes(IDENTITY_FIELDS))
                    with m.Else():
                        store_then_answer(link_status, record_bytes(LINK_STATUS_FIELDS))
                with m.Elif(is_command[Command.WRITE]):
                    m.next = "WRITE_CHECK"
                with m.Elif(is_command[Command.PUSH]):
                    m.next = "PUSH_CHECK"
                with m.Elif(is_command[Command.READ] | is_command[Command.PULL]):
                    with m.If(~sized):
                        answer(LinkStatus.BAD_LENGTH)
                    with m.Elif(is_command[Command.READ]):
                        m.d.sync += fetch.eq(A + 2)
                        m.next = "READ_FETCH"
                    with m.Else():
                        m.d.sync += fetch.eq(2)
                        m.next = "PULL_FETCH"
                with m.Else():
                    answer(LinkStatus.UNKNOWN_COMMAND)

            # a payload of whole records: subtract the record size until nothing is left
            # (-1: the length was a multiple of it) or less than nothing (it was not)
            for name, size, then in (("WRITE", A + D, "WRITE_NEXT"), ("PUSH", IN, "PUSH_NEXT")):
                with m.State(f"{name}_CHECK"):
                    with m.If(~remaining[-1]):
                        m.d.sync += [remaining.eq(remaining - size), left.eq(left + 1)]
                    with m.Elif(remaining == -1):
                        m.next = then
                    with m.Else():
                        answer(LinkStatus.BAD_LENGTH)

            with m.State("WRITE_NEXT"):
                with m.If(done):
                    answer(LinkStatus.OK)
                with m.Else():
                    m.d.sync += [fetch.eq(A + D), left.eq(left - 1)]
                    m.next = "WRITE_FETCH"
            with m.State("WRITE_FETCH"):
                with m.If(~fetching):
                    pair = field(A + D)
                    m.d.sync += [bus_addr.eq(pair[:ADDR_WIDTH]),
                                 bus_data.eq(pair[8 * A:8 * A + self.data_width]), w_en.eq(1)]
                    m.next = "WRITE_NEXT"

            with m.State("READ_FETCH"):
                with m.If(~fetching):
                    request_ = field(A + 2)
                    m.d.sync += [address.eq(request_[:ADDR_WIDTH]),
                                 n.eq(request_[8 * A:8 * A + 16])]
                    m.next = "READ_CHECK"
            with m.State("READ_CHECK"):
                with m.If(n > MAX_PAYLOAD // D):
                    answer(LinkStatus.BAD_LENGTH)
                with m.Else():
                    m.d.sync += left.eq(n - 1)
                    m.next = "READ_NEXT"
            with m.State("READ_NEXT"):
                with m.If(done):
                    answer(LinkStatus.OK, wp)
                with m.Else():
                    m.d.sync += [bus_addr.eq(address), r_en.eq(1), left.eq(left - 1)]
                    start_timer(READ_LATENCY)
                    m.next = "READ_DATA"
            with m.State("READ_DATA"):
                # r_en is high in the next clock; r_data READ_LATENCY clocks after that
                with m.If(expired):
                    m.d.sync += [value.eq(bus.r_data), store.eq(D), address.eq(address + 1)]
                    m.next = "READ_STORE"
            with m.State("READ_STORE"):
                with m.If(~storing):
                    m.next = "READ_NEXT"

            with m.State("PUSH_NEXT"):
                with m.If(done):
                    store_then_answer(count, 2)
                with m.Else():
                    m.d.sync += [fetch.eq(IN), left.eq(left - 1)]
                    m.next = "PUSH_FETCH"
            with m.State("PUSH_FETCH"):
                with m.If(~fetching):
                    start_timer(timeout)
                    m.next = "PUSH_OFFER"
            with m.State("PUSH_OFFER"):
                with m.If(~i_valid):
                    m.d.sync += [i_valid.eq(1), i_data.eq(field(IN)[:self.in_width]),
                                 count.eq(count + 1)]
                    m.next = "PUSH_NEXT"
                with m.Elif(expired):
                    store_then_answer(count, 2)     # the rest another time

            with m.State("PULL_FETCH"):
                with m.If(~fetching):
                    m.d.sync += n.eq(field(2))
                    m.next = "PULL_CHECK"
            with m.State("PULL_CHECK"):
                with m.If(n > MAX_PAYLOAD // OUT):
                    answer(LinkStatus.BAD_LENGTH)
                with m.Elif(n == 0):
                    answer(LinkStatus.OK)
                with m.Else():
                    m.d.sync += left.eq(n - 1)
                    start_timer(timeout)
                    m.next = "PULL_WAIT"
            with m.State("PULL_WAIT"):
                m.d.comb += self.o.ready.eq(1)
                with m.If(self.o.valid):
                    m.d.sync += [value.eq(self.o.payload), store.eq(OUT), left.eq(left - 1)]
                    m.next = "PULL_STORE"
                with m.Elif(expired):
                    answer(LinkStatus.OK, wp)
            with m.State("PULL_STORE"):
                with m.If(~storing):
                    with m.If(done):
                        answer(LinkStatus.OK, wp)
                    with m.Else():
                        start_timer(timeout)
                        m.next = "PULL_WAIT"

            with m.State("STORE"):
                with m.If(~storing):
                    answer(LinkStatus.OK, wp)

            with m.State("REPLY"):
                m.d.comb += [transmitter.reply.valid.eq(1),
                             transmitter.reply.payload.command.eq(command),
                             transmitter.reply.payload.sequence.eq(frame.sequence),
                             transmitter.reply.payload.status.eq(status),
                             transmitter.reply.payload.length.eq(length)]
                with m.If(transmitter.reply.ready):
                    with m.If(status == LinkStatus.OK):
                        m.d.sync += [counters["frames"].eq(counters["frames"] + 1),
                                     last_valid.eq(command != Command.IDENTIFY),
                                     last_command.eq(command), last_sequence.eq(frame.sequence),
                                     last_length.eq(length)]
                    with m.Else():
                        m.d.sync += [counters["errors"].eq(counters["errors"] + 1),
                                     counters["last_error"].eq(status)]
                    m.next = "IDLE"
        return m
