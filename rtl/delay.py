"""``delay``: a value through a chain of registers (the shift registers that keep
control and data aligned with a pipeline, and the FFT's delay lines)."""

from amaranth.hdl import Signal

__all__ = ["delay"]


def delay(m, value, clocks: int, name: str, *, enable=None, reset_less: bool = False):
    """``value`` as it was ``clocks`` clocks ago (``clocks`` registers in ``m``'s sync
    domain, named ``{name}_d1``, ``{name}_d2``, ...; ``value`` itself for 0).

    With ``enable``, the chain shifts only on the clocks ``enable`` is high (a
    delay line of ``clocks`` enabled steps).  ``reset_less`` registers hold
    data only (whatever validity bit travels beside them is reset instead).
    """
    if clocks < 0:
        raise ValueError(f"cannot delay {name} by {clocks} clocks")
    for n in range(clocks):
        reg = Signal.like(value, name=f"{name}_d{n + 1}", reset_less=reset_less)
        if enable is None:
            m.d.sync += reg.eq(value)
        else:
            with m.If(enable):
                m.d.sync += reg.eq(value)
        value = reg
    return value
