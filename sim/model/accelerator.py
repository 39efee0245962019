"""A compiled network as the accelerator stores it, and the host writes that load it.

The model of the accelerator's memory layout and host interface
(:mod:`circnn.rtl.accelerator`; map in ``docs/registers.md``).
:func:`build_image` lays every layer of a compiled network out in the
engine's memories (each layer's weights after the previous layer's in every
PE bank, its biases after the previous layer's), fills the layer descriptor
table and routes activations through the buffers::

    layer 0: IN -> A,  layer 1: A -> B,  layer 2: B -> A, ...,  last layer: -> OUT

It refuses, naming the layer, whatever the engine cannot run: too many
layers, blocks beyond max_q/max_p, weights or biases beyond the memories,
a chain whose shapes or formats do not match.  :func:`host_writes` turns an
image into the host-bus writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from circnn.config import (DESCRIPTOR_FIELDS, Buffer, HostRegister, MemoryImage, NetworkConfig,
                           Region, descriptor_address, region_address)
from circnn.errors import CircnnError

from .layer import LayerProgram
from .network import check_chain

__all__ = ["NetworkImage", "build_image", "host_writes", "pack_descriptor_value"]


@dataclass
class NetworkImage:
    """A network laid out for an accelerator: its memories and its descriptor table."""

    config: NetworkConfig
    programs: list[LayerProgram]
    descriptors: list[dict]          # one {field: value} per layer (DESCRIPTOR_FIELDS)
    memory: MemoryImage              # weight banks (per PE, base 0) and bias pairs
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
        src = Buffer.IN if i == 0 else descriptors[-1]["dst"]
        dst = Buffer.OUT if last else (Buffer.A if src != Buffer.A else Buffer.B)
        registers = prog.registers(w_base=w_base, b_base=b_base).values(eng)
        descriptors.append(dict(registers, src=int(src), dst=int(dst)))
        w_base += w_words
        b_base += b_words
    return NetworkImage(net, programs, descriptors,
                        MemoryImage(tuple(zip(banks_re, banks_im)), bias),
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
        used = image.report["weight_words_used"]
        for n, (re, im) in enumerate(image.memory.weight_banks):
            for a in range(used):
                writes.append((region_address(Region.WEIGHTS, (n << w_bits) | a),
                               _pack((re[a], im[a]), eng.weight_width)))
        for a in range(image.report["bias_pairs_used"]):
            writes.append((region_address(Region.BIASES, a),
                           _pack(image.memory.bias_pairs[a], eng.bias_width)))
    for i, d in enumerate(image.descriptors):
        for name in DESCRIPTOR_FIELDS:
            writes.append((descriptor_address(i, name), pack_descriptor_value(name, d[name])))
    writes.append((int(HostRegister.N_LAYERS), image.n_layers))
    writes.append((int(HostRegister.N_BATCHES), n_batches))
    return writes
