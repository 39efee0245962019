"""``ActivationBuffer``: one activation buffer of the layer level, and its address.

Every buffer holds, per image (input vector) ``b`` of a network batch
(:attr:`NetworkConfig.images`: ``layer_batches`` x B), a region of ``stride``
words (:attr:`NetworkConfig.stride`, a power of two, so the address is
``{b, word}`` with no multiplier).  A word is a pair of values, ``x0`` at value
index ``2*word`` and ``x1`` at ``2*word + 1``; the two halves are two memories
of one address, so a value can be written alone (odd channel counts, pooling
windows that start at an odd value).

Protocol: ``rd_addr`` at clock t gives ``rd_data`` at t + ``latency``
(:class:`~circnn.rtl.block_ram.BlockRAM`); ``wr_en[h]`` writes half ``h`` of
``wr_addr`` at the next clock.  Reading a word in the clock it is written is
not defined: callers never do.
"""

from amaranth.hdl import Cat, Const, Module, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from circnn.config import NetworkConfig

from .block_ram import BlockRAM

__all__ = ["ActivationBuffer", "BufferAddress"]


class BufferAddress:
    """The address ``{image, word}`` of a buffer of ``net``."""

    def __init__(self, net: NetworkConfig):
        self.word_bits = max(1, (net.stride - 1).bit_length())
        images = net.images
        self.image_bits = max(1, (images - 1).bit_length()) if images > 1 else 0
        self.bits = self.word_bits + self.image_bits
        self.depth = 1 << self.bits

    def __call__(self, word, image):
        """``{image, word}``: ``word`` zero-extended or cut to its field."""
        word = Value.cast(word).as_unsigned()
        word = Cat(word, Const(0, max(0, self.word_bits - len(word))))[:self.word_bits]
        if not self.image_bits:
            return word
        return Cat(word, Value.cast(image)[:self.image_bits])


class ActivationBuffer(wiring.Component):
    """Two half memories (even and odd values) of ``BufferAddress(net).depth`` words."""

    def __init__(self, net: NetworkConfig, value_shape):
        self.address = BufferAddress(net)
        self._value = value_shape
        self._halves = [BlockRAM(value_shape, self.address.depth) for _ in range(2)]
        self.latency = self._halves[0].latency
        pair = data.ArrayLayout(value_shape, 2)
        super().__init__({
            "rd_addr": In(self.address.bits),
            "rd_data": Out(pair),
            "wr_addr": In(self.address.bits),
            "wr_data": In(pair),
            "wr_en": In(2),
        })

    def elaborate(self, platform):
        m = Module()
        for h, ram in enumerate(self._halves):
            m.submodules[f"half{h}"] = ram
            m.d.comb += [ram.rd_addr.eq(self.rd_addr), self.rd_data[h].eq(ram.rd_data),
                         ram.wr_addr.eq(self.wr_addr), ram.wr_data.eq(self.wr_data[h]),
                         ram.wr_en.eq(self.wr_en[h])]
        return m
