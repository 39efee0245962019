"""The design registry.

A design is a named, parameterised Amaranth component that ``circnn
generate`` and ``circnn synth`` can elaborate.  Modules under
:mod:`circnn.rtl` register their designs with :func:`register`; this module
imports them lazily (:data:`DESIGN_MODULES`) so that adding a design is one
decorator in its own file plus one line here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .errors import CircnnError
from .params import Param, resolve_params

__all__ = ["Design", "register", "get_design", "all_designs", "TARGETS", "DESIGN_MODULES"]

#: ``generic``: vendor-neutral Verilog (behavioural registered multipliers);
#: ``ecp5``: may instantiate ECP5 primitives (registered MULT18X18D).
TARGETS = ("generic", "ecp5")

#: Modules that register designs; imported on first use of the registry.
DESIGN_MODULES = [
    "circnn.rtl.requantize",
    "circnn.rtl.multiplier",
    "circnn.rtl.block_ram",
    "circnn.rtl.fft",
    "circnn.rtl.real_fft",
    "circnn.rtl.layer",
    "circnn.rtl.accelerator",
    "circnn.rtl.real_ifft",
    "circnn.rtl.dense",
]

_REGISTRY: dict[str, "Design"] = {}
_loaded = False


@dataclass(frozen=True)
class Design:
    name: str
    description: str
    params: Sequence[Param]
    build: Callable[[dict, str], Any]
    #: Small parameters used by the lint gate and smoke tests.
    lint_params: dict = field(default_factory=dict)
    validate: Callable[[dict], None] | None = None

    def resolve(self, given: dict | None = None, *, from_text: bool = True) -> dict:
        return resolve_params(self.params, given or {}, design=self.name,
                              from_text=from_text, validate=self.validate)

    def elaborate(self, params: dict, target: str = "generic"):
        if target not in TARGETS:
            raise CircnnError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
        return self.build(params, target)


def register(name: str, *, description: str, params: Sequence[Param],
             lint_params: dict | None = None, validate=None):
    """Decorator: register ``build(params, target) -> Component`` as design ``name``."""
    def wrap(build):
        if name in _REGISTRY:
            raise RuntimeError(f"design {name} registered twice")
        _REGISTRY[name] = Design(name, description, tuple(params), build,
                                 dict(lint_params or {}), validate)
        return build
    return wrap


def _load():
    global _loaded
    if not _loaded:
        _loaded = True
        for mod in DESIGN_MODULES:
            importlib.import_module(mod)


def all_designs() -> dict[str, Design]:
    _load()
    return dict(sorted(_REGISTRY.items()))


def get_design(name: str) -> Design:
    designs = all_designs()
    if name not in designs:
        raise CircnnError(f"unknown design {name!r} (designs: {', '.join(designs)})")
    return designs[name]
