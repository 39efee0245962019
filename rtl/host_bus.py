"""``HostBusSignature``: the accelerator's memory-mapped configuration port.

A simple synchronous register bus, seen from the host: a write takes one
clock (``w_en`` with ``addr`` and ``w_data``); a read presents ``addr``
with ``r_en`` and finds ``r_data`` :data:`READ_LATENCY` clocks later (three:
the read multiplexer is three registered levels, :mod:`.read_mux`); reads may
follow each other every clock.  ``addr`` carries the
:class:`circnn.config.Region` above :data:`circnn.config.REGION_SHIFT`
(map in ``docs/registers.md``).
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from circnn.config import REGION_SHIFT, Region

from .read_mux import READ_MUX_LATENCY

__all__ = ["HostBusSignature", "ADDR_WIDTH", "READ_LATENCY"]

#: clocks from a read's ``r_en`` to its ``r_data``
READ_LATENCY = READ_MUX_LATENCY

#: Address bits: the region field above the offset.
ADDR_WIDTH = REGION_SHIFT + Region.as_shape().width


class HostBusSignature(wiring.Signature):
    def __init__(self, data_width: int):
        self.data_width = data_width
        super().__init__({
            "addr": Out(ADDR_WIDTH), "w_data": Out(data_width), "w_en": Out(1),
            "r_en": Out(1), "r_data": In(data_width),
        })

    def __eq__(self, other):
        return type(other) is type(self) and other.data_width == self.data_width

    def __repr__(self):
        return f"HostBusSignature({self.data_width})"
