"""``PEArray``: P circulant PEs fed one broadcast input spectrum word per clock.

Each PE has its own weight bank (a :class:`BlockRAM`) holding the quantised
weight spectra of the output blocks it computes: PE ``n`` computes blocks
``g*P + n``, and its bank holds, for each
pass g, the q blocks ``W[g*P + n, j]`` as k/2 packed words each, at
``(g*q + j)*k/2 + f``.  Banks are initialised at elaboration (from a
compiled layer) and can be rewritten at run time through ``load``.
"""

import numpy as np
from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from circnn.sim.layer_model import EngineConfig, LayerProgram

from .block_ram import BlockRAM
from .complex import complex_layout
from .delay import delay
from .pe import CirculantPE, pe_step_layout

__all__ = ["PEArray", "weight_bank_images", "load_layout"]


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


def load_layout(eng: EngineConfig):
    """A run-time write into one of the engine's memories.

    ``target`` 0: PE ``pe``'s weight bank, ``addr`` = word, ``data`` =
    ``{re, im}`` (``weight_width`` bits each); ``target`` 1: the bias memory,
    ``addr`` = pair index ``i*k/2 + n``, ``data`` = ``{b0, b1}``
    (``bias_width`` bits each); ``target`` 2: a layer register (``addr`` as
    :data:`circnn.rtl.layer.LAYER_REGISTERS`).  Fields are packed LSB first.
    """
    addr = max(_bits(eng.weight_words), _bits(eng.bias_words))
    width = max(2 * eng.weight_width, 2 * eng.bias_width)
    return data.StructLayout({"en": 1, "target": 2, "pe": range(max(2, eng.pes)),
                              "addr": max(addr, 3), "data": max(width, 32)})


def weight_bank_images(prog: LayerProgram, eng: EngineConfig, q: int | None = None):
    """Per-PE (re, im) word lists as the banks store them, for a program (base 0)."""
    P, N = eng.pes, eng.half
    q = prog.q if q is None else q
    groups = -(-prog.p // P)
    images = []
    for n in range(P):
        re = np.zeros(groups * q * N, dtype=np.int64)
        im = np.zeros_like(re)
        for g in range(groups):
            i = g * P + n
            if i < prog.p:
                sl = slice(g * q * N, (g + 1) * q * N)
                re[sl] = prog.weight_re[i].reshape(-1)
                im[sl] = prog.weight_im[i].reshape(-1)
        images.append((re, im))
    return images


class PEArray(wiring.Component):
    """``x`` is the spectrum word of ``step``, ``x_latency`` clocks after it."""

    def __init__(self, eng: EngineConfig, prog: LayerProgram | None = None, target: str = "generic",
                 images=None, x_latency: int = 1):
        self.eng = eng
        self.target = target
        self.x_latency = x_latency
        self.w_words = eng.weight_words
        self.w_bits = max(1, (self.w_words - 1).bit_length())
        self.images = images if images is not None else (
            weight_bank_images(prog, eng) if prog is not None else None)
        self.pe_addr_bits = max(1, (eng.batch * eng.half - 1).bit_length()) + 1
        super().__init__({
            "step": In(pe_step_layout(eng)),
            "w_addr": In(self.w_bits),       # relative to w_base
            "w_base": In(self.w_bits),       # where the layer's weights start
            "x": In(complex_layout(eng.spectrum_width)),   # the read data, x_latency after step
            "load": In(load_layout(eng)),
            "rd_addr": In(self.pe_addr_bits),
            "rd_data": Out(data.ArrayLayout(complex_layout(eng.acc_width), eng.pes)),
            "pass_done": Out(1),
            "pass_bank": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        eng = self.eng
        w_layout = complex_layout(eng.weight_width)
        banks = []
        for n in range(eng.pes):
            if self.images is not None:
                re, im = self.images[n]
                init = [{"re": int(a), "im": int(b)} for a, b in zip(re, im)]
            else:
                init = []
            banks.append(BlockRAM(w_layout, 1 << self.w_bits, init, self.target))
        # The weight address (w_base + w_addr) is registered before it fans out to
        # the block RAMs of every bank; the step then waits for the later of
        # the weight and spectrum reads, and the earlier is delayed to match.
        w_latency = 1 + banks[0].latency
        latency = max(w_latency, self.x_latency)
        step_d = delay(m, self.step, latency, "step")
        x_d = delay(m, self.x, latency - self.x_latency, "x")
        w_addr = Signal(self.w_bits)
        m.d.sync += w_addr.eq(self.w_base + self.w_addr)
        for n, bank in enumerate(banks):
            m.submodules[f"weights{n}"] = bank
            m.d.comb += [
                bank.rd_addr.eq(w_addr),
                bank.wr_addr.eq(self.load.addr[:self.w_bits]),
                bank.wr_data.eq(self.load.data[:w_layout.size]),
                bank.wr_en.eq(self.load.en & (self.load.target == 0) & (self.load.pe == n)),
            ]
            w_d = delay(m, bank.rd_data, latency - w_latency, f"w{n}")
            pe = m.submodules[f"pe{n}"] = CirculantPE(eng, self.target)
            m.d.comb += [
                pe.step.eq(step_d), pe.x.eq(x_d), pe.w.eq(w_d),
                pe.rd_addr.eq(self.rd_addr), self.rd_data[n].eq(pe.rd_data),
            ]
            if n == 0:
                m.d.comb += [self.pass_done.eq(pe.pass_done), self.pass_bank.eq(pe.pass_bank)]
        return m

