"""A streaming requantiser: round-shift and saturate, one word per clock.

This is the smallest complete circnn component (stream in, stream out, a
registered result) and the first cocotb bench's device under test; the same
:func:`circnn.rtl.arith.requantize` expression is used wherever the
accelerator narrows a word.
"""

from amaranth.hdl import Module, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.designs import register
from circnn.params import Param, check_choice, check_int
from circnn.sim.fixedpoint import Rounding

from .arith import requantize, round_shift, saturates

__all__ = ["Requantizer"]

ROUNDING_CHOICES = tuple(r.value for r in Rounding)


def requantized_layout(out_width: int) -> data.StructLayout:
    return data.StructLayout({"value": signed(out_width), "saturated": 1})


class Requantizer(wiring.Component):
    """``o.value = saturate(round_shift(i, shift), out_width)``.

    ``o.saturated`` flags words that were clamped.  Latency one clock; full
    back-pressure (``i.ready`` follows ``o.ready`` through one register).
    """

    def __init__(self, in_width: int, out_width: int, shift: int, rounding: str = "half_up"):
        self.in_width = check_int("in_width", in_width, 2, 48)
        self.out_width = check_int("out_width", out_width, 2, 48)
        self.shift = check_int("shift", shift, 0, in_width - 1)
        self.rounding = Rounding(check_choice("rounding", rounding, ROUNDING_CHOICES))
        super().__init__({
            "i": In(stream.Signature(signed(in_width))),
            "o": Out(stream.Signature(requantized_layout(out_width))),
        })

    def elaborate(self, platform):
        m = Module()
        rounded = round_shift(self.i.payload, self.shift, self.rounding)
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        with m.If(self.i.ready):
            m.d.sync += [
                self.o.valid.eq(self.i.valid),
                self.o.payload.value.eq(requantize(self.i.payload, self.shift, self.out_width,
                                                   self.rounding)),
                self.o.payload.saturated.eq(saturates(rounded, self.out_width)),
            ]
        return m


@register(
    "requantize",
    description="streaming round-shift-and-saturate unit (the foundation bench)",
    params=[
        Param("in_width", 32, "input word width", 2, 48),
        Param("out_width", 16, "output word width", 2, 48),
        Param("shift", 12, "right shift (0..in_width-1)", 0, 47),
        Param("rounding", "half_up", "rounding mode", choices=ROUNDING_CHOICES, kind=str),
    ],
    lint_params={"in_width": 12, "out_width": 6, "shift": 4},
)
def _build(params, target):
    return Requantizer(params["in_width"], params["out_width"], params["shift"],
                       params["rounding"])
