"""Sizing an accelerator for a compiled network."""

from __future__ import annotations

from dataclasses import replace

from circnn.config import EngineConfig, NetworkConfig
from circnn.sim.model.layer import LayerProgram

__all__ = ["network_config_for"]


def network_config_for(programs: list[LayerProgram], eng: EngineConfig) -> NetworkConfig:
    """The smallest accelerator of engine ``eng``'s kind that holds ``programs``:
    ``max_q``/``max_p`` of the largest layer, weight and bias memories for all
    layers, a descriptor table of exactly the network's depth."""
    N, P = eng.half, eng.pes
    sized = replace(
        eng,
        max_q=max(p.q for p in programs), max_p=max(p.p for p in programs),
        weight_depth=sum(-(-p.p // P) * p.q * N for p in programs),
        bias_depth=sum(p.p * N for p in programs),
    )
    return NetworkConfig(sized, max_layers=len(programs))
