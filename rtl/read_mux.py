"""``registered_read_mux``: a wide register read multiplexer in two registered levels.

A host reading one of many registers (status, counters, a descriptor table)
selects among a hundred words or more: one multiplexer level from the
address to the read register took over 7 ns on LFE5U-85F-6.  Here the words
are grouped by the address's low four bits: the first level picks, in every
group that holds any word, the word the address names if the address is in
that group and zero if not (a 16:1 multiplexer and a compare of the high
bits) into a register per group; the second level ORs the groups' registers
(at most one is non-zero): a tree of LUTs with no select, where a
multiplexer by group index fanned its select out to every bit of every group
(7.4 ns over the ~30 groups of eight descriptors).
Latency 2: ``select`` and ``enable`` at clock t, the word at t + 2
(``enable`` low: the output holds).  An address of no word reads zero.
"""

import operator
from functools import reduce

from amaranth.hdl import Const, Module, Signal, Value

from .delay import delay

__all__ = ["registered_read_mux", "READ_MUX_LATENCY"]

#: clocks from ``select`` to the word
READ_MUX_LATENCY = 2

_GROUP_BITS = 4


def registered_read_mux(m: Module, select: Value, enable: Value, words: dict, width: int,
                        name: str) -> Signal:
    """The word of ``words`` (address -> value) at ``select``, ``READ_MUX_LATENCY``
    clocks later; zero for an address not in ``words``."""
    select = Value.cast(select)
    low_mask = (1 << _GROUP_BITS) - 1
    groups = {}     # group address -> {low address bits: value}
    for addr, value in words.items():
        groups.setdefault(int(addr) >> _GROUP_BITS, {})[int(addr) & low_mask] = value
    order = sorted(groups)
    picked = [Signal(width, name=f"{name}_group{g:x}") for g in order]
    with m.If(enable):
        for reg, g in zip(picked, order):
            m.d.sync += reg.eq(0)
            with m.If(select[_GROUP_BITS:] == g):
                with m.Switch(select[:_GROUP_BITS]):
                    for low, value in groups[g].items():
                        with m.Case(low):
                            m.d.sync += reg.eq(value)
    out = Signal(width, name=name)
    with m.If(delay(m, enable, 1, f"{name}_enable")):
        m.d.sync += out.eq(reduce(operator.or_, picked, Const(0, width)))
    return out
