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

from circnn.config import (DESCRIPTOR_FIELDS, GEOMETRY_FIELDS, Buffer, HostRegister, LayerKind,
                           MemoryImage, NetworkConfig, Region, descriptor_address,
                           region_address)
from circnn.errors import CircnnError

from .cnn import DenseStep
from .conv import output_side
from .layer import LayerProgram
from .network import check_chain

__all__ = ["NetworkImage", "Stage", "stages_of", "written_map", "output_pixels",
           "mac_bound_cycles", "useful_mac_steps", "stage_name", "check_fits", "build_image", "host_writes",
           "pack_descriptor_value"]


@dataclass
class NetworkImage:
    """A network laid out for an accelerator: its memories and its descriptor table."""

    config: NetworkConfig
    programs: list[LayerProgram]     # one per descriptor (a pooling layer has none)
    descriptors: list[dict]          # one {field: value} per descriptor (DESCRIPTOR_FIELDS)
    memory: MemoryImage              # weight banks (per PE, base 0) and bias pairs
    report: dict = field(default_factory=dict)
    stages: list = field(default_factory=list)     # what each descriptor runs (Stage)

    @property
    def n_layers(self) -> int:
        return len(self.descriptors)


@dataclass
class Stage:
    """One descriptor: a weighted step, with the pooling step fused into it (if any),
    and the indices of the network layers it runs."""

    step: object
    pool: object | None
    layers: tuple


def stages_of(layers: list) -> list[Stage]:
    """The descriptors a compiled network needs: each ``maxpool2d`` fused into the
    ``conv2d`` before it (the accelerator pools in that layer's writer).  ``layers``:
    :class:`LayerProgram` (a dense network) or the steps of
    :func:`circnn.compiler.compile_cnn`."""
    stages = []
    for i, step in enumerate(layers):
        if isinstance(step, LayerProgram):
            step = DenseStep(step)
        if step.kind == "maxpool2d":
            prev = stages[-1] if stages else None
            if prev is None or prev.step.kind != "conv2d" or prev.pool is not None:
                raise CircnnError(f"layer {i} (maxpool2d): the accelerator pools in the writer "
                                  f"of the conv2d layer before it, and layer {i - 1} is "
                                  f"{'a ' + layers[i - 1].kind + ' layer' if i else 'missing'}")
            prev.pool = step
            prev.layers += (i,)
            continue
        stages.append(Stage(step, None, (i,)))
    return stages


def _conv_sides(step) -> list[int]:
    """A convolution step's output sides (H_out, W_out)."""
    return [output_side(size, k, s, p) for size, k, s, p in
            zip(step.in_shape[:2], step.kernel, step.stride, step.padding)]


def written_map(stage: Stage) -> tuple:
    """(H, W, C) a convolution stage writes: its output map, pooled when pooling."""
    sides = _conv_sides(stage.step)
    if stage.pool is not None:
        sides = [output_side(size, k, s) for size, k, s in
                 zip(sides, stage.pool.kernel, stage.pool.stride)]
    return sides[0], sides[1], stage.step.channels_out


def output_pixels(stage: Stage) -> int:
    """Rows the stage runs through the engine per image: a convolution's output pixels
    (before pooling), 1 for a dense layer."""
    if stage.step.kind != "conv2d":
        return 1
    out_h, out_w = _conv_sides(stage.step)
    return out_h * out_w


