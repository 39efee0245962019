"""The ``load`` port's words (:mod:`circnn.rtl.load`): a program written into an engine
at run time, so that one elaborated engine, and one simulator build, serves every
program of its configuration.
"""

from __future__ import annotations

from cocotb.triggers import ClockCycles

from circnn.config import DenseField, LayerField, LoadTarget
from circnn.rtl.load import dense_load_layout, load_layout
from circnn.sim.model.dense import dense_weight_images

__all__ = ["layer_load_words", "dense_load_words", "drive_load"]


def _packer(layout):
    fields = {name: (f.offset, f.width) for name, f in layout}

    def word(**values) -> int:
        w = 0
        for name, v in values.items():
            off, width = fields[name]
            w |= (int(v) & ((1 << width) - 1)) << off
        return w
    return word


def _pair(a: int, b: int, width: int) -> int:
    mask = (1 << width) - 1
    return (int(a) & mask) | ((int(b) & mask) << width)


def layer_load_words(eng, prog) -> list[int]:
    """Every ``load`` write that programs ``CirculantLayer`` with ``prog``: each PE's
    weight words ``{re, im}``, the bias pairs ``{b0, b1}``, then the registers."""
    word = _packer(load_layout(eng))
    image = prog.memory_image(eng)
    words = []
    for pe, (re, im) in enumerate(image.weight_banks):
        words += [word(en=1, target=LoadTarget.WEIGHTS, pe=pe, addr=a,
                       data=_pair(re[a], im[a], eng.weight_width)) for a in range(len(re))]
    words += [word(en=1, target=LoadTarget.BIASES, addr=a, data=_pair(b0, b1, eng.bias_width))
              for a, (b0, b1) in enumerate(image.bias_pairs.reshape(-1, 2))]
    values = prog.registers().values(eng)
    words += [word(en=1, target=LoadTarget.REGISTERS, addr=field, data=values[field.key])
              for field in LayerField if field.key in values]
    return words


def dense_load_words(cfg, prog) -> list[int]:
    """Every ``load`` write that programs ``DenseLayer`` with ``prog``: weights,
    biases, registers."""
    word = _packer(dense_load_layout(cfg))
    words = []
    for mult, image in enumerate(dense_weight_images(prog, cfg)):
        words += [word(en=1, target=LoadTarget.WEIGHTS, pe=mult, addr=a, data=v)
                  for a, v in enumerate(image)]
    words += [word(en=1, target=LoadTarget.BIASES, addr=row, data=v)
              for row, v in enumerate(prog.bias)]
    regs = prog.registers()
    words += [word(en=1, target=LoadTarget.REGISTERS, addr=field,
                   data=int(getattr(regs, field.key))) for field in DenseField]
    return words


async def drive_load(dut, words, settle: int = 3) -> None:
    """One word a clock on ``dut.load``, then ``settle`` idle clocks (registers
    derived from the loaded ones settle)."""
    for w in words:
        dut.load.value = w
        await ClockCycles(dut.clk, 1)
    dut.load.value = 0
    await ClockCycles(dut.clk, settle)
