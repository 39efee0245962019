"""``FrameReceiver``: request frames of the host link out of a byte stream.

Protocol (``docs/host-link.md``): a frame is ``SYNC, command, sequence,
length (2 bytes, little-endian), payload (length bytes), CRC (2 bytes, high
first)``; the CRC (:func:`~.crc16.crc16_next`) runs over every byte after
``SYNC``, its own two included, and must end at 0.

* Bytes before a ``SYNC`` are skipped (no timeout while hunting).
* The payload is written to the request buffer (``wr_*``, byte j at
  address j; the writes are registered, so they land two clocks after the
  byte is taken) and the frame's record goes out on ``frame``:
  ``command``, ``sequence``, ``length`` and ``status``
  (:class:`circnn.config.LinkStatus`).  Until the record is taken, no byte
  is taken (``i.ready`` low).
* Inside a frame, a line idle for ``timeout`` clocks ends it with status
  ``TIMEOUT`` (a dropped byte never hangs the link).
* Any other fault (a length above :data:`circnn.config.MAX_PAYLOAD`:
  ``BAD_LENGTH``; a CRC that does not end at 0: ``BAD_CRC``; a byte lost
  on the way in during the frame, ``lost`` high on some clock: ``OVERFLOW``)
  discards the frame and then every byte that follows until the line has
  been idle for ``timeout`` clocks, so that the rest of a frame whose length
  byte was corrupted is not read as a new frame; then the record goes out.

``lost`` is a pulse from the UART (a framing error or an overrun).  Every
byte is taken the clock it arrives, and the record follows a good frame's
last byte by two clocks (the CRC check is registered).  ``length`` is the
received length (0 in a record that is not ``OK``).
"""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import CRC_INIT, MAX_PAYLOAD, SYNC, LinkStatus, check_int

from .crc16 import crc16_next

__all__ = ["FrameReceiver", "frame_layout", "BUFFER_ADDR_BITS"]

#: address bits of a frame buffer (MAX_PAYLOAD bytes)
BUFFER_ADDR_BITS = (MAX_PAYLOAD - 1).bit_length()


def frame_layout():
    return data.StructLayout({"command": 8, "sequence": 8, "length": range(MAX_PAYLOAD + 1),
                              "status": LinkStatus})


class FrameReceiver(wiring.Component):
    def __init__(self, timeout: int):
        self.timeout = check_int("timeout", timeout, 2)
        super().__init__({
            "i": In(stream.Signature(8)), "lost": In(1),
            "frame": Out(stream.Signature(frame_layout())),
            "wr_addr": Out(BUFFER_ADDR_BITS), "wr_data": Out(8), "wr_en": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        byte = self.i.payload
        take = self.i.valid & self.i.ready
        record = Signal(frame_layout())
        crc = Signal(16)
        length = Signal(16)
        left = Signal(range(MAX_PAYLOAD + 1))      # payload bytes still to come
        addr = Signal(BUFFER_ADDR_BITS)
        lost = Signal()                             # a byte was lost inside this frame
        # the clocks since the last byte, down from `timeout`: its sign bit, a flip-flop,
        # says the line has been idle for `timeout` clocks
        timer = Signal(signed((self.timeout - 1).bit_length() + 1))
        idle = timer[-1]
        m.d.comb += self.frame.payload.eq(record)

        m.d.sync += self.wr_en.eq(0)
        with m.If(take):
            m.d.sync += [timer.eq(self.timeout - 2), crc.eq(crc16_next(crc, byte))]
        with m.Elif(~idle):
            m.d.sync += timer.eq(timer - 1)
        with m.If(self.lost):
            m.d.sync += lost.eq(1)

        def fail(status):
            m.d.sync += [record.status.eq(status), record.length.eq(0)]
            m.next = "DRAIN"

        def timed_out():
            with m.If(idle & ~self.i.valid):
                m.d.sync += [record.status.eq(LinkStatus.TIMEOUT), record.length.eq(0)]
                m.next = "DONE"

        with m.FSM(name="receiver"):
            with m.State("HUNT"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(take & (byte == SYNC)):
                    m.d.sync += [crc.eq(CRC_INIT), lost.eq(0), addr.eq(0), record.eq(0)]
                    m.next = "COMMAND"
            # the header: one byte a state, each stored (or only counted in the CRC)
            for state, target, then in (("COMMAND", record.command, "SEQUENCE"),
                                        ("SEQUENCE", record.sequence, "LENGTH_LOW"),
                                        ("LENGTH_LOW", length[:8], "LENGTH_HIGH"),
                                        ("LENGTH_HIGH", length[8:], "LENGTH_CHECK"),
                                        ("CRC_HIGH", None, "CRC_LOW"),
                                        ("CRC_LOW", None, "CHECK")):
                with m.State(state):
                    m.d.comb += self.i.ready.eq(1)
                    timed_out()
                    with m.If(take):
                        if target is not None:
                            m.d.sync += target.eq(byte)
                        m.next = then
            with m.State("LENGTH_CHECK"):
                # one clock, long before the next byte: the compare is registered
                with m.If(length > MAX_PAYLOAD):
                    fail(LinkStatus.BAD_LENGTH)
                with m.Else():
                    m.d.sync += [record.length.eq(length), left.eq(length)]
                    with m.If(length == 0):
                        m.next = "CRC_HIGH"
                    with m.Else():
                        m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                m.d.comb += self.i.ready.eq(1)
                timed_out()
                with m.If(take):
                    m.d.sync += [self.wr_en.eq(1), self.wr_addr.eq(addr), self.wr_data.eq(byte),
                                 addr.eq(addr + 1), left.eq(left - 1)]
                    with m.If(left == 1):
                        m.next = "CRC_HIGH"
            with m.State("CHECK"):
                with m.If(lost):
                    fail(LinkStatus.OVERFLOW)
                with m.Elif(crc != 0):
                    fail(LinkStatus.BAD_CRC)
                with m.Else():
                    m.next = "DONE"
            with m.State("DRAIN"):
                # swallow whatever follows until the line is idle
                m.d.comb += self.i.ready.eq(1)
                with m.If(idle & ~self.i.valid):
                    m.next = "DONE"
            with m.State("DONE"):
                m.d.comb += self.frame.valid.eq(1)
                with m.If(self.frame.ready):
                    m.next = "HUNT"
        return m
