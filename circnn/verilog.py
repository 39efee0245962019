"""A component to Verilog text, for a target.

The one place circnn calls Amaranth's Verilog back end (``circnn
generate``, ``circnn synth`` and the cocotb runner use it).  Ports are the
component's signature, flattened with ``__`` as Amaranth does, except
constant members (the ``ready`` of an always-ready stream, say): they are
tied inside the component and are no ports.
"""

from __future__ import annotations

from amaranth.back import verilog
from amaranth.hdl import Const, ValueCastable
from amaranth.hdl._ir import PortDirection
from amaranth.lib import wiring

from circnn.config import platform_for

__all__ = ["elaborate_verilog", "verilog_ports"]


def verilog_ports(component) -> dict:
    """``{name: (signal, direction)}`` for every non-constant member of the signature."""
    ports = {}
    for path, member, value in component.signature.flatten(component):
        if isinstance(value, ValueCastable):
            value = value.as_value()
        if isinstance(value, Const):
            continue
        direction = PortDirection.Input if member.flow == wiring.In else PortDirection.Output
        ports["__".join(map(str, path))] = (value, direction)
    return ports


def elaborate_verilog(component, top: str, target: str = "generic") -> str:
    """Verilog text of ``component`` as module ``top``, elaborated for ``target``."""
    return verilog.convert(component, name=top, platform=platform_for(target),
                           ports=verilog_ports(component), emit_src=False)
