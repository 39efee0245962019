"""``delay``: a value through a chain of registers (the shift registers that keep
control and data aligned with a pipeline)."""

from amaranth.hdl import Signal

__all__ = ["delay"]


def delay(m, value, clocks: int, name: str):
    """``value`` as it was ``clocks`` clocks ago (``clocks`` registers in ``m``'s sync
    domain, named ``{name}_d1``, ``{name}_d2``, ...; ``value`` itself for 0)."""
    if clocks < 0:
        raise ValueError(f"cannot delay {name} by {clocks} clocks")
    for n in range(clocks):
        reg = Signal.like(value, name=f"{name}_d{n + 1}")
        m.d.sync += reg.eq(value)
        value = reg
    return value
