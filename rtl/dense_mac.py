"""``DenseMACArray``: M multipliers, each with its weight bank and B running sums.

Model twin: the ``W x`` of :func:`circnn.sim.model.dense.dense_forward`.

Multiplier ``mult`` computes rows ``g*M + mult``: its bank (a
:class:`BlockRAM`) holds word ``g*n + j`` = ``W[g*M + mult, j]``
(:func:`circnn.sim.model.dense.dense_weight_images`), initialised at
elaboration and writable through ``load``.  A step's operands: the input
pair from the batch buffer (``x``, ``x_latency`` clocks after the step),
a register after its lane select, and the weight word, delayed to match;
then :attr:`Multiplier.latency`.  Each multiplier keeps B running sums in a
ring of registers (the head is the current vector's), exact by the width
plan; a finished sum (the step's ``last``) is written, all M at once, into
the finished-sum memory at ``{bank, b}``, which the drain reads through
``rd_addr`` / ``rd_data`` (one clock).  ``landed.land`` pulses when a
pass's last sums are written.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import DenseConfig, DenseMemoryImage, LoadTarget

from .bank_pair import BankLandingSignature
from .block_ram import BlockRAM
from .delay import delay
from .dense_scheduler import dense_step_layout, dense_weight_addr_bits
from .load import dense_load_layout
from .multiplier import Multiplier

__all__ = ["DenseMACArray", "input_pair_layout"]


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


def input_pair_layout(cfg: DenseConfig) -> data.ArrayLayout:
    """Two activations ``(x[2i], x[2i+1])`` as the batch buffer stores them."""
    return data.ArrayLayout(signed(cfg.act_width), 2)


class DenseMACArray(wiring.Component):
    def __init__(self, cfg: DenseConfig, memory: DenseMemoryImage | None = None,
                 x_latency: int = 2):
        self.cfg = cfg
        self.memory = memory
        self.x_latency = x_latency
        self.sum_bits = _bits(cfg.batch) + 1        # {bank, b}
        super().__init__({
            "step": In(stream.Signature(dense_step_layout(cfg), always_ready=True)),
            "x": In(input_pair_layout(cfg)),
            "load": In(dense_load_layout(cfg)),
            "rd_addr": In(self.sum_bits),
            "rd_data": Out(data.ArrayLayout(signed(cfg.acc_width), cfg.mults)),
            "landed": Out(BankLandingSignature()),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        M, B = cfg.mults, cfg.batch
        wbits = dense_weight_addr_bits(cfg)
        banks = [BlockRAM(signed(cfg.weight_width), 1 << wbits,
                          [int(v) for v in self.memory.weight_banks[mult]]
                          if self.memory is not None else [])
                 for mult in range(M)]
        operands = max(self.x_latency + 1, banks[0].latency)
        mac_latency = operands + Multiplier.latency
        step, valid = self.step.payload, self.step.valid
        at_product = delay(m, step, mac_latency, "step")
        valid_at_product = delay(m, valid, mac_latency, "valid")
        at_sum = delay(m, at_product, 1, "step_s")
        valid_at_sum = delay(m, valid_at_product, 1, "valid_s")

        lane = delay(m, step.lane, self.x_latency, "lane")
        x_d = Signal(signed(cfg.act_width))
        m.d.sync += x_d.eq(Mux(lane, self.x[1], self.x[0]))
        x_d = delay(m, x_d, operands - self.x_latency - 1, "x")

        acc_shape = signed(cfg.acc_width)
        bbits = _bits(B)
        m.submodules.finished = fin = memory.Memory(
            shape=data.ArrayLayout(acc_shape, M), depth=2 << bbits, init=[])
        fin_wr, fin_rd = fin.write_port(), fin.read_port()
        ld = self.load
        for mult, bank in enumerate(banks):
            m.submodules[f"weights{mult}"] = bank
            m.d.comb += [
                # the address comes straight from a register: it fans out to
                # every multiplier's block RAMs
                bank.rd_addr.eq(step.w_addr),
                bank.wr_addr.eq(ld.addr[:wbits]), bank.wr_data.eq(ld.data[:cfg.weight_width]),
                bank.wr_en.eq(ld.en & (ld.target == LoadTarget.WEIGHTS) & (ld.pe == mult)),
            ]
            w_d = delay(m, bank.rd_data, operands - bank.latency, f"w{mult}")
            mul = m.submodules[f"mult{mult}"] = Multiplier(cfg.act_width, cfg.weight_width)
            m.d.comb += [mul.a.eq(x_d), mul.b.eq(w_d)]
            # B running sums in a ring: the head is vector b's
            ring = [Signal(acc_shape, name=f"acc{mult}_{v}") for v in range(B)]
            total = Mux(at_product.first, 0, ring[-1]) + mul.p
            with m.If(valid_at_product):
                m.d.sync += ring[0].eq(total[:cfg.acc_width])   # exact: no overflow by the width plan
                m.d.sync += [ring[v].eq(ring[v - 1]) for v in range(1, B)]
            m.d.comb += fin_wr.data[mult].eq(ring[0])
        m.d.comb += [fin_wr.addr.eq(Cat(at_sum.b[:bbits], at_sum.bank)),
                     fin_wr.en.eq(valid_at_sum & at_sum.last),
                     fin_rd.addr.eq(self.rd_addr), self.rd_data.eq(fin_rd.data)]
        m.d.sync += self.landed.land.eq(valid_at_sum & at_sum.end_of_pass)
        return m
