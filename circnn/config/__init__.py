"""circnn's configuration: the bottom of the package graph.

Every configuration dataclass (FFT, real FFT, engine, network, dense,
primitives), the width plan, the register maps, descriptor fields, load
targets, buffers and error codes, and the shared limits, each defined once
with its validation.  Everything else imports from here; this package
imports nothing of circnn's but :mod:`circnn.errors`.
"""

from .checks import Limit, check_choice, check_int, check_power_of_two, limits_of, param
from .dense import MAX_FEATURES, DenseConfig, DenseField, DenseMemoryImage, DenseRegisters
from .engine import (MAX_LEFT_SHIFT, EngineConfig, LayerField, LayerRegisters, LoadTarget,
                     MemoryImage)
from .fft import (REORDER_ORDERS, SHIFT_ADD_MAX_MAGNITUDES, TWIDDLE_MULTIPLIERS, FFTConfig,
                  bit_reverse, nontrivial_magnitudes, stage_twiddles, twiddle_table)
from .host_link import (CRC_BYTES, CRC_INIT, CRC_POLY, IDENTITY_FIELDS, LINK_STATUS_FIELDS,
                        MAX_BAUD_ERROR, MAX_PAYLOAD, MIN_DIVISOR, PROTOCOL_VERSION, REPLY_HEADER,
                        REQUEST_HEADER, SYNC, Command, LinkConfig, LinkStatus, record_bytes,
                        uart_divisor)
from .fixedpoint import MAX_FRAC, MAX_MODEL_BITS, MAX_OPERAND_BITS, ROUNDINGS, Rounding, int_range
from .network import (DESCRIPTOR_FIELDS, DESCRIPTOR_SLOT, GEOMETRY_FIELDS, REGION_SHIFT,
                      STATUS_LAYOUT, Buffer, ErrorCode, HostRegister, LayerKind, NetworkConfig, Region, decode_status,
                      descriptor_address, region_address)
from .patch import PatchConfig
from .primitives import BlockRAMConfig, MultiplierConfig, RequantizerConfig
from .real_fft import RealFFTConfig, RealIFFTConfig, post_twiddles
from .target import TARGETS, ECP5Target, platform_for, target_of, uses_ecp5_primitives
from circnn.errors import CircnnError, ParameterError

__all__ = [
    "Limit", "check_choice", "check_int", "check_power_of_two", "limits_of", "param",
    "MAX_FEATURES", "DenseConfig", "DenseField", "DenseMemoryImage", "DenseRegisters",
    "MAX_LEFT_SHIFT", "EngineConfig", "LayerField", "LayerRegisters", "LoadTarget", "MemoryImage",
    "REORDER_ORDERS", "SHIFT_ADD_MAX_MAGNITUDES", "TWIDDLE_MULTIPLIERS", "FFTConfig",
    "bit_reverse", "nontrivial_magnitudes", "stage_twiddles", "twiddle_table",
    "CRC_BYTES", "CRC_INIT", "CRC_POLY", "IDENTITY_FIELDS", "LINK_STATUS_FIELDS",
    "MAX_BAUD_ERROR", "MAX_PAYLOAD", "MIN_DIVISOR", "PROTOCOL_VERSION", "REPLY_HEADER",
    "REQUEST_HEADER", "SYNC", "Command", "LinkConfig", "LinkStatus", "record_bytes", "uart_divisor",
    "MAX_FRAC", "MAX_MODEL_BITS", "MAX_OPERAND_BITS", "ROUNDINGS", "Rounding", "int_range",
    "DESCRIPTOR_FIELDS", "DESCRIPTOR_SLOT", "REGION_SHIFT", "STATUS_LAYOUT", "Buffer", "ErrorCode",
    "GEOMETRY_FIELDS", "LayerKind",
    "HostRegister", "NetworkConfig", "Region", "decode_status", "descriptor_address",
    "region_address",
    "BlockRAMConfig", "MultiplierConfig", "RequantizerConfig", "PatchConfig",
    "RealFFTConfig", "RealIFFTConfig", "post_twiddles",
    "TARGETS", "ECP5Target", "platform_for", "target_of", "uses_ecp5_primitives",
    "CircnnError", "ParameterError",
]
