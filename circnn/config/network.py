"""Configuration of the accelerator (the network level) and its host interface.

:class:`NetworkConfig` adds the descriptor table to an engine.  The host bus
map (``docs/registers.md``) is defined here once, for the RTL
(:mod:`circnn.rtl.accelerator`), the host-side model that writes it
(:mod:`circnn.sim.model.accelerator`) and the benches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from amaranth.lib import data, enum

from .checks import param, validate_fields
from .engine import EngineConfig, LayerField
from .patch import PatchConfig

__all__ = ["NetworkConfig", "Buffer", "ErrorCode", "LayerKind", "Region", "HostRegister",
           "REGION_SHIFT", "DESCRIPTOR_SLOT", "DESCRIPTOR_FIELDS", "GEOMETRY_FIELDS",
           "STATUS_LAYOUT", "region_address", "descriptor_address", "decode_status"]

#: Address bits below the region field.
REGION_SHIFT = 22
#: Words reserved per layer in the descriptor table.
DESCRIPTOR_SLOT = 32
#: A layer's geometry, after the layer core's fields in its descriptor slot
#: (``docs/registers.md``): what the layer level needs to walk feature maps.
GEOMETRY_FIELDS = (
    "kind",                     # LayerKind
    "in_h", "in_w", "in_c",     # conv2d: the input map (channel-last)
    "kernel_h", "kernel_w", "stride_h", "stride_w", "pad_h", "pad_w",
    "pool",                     # conv2d: 1 = max-pooling fused into the writer
    "pool_h", "pool_w", "pool_stride_h", "pool_stride_w",
    "in_values",                # dense: values read per input vector (the rest are 0)
)
#: Descriptor field names in word order.
DESCRIPTOR_FIELDS = tuple(f.key for f in LayerField) + GEOMETRY_FIELDS


class LayerKind(enum.IntEnum, shape=1):
    """What a descriptor's layer does with its input (descriptor field ``kind``)."""

    DENSE = 0       #: one row per input vector (a map is read flattened, (h, w, c))
    CONV2D = 1      #: one im2col patch row per output pixel


class Buffer(enum.IntEnum, shape=2):
    """Activation buffers, as descriptors name them in ``src`` / ``dst``."""

    IN = 0      #: filled by the host's input stream
    A = 1
    B = 2
    OUT = 3     #: the host's output stream (``dst`` of the last layer only)


class ErrorCode(enum.IntEnum, shape=4):
    """Why the network controller refused a descriptor table (STATUS bits 19:16)."""

    NONE = 0
    Q_RANGE = 1
    P_RANGE = 2
    WEIGHTS_OVERFLOW = 3
    BIASES_OVERFLOW = 4
    SHAPE_CHAIN = 5
    BUFFER_CHAIN = 6
    LAYER_COUNT = 7
    OUT_FEATURES_RANGE = 8
    SHIFT_RANGE = 9
    GEOMETRY_RANGE = 10
    MAP_OVERFLOW = 11
    PATCH_SIZE = 12

    @property
    def meaning(self) -> str:
        return _ERROR_MEANINGS[self]


_ERROR_MEANINGS = {
    ErrorCode.NONE: "no error",
    ErrorCode.Q_RANGE: "q out of range (0 or above max_q)",
    ErrorCode.P_RANGE: "p out of range (0 or above max_p)",
    ErrorCode.WEIGHTS_OVERFLOW: "weights extend past the weight banks",
    ErrorCode.BIASES_OVERFLOW: "biases extend past the bias memory",
    ErrorCode.SHAPE_CHAIN: "the layer's input differs from the previous layer's output or "
                            "exceeds its q blocks",
    ErrorCode.BUFFER_CHAIN: "activation buffers do not chain (src/dst)",
    ErrorCode.LAYER_COUNT: "n_layers out of range (0 or above max_layers)",
    ErrorCode.OUT_FEATURES_RANGE: "out_features out of range (0 or above p*k)",
    ErrorCode.SHIFT_RANGE: "a requantisation shift out of range",
    ErrorCode.GEOMETRY_RANGE: "a kind, map, kernel, stride, padding, pooling or in_values "
                              "field out of range",
    ErrorCode.MAP_OVERFLOW: "a feature map larger than an activation buffer's image "
                            "(max_map values)",
    ErrorCode.PATCH_SIZE: "the patch (kernel_h*kernel_w*in_c values) is longer than q*k",
}


