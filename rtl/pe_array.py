"""``PEArray``: P circulant PEs fed one broadcast input spectrum word per clock.

Each PE has its own weight bank (a :class:`BlockRAM`) holding the quantised
weight spectra of the output blocks it computes: PE ``n`` computes blocks
``g*P + n``, and its bank holds, for each pass g, the q blocks
``W[g*P + n, j]`` as k/2 packed words each, at ``w_base + (g*q + j)*k/2 + f``
(:func:`circnn.sim.model.layer.weight_bank_images` lays a program out so).
Banks are initialised at elaboration (from a :class:`MemoryImage`) and can
be rewritten at run time through ``load``.

Timing: ``x`` is the spectrum word of a step ``x_latency`` clocks after the
step; the weight address is registered before it fans out to every bank,
the word read is registered once more, and the step waits for the later of
the two reads.  ``landed.land`` pulses
when a pass's last sum has been written (the accumulator banks' landing).
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import EngineConfig, LoadTarget, MemoryImage

from .bank_pair import BankLandingSignature
from .block_ram import BlockRAM
from .complex import complex_layout
from .delay import delay
from .load import load_layout
from .mac_step import mac_step_signature
from .pe import CirculantPE

__all__ = ["PEArray"]


class PEArray(wiring.Component):
    def __init__(self, eng: EngineConfig, memory: MemoryImage | None = None, x_latency: int = 1):
        self.eng = eng
        if memory is not None:
            memory.check(eng)
        self.memory = memory
        self.x_latency = x_latency
        self.w_bits = max(1, (eng.weight_words - 1).bit_length())
        self.pe_addr_bits = max(1, (eng.batch * eng.half - 1).bit_length()) + 1
        super().__init__({
            "step": In(mac_step_signature(eng)),
            "w_base": In(self.w_bits),       # where the layer's weights start
            "x": In(complex_layout(eng.spectrum_width)),   # the read data, x_latency after step
            "load": In(load_layout(eng)),
            "rd_addr": In(self.pe_addr_bits),
            "rd_data": Out(data.ArrayLayout(complex_layout(eng.acc_width), eng.pes)),
            "landed": Out(BankLandingSignature()),
        })

    def elaborate(self, platform):
        m = Module()
        eng = self.eng
        w_layout = complex_layout(eng.weight_width)
        banks = []
        for n in range(eng.pes):
            init = []
            if self.memory is not None:
                re, im = self.memory.weight_banks[n]
                init = [{"re": int(a), "im": int(b)} for a, b in zip(re, im)]
            banks.append(BlockRAM(w_layout, 1 << self.w_bits, init))
        # The weight address (w_base + w_addr) is registered before it fans out to
        # the block RAMs of every bank, and the read word is registered once
        # more before the multiplier's pre-adders (a block RAM's data, through
        # its sub-bank select, is slow to leave); the step then waits for the
        # later of the weight and spectrum reads, and the earlier is delayed
        # to match.
        w_latency = 1 + banks[0].latency + 1
        latency = max(w_latency, self.x_latency)
        step_payload = delay(m, self.step.payload, latency, "step")
        step_valid = delay(m, self.step.valid, latency, "step_valid")
        x_d = delay(m, self.x, latency - self.x_latency, "x")
        w_addr = Signal(self.w_bits)
        m.d.sync += w_addr.eq(self.w_base + self.step.payload.w_addr)
        load = self.load
        for n, bank in enumerate(banks):
            m.submodules[f"weights{n}"] = bank
            m.d.comb += [
                bank.rd_addr.eq(w_addr),
                bank.wr_addr.eq(load.addr[:self.w_bits]),
                bank.wr_data.eq(load.data[:w_layout.size]),
                bank.wr_en.eq(load.en & (load.target == LoadTarget.WEIGHTS) & (load.pe == n)),
            ]
            w_d = delay(m, bank.rd_data, latency - w_latency + 1, f"w{n}")
            pe = m.submodules[f"pe{n}"] = CirculantPE(eng)
            m.d.comb += [
                pe.step.valid.eq(step_valid), pe.step.payload.eq(step_payload),
                pe.x.eq(x_d), pe.w.eq(w_d),
                pe.rd_addr.eq(self.rd_addr), self.rd_data[n].eq(pe.rd_data),
            ]
            if n == 0:
                m.d.comb += self.landed.land.eq(pe.pass_done)
        return m
