"""``BoardTop``: the accelerator on a board, behind the host link over a UART.

::

    uart rx ──► UartRx ──► HostLink ──► UartTx ──► uart tx
                              │ bus, i, o
                          Accelerator

Everything runs in one clock domain, ``sync``, at ``link.clk_hz``: the
link's UART divisor and timeouts are counted in its clocks.  Its reset is
released through a reset synchroniser (two flip-flops, asserted at once,
released on the clock).

Two forms:

* ``sim=True``: plain ports ``clk``, ``rst``, ``uart_rx``, ``uart_tx``;
  ``clk`` drives the domain directly (the PLL bypassed) and ``rst`` is
  synchronised.  This is what the cocotb bench simulates.
* ``sim=False``, for a board platform (amaranth-boards' ULX3S): no ports;
  the top level requests ``clk25`` (25 MHz), ``uart`` 0 (``rx``, ``tx``)
  and drives ``uart_tx_enable`` high.  The domain is clocked by an
  :class:`~.pll.ECP5PLL` making ``link.clk_hz`` from 25 MHz (which must be
  a frequency the PLL makes: :func:`~.pll.pll_settings`), and held in reset
  until the PLL locks; with ``pll_bypass`` the 25 MHz oscillator drives it
  directly (``link.clk_hz`` must then be 25 MHz).  The platform constrains
  the oscillator's pin (25 MHz); nextpnr derives the PLL output's
  constraint from it and the dividers ("Derived frequency constraint of
  150.0 MHz for net ..."), so the design is timed at the PLL's frequency.

``accelerator``: a component that stands in for the
:class:`~.accelerator.Accelerator` of ``net`` (its signature), such as the
instance of a build's Verilog file (:class:`circnn.sim.harness.prebuilt.PrebuiltDesign`:
``circnn build --board`` wraps the very file the build wrote); by default the
accelerator is elaborated here.
"""

from amaranth.hdl import ClockDomain, ClockSignal, Const, Module, Signal
from amaranth.lib import io, wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.wiring import In, Out

from circnn.config import LinkConfig, NetworkConfig, ParameterError

from .accelerator import Accelerator
from .host_link import HostLink
from .pll import ECP5PLL, pll_settings
from .uart import UartRx, UartTx

__all__ = ["BoardTop", "BOARD_CLOCK_HZ"]

#: the ULX3S's oscillator (resource ``clk25``)
BOARD_CLOCK_HZ = 25_000_000


class BoardTop(wiring.Component):
    """The accelerator ``net`` behind the host link ``link``; ``memory`` and
    ``descriptors`` preload a network (as :class:`~.accelerator.Accelerator`'s);
    ``accelerator`` replaces the accelerator (a component of its signature)."""

    def __init__(self, net: NetworkConfig, link: LinkConfig, *, sim: bool = False,
                 pll_bypass: bool = False, memory=None, descriptors=None, accelerator=None):
        if not isinstance(link, LinkConfig):
            raise TypeError("link must be a LinkConfig")
        self.net, self.link = net, link
        self.sim = bool(sim)
        self.pll_bypass = bool(pll_bypass) or self.sim
        self.pll = None
        if not self.sim:
            if self.pll_bypass:
                if link.clk_hz != BOARD_CLOCK_HZ:
                    raise ParameterError(f"clk_hz must be {BOARD_CLOCK_HZ} with the PLL "
                                         f"bypassed (the oscillator's), not {link.clk_hz}")
            else:
                self.pll = pll_settings(BOARD_CLOCK_HZ, link.clk_hz)
                if abs(self.pll.f_out - link.clk_hz) > 1:
                    raise ParameterError(f"clk_hz must be a frequency the PLL makes from 25 MHz "
                                         f"(pll_settings), not {link.clk_hz}: the nearest is "
                                         f"{self.pll.f_out:.0f}")
        if accelerator is not None and (memory is not None or descriptors is not None):
            raise ValueError("memory and descriptors preload the accelerator elaborated here, "
                             "not one given")
        self.memory, self.descriptors = memory, descriptors
        self.accelerator = accelerator
        ports = {"clk": In(1), "rst": In(1), "uart_rx": In(1, init=1),
                 "uart_tx": Out(1, init=1)} if self.sim else {}
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        link = self.link
        m.domains.sync = ClockDomain("sync")
        rx_line, tx_line = Signal(init=1), Signal(init=1)
        if self.sim:
            m.d.comb += [ClockSignal("sync").eq(self.clk), rx_line.eq(self.uart_rx),
                         self.uart_tx.eq(tx_line)]
            reset = self.rst
        else:
            uart = platform.request("uart", 0, dir="-")
            clk25 = m.submodules.clk25 = io.Buffer("i", platform.request("clk25", 0, dir="-"))
            rx = m.submodules.rx = io.Buffer("i", uart.rx)
            tx = m.submodules.tx = io.Buffer("o", uart.tx)
            tx_enable = m.submodules.tx_enable = io.Buffer(
                "o", platform.request("uart_tx_enable", 0, dir="-"))
            m.d.comb += [rx_line.eq(rx.i), tx.o.eq(tx_line), tx_enable.o.eq(1)]
            if self.pll is None:
                m.d.comb += ClockSignal("sync").eq(clk25.i)
                reset = Const(0)
            else:
                pll = m.submodules.pll = ECP5PLL(self.pll)
                m.d.comb += [pll.clki.eq(clk25.i), ClockSignal("sync").eq(pll.clkop)]
                reset = ~pll.locked
        m.submodules.reset_sync = ResetSynchronizer(reset, domain="sync")

        acc = m.submodules.accelerator = self.accelerator if self.accelerator is not None \
            else Accelerator(self.net, memory=self.memory, descriptors=self.descriptors)
        host = m.submodules.link = HostLink(
            link, data_width=self.net.data_width, in_shape=acc.i.payload.shape(),
            out_shape=acc.o.payload.shape())
        uart_rx = m.submodules.uart_rx = UartRx(link.divisor)
        uart_tx = m.submodules.uart_tx = UartTx(link.divisor)
        m.d.comb += [uart_rx.rx.eq(rx_line), tx_line.eq(uart_tx.tx),
                     host.lost.eq(uart_rx.framing_error | uart_rx.overrun)]
        wiring.connect(m, uart_rx.o, host.rx)
        wiring.connect(m, host.tx, uart_tx.i)
        wiring.connect(m, host.bus, acc.bus)
        wiring.connect(m, host.i, acc.i)
        wiring.connect(m, acc.o, host.o)
        return m
