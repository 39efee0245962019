"""``registered_read_mux``: a wide register read multiplexer in three registered levels.

A host reading one of many registers (status, counters, a descriptor table)
selects among a hundred words or more: one multiplexer level from the
address to the read register took over 7 ns on LFE5U-85F-6.  Here the words
are grouped by the address's low four bits: the first level picks, in every
group that holds any word, the word the address names if the address is in
that group and zero if not (a 16:1 multiplexer and a compare of the high
bits) into a register per group; the second level ORs the groups' registers
(at most one is non-zero): a tree of LUTs with no select, where a
multiplexer by group index fanned its select out to every bit of every group
(7.4 ns over the ~30 groups of eight descriptors).  The OR is itself two
registered levels: up to eight groups into a register, then those registers
(a group register placed far from the output had a 3.6 ns route into a
three-LUT OR tree).
Latency 3: ``select`` and ``enable`` at clock t, the word at t + 3
(``enable`` low: the output holds).  An address of no word reads zero.
"""

import operator
from functools import reduce

from amaranth.hdl import Const, Module, Signal, Value

from .delay import delay

__all__ = ["registered_read_mux", "READ_MUX_LATENCY"]

#: clocks from ``select`` to the word
READ_MUX_LATENCY = 3

_GROUP_BITS = 4
#: group registers ORed into one register of the second level
_OR_CHUNK = 8


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
    chunks = [Signal(width, name=f"{name}_or{n}")
              for n in range(-(-len(picked) // _OR_CHUNK) or 1)]
    with m.If(delay(m, enable, 1, f"{name}_enable")):
        for n, chunk in enumerate(chunks):
            part = picked[n * _OR_CHUNK:(n + 1) * _OR_CHUNK]
            m.d.sync += chunk.eq(reduce(operator.or_, part, Const(0, width)))
    out = Signal(width, name=name)
    with m.If(delay(m, enable, 2, f"{name}_enable")):
        m.d.sync += out.eq(reduce(operator.or_, chunks, Const(0, width)))
    return out
