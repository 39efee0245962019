"""``DenseLayer``: the dense baseline engine, ``y = act(W x + b)`` for a dense (m, n) W.

Model twin: :func:`circnn.sim.dense_model.dense_forward`.  This is the
engine a user would build without the circulant structure, for comparison
with :class:`circnn.rtl.layer.CirculantLayer` (``docs/architecture.md``,
"The dense baseline").  Its streams have the circulant layer's layouts, so
hosts and benches drive both alike::

    i (x pairs) ─► input buffer (2 banks) ──x[b, j]──► M x (weight bank ─► Multiplier ─► B accumulators)
                                ▲                                                  │ finished sums
                   scheduler ───┘ (g, j, b loops; one step per clock)               ▼ (2 banks)
    o (y pairs) ◄─ FIFO ◄─ emitter ◄─ output buffer (2 banks) ◄─ drain: + bias, ReLU, requantise

Schedule, for a batch of B vectors whose inputs are buffered::

    for g in 0 .. ceil(m/M) - 1:         # pass: rows g*M .. g*M+M-1, one per multiplier
        for j in 0 .. n-1:               # input element (weight word read once ...)
            for b in 0 .. B-1:           # ... and used for B consecutive clocks
                acc[mult][b] (=|+=) W[g*M + mult, j] * x[b, j]

so a vector costs ``ceil(m/M) * n`` MAC clocks.  Passes alternate between
two banks of finished sums, so the drain (one sum per clock: bias, ReLU,
requantise, into the output buffer) overlaps the next pass; the output
buffer has two banks, so a batch's outputs leave while the next batch
computes.  Outputs leave vector by vector, in blocks of k (k/2 pairs, tagged
``block`` and ``vector``, ``last`` on the block's last pair); elements past
``m`` in the last block are zero.

Run-time configuration: registers ``n``, ``m``, ``out_shift``, ``relu``
(reset to the compiled layer's values, writable through ``load`` with
``target`` 2, addresses :data:`DENSE_REGISTERS`), the weight banks
(``target`` 0, multiplier ``pe``, word ``g*n + j`` holds ``W[g*M + pe, j]``)
and the bias memory (``target`` 1, word = row).
"""

import numpy as np
from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from circnn.designs import TARGETS, register
from circnn.params import Param, check_choice
from circnn.sim.dense_model import MAX_FEATURES, MAX_LEFT_SHIFT, DenseConfig, DenseProgram
from circnn.sim.fft_model import ROUNDINGS

from .arith import requantize_pipeline
from .block_ram import BlockRAM
from .delay import delay
from .multiplier import Multiplier
from .output_stage import layer_output_layout

__all__ = ["DenseLayer", "DENSE_REGISTERS", "dense_input_layout", "dense_output_layout",
           "dense_load_layout", "dense_weight_images"]

#: Register addresses for ``load`` writes with ``target = 2`` (out_shift and relu
#: at the circulant layer's addresses).
DENSE_REGISTERS = {"n": 0, "m": 1, "out_shift": 3, "relu": 4}


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


def dense_input_layout(cfg: DenseConfig):
    """``{x0, x1}``: CirculantLayer's input layout (``real_input_layout``) at ``act_width``."""
    return data.StructLayout({"x0": signed(cfg.act_width), "x1": signed(cfg.act_width)})


def dense_output_layout(cfg: DenseConfig):
    """CirculantLayer's output layout: ``{y0, y1, block, vector, last}``, blocks of k."""
    return layer_output_layout(cfg)


def dense_load_layout(cfg: DenseConfig):
    """A run-time write (fields as CirculantLayer's ``load``, packed LSB first).

    ``target`` 0: multiplier ``pe``'s weight bank, ``addr`` = word ``g*n + j``,
    ``data`` = the weight code; 1: the bias memory, ``addr`` = row; 2: a
    register (``addr`` as :data:`DENSE_REGISTERS`).
    """
    addr = max(_bits(cfg.groups * cfg.max_in), _bits(cfg.max_out), 3)
    return data.StructLayout({"en": 1, "target": 2, "pe": range(max(2, cfg.mults)),
                              "addr": addr, "data": max(cfg.weight_width, cfg.bias_width, 32)})


