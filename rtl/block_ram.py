"""``BlockRAM``: a deep memory, one write port, one read port, read data registered.

Why: on ECP5 a plain ``amaranth.lib.memory`` read port costs the clock
twice.  A DP16KD's output without its output register leaves the RAM late
(5.6-5.8 ns clock-to-out on LFE5U-85F-6), and yosys cannot give the
memory's "read returns the old word" collision rule to a block RAM whose
read and write ports are separate, so it delays the write one clock and
puts a bypass multiplexer on every output bit; a memory deeper than one
block RAM then adds a multiplexer across the RAMs' outputs too.

This component splits the memory into sub-banks of :data:`SUB_DEPTH`
words (one DP16KD in its 1024 x 18 mode per 18 bits of word) by address
MSBs and selects among their registered outputs through registers, up to
:data:`SELECT_FAN_IN` words per select stage::

    cycle t: rd_addr  ->  cycle t + latency: rd_data = mem[rd_addr]

``latency`` is 2 (RAM, output register) for one sub-bank, 3 (one select
register) for up to 8 and 4 for up to 64.  Elaborated for an ECP5
platform (:func:`circnn.config.uses_ecp5_primitives`) each sub-bank is an instantiated DP16KD with its output register on
(``REGMODE_B = "OUTREG"``, about 1 ns clock-to-out) and no soft logic;
elsewhere it is an ``amaranth.lib.memory.Memory`` followed by a fabric
register, the same words at the same cycle (``sim/primitives/dp16kd.v`` models
the primitive for Icarus; the suite checks both targets agree).

Writes land at the next clock.  Reading the word being written in the
same clock is not defined (the generic target returns the old word, the
DP16KD may not): callers never do.
"""

from amaranth.hdl import ClockSignal, Const, Instance, Module, Shape, ShapeCastable, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import check_int, uses_ecp5_primitives

from .delay import delay

__all__ = ["BlockRAM", "SUB_DEPTH", "RAM_WIDTH", "SELECT_FAN_IN"]

#: Words of one sub-bank: a DP16KD in its 1024 x 18 mode.
SUB_DEPTH = 1024
#: Data bits of one DP16KD port in that mode.
RAM_WIDTH = 18
#: Registered words one select stage chooses among: eight sub-banks (16 block
#: RAMs at 19..36 bits) stay close enough together for one clock.
SELECT_FAN_IN = 8
#: Words per ``INITVAL_xx`` parameter (20-bit slots holding 18 bits each).
_INIT_WORDS = 16


