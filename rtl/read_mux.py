"""``registered_read_mux``: a wide register read multiplexer in two registered levels.

A host reading one of many registers (status, counters, a descriptor table)
selects among a hundred words or more: one multiplexer level from the
address to the read register took over 7 ns on LFE5U-85F-6.  Here the words
are grouped by the address's low four bits: the first level picks a word in
every group that holds any (a 16:1 multiplexer per bit) into a register per
group, and registers which group the address names (its index among those
groups, and whether it names one); the second level picks the group.
Latency 2: ``select`` and ``enable`` at clock t, the word at t + 2
(``enable`` low: the output holds).  An address of no word reads zero.
"""

from amaranth.hdl import Array, Module, Signal, Value

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
    order = sorted(groups)                      # the groups that hold words, densely indexed
    picked = [Signal(width, name=f"{name}_group{g:x}") for g in order]
    index = Signal(range(max(2, len(order))), name=f"{name}_index")
    known = Signal(name=f"{name}_known")
    with m.If(enable):
        for reg, g in zip(picked, order):
            with m.Switch(select[:_GROUP_BITS]):
                for low, value in groups[g].items():
                    with m.Case(low):
                        m.d.sync += reg.eq(value)
                with m.Default():
                    m.d.sync += reg.eq(0)
        m.d.sync += known.eq(0)
        with m.Switch(select[_GROUP_BITS:]):
            for i, g in enumerate(order):
                with m.Case(g):
                    m.d.sync += [index.eq(i), known.eq(1)]
    out = Signal(width, name=name)
    with m.If(delay(m, enable, 1, f"{name}_enable")):
        m.d.sync += out.eq(Array(picked)[index] & known.replicate(width))
    return out