def dense_weight_images(prog: DenseProgram, cfg: DenseConfig) -> list[np.ndarray]:
    """Per-multiplier word lists as the banks store them: word ``g*n + j`` = ``W[g*M + mult, j]``."""
    M, n = cfg.mults, prog.n
    groups = -(-prog.m // M)
    w = np.asarray(prog.weight, dtype=np.int64)
    images = []
    for mult in range(M):
        img = np.zeros(groups * n, dtype=np.int64)
        for g in range(groups):
            row = g * M + mult
            if row < prog.m:
                img[g * n:(g + 1) * n] = w[row]
        images.append(img)
    return images


class DenseLayer(wiring.Component):
    def __init__(self, cfg: DenseConfig, prog: DenseProgram | None = None, target: str = "generic"):
        if not isinstance(cfg, DenseConfig):
            raise TypeError("cfg must be a DenseConfig")
        self.cfg = cfg
        self.target = check_choice("target", target, TARGETS)
        if prog is not None:
            prog.check(cfg)
        self.prog = prog
        init = dict(n=cfg.max_in, m=cfg.max_out, out_shift=0, relu=0)
        if prog is not None:
            init.update(n=prog.n, m=prog.m, out_shift=prog.out_shift, relu=int(prog.relu))
        self.register_init = init
        super().__init__({
            "i": In(stream.Signature(dense_input_layout(cfg))),
            "o": Out(stream.Signature(dense_output_layout(cfg))),
            "load": In(dense_load_layout(cfg)),
            "mac_steps": Out(32),        # clocks in which the multipliers were issued a step
            "pe_steps": Out(32),         # sum over those clocks of the busy multipliers
            "out_saturations": Out(32),
        })

    # ------------------------------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        cfg, init = self.cfg, self.register_init
        M, B, k = cfg.mults, cfg.batch, cfg.k
        half = cfg.half
        log_k, log_half = k.bit_length() - 1, half.bit_length() - 1

        # -- configuration registers, and what is derived from them (registered:
        #    they change only between layers, and keep adders off the loops)
        reg_n = Signal(range(cfg.max_in + 1), init=init["n"], name="reg_n")
        reg_m = Signal(range(cfg.max_out + 1), init=init["m"], name="reg_m")
        out_shift = Signal(range(-MAX_LEFT_SHIFT, cfg.sum_width), init=init["out_shift"],
                           name="reg_out_shift")
        relu = Signal(init=init["relu"], name="reg_relu")
        regs = {"n": reg_n, "m": reg_m, "out_shift": out_shift, "relu": relu}
        ld = self.load
        with m.If(ld.en & (ld.target == 2)):
            with m.Switch(ld.addr):
                for name, addr in DENSE_REGISTERS.items():
                    with m.Case(addr):
                        m.d.sync += regs[name].eq(ld.data[:len(regs[name])])

        n0, m0 = init["n"], init["m"]
        n_pairs0 = (n0 + 1) // 2
        n_pairs = Signal(range(cfg.in_pairs + 1), init=n_pairs0)
        n_last = Signal(range(cfg.max_in), init=n0 - 1)
        batch_last = Signal(range(B * cfg.in_pairs), init=B * n_pairs0 - 1)
        lin_end0 = ((m0 + k - 1) >> log_k << log_half) - 1
        lin_end = Signal(range(cfg.max_p * half), init=lin_end0)
        m.d.sync += [
            n_pairs.eq((reg_n + 1) >> 1),
            n_last.eq(reg_n - 1),
            batch_last.eq(n_pairs * B - 1),
            lin_end.eq((((reg_m + (k - 1)) >> log_k) << log_half) - 1),
        ]

        # -- input buffer: two banks of B vectors, (x0, x1) pairs ----------------
        pair = data.ArrayLayout(signed(cfg.act_width), 2)
        xbits = _bits(B * cfg.in_pairs)
        m.submodules.xbuf = xbuf = BlockRAM(pair, 2 << xbits, target=self.target)
        x_full = [Signal(name="x_full0"), Signal(name="x_full1")]
        x_wbank, x_rbank = Signal(), Signal()
        x_wpos = Signal(xbits)
        x_release = Signal()
        accept = Signal()
        filled = Signal()
        m.d.comb += [
            self.i.ready.eq(~Mux(x_wbank, x_full[1], x_full[0])),
            accept.eq(self.i.valid & self.i.ready),
            xbuf.wr_addr.eq(Cat(x_wpos, x_wbank)), xbuf.wr_en.eq(accept),
            xbuf.wr_data[0].eq(self.i.payload.x0), xbuf.wr_data[1].eq(self.i.payload.x1),
            filled.eq(accept & (x_wpos == batch_last)),
        ]
        with m.If(accept):
            m.d.sync += x_wpos.eq(x_wpos + 1)
            with m.If(filled):
                m.d.sync += [x_wpos.eq(0), x_wbank.eq(~x_wbank)]
        with m.If(x_release):
            m.d.sync += x_rbank.eq(~x_rbank)
        for bank in (0, 1):
            m.d.sync += x_full[bank].eq((x_full[bank] | (filled & (x_wbank == bank)))
                                        & ~(x_release & (x_rbank == bank)))
        x_ready = Mux(x_rbank, x_full[1], x_full[0])

        # -- scheduler -----------------------------------------------------------
        b = Signal(range(max(2, B)))
        j = Signal(range(max(2, cfg.max_in)))
        b_base = Signal(range(max(2, B * cfg.in_pairs)))      # b * n_pairs
        w_ptr = Signal(_bits(cfg.groups * cfg.max_in))      # g * n + j: the weight word
        first_row = Signal(range(cfg.max_out + M + 1))        # g * M
        fbank = Signal()                                      # bank of finished sums
        last_g = Signal()                                     # the pass is the batch's last
        valid = Signal()
        pass_start = Signal()                                 # a pass claims bank claim_bank
        claim_bank = Signal()
        fin_busy = [Signal(name="fin_busy0"), Signal(name="fin_busy1")]
        fin_todo = [Signal(name="fin_todo0"), Signal(name="fin_todo1")]
        last_b = b == B - 1
        last_j = j == n_last
        remaining = Signal(range(cfg.max_out + 1))
        active = Signal(range(M + 1))
        m.d.comb += [remaining.eq(reg_m - first_row), active.eq(Mux(remaining >= M, M, remaining))]
        x_next_ready = Mux(x_rbank, x_full[0], x_full[1])
        fin_free = Signal(2)
        m.d.comb += fin_free.eq(Cat(~fin_busy[0], ~fin_busy[1]))
        with m.FSM(name="sched"):
            with m.State("IDLE"):
                with m.If(x_ready):
                    m.d.sync += [w_ptr.eq(0), first_row.eq(0), last_g.eq(M >= reg_m)]
                    m.next = "WAIT_BANK"
            with m.State("WAIT_BANK"):
                with m.If(fin_free.bit_select(fbank, 1)):
                    m.d.comb += [pass_start.eq(1), claim_bank.eq(fbank)]
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += valid.eq(1)
                m.d.sync += [b.eq(b + 1), b_base.eq(b_base + n_pairs)]
                with m.If(last_b):
                    m.d.sync += [b.eq(0), b_base.eq(0), j.eq(j + 1), w_ptr.eq(w_ptr + 1)]
                    with m.If(last_j):
                        # end of the pass: the next one starts on the next clock
                        # when its bank is free (and, after the batch's last
                        # pass, when the next batch is loaded)
                        m.d.sync += [j.eq(0), fbank.eq(~fbank)]
                        more = Signal()
                        with m.If(last_g):
                            m.d.comb += [x_release.eq(1), more.eq(x_next_ready)]
                            m.d.sync += [w_ptr.eq(0), first_row.eq(0), last_g.eq(M >= reg_m)]
                        with m.Else():
                            m.d.comb += more.eq(1)
                            m.d.sync += [first_row.eq(first_row + M),
                                         last_g.eq(first_row + 2 * M >= reg_m)]
                        with m.If(more & fin_free.bit_select(~fbank, 1)):
                            m.d.comb += [pass_start.eq(1), claim_bank.eq(~fbank)]
                        with m.Elif(more):
                            m.next = "WAIT_BANK"
                        with m.Else():
                            m.next = "IDLE"
        # the activity counters count one clock late (the active count is registered)
        valid_d = Signal()
        active_d = Signal(range(M + 1))
        m.d.sync += [valid_d.eq(valid), active_d.eq(active)]
        with m.If(valid_d):
            m.d.sync += [self.mac_steps.eq(self.mac_steps + 1),
                         self.pe_steps.eq(self.pe_steps + active_d)]

        # -- MAC array -------------------------------------------------------------
        # A step's operands: the activation pair from the input buffer (a
        # BlockRAM: no logic between a block RAM's output and a register), then
        # a register after its lane select; the weight from the multiplier's
        # bank, delayed to match.  Then Multiplier.latency.
        wbits = _bits(cfg.groups * cfg.max_in)
        images = dense_weight_images(self.prog, cfg) if self.prog is not None else None
        banks = [BlockRAM(signed(cfg.weight_width), 1 << wbits,
                          [int(v) for v in images[mult]] if images is not None else [], self.target)
                 for mult in range(M)]
        operands = max(xbuf.latency + 1, banks[0].latency)
        mac_latency = operands + Multiplier.latency
        ctl_layout = data.StructLayout({"valid": 1, "first": 1, "last": 1, "end_of_pass": 1,
                                        "b": range(max(2, B)), "bank": 1})
        ctl = Signal(ctl_layout)
        m.d.comb += [ctl.valid.eq(valid), ctl.first.eq(j == 0), ctl.last.eq(last_j),
                     ctl.end_of_pass.eq(last_j & last_b), ctl.b.eq(b), ctl.bank.eq(fbank)]
        ctls = [ctl]
        for d in range(mac_latency + 1):
            s = Signal(ctl_layout, name=f"ctl_d{d + 1}")
            m.d.sync += s.eq(ctls[-1])
            ctls.append(s)
        at_product, at_sum = ctls[mac_latency], ctls[mac_latency + 1]

        lane = delay(m, j[0], xbuf.latency, "lane")
        x_d = Signal(signed(cfg.act_width))
        m.d.comb += xbuf.rd_addr.eq(Cat((b_base + (j >> 1))[:xbits], x_rbank))
        m.d.sync += x_d.eq(Mux(lane, xbuf.rd_data[1], xbuf.rd_data[0]))
        x_d = delay(m, x_d, operands - xbuf.latency - 1, "x")

        acc_shape = signed(cfg.acc_width)
        fin_layout = data.ArrayLayout(acc_shape, M)
        bbits = _bits(B)
        m.submodules.finished = fin = memory.Memory(shape=fin_layout, depth=2 << bbits, init=[])
        fin_wr, fin_rd = fin.write_port(), fin.read_port()
        for mult, bank in enumerate(banks):
            m.submodules[f"weights{mult}"] = bank
            m.d.comb += [
                # the address comes straight from a register: it fans out to
                # every multiplier's block RAMs
                bank.rd_addr.eq(w_ptr),
                bank.wr_addr.eq(ld.addr[:wbits]), bank.wr_data.eq(ld.data[:cfg.weight_width]),
                bank.wr_en.eq(ld.en & (ld.target == 0) & (ld.pe == mult)),
            ]
            w_d = delay(m, bank.rd_data, operands - bank.latency, f"w{mult}")
            mul = m.submodules[f"mult{mult}"] = Multiplier(cfg.act_width, cfg.weight_width,
                                                           self.target)
            m.d.comb += [mul.a.eq(x_d), mul.b.eq(w_d)]
            # B accumulators in a ring: the head is vector b's running sum
            ring = [Signal(acc_shape, name=f"acc{mult}_{v}") for v in range(B)]
            total = Mux(at_product.first, 0, ring[-1]) + mul.p
            with m.If(at_product.valid):
                m.d.sync += ring[0].eq(total[:cfg.acc_width])   # exact: no overflow by the width plan
                m.d.sync += [ring[v].eq(ring[v - 1]) for v in range(1, B)]
            m.d.comb += fin_wr.data[mult].eq(ring[0])
        m.d.comb += [fin_wr.addr.eq(Cat(at_sum.b[:bbits], at_sum.bank)),
                     fin_wr.en.eq(at_sum.valid & at_sum.last)]
        pass_done = Signal()
        pass_bank = Signal()
        m.d.sync += [pass_done.eq(at_sum.valid & at_sum.end_of_pass), pass_bank.eq(at_sum.bank)]

        # -- drain: finished sums + bias, ReLU, requantise, into the output buffer -
        # It reads all M sums of every vector of a pass (one per clock; the sums
        # of rows past m are dropped at the write), so no arithmetic on m sits
        # on its issue path.
        bias_bits = _bits(cfg.max_out)
        bias_init = [int(v) for v in self.prog.bias] if self.prog is not None else []
        m.submodules.bias = bias_mem = memory.Memory(shape=signed(cfg.bias_width),
                                                     depth=1 << bias_bits, init=bias_init)
        bias_rd, bias_wr = bias_mem.read_port(), bias_mem.write_port()
        m.d.comb += [bias_wr.addr.eq(ld.addr[:bias_bits]), bias_wr.data.eq(ld.data[:cfg.bias_width]),
                     bias_wr.en.eq(ld.en & (ld.target == 1))]

        pbits = _bits(cfg.max_p * half)           # pairs per vector in the output buffer
        obits = pbits + _bits(B)
        # one memory per lane (even and odd rows): the drain writes one element,
        # the emitter reads a pair
        o_wr, o_rd = [], []
        for lane in range(2):
            obuf = memory.Memory(shape=signed(cfg.act_width), depth=2 << obits, init=[])
            m.submodules[f"obuf{lane}"] = obuf
            o_wr.append(obuf.write_port())
            o_rd.append(obuf.read_port())
        o_full = [Signal(name="o_full0"), Signal(name="o_full1")]     # reserved by the drain
        o_ready = [Signal(name="o_ready0"), Signal(name="o_ready1")]   # every write has landed
        o_wbank = Signal()
        o_rbank = Signal()

        dbank = Signal()
        d_b = Signal(range(max(2, B)))
        d_mult = Signal(range(max(2, M)))
        d_first = Signal(range(cfg.max_out + M + 1))   # first row of the pass being drained
        d_row = Signal(range(cfg.max_out + M + 1))
        d_last_pass = Signal()   # the pass being drained is the batch's last
        issue = Signal()
        last_mult = Signal()
        drained = Signal()       # the pass's last sum issued: its bank is free again
        batch_end = Signal()     # ... and it was the batch's last pass
        m.d.comb += [
            issue.eq(Mux(dbank, fin_todo[1], fin_todo[0]) & ~Mux(o_wbank, o_full[1], o_full[0])),
            last_mult.eq(d_mult == M - 1),
            drained.eq(issue & last_mult & (d_b == B - 1)),
            batch_end.eq(drained & d_last_pass),
            fin_rd.addr.eq(Cat(d_b[:bbits], dbank)),
            bias_rd.addr.eq(d_row[:bias_bits]),
        ]
        # d_last_pass: recomputed while idle, predicted for the next pass at a pass's end
        with m.If(~issue):
            m.d.sync += d_last_pass.eq(d_first + M >= reg_m)
        with m.If(drained):
            m.d.sync += d_last_pass.eq(Mux(batch_end, M >= reg_m, d_first + 2 * M >= reg_m))
        with m.If(issue):
            m.d.sync += [d_mult.eq(d_mult + 1), d_row.eq(d_row + 1)]
            with m.If(last_mult):
                m.d.sync += [d_mult.eq(0), d_row.eq(d_first), d_b.eq(d_b + 1)]
                with m.If(d_b == B - 1):
                    m.d.sync += [d_b.eq(0), dbank.eq(~dbank), d_first.eq(d_first + M),
                                 d_row.eq(d_first + M)]
                    with m.If(batch_end):
                        m.d.sync += [d_first.eq(0), d_row.eq(0), o_wbank.eq(~o_wbank)]
        for bank in (0, 1):
            m.d.sync += [
                fin_busy[bank].eq((fin_busy[bank] | (pass_start & (claim_bank == bank)))
                                  & ~(drained & (dbank == bank))),
                fin_todo[bank].eq((fin_todo[bank] | (pass_done & (pass_bank == bank)))
                                  & ~(drained & (dbank == bank))),
            ]

        # d1: the memories' read data; d2: select the multiplier's sum, register
        # the bias; d3: add, ReLU; d4..d6: requantise; then write
        dlay = data.StructLayout({"valid": 1, "keep": 1, "mult": range(max(2, M)),
                                  "row": range(cfg.max_out + M + 1), "b": range(max(2, B)),
                                  "obank": 1, "batch_end": 1})
        d0 = Signal(dlay)
        m.d.comb += [d0.valid.eq(issue), d0.mult.eq(d_mult), d0.row.eq(d_row), d0.b.eq(d_b),
                     d0.obank.eq(o_wbank), d0.batch_end.eq(batch_end)]
        d1 = Signal(dlay)
        d2 = Signal(dlay)
        d3 = Signal(dlay)
        acc2 = Signal(acc_shape)
        bias2 = Signal(signed(cfg.bias_width))
        sum3 = Signal(signed(cfg.sum_width))
        m.d.sync += [d1.eq(d0), d2.eq(d1), d2.keep.eq(d1.row < reg_m), d3.eq(d2),
                     acc2.eq(fin_rd.data[d1.mult] if M > 1 else fin_rd.data[0]),
                     bias2.eq(bias_rd.data)]
        total = acc2 + bias2
        m.d.sync += sum3.eq(Mux(relu & (total < 0), 0, total))
        y, sat, latency = requantize_pipeline(m, sum3, out_shift, cfg.act_width, cfg.rounding,
                                              max_left=MAX_LEFT_SHIFT, name="rq_y")
        dw = d3
        for d in range(latency):
            s = Signal(dlay, name=f"drain_rq{d}")
            m.d.sync += s.eq(dw)
            dw = s
        for lane in range(2):
            m.d.comb += [
                o_wr[lane].addr.eq(Cat(dw.row[1:1 + pbits], dw.b[:_bits(B)], dw.obank)),
                o_wr[lane].data.eq(y),
                o_wr[lane].en.eq(dw.valid & dw.keep & (dw.row[0] == lane)),
            ]
        with m.If(dw.valid & dw.keep):
            m.d.sync += self.out_saturations.eq(self.out_saturations + sat)

        # -- emitter: the output buffer, vector by vector, in blocks of k --------
        fifo_depth = 8
        credits = Signal(range(fifo_depth + 1), init=fifo_depth)
        released = Signal()
        e_b = Signal(range(max(2, B)))
        e_lin = Signal(pbits)                   # pair index in the vector
        e_issue = Signal()
        e_done = Signal()
        m.d.comb += [
            e_issue.eq(Mux(o_rbank, o_ready[1], o_ready[0]) & (credits != 0)),
            e_done.eq(e_issue & (e_lin == lin_end) & (e_b == B - 1)),
            o_rd[0].addr.eq(Cat(e_lin, e_b[:_bits(B)], o_rbank)),
            o_rd[1].addr.eq(Cat(e_lin, e_b[:_bits(B)], o_rbank)),
        ]
        with m.If(e_issue):
            m.d.sync += e_lin.eq(e_lin + 1)
            with m.If(e_lin == lin_end):
                m.d.sync += [e_lin.eq(0), e_b.eq(e_b + 1)]
                with m.If(e_b == B - 1):
                    m.d.sync += [e_b.eq(0), o_rbank.eq(~o_rbank)]
        m.d.sync += credits.eq(credits - e_issue + released)
        write_end = dw.valid & dw.batch_end
        for bank in (0, 1):
            m.d.sync += [
                o_full[bank].eq((o_full[bank] | (batch_end & (o_wbank == bank)))
                                & ~(e_done & (o_rbank == bank))),
                o_ready[bank].eq((o_ready[bank] | (write_end & (dw.obank == bank)))
                                 & ~(e_done & (o_rbank == bank))),
            ]

        out_layout = dense_output_layout(cfg)
        tag = data.StructLayout({"valid": 1, "mask": 2, "block": range(max(2, cfg.max_p)),
                                 "vector": range(max(2, B)), "last": 1})
        e0 = Signal(tag)
        element = e_lin << 1                  # 2 * pair index
        m.d.comb += [
            e0.valid.eq(e_issue),
            e0.mask.eq(Cat(element >= reg_m, element + 1 >= reg_m)),
            e0.block.eq(e_lin >> log_half), e0.vector.eq(e_b),
            e0.last.eq(e_lin[:log_half] == half - 1 if log_half else 1),
        ]
        # e1: the RAM's read data, registered as it is (e2); then the padding
        # mask (e3), into the FIFO
        e1, e2 = Signal(tag), Signal(tag)
        y_r = Signal(pair)
        m.d.sync += [e1.eq(e0), e2.eq(e1), y_r[0].eq(o_rd[0].data), y_r[1].eq(o_rd[1].data)]
        out = Signal(out_layout)
        out_valid = Signal()
        m.d.sync += [
            out_valid.eq(e2.valid),
            out.y0.eq(Mux(e2.mask[0], 0, y_r[0])), out.y1.eq(Mux(e2.mask[1], 0, y_r[1])),
            out.block.eq(e2.block), out.vector.eq(e2.vector), out.last.eq(e2.last),
        ]
        m.submodules.out_fifo = out_fifo = fifo.SyncFIFOBuffered(width=out_layout.size,
                                                                 depth=fifo_depth)
        m.d.comb += [
            out_fifo.w_en.eq(out_valid), out_fifo.w_data.eq(out.as_value()),
            self.o.valid.eq(out_fifo.r_rdy), self.o.payload.eq(out_fifo.r_data),
            out_fifo.r_en.eq(self.o.ready),
            released.eq(self.o.valid & self.o.ready),
        ]
        return m


def config_from_params(params) -> DenseConfig:
    return DenseConfig(act_width=params["act_width"], weight_width=params["weight_width"],
                       rounding=params["rounding"], mults=params["mults"], batch=params["batch"],
                       max_in=params["max_in"], max_out=params["max_out"], k=params["k"])


@register(
    "dense",
    description="dense baseline FC layer: M multipliers with weight banks, batch, "
                "bias/ReLU/requantise (for comparison with `layer`)",
    params=[
        Param("act_width", 16, "activation width (input and output)", 8, 17),
        Param("weight_width", 16, "weight width", 4, 18),
        Param("mults", 4, "multipliers M (output rows computed at once)", 1, 64),
        Param("batch", 1, "batch size B", 1, 64),
        Param("max_in", 256, "largest input count n", 1, MAX_FEATURES),
        Param("max_out", 256, "largest output count m", 1, MAX_FEATURES),
        Param("k", 16, "outputs per block on the output stream", 2, 256, power_of_two=True),
        Param("rounding", "half_up", "rounding of the output requantisation", choices=ROUNDINGS,
              kind=str),
    ],
    lint_params={"act_width": 8, "weight_width": 8, "mults": 3, "batch": 2, "max_in": 5,
                 "max_out": 7, "k": 4},
    validate=config_from_params,
)
def _build(params, target):
    return DenseLayer(config_from_params(params), None, target)
