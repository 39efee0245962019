"""``FormalProperty``: one SymbiYosys task: a harness, its mode and depth, the mutation
it must catch.

A property names the component it is about and the parameters of the
instance proved; ``harness(mutation)`` builds the harness around the
component as it is (``None``) or around a deliberately broken variant
(``mutation``, one of the names the harness file defines).  The tests run
every fast property on the component (it must pass) and on its mutation
(it must fail): so no property holds vacuously or by construction of the
harness alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

__all__ = ["FormalProperty"]


@dataclass(frozen=True)
class FormalProperty:
    name: str                          # "<component file>.<what>", unique
    component: str                     # the class (or function) proved
    params: dict                       # the instance's parameters
    mode: str                          # prove (k-induction), bmc or cover
    depth: int                         # the induction depth, or the clocks checked / covered
    harness: Callable = field(repr=False, compare=False)   # harness(mutation=None)
    mutation: str                      # a broken variant this property must catch
    what: str                          # one line: what holds
    slow: bool = False                 # only under `circnn prove --all`

    def build(self, mutation: str | None = None):
        return self.harness(mutation=mutation)
