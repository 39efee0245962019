"""``UartRx``, ``UartTx``: an 8N1 UART, bytes as ``amaranth.lib.stream`` words.

One bit lasts ``divisor`` clocks (:func:`circnn.config.uart_divisor`:
``round(clk_hz / baud)``, at least :data:`circnn.config.MIN_DIVISOR`).  A
byte on the line is a start bit (0), eight data bits least significant
first and a stop bit (1); the idle line is 1.

**Receiver.**  The line passes a two-flip-flop synchroniser first.  A 1-to-0
edge starts a byte; the start bit is checked half a bit later (a glitch
shorter than that is no byte), and from there every bit is sampled one bit
time apart, in its middle.  A stop bit of 0 is a framing error: the byte
is dropped and ``framing_error`` pulses for a clock; the receiver then waits
for the line to return to 1 before it hunts for the next start edge.  A
received byte waits in the output register (``o.valid``) until taken; one
that completes while the previous is still waiting is dropped and
``overrun`` pulses.  Latency: a byte is offered 2 clocks after the middle of
its stop bit (synchroniser) plus one.

**Transmitter.**  ``i.ready`` is high while the transmitter is idle; a
byte taken goes out at once, the line driven from a register (``tx``, 1
after reset); the next byte can be taken on the clock after the stop
bit ends, so bytes offered back to back leave back to back.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from circnn.config import MIN_DIVISOR, check_int

__all__ = ["UartRx", "UartTx"]


class UartRx(wiring.Component):
    """``rx``: the line; ``o``: the bytes received; ``framing_error``, ``overrun``:
    one-clock pulses, each for a byte dropped."""

    def __init__(self, divisor: int):
        self.divisor = check_int("divisor", divisor, MIN_DIVISOR)
        super().__init__({"rx": In(1, init=1), "o": Out(stream.Signature(8)),
                          "framing_error": Out(1), "overrun": Out(1)})

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        line = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, line, init=1)
        timer = Signal(range(d))            # clocks left to the next sample point
        bits = Signal(range(9))             # data bits still to sample
        shift = Signal(8)
        valid, data = Signal(), Signal(8)
        m.d.comb += [self.o.valid.eq(valid), self.o.payload.eq(data)]
        with m.If(self.o.ready):
            m.d.sync += valid.eq(0)
        m.d.sync += [self.framing_error.eq(0), self.overrun.eq(0)]
        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)

        with m.FSM(name="uart_rx"):
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq((d - 1) // 2)     # to the start bit's middle
                    m.next = "START"
            with m.State("START"):
                with m.If(timer == 0):
                    with m.If(line):                       # a glitch, not a start bit
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += [timer.eq(d - 1), bits.eq(8)]
                        m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [shift.eq(Cat(shift[1:], line)), bits.eq(bits - 1),
                                 timer.eq(d - 1)]
                    with m.If(bits == 1):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(~line):
                        m.d.sync += self.framing_error.eq(1)
                        m.next = "BREAK"
                    with m.Else():
                        with m.If(valid & ~self.o.ready):
                            m.d.sync += self.overrun.eq(1)
                        with m.Else():
                            m.d.sync += [valid.eq(1), data.eq(shift)]
                        m.next = "IDLE"
            with m.State("BREAK"):
                # after a stop bit of 0, the next start is a 1-to-0 edge, not this low line
                with m.If(line):
                    m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    """``i``: the bytes to send; ``tx``: the line."""

    def __init__(self, divisor: int):
        self.divisor = check_int("divisor", divisor, MIN_DIVISOR)
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        timer = Signal(range(d))
        frame = Signal(9)               # the bits still to send after the one on the line
        left = Signal(range(11))        # bits still on their way, the current one included
        m.d.comb += self.i.ready.eq(left == 0)
        with m.If(left == 0):
            with m.If(self.i.valid):
                # start bit now; then the data bits and the stop bit
                m.d.sync += [self.tx.eq(0), frame.eq(Cat(self.i.payload, 1)),
                             left.eq(10), timer.eq(d - 1)]
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.Else():
            m.d.sync += left.eq(left - 1)
            with m.If(left != 1):
                m.d.sync += [self.tx.eq(frame[0]), frame.eq(frame[1:]), timer.eq(d - 1)]
        return m