class BlockRAM(wiring.Component):
    """``depth`` words of ``shape``, initialised to ``init`` (missing words are 0)."""

    def __init__(self, shape, depth: int, init=()):
        self.shape = shape
        self.width = Shape.cast(shape).width
        self.depth = check_int("depth", depth, 1)
        self.init = list(init)
        if len(self.init) > depth:
            raise ValueError(f"init has {len(self.init)} words, more than depth {depth}")
        self.addr_bits = max(1, (depth - 1).bit_length())
        self.banks = -(-depth // SUB_DEPTH)
        # select stages: each picks one of up to SELECT_FAN_IN registered words
        self.select_stages = 0
        while SELECT_FAN_IN ** self.select_stages < self.banks:
            self.select_stages += 1
        self.latency = 2 + self.select_stages
        super().__init__({
            "rd_addr": In(self.addr_bits),
            "rd_data": Out(shape),
            "wr_addr": In(self.addr_bits),
            "wr_data": In(shape),
            "wr_en": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        low = min(self.addr_bits, (SUB_DEPTH - 1).bit_length())
        # every sub-bank's output, registered (in the RAM on ecp5)
        words = []
        for n in range(self.banks):
            base = n * SUB_DEPTH
            depth = min(SUB_DEPTH, self.depth - base)
            word = Signal(self.width, name=f"bank{n}_q")
            wr_en = Signal(name=f"bank{n}_wr_en")
            m.d.comb += wr_en.eq(self.wr_en & (self.wr_addr[low:] == n))
            init = self.init[base:base + depth]
            if uses_ecp5_primitives(platform):
                self._dp16kd(m, n, init, wr_en, word)
            else:
                bank = memory.Memory(shape=self.shape, depth=depth, init=init)
                m.submodules[f"bank{n}"] = bank
                rd, wr = bank.read_port(), bank.write_port()
                m.d.comb += [rd.addr.eq(self.rd_addr[:low]), wr.addr.eq(self.wr_addr[:low]),
                             wr.data.eq(self.wr_data), wr.en.eq(wr_en)]
                out = Signal(self.width, name=f"bank{n}_out", reset_less=True)
                m.d.sync += out.eq(rd.data)
                m.d.comb += word.eq(out)
            words.append(word)
        # the sub-bank a read addressed, as its word leaves the output register;
        # then a tree of registered selects, SELECT_FAN_IN words at a time (a
        # deep memory's RAMs spread over the chip: each stage stays local)
        sel = delay(m, self.rd_addr[low:], 2, "sel") if self.select_stages else None
        step = SELECT_FAN_IN.bit_length() - 1
        for stage in range(self.select_stages):
            chosen = []
            for group in range(-(-len(words) // SELECT_FAN_IN)):
                out = Signal(self.width, name=f"select{stage}_{group}", reset_less=True)
                with m.Switch(sel[:step]):
                    for n, word in enumerate(words[group * SELECT_FAN_IN:(group + 1) * SELECT_FAN_IN]):
                        with m.Case(n):
                            m.d.sync += out.eq(word)
                chosen.append(out)
            words = chosen
            if stage + 1 < self.select_stages:
                sel = delay(m, sel[step:], 1, f"sel{stage}")
        m.d.comb += self.rd_data.eq(words[0])
        return m

    def _raw(self, value) -> int:
        """A word of ``init`` as the bits the RAM stores."""
        if isinstance(self.shape, ShapeCastable):
            value = Const.cast(self.shape.const(value)).value
        return value & ((1 << self.width) - 1)

    def _dp16kd(self, m, n, init, wr_en, word):
        """Sub-bank ``n`` as DP16KD columns: port A writes, port B reads through OUTREG."""
        raw = [self._raw(v) for v in init]
        wdata = Signal(self.width)
        m.d.comb += wdata.eq(self.wr_data)
        low = min(self.addr_bits, 10)
        for col in range(-(-self.width // RAM_WIDTH)):
            lo, hi = col * RAM_WIDTH, min(self.width, (col + 1) * RAM_WIDTH)
            do = Signal(RAM_WIDTH, name=f"bank{n}_do{col}")
            m.d.comb += word[lo:hi].eq(do[:hi - lo])
            ports = {
                "i_CLKA": ClockSignal(), "i_CEA": 1, "i_OCEA": 1, "i_WEA": wr_en, "i_RSTA": 0,
                "i_CLKB": ClockSignal(), "i_CEB": 1, "i_OCEB": 1, "i_WEB": 0, "i_RSTB": 0,
            }
            for port in "AB":
                ports.update({f"i_CS{port}{b}": 0 for b in range(3)})
                # 18-bit mode: word address on AD[13:4]; on the writing port AD[1:0]
                # are byte enables
                addr = self.wr_addr if port == "A" else self.rd_addr
                ports.update({f"i_AD{port}{b}": int(port == "A" and b < 2) for b in range(4)})
                ports.update({f"i_AD{port}{b + 4}": addr[b] if b < low else 0 for b in range(10)})
                ports.update({f"i_DI{port}{b}": wdata[lo + b] if port == "A" and lo + b < hi else 0
                              for b in range(RAM_WIDTH)})
            ports.update({f"o_DOB{b}": do[b] for b in range(RAM_WIDTH)})
            params = {}
            if any(raw):
                slices = [(v >> lo) & ((1 << (hi - lo)) - 1) for v in raw]
                for idx in range(SUB_DEPTH // _INIT_WORDS):
                    chunk = slices[idx * _INIT_WORDS:(idx + 1) * _INIT_WORDS]
                    bits = sum(v << (20 * i) for i, v in enumerate(chunk))
                    params[f"p_INITVAL_{idx:02X}"] = Const(bits, 320)
            m.submodules[f"bank{n}_ram{col}"] = Instance(
                "DP16KD",
                p_DATA_WIDTH_A=RAM_WIDTH, p_DATA_WIDTH_B=RAM_WIDTH,
                p_REGMODE_A="NOREG", p_REGMODE_B="OUTREG",
                p_WRITEMODE_A="NORMAL", p_WRITEMODE_B="NORMAL",
                p_CSDECODE_A="0b000", p_CSDECODE_B="0b000",
                p_RESETMODE="SYNC", p_GSR="DISABLED",
                **params, **ports,
            )

