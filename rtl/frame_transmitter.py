"""``FrameTransmitter``: reply frames of the host link into a byte stream.

Protocol (``docs/host-link.md``): on a ``reply`` record (``command``,
``sequence``, ``status``, ``length``) it sends ``SYNC, command, sequence,
status, length (2 bytes, little-endian)``, then ``length`` payload bytes
read from the reply buffer (byte j at address j, through ``rd_addr`` /
``rd_data``, the data ``read_latency`` clocks after the address), then the
CRC (:func:`~.crc16.crc16_next` over every byte after ``SYNC``), high byte
first.  ``busy`` is high from the record's acceptance until the last byte
has been taken; the reply buffer must not change meanwhile.

``o.payload`` leaves a register and ``o.valid`` the state register.  A
payload byte is read when the one before it has been taken:
``read_latency`` + 2 clocks a byte, far below a UART byte time.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import CRC_INIT, MAX_PAYLOAD, REPLY_HEADER, SYNC, LinkStatus, check_int

from .crc16 import crc16_next
from .frame_receiver import BUFFER_ADDR_BITS

__all__ = ["FrameTransmitter", "reply_layout"]


def reply_layout():
    return data.StructLayout({"command": 8, "sequence": 8, "status": LinkStatus,
                              "length": range(MAX_PAYLOAD + 1)})


class FrameTransmitter(wiring.Component):
    def __init__(self, read_latency: int):
        self.read_latency = check_int("read_latency", read_latency, 1)
        super().__init__({
            "reply": In(stream.Signature(reply_layout())),
            "rd_addr": Out(BUFFER_ADDR_BITS), "rd_data": In(8),
            "o": Out(stream.Signature(8)), "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        header = Signal(8 * REPLY_HEADER)      # the header's bytes still to send, next lowest
        sent = Signal(range(REPLY_HEADER + 1))
        left = Signal(range(MAX_PAYLOAD + 1))   # payload bytes still to send
        addr = Signal(BUFFER_ADDR_BITS)
        wait = Signal(range(self.read_latency + 1))
        byte = Signal(8)
        crc = Signal(16)
        crc_low = Signal(8)
        taken = self.o.valid & self.o.ready
        after = crc16_next(crc, byte)           # the CRC once `byte` is sent
        m.d.comb += [self.o.payload.eq(byte), self.rd_addr.eq(addr)]
        with m.If(taken):
            m.d.sync += crc.eq(after)

        def then_crc():
            m.d.sync += [byte.eq(after[8:]), crc_low.eq(after[:8])]
            m.next = "CRC_HIGH"

        def then_next_word():
            """After the header or a payload byte: the CRC when no word is left, else
            the next word's read."""
            with m.If(left == 0):
                then_crc()
            with m.Else():
                m.d.sync += wait.eq(self.read_latency)
                m.next = "READ"

        with m.FSM(name="transmitter"):
            with m.State("IDLE"):
                m.d.comb += self.reply.ready.eq(1)
                r = self.reply.payload
                with m.If(self.reply.valid):
                    m.d.sync += [
                        byte.eq(SYNC),
                        header.eq(Cat(r.command, r.sequence, r.status, r.length)),
                        left.eq(r.length), addr.eq(0), sent.eq(0)]
                    m.next = "SYNC"
            with m.State("SYNC"):
                m.d.comb += [self.o.valid.eq(1), self.busy.eq(1)]
                with m.If(taken):
                    m.d.sync += [crc.eq(CRC_INIT), byte.eq(header[:8]), header.eq(header[8:])]
                    m.next = "HEADER"
            with m.State("HEADER"):
                m.d.comb += [self.o.valid.eq(1), self.busy.eq(1)]
                with m.If(taken):
                    m.d.sync += [byte.eq(header[:8]), header.eq(header[8:]), sent.eq(sent + 1)]
                    with m.If(sent == REPLY_HEADER - 2):
                        then_next_word()
            with m.State("READ"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += wait.eq(wait - 1)
                with m.If(wait == 0):
                    m.d.sync += [byte.eq(self.rd_data), addr.eq(addr + 1), left.eq(left - 1)]
                    m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                m.d.comb += [self.o.valid.eq(1), self.busy.eq(1)]
                with m.If(taken):
                    then_next_word()
            with m.State("CRC_HIGH"):
                m.d.comb += [self.o.valid.eq(1), self.busy.eq(1)]
                with m.If(taken):
                    m.d.sync += byte.eq(crc_low)
                    m.next = "CRC_LOW"
            with m.State("CRC_LOW"):
                m.d.comb += [self.o.valid.eq(1), self.busy.eq(1)]
                with m.If(taken):
                    m.next = "IDLE"
        return m
