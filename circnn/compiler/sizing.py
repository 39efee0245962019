"""Sizing an accelerator for a compiled network."""

from __future__ import annotations

from dataclasses import replace

from circnn.config import EngineConfig, NetworkConfig, PatchConfig
from circnn.sim.model.accelerator import stages_of, written_map

__all__ = ["network_config_for"]


def network_config_for(layers: list, eng: EngineConfig, layer_batches: int = 1) -> NetworkConfig:
    """The smallest accelerator of engine ``eng``'s kind that runs ``layers`` (the
    :class:`~circnn.sim.model.layer.LayerProgram` of a dense network, or the steps
    of :func:`~circnn.compiler.compile_cnn`): ``max_q``/``max_p`` of the largest
    layer, weight and bias memories for all layers, a descriptor table of exactly
    the network's descriptors (pooling fused into its convolution), and, with
    convolutions, activation buffers for the largest map and a patch walker for
    the largest side, channel count, kernel, stride and padding; activation buffers
    for ``layer_batches`` x B images (batches that run each layer together)."""
    N, P = eng.half, eng.pes
    stages = stages_of(layers)
    programs = [stage.step.program for stage in stages]
    sized = replace(
        eng,
        max_q=max(p.q for p in programs), max_p=max(p.p for p in programs),
        weight_depth=sum(-(-p.p // P) * p.q * N for p in programs),
        bias_depth=sum(p.p * N for p in programs),
    )
    maps, sides, channels, kernels, strides, paddings = [2], [1], [1], [1], [1], [0]
    for stage in stages:
        step = stage.step
        if step.kind != "conv2d":
            continue
        h, w, c = step.in_shape
        maps.append(h * w * c)
        sides += [h, w]
        channels.append(c)
        kernels += list(step.kernel)
        strides += list(step.stride)
        paddings += list(step.padding)
        if stage.pool is not None:
            kernels += list(stage.pool.kernel)
            strides += list(stage.pool.stride)
        # the map the convolution writes is the next layer's input
        h, w, c = written_map(stage)
        maps.append(h * w * c)
    patch = PatchConfig(max_side=max(sides), max_channels=max(channels),
                        max_kernel=max(kernels), max_stride=max(strides),
                        max_padding=max(paddings))
    convolution = any(stage.step.kind == "conv2d" for stage in stages)
    return NetworkConfig(sized, max_layers=len(stages), max_map=max(maps), patch=patch,
                         convolution=convolution, layer_batches=layer_batches)

