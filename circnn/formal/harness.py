"""What every formal harness shares: free inputs, the clock count, the stream rules.

The harness's own registers use the ``sync`` domain of the design under
proof; reset is held low (``Assume``), so a run starts from every
register's ``init`` value, as the hardware after reset, and a k-induction
step from any state the assertions allow.
"""

from __future__ import annotations

from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Assume, ResetSignal, Signal

__all__ = ["AnyConst", "AnySeq", "no_reset", "registered", "after_first_clock", "counter",
           "source_rules"]


def no_reset(m) -> None:
    m.d.comb += Assume(~ResetSignal())


def registered(m, value, name: str) -> Signal:
    """``value`` as it was on the clock before (its init value on the first clock)."""
    reg = Signal.like(value, name=name)
    m.d.sync += reg.eq(value)
    return reg


def after_first_clock(m) -> Signal:
    """1 from the second clock on: a :func:`registered` value is a real past value."""
    flag = Signal(name="after_first_clock")
    m.d.sync += flag.eq(1)
    return flag


def counter(m, enable, width: int, name: str) -> Signal:
    """Clocks on which ``enable`` was high, modulo ``2**width``."""
    count = Signal(width, name=name)
    with m.If(enable):
        m.d.sync += count.eq(count + 1)
    return count


def source_rules(m, valid, ready, payload, started, name: str) -> None:
    """Assume the ``amaranth.lib.stream`` rules of a producer: a word offered and not
    taken is offered again, unchanged, on the next clock."""
    waiting = registered(m, valid & ~ready, f"{name}_waiting")
    held = registered(m, payload, f"{name}_held")
    m.d.comb += Assume(~(started & waiting) | (valid & (payload == held)))
