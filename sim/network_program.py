"""A compiled network as the accelerator stores it, and the host writes that load it.

:func:`build_image` lays every layer of a compiled network out in the
engine's memories (each layer's weights after the previous layer's in every
PE bank, its biases after the previous layer's), fills the layer descriptor
table and routes activations through the buffers::

    layer 0: IN -> A,  layer 1: A -> B,  layer 2: B -> A, ...,  last layer: -> OUT

It refuses, naming the layer, whatever the engine cannot run: too many
layers, blocks beyond max_q/max_p, weights or biases beyond the memories,
a chain whose shapes or formats do not match.  :func:`host_writes` turns an
image into the host-bus writes of ``docs/registers.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from circnn.errors import CircnnError

from .layer_model import EngineConfig, LayerProgram
from .network_model import check_chain

__all__ = ["NetworkConfig", "NetworkImage", "build_image", "host_writes", "REGISTERS",
           "DESCRIPTOR_FIELDS", "BUFFERS", "ERROR_CODES", "REGION_SHIFT", "region_address",
           "descriptor_address", "pack_descriptor_value"]

#: Activation buffer codes in descriptors.
BUFFERS = {"in": 0, "a": 1, "b": 2, "out": 3}

#: Control and status registers (region 0).
REGISTERS = {
    "ctrl": 0x000,        # W: bit 0 start
    "status": 0x001,      # R: bit 0 busy, 1 done, 2 error, 3 start ignored; [15:8] error layer; [19:16] error code
    "n_layers": 0x002,    # RW
    "n_batches": 0x003,   # RW: batches run per start
    "inferences": 0x004,  # R: inferences completed since reset
    "cycles": 0x005,      # R: clocks busy since the last start
    "acc_saturations": 0x006,  # R
    "out_saturations": 0x007,  # R
    "layer_cycles": 0x040,     # R: + layer index: clocks of that layer in the last batch
    "descriptors": 0x100,      # RW: + 16 * layer + field
}

#: Descriptor fields, in word order within a layer's 16-word slot.
DESCRIPTOR_FIELDS = ("q", "p", "acc_shift", "out_shift", "relu", "out_features", "w_base",
                     "b_base", "src", "dst")

#: Error codes in STATUS[19:16].
ERROR_CODES = {
    1: "q out of range (0 or above max_q)",
    2: "p out of range (0 or above max_p)",
    3: "weights extend past the weight banks",
    4: "biases extend past the bias memory",
    5: "q does not match the previous layer's p",
    6: "activation buffers do not chain (src/dst)",
    7: "n_layers out of range (0 or above max_layers)",
    8: "out_features out of range (0 or above p*k)",
    9: "a requantisation shift out of range",
}

#: Address bits below the region field: region 0 registers, 1 weights, 2 biases.
REGION_SHIFT = 22


def region_address(region: int, offset: int) -> int:
    return (region << REGION_SHIFT) | offset


def descriptor_address(layer: int, field_name: str) -> int:
    return REGISTERS["descriptors"] + 16 * layer + DESCRIPTOR_FIELDS.index(field_name)


@dataclass(frozen=True)
class NetworkConfig:
    """The network-level parameters of an accelerator."""

    engine: EngineConfig
    max_layers: int = 8

    def __post_init__(self):
        from circnn.params import check_int
        check_int("max_layers", self.max_layers, 1, 64)

    @property
    def stride(self) -> int:
        """Pairs reserved per vector in an activation buffer (a power of two)."""
        e = self.engine
        words = max(e.max_q, e.max_p) * e.half
        return 1 << max(1, (words - 1).bit_length())

    @property
    def data_width(self) -> int:
        e = self.engine
        return max(32, 2 * e.weight_width, 2 * e.bias_width)


@dataclass
class NetworkImage:
    config: NetworkConfig
    programs: list[LayerProgram]
    descriptors: list[dict]
    weight_banks: list[tuple[np.ndarray, np.ndarray]]   # per PE (re, im), base 0
    bias_pairs: np.ndarray                               # (pairs, 2)
    report: dict = field(default_factory=dict)

    @property
    def n_layers(self) -> int:
        return len(self.programs)


def build_image(programs: list[LayerProgram], net: NetworkConfig) -> NetworkImage:
    eng = net.engine
    if not programs:
        raise CircnnError("the network has no layers")
    if len(programs) > net.max_layers:
        raise CircnnError(f"the network has {len(programs)} layers; the engine runs at most "
                          f"max_layers={net.max_layers}")
    try:
        check_chain(programs, eng)
    except Exception as exc:
        raise CircnnError(str(exc)) from None
    N, P = eng.half, eng.pes
    banks_re = [np.zeros(eng.weight_words, dtype=np.int64) for _ in range(P)]
    banks_im = [np.zeros(eng.weight_words, dtype=np.int64) for _ in range(P)]
    bias = np.zeros((eng.bias_words, 2), dtype=np.int64)
    descriptors = []
    w_base = b_base = 0
    for i, prog in enumerate(programs):
        groups = -(-prog.p // P)
        w_words = groups * prog.q * N
        if w_base + w_words > eng.weight_words:
            raise CircnnError(f"layer {i}: its weights need words {w_base}..{w_base + w_words - 1} of "
                              f"each PE bank; the engine has weight_depth={eng.weight_words}")
        b_words = prog.p * N
        if b_base + b_words > eng.bias_words:
            raise CircnnError(f"layer {i}: its biases need pairs {b_base}..{b_base + b_words - 1}; "
                              f"the engine has bias_depth={eng.bias_words}")
        for n in range(P):
            for g in range(groups):
                blk = g * P + n
                if blk < prog.p:
                    sl = slice(w_base + g * prog.q * N, w_base + (g + 1) * prog.q * N)
                    banks_re[n][sl] = prog.weight_re[blk].reshape(-1)
                    banks_im[n][sl] = prog.weight_im[blk].reshape(-1)
        bias[b_base:b_base + b_words] = np.asarray(prog.bias).reshape(-1, 2)
        last = i == len(programs) - 1
        src = BUFFERS["in"] if i == 0 else descriptors[-1]["dst"]
        dst = BUFFERS["out"] if last else (BUFFERS["a"] if src != BUFFERS["a"] else BUFFERS["b"])
        descriptors.append(dict(q=prog.q, p=prog.p, acc_shift=prog.acc_shift, out_shift=prog.out_shift,
                                relu=int(prog.relu), out_features=prog.out_features or prog.p * eng.k,
                                w_base=w_base, b_base=b_base, src=src, dst=dst))
        w_base += w_words
        b_base += b_words
    return NetworkImage(net, programs, descriptors, list(zip(banks_re, banks_im)), bias,
                        report={"weight_words_used": w_base, "bias_pairs_used": b_base})


def pack_descriptor_value(name: str, value: int) -> int:
    """Descriptor fields are written as 32-bit two's complement words."""
    return int(value) & 0xFFFFFFFF


def _pack(values, width):
    word = 0
    for n, v in enumerate(values):
        word |= (int(v) & ((1 << width) - 1)) << (n * width)
    return word


def host_writes(image: NetworkImage, *, weights: bool = True, n_batches: int = 1) -> list[tuple[int, int]]:
    """(address, data) bus writes that load ``image`` and configure ``n_batches``."""
    eng = image.config.engine
    writes = []
    if weights:
        w_bits = max(1, (eng.weight_words - 1).bit_length())
        for n, (re, im) in enumerate(image.weight_banks):
            used = image.report["weight_words_used"]
            for a in range(used):
                writes.append((region_address(1, (n << w_bits) | a),
                               _pack((re[a], im[a]), eng.weight_width)))
        for a in range(image.report["bias_pairs_used"]):
            writes.append((region_address(2, a), _pack(image.bias_pairs[a], eng.bias_width)))
    for i, d in enumerate(image.descriptors):
        for name in DESCRIPTOR_FIELDS:
            writes.append((descriptor_address(i, name), pack_descriptor_value(name, d[name])))
    writes.append((REGISTERS["n_layers"], image.n_layers))
    writes.append((REGISTERS["n_batches"], n_batches))
    return writes
