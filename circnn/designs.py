"""The design registry: what ``circnn generate`` and ``circnn synth`` can elaborate.

A design is a name, a configuration class from :mod:`circnn.config` (its
``--set`` parameters are that class's declared fields, with their ranges;
a design may change a default or leave a field out) and the
:mod:`circnn.rtl` component built from a configuration.  This module sits
on the command-line side: it imports the RTL, the RTL never imports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .config import (limits_of, BlockRAMConfig, DenseConfig, EngineConfig, FFTConfig, MultiplierConfig,
                     NetworkConfig, PatchConfig, RealFFTConfig, RealIFFTConfig,
                     RequantizerConfig, platform_for)
from .errors import CircnnError, ParameterError
from .params import Param, params_of, resolve_params
from .rtl.accelerator import Accelerator
from .rtl.block_ram import BlockRAM
from .rtl.dense import DenseLayer
from .rtl.fft import FFT
from .rtl.layer import CirculantLayer
from .rtl.layer_controller import LayerController
from .rtl.multiplier import Multiplier
from .rtl.patch_addresses import PatchAddresses
from .rtl.real_fft import RealFFT
from .rtl.real_ifft import RealIFFT
from .rtl.requantize import Requantizer

__all__ = ["Design", "get_design", "all_designs"]


@dataclass(frozen=True)
class Design:
    name: str
    description: str
    params: Sequence[Param]
    #: values -> the configuration object (validates what single ranges cannot)
    configure: Callable[[dict], Any]
    #: configuration -> the component
    build: Callable[[Any], Any]
    #: small parameters used by the lint gate and smoke tests
    lint_params: dict = field(default_factory=dict)

    def resolve(self, given: dict | None = None, *, from_text: bool = True) -> dict:
        given = given or {}
        values = resolve_params(self.params, given, design=self.name, from_text=from_text)
        try:
            self.configure(values)
        except ParameterError as e:
            raise ParameterError(str(e) + _defaults_at_fault(str(e), values, given)) from None
        return values

    def elaborate(self, values: dict):
        """The component for resolved parameter values."""
        return self.build(self.configure(values))

    @staticmethod
    def platform(target: str):
        """The Amaranth platform to convert with for ``target`` (refuses an unknown one)."""
        return platform_for(target)


def _defaults_at_fault(message: str, values: dict, given: dict) -> str:
    """A hint naming the parameters of a failed cross-check that were left at their
    default, so that a user does not search their own ``--set`` for the value."""
    named = [n for n in values if n not in given and re.search(rf"\b{n}\b", message)]
    if not named:
        return ""
    shown = ", ".join(f"{n}={values[n]}" for n in named)
    return f" ({shown}: the design's default; change it with --set)"


_NETWORK_KEYS = ("max_layers", "max_map", "layer_batches", "convolution")
_PATCH_KEYS = tuple(limits_of(PatchConfig))


def _engine(values: dict) -> EngineConfig:
    return EngineConfig(**{k: v for k, v in values.items()
                           if k not in _NETWORK_KEYS + _PATCH_KEYS})


def _network(values: dict) -> NetworkConfig:
    return NetworkConfig(_engine(values), **{k: values[k] for k in _NETWORK_KEYS},
                         patch=PatchConfig(**{k: values[k] for k in _PATCH_KEYS}))


_SMALL_ENGINE = {"k": 4, "act_width": 8, "weight_width": 8, "ifft_width": 8, "twiddle_width": 8,
                 "pes": 2, "batch": 2, "max_q": 3, "max_p": 3}

#: the parameters of a design built from a NetworkConfig, and small values for lint
_NETWORK_PARAMS = (params_of(EngineConfig, defaults={"max_q": 8, "max_p": 8, "weight_depth": 512,
                                                     "bias_depth": 256})
                   + params_of(NetworkConfig)
                   + params_of(PatchConfig, defaults={"max_side": 16, "max_channels": 32}))
_SMALL_NETWORK = {**_SMALL_ENGINE, "weight_depth": 32, "bias_depth": 16, "max_layers": 3,
                  "max_map": 64, "max_side": 6, "max_channels": 4, "max_kernel": 3,
                  "max_stride": 2, "max_padding": 1}

_DESIGNS = [
    Design("accelerator",
           "the whole engine: hierarchical controller, activation buffers, host port, layer core",
           _NETWORK_PARAMS, _network, Accelerator, _SMALL_NETWORK),
    Design("layer_controller",
           "the layer level alone: activation buffers, im2col reader, pair assembler, dense "
           "and feature-map (max-pooling) writers",
           _NETWORK_PARAMS, _network, LayerController, _SMALL_NETWORK),
    Design("layer",
           "one block-circulant FC layer: real FFT, P circulant PEs, IFFT, bias/ReLU/requantise",
           params_of(EngineConfig, exclude=("weight_depth", "bias_depth")),
           lambda v: EngineConfig(**v), CirculantLayer, dict(_SMALL_ENGINE)),
    Design("dense",
           "dense baseline FC layer: M multipliers with weight banks, batch, "
           "bias/ReLU/requantise (for comparison with `layer`)",
           params_of(DenseConfig), lambda v: DenseConfig(**v), DenseLayer,
           {"act_width": 8, "weight_width": 8, "mults": 3, "batch": 2, "max_in": 5,
            "max_out": 7, "k": 4}),
    Design("fft", "pipelined radix-2 FFT/IFFT, one complex sample per clock, bit-reversed output",
           params_of(FFTConfig, lo={"points": 4}), lambda v: FFTConfig(**v), FFT,
           {"points": 8, "width": 8, "twiddle_width": 8}),
    Design("real_fft", "real-input FFT: bins 0..k/2 (packed) of real blocks, two samples per clock",
           params_of(RealFFTConfig), lambda v: RealFFTConfig(**v), RealFFT,
           {"points": 16, "width": 8, "twiddle_width": 8}),
    Design("real_ifft",
           "inverse real FFT: real blocks (x/2) from packed spectra, two samples per clock",
           params_of(RealIFFTConfig), lambda v: RealIFFTConfig(**v), RealIFFT,
           {"points": 16, "width": 8, "twiddle_width": 8}),
    Design("multiplier",
           "signed multiplier with input, pipeline and output registers (MULT18X18D on ecp5)",
           params_of(MultiplierConfig), lambda v: MultiplierConfig(**v),
           lambda c: Multiplier(c.a_width, c.b_width), {"a_width": 8, "b_width": 6}),
    Design("block_ram",
           "deep memory in block-RAM sub-banks with registered read data (DP16KD OUTREG on ecp5)",
           params_of(BlockRAMConfig), lambda v: BlockRAMConfig(**v),
           lambda c: BlockRAM(c.width, c.depth), {"width": 20, "depth": 2500}),
    Design("requantize",
           "round-shift-and-saturate pipeline with a run-time shift (the engine's requantiser)",
           params_of(RequantizerConfig), lambda v: RequantizerConfig(**v), Requantizer,
           {"in_width": 12, "out_width": 6, "max_shift": 6, "max_left": 2}),
    Design("patch_addresses",
           "im2col address generator of a convolution: patch value indices of a channel-last "
           "map, zeros for padding, run-time geometry",
           params_of(PatchConfig), lambda v: PatchConfig(**v), PatchAddresses,
           {"max_side": 12, "max_channels": 16, "max_kernel": 5, "max_stride": 2,
            "max_padding": 2}),
]

_REGISTRY = {d.name: d for d in _DESIGNS}


def all_designs() -> dict[str, Design]:
    return dict(sorted(_REGISTRY.items()))


def get_design(name: str) -> Design:
    if name not in _REGISTRY:
        raise CircnnError(f"unknown design {name!r} (designs: {', '.join(sorted(_REGISTRY))})")
    return _REGISTRY[name]
