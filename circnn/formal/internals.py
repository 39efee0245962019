"""A component's internal registers, for the invariants of a k-induction proof.

An induction step starts from any state that satisfied the assertions for
``depth`` clocks, reachable or not; a register that can hold a word for
arbitrarily long (a skid register, a credit count) must then be tied to the
harness's bookkeeping by an assertion of its own.  Such registers are local
to the component's ``elaborate``: :class:`Opened` elaborates the component
once and finds its signals in the returned ``Module``'s statements (the
harness adds that module, not the component, as its submodule, so the
signals found are the ones proved).  A mutation adds statements to that
module before the harness uses it (a later assignment overrides an earlier
one).  Formal harnesses only: the RTL is not changed for them.
"""

from __future__ import annotations

from amaranth.hdl import Signal

__all__ = ["Opened"]


class Opened:
    """``component`` elaborated: ``module``, ``signal(name)``, ``assigned_from(value)``,
    ``submodule(name)``."""

    def __init__(self, component):
        self.component = component
        self.module = component.elaborate(None)
        component._MustUse__used = True     # elaborated here, by hand
        self.module._flush()        # a pending If chain into the statement lists

    def _statements(self):
        for stmts in self.module._statements.values():
            yield from stmts

    def _assignments(self):
        """(domain, Assign) of every assignment, inside If/Switch bodies too."""
        def walk(domain, stmts):
            for stmt in stmts:
                kind = type(stmt).__name__
                if kind == "Assign":
                    yield domain, stmt
                elif kind == "Switch":
                    for _patterns, body, _src_loc in stmt.cases:
                        yield from walk(domain, body)
        for domain, stmts in self.module._statements.items():
            yield from walk(domain, stmts)

    def signal(self, name: str) -> Signal:
        """The one signal of this name in the component's own statements."""
        found = {}
        for stmt in self._statements():
            for sig in (*stmt._lhs_signals(), *stmt._rhs_signals()):
                if sig.name == name:
                    found[id(sig)] = sig
        return self._one(found, f"signals named {name!r}")

    def assigned_from(self, value) -> Signal:
        """The one register loaded with exactly ``value`` on every clock, outside any
        condition (an unnamed ``x = Signal()`` whose only role is to register ``value``)."""
        found = {}
        for domain, stmts in self.module._statements.items():
            for stmt in stmts:
                if (domain == "sync" and type(stmt).__name__ == "Assign" and stmt.rhs is value
                        and isinstance(stmt.lhs, Signal)):
                    found[id(stmt.lhs)] = stmt.lhs
        return self._one(found, f"registers of {value!r}")

    def loaded_from(self, value) -> list[Signal]:
        """Every register loaded with exactly ``value`` (under any condition)."""
        found = {}
        for domain, stmt in self._assignments():
            if domain == "sync" and stmt.rhs is value and isinstance(stmt.lhs, Signal):
                found[id(stmt.lhs)] = stmt.lhs
        return list(found.values())

    def driver_of(self, port) -> Signal:
        """The one signal that drives ``port`` combinationally (``port.eq(signal)``)."""
        found = {}
        for domain, stmt in self._assignments():
            if domain == "comb" and stmt.lhs is port and isinstance(stmt.rhs, Signal):
                found[id(stmt.rhs)] = stmt.rhs
        return self._one(found, f"drivers of {port!r}")

    def submodule(self, name: str):
        return self.module.submodules[name]

    def registers(self) -> list[Signal]:
        """Every register of the component, its submodules' included (each submodule
        is elaborated here and its ``Module`` put in its place), in a fixed order:
        the whole state, for a proof that two copies stay alike.  Memories are
        refused (their contents are state this list cannot hold)."""
        if getattr(self, "_registers", None) is None:
            self._registers = self._find_registers()
        return self._registers

    def _find_registers(self) -> list[Signal]:
        found = {}

        def walk(stmts):
            for stmt in stmts:
                kind = type(stmt).__name__
                if kind == "Switch":
                    for _patterns, body, _src_loc in stmt.cases:
                        walk(body)
                elif kind == "FSMNextStatement":       # m.next: the FSM's state register
                    sig = stmt.ctrl_data["signal"]
                    found[id(sig)] = sig
                elif kind == "Assign":
                    for sig in stmt._lhs_signals():
                        found[id(sig)] = sig
        walk(self.module._statements.get("sync", []))
        regs = list(found.values())           # statement order: alike in alike copies
        subs = self.module._named_submodules
        for name, (sub, src_loc) in list(subs.items()):
            if type(sub).__name__ in ("Memory", "MemoryInstance"):
                raise LookupError(f"{name}: a memory's contents are not registers")
            inner = Opened(sub)
            subs[name] = (inner.module, src_loc)
            regs += inner.registers()
        if self.module._anon_submodules:
            raise LookupError("anonymous submodules are not opened")
        return regs

    def _one(self, found: dict, what: str) -> Signal:
        if len(found) != 1:
            raise LookupError(f"{type(self.component).__name__}: {len(found)} {what}")
        return next(iter(found.values()))
