"""A design from a Verilog file that was written before: its module under the harness.

``circnn infer --build DIR`` simulates the Verilog ``circnn build`` wrote,
not a new elaboration.  :class:`PrebuiltDesign` is a component with the
signature of the component the file was made from (the accelerator of the
build's parameters) whose body is one instance of the file's top module,
every port of the signature connected by name (Amaranth's ``__``-joined
names, as :func:`circnn.verilog.verilog_ports` gives them) plus ``clk``
and ``rst``.  So the stream shell and the benches drive it as they drive
an elaborated design, and the simulator compiles the file itself beside
the shell (:func:`~.runner.run_bench`'s ``verilog_files``).

Before anything runs, :func:`check_module` compares the file's module
header with the signature (names, directions and widths) and refuses a
mismatch in one line, so a file of another configuration is never
connected with silently truncated ports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from amaranth.hdl import ClockSignal, Instance, Module, ResetSignal
from amaranth.hdl._ir import PortDirection
from amaranth.lib import wiring

from circnn.errors import CircnnError
from circnn.verilog import verilog_ports

from .stream_shell import SHELL_MODULES

__all__ = ["VerilogModule", "PrebuiltDesign", "check_module", "module_ports"]

_PORT = re.compile(r"^\s*(input|output|inout)\s+(?:wire\s+|reg\s+)?(?:\[(\d+):(\d+)\]\s+)?"
                   r"([A-Za-z_][A-Za-z0-9_$]*)\s*;", re.M)


@dataclass(frozen=True)
class VerilogModule:
    """Verilog text (yosys's, as ``circnn build`` wrote it) and the module to simulate:
    ``file_name`` names it in the run's folder, ``path`` (default: the file name) in
    messages."""

    text: str
    top: str
    file_name: str
    path: str = ""

    @property
    def shown(self) -> str:
        return repr(self.path or self.file_name)


def module_ports(text: str, top: str, where: str) -> dict[str, tuple[str, int]]:
    """``{port: (direction, bits)}`` of module ``top`` in ``text`` (yosys's Verilog:
    a port list, then one declaration per port)."""
    # (a name with a ``$`` is written escaped: a backslash before it, a space after it)
    head = re.search(rf"^module\s+\\?{re.escape(top)}\s*\(([^)]*)\)\s*;", text, re.M)
    if head is None:
        raise CircnnError(f"{where}: no module {top} in it")
    end = text.find("\nendmodule", head.end())
    body = text[head.end():end if end >= 0 else len(text)]
    names = [n.strip() for n in head.group(1).split(",") if n.strip()]
    declared = {m.group(4): (m.group(1), abs(int(m.group(2)) - int(m.group(3))) + 1
                             if m.group(2) is not None else 1) for m in _PORT.finditer(body)}
    missing = [n for n in names if n not in declared]
    if missing:
        raise CircnnError(f"{where}: module {top} lists port {missing[0]} but declares no "
                          f"input or output of that name")
    return {n: declared[n] for n in names}


def check_module(component: wiring.Component, verilog: VerilogModule) -> None:
    """Refuse, in one line, a module that cannot stand in for ``component``: one named
    like a module of the simulation shell, or whose ports (names, directions, widths)
    differ from the component's signature with ``clk`` and ``rst``.  ``component``
    serves for its signature only: Amaranth is told not to warn that it was unused."""
    component._MustUse__silence = True
    if verilog.top in SHELL_MODULES:
        raise CircnnError(f"{verilog.shown}: its module {verilog.top} has the name of a "
                          f"module of the simulation shell; rebuild with another --top")
    found = module_ports(verilog.text, verilog.top, verilog.shown)
    wanted = {name: ("input" if direction == PortDirection.Input else "output", len(value))
              for name, (value, direction) in verilog_ports(component).items()}
    wanted |= {"clk": ("input", 1), "rst": ("input", 1)}

    def show(port):
        return "no such port" if port is None else f"{port[0]} of {port[1]} bits"
    for name in sorted(set(found) | set(wanted)):
        if found.get(name) != wanted.get(name):
            raise CircnnError(f"{verilog.shown}: port {name} of module {verilog.top} is "
                              f"{show(found.get(name))}, the accelerator of these parameters "
                              f"has {show(wanted.get(name))}")


class PrebuiltDesign(wiring.Component):
    """``verilog``'s top module as a component of ``signature``."""

    def __init__(self, signature: wiring.Signature, verilog: VerilogModule):
        self.verilog = verilog
        super().__init__(signature)

    @classmethod
    def replacing(cls, component: wiring.Component, verilog: VerilogModule) -> "PrebuiltDesign":
        """The design of ``verilog`` in the place of ``component`` (check it first with
        :func:`check_module`).  ``component`` is never elaborated (the file stands in
        for it), so Amaranth is told not to warn that it was unused."""
        component._MustUse__silence = True
        return cls(component.signature, verilog)

    def elaborate(self, platform):
        m = Module()
        ports = {("i_" if direction == PortDirection.Input else "o_") + name: value
                 for name, (value, direction) in verilog_ports(self).items()}
        m.submodules.design = Instance(self.verilog.top, i_clk=ClockSignal(),
                                       i_rst=ResetSignal(), **ports)
        return m