class Region(enum.IntEnum, shape=2):
    """Host bus address regions (``addr[23:22]``)."""

    REGISTERS = 0   #: control, status, counters, descriptors
    WEIGHTS = 1     #: ``{pe, word}``: a PE's weight bank word
    BIASES = 2      #: a bias pair


class HostRegister(enum.IntEnum):
    """Offsets in :attr:`Region.REGISTERS`."""

    CTRL = 0x000             #: W: bit 0 start
    STATUS = 0x001           #: R: :data:`STATUS_LAYOUT`
    N_LAYERS = 0x002         #: RW
    N_BATCHES = 0x003        #: RW: batches (of layer_batches x B inputs) run per start
    INFERENCES = 0x004       #: R: inferences completed since reset
    CYCLES = 0x005           #: R: clocks busy since the last start
    ACC_SATURATIONS = 0x006  #: R
    OUT_SATURATIONS = 0x007  #: R
    BATCH_CYCLES = 0x008     #: R: clocks between the last two batch completions (steady state)
    LAYER_CYCLES = 0x040     #: R: + layer: that layer's clocks in the last batch
    DESCRIPTORS = 0x100      #: RW: + DESCRIPTOR_SLOT * layer + LayerField


#: The STATUS word, LSB first.
STATUS_LAYOUT = data.StructLayout({
    "busy": 1, "done": 1, "error": 1, "start_ignored": 1, "write_ignored": 1, "reserved": 3,
    "error_layer": 8, "error_code": ErrorCode,
})


def decode_status(word: int) -> dict:
    """A STATUS word as ``{busy, done, error, start_ignored, write_ignored, error_layer,
    error_code}``."""
    return {name: (int(word) >> f.offset) & ((1 << f.width) - 1)
            for name, f in STATUS_LAYOUT if name != "reserved"}


def region_address(region: Region, offset: int) -> int:
    return (int(region) << REGION_SHIFT) | offset


def descriptor_address(layer: int, field_name: str) -> int:
    return HostRegister.DESCRIPTORS + DESCRIPTOR_SLOT * layer + DESCRIPTOR_FIELDS.index(field_name)


assert len(DESCRIPTOR_FIELDS) <= DESCRIPTOR_SLOT


@dataclass(frozen=True)
class NetworkConfig:
    """The network-level parameters of an accelerator: an engine and its descriptor table."""

    engine: EngineConfig = field(default_factory=EngineConfig)
    max_layers: int = param(8, "descriptor table size (layers)", 1, 64)
    max_map: int = param(2048, "values of the largest feature map (H*W*C) of one image", 1,
                         1 << 22)
    layer_batches: int = param(1, "batches of B inputs that run each layer together (the "
                                  "activation buffers hold layer_batches*B images; the "
                                  "pipeline's fill and drain are paid once per layer for all of "
                                  "them)", 1, 64)
    convolution: bool = param(True, "convolution layers: im2col reader, map writer, fused "
                                    "max-pooling (False: dense layers only, less logic)")
    patch: PatchConfig = field(default_factory=PatchConfig)

    def __post_init__(self):
        if not isinstance(self.engine, EngineConfig):
            raise TypeError("engine must be an EngineConfig")
        if not isinstance(self.patch, PatchConfig):
            raise TypeError("patch must be a PatchConfig")
        validate_fields(self)

    @property
    def images(self) -> int:
        """Inputs per network batch: every layer runs over all of them before the next
        layer starts (``layer_batches`` x B; the core reads each weight word once per B)."""
        return self.layer_batches * self.engine.batch

    @property
    def stride(self) -> int:
        """Words (activation pairs) reserved per image in an activation buffer (a power
        of two): a dense vector of max(max_q, max_p)*k values or a max_map-value map."""
        e = self.engine
        words = max(max(e.max_q, e.max_p) * e.half, -(-self.max_map // 2))
        return 1 << max(1, (words - 1).bit_length())

    def to_dict(self) -> dict:
        """Every parameter of the accelerator, flat: the engine's, the table's and
        buffers', the patch walker's."""
        return {**self.engine.to_dict(), "max_layers": self.max_layers, "max_map": self.max_map,
                "layer_batches": self.layer_batches, "convolution": self.convolution,
                **{name: getattr(self.patch, name) for name in
                   ("max_side", "max_channels", "max_kernel", "max_stride", "max_padding")}}

    @property
    def data_width(self) -> int:
        e = self.engine
        return max(32, 2 * e.weight_width, 2 * e.bias_width)
