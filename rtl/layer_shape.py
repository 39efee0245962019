"""``layer_shape_layout``: what the layer level needs to know of a layer beyond the
core's registers (the network controller drives it from the descriptor and its
geometry unit), and the width of a value count inside one image's region of an
activation buffer."""

from amaranth.lib import data

from circnn.config import NetworkConfig

__all__ = ["layer_shape_layout", "count_bits"]


def count_bits(net: NetworkConfig) -> int:
    """Bits of a value count or offset inside one image's region of a buffer."""
    return max(1, (2 * net.stride).bit_length()) + 1


def layer_shape_layout(net: NetworkConfig) -> data.StructLayout:
    """A layer's kind and geometry as the reader and the writers use them."""
    pc, eng = net.patch, net.engine
    side = range(pc.max_side + 1)
    out_side = range(pc.max_side + pc.max_padding + 1)
    kern = range(pc.max_kernel + 1)
    stride = range(pc.max_stride + 1)
    count = count_bits(net)
    return data.StructLayout({
        "conv": 1,
        "h": side, "w": side, "c": range(pc.max_channels + 1),
        "kh": kern, "kw": kern, "sh": stride, "sw": stride,
        "ph": range(pc.max_padding + 1), "pw": range(pc.max_padding + 1),
        "in_values": count,                 # dense: values read per vector
        "c_out": range(eng.max_p * eng.k + 1),
        "out_h": out_side, "out_w": out_side,
        "rows": 24,                         # core batches: layer_batches x pixels (dense: x 1)
        "pool": 1, "pool_kh": kern, "pool_kw": kern, "pool_sh": stride, "pool_sw": stride,
        "pool_h": out_side, "pool_w": out_side,     # the pooled map's sides
        "pool_row": count,                  # values per row of the pooled map
    })