def mac_bound_cycles(stages: list[Stage], eng) -> list[int]:
    """Each stage's MAC-bound clocks per inference: output pixels x ceil(p/P) x q x k/2
    (the PEs busy every clock, nothing else counted)."""
    return [output_pixels(stage) * -(-stage.step.program.p // eng.pes) * stage.step.program.q
            * eng.half for stage in stages]


def useful_mac_steps(stages: list[Stage], eng) -> list[int]:
    """Each stage's useful complex multiply-accumulates per inference, in PE clocks:
    output pixels x p x q x k/2 (a PE of a pass past the layer's p output blocks
    computes nothing useful).  A stage's PE utilisation is this over P x its
    clocks; at the MAC bound it is p / (P x ceil(p/P))."""
    return [output_pixels(stage) * stage.step.program.p * stage.step.program.q * eng.half
            for stage in stages]


def stage_name(stage: Stage) -> str:
    """``layer 0 (conv2d)`` or ``layers 0-1 (conv2d + maxpool2d)``."""
    if stage.pool is None:
        return f"layer {stage.layers[0]} ({stage.step.kind})"
    return f"layers {stage.layers[0]}-{stage.layers[-1]} (conv2d + maxpool2d)"


def check_fits(stages: list[Stage], net: NetworkConfig) -> None:
    """Refuse, naming the layer, the memory or limit and the sizes, a network the
    accelerator ``net`` cannot run: too many descriptors, a map larger than a
    buffer's image, a kernel, stride, padding, side or channel count beyond the
    patch walker's limits, pooling windows that overlap more than it handles, a
    convolution as the last layer."""
    if len(stages) > net.max_layers:
        raise CircnnError(f"the network needs {len(stages)} descriptors (maxpool2d fused into "
                          f"its conv2d); the accelerator's table has max_layers={net.max_layers} "
                          f"slots")
    pc = net.patch
    for stage in stages:
        step = stage.step
        name = f"layer {stage.layers[0]} ({step.kind})"
        if step.kind != "conv2d":
            continue
        if not net.convolution:
            raise CircnnError(f"{name}: the accelerator was built without convolution "
                              f"(convolution=False)")
        if stage is stages[-1]:
            raise CircnnError(f"{name}: the last layer must be dense (results leave the "
                              f"accelerator as vectors)")
        h, w, c = step.in_shape
        limits = [("input side", max(h, w), "max_side", pc.max_side),
                  ("input channels", c, "max_channels", pc.max_channels),
                  ("kernel", max(step.kernel), "max_kernel", pc.max_kernel),
                  ("stride", max(step.stride), "max_stride", pc.max_stride),
                  ("padding", max(step.padding), "max_padding", pc.max_padding)]
        if stage.pool is not None:
            limits += [("pooling kernel", max(stage.pool.kernel), "max_kernel", pc.max_kernel),
                       ("pooling stride", max(stage.pool.stride), "max_stride", pc.max_stride)]
        for what, value, key, hi in limits:
            if value > hi:
                raise CircnnError(f"{name}: its {what} is {value}; the accelerator's patch "
                                  f"walker takes at most {key}={hi}")
        if stage.pool is not None and any(k > 2 * s for k, s in zip(stage.pool.kernel,
                                                                    stage.pool.stride)):
            raise CircnnError(f"layer {stage.layers[1]} (maxpool2d): kernel {stage.pool.kernel} "
                              f"with stride {stage.pool.stride}: the writer pools windows at "
                              f"most twice the stride wide")
        for what, shape in (("input map", step.in_shape), ("output map", written_map(stage))):
            size = shape[0] * shape[1] * shape[2]
            if size > net.max_map:
                raise CircnnError(f"{name}: its {what} {shape[0]}x{shape[1]}x{shape[2]} is "
                                  f"{size} values; the activation buffers hold max_map="
                                  f"{net.max_map} values per image")


def _geometry(stage: Stage, in_values: int) -> dict:
    """The descriptor's geometry fields (GEOMETRY_FIELDS) of a stage."""
    geo = dict.fromkeys(GEOMETRY_FIELDS, 0)
    step = stage.step
    if step.kind != "conv2d":
        geo["in_values"] = in_values
        return geo
    geo.update(kind=int(LayerKind.CONV2D), in_h=step.in_shape[0], in_w=step.in_shape[1],
               in_c=step.in_shape[2], kernel_h=step.kernel[0], kernel_w=step.kernel[1],
               stride_h=step.stride[0], stride_w=step.stride[1], pad_h=step.padding[0],
               pad_w=step.padding[1])
    if stage.pool is not None:
        geo.update(pool=1, pool_h=stage.pool.kernel[0], pool_w=stage.pool.kernel[1],
                   pool_stride_h=stage.pool.stride[0], pool_stride_w=stage.pool.stride[1])
    return geo


def _out_values(stage: Stage, eng) -> int:
    """Values per image the stage writes (what the next stage reads)."""
    if stage.step.kind == "conv2d":
        h, w, c = written_map(stage)
        return h * w * c
    return stage.step.program.registers().values(eng)["out_features"]


def build_image(layers: list, net: NetworkConfig) -> NetworkImage:
    """Lay out ``layers`` (:class:`LayerProgram` of a dense network, or the steps of
    a convolutional one) for the accelerator ``net``."""
    eng = net.engine
    if not layers:
        raise CircnnError("the network has no layers")
    stages = stages_of(layers)
    check_fits(stages, net)
    programs = [stage.step.program for stage in stages]
    try:
        if all(stage.step.kind == "dense" for stage in stages):
            check_chain(programs, eng)
        else:
            for stage, prog in zip(stages, programs):
                prog.check(eng, f"layer {stage.layers[0]}")
    except Exception as exc:
        raise CircnnError(str(exc)) from None
    N, P = eng.half, eng.pes
    banks_re = [np.zeros(eng.weight_words, dtype=np.int64) for _ in range(P)]
    banks_im = [np.zeros(eng.weight_words, dtype=np.int64) for _ in range(P)]
    bias = np.zeros((eng.bias_words, 2), dtype=np.int64)
    descriptors = []
    w_base = b_base = 0
    in_values = programs[0].q * eng.k
    for i, (stage, prog) in enumerate(zip(stages, programs)):
        name = f"layer {stage.layers[0]}"
        groups = -(-prog.p // P)
        w_words = groups * prog.q * N
        if w_base + w_words > eng.weight_words:
            raise CircnnError(f"{name}: its weights need words {w_base}..{w_base + w_words - 1} "
                              f"of each PE bank; the engine has weight_depth={eng.weight_words}")
        b_words = prog.p * N
        if b_base + b_words > eng.bias_words:
            raise CircnnError(f"{name}: its biases need pairs {b_base}..{b_base + b_words - 1}; "
                              f"the engine has bias_depth={eng.bias_words}")
        for n in range(P):
            for g in range(groups):
                blk = g * P + n
                if blk < prog.p:
                    sl = slice(w_base + g * prog.q * N, w_base + (g + 1) * prog.q * N)
                    banks_re[n][sl] = prog.weight_re[blk].reshape(-1)
                    banks_im[n][sl] = prog.weight_im[blk].reshape(-1)
        bias[b_base:b_base + b_words] = np.asarray(prog.bias).reshape(-1, 2)
        last = i == len(stages) - 1
        src = Buffer.IN if i == 0 else descriptors[-1]["dst"]
        dst = Buffer.OUT if last else (Buffer.A if src != Buffer.A else Buffer.B)
        registers = prog.registers(w_base=w_base, b_base=b_base).values(eng)
        descriptors.append(dict(registers, src=int(src), dst=int(dst),
                                **_geometry(stage, in_values)))
        in_values = _out_values(stage, eng)
        w_base += w_words
        b_base += b_words
    return NetworkImage(net, programs, descriptors,
                        MemoryImage(tuple(zip(banks_re, banks_im)), bias),
                        report={"weight_words_used": w_base, "bias_pairs_used": b_base},
                        stages=stages)


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
