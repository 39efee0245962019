"""The ``load`` port: run-time writes into an engine's memories and registers.

One write per clock, ``en`` high: ``target`` says where
(:class:`circnn.config.LoadTarget`): a PE's weight bank (``pe``, ``addr`` =
word, ``data`` = ``{re, im}``, ``weight_width`` bits each), the bias memory
(``addr`` = pair index ``i*k/2 + n``, ``data`` = ``{b0, b1}``,
``bias_width`` bits each) or a layer register (``addr`` a
:class:`circnn.config.LayerField`).  Fields are packed LSB first.  The
dense engine's port has the same fields (:func:`dense_load_layout`).
"""

from amaranth.lib import data

from circnn.config import DenseConfig, EngineConfig, LoadTarget

__all__ = ["load_layout", "dense_load_layout"]


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


def _layout(units: int, addr_bits: int, data_bits: int) -> data.StructLayout:
    return data.StructLayout({"en": 1, "target": LoadTarget, "pe": range(max(2, units)),
                              "addr": max(addr_bits, 3), "data": max(data_bits, 32)})


def load_layout(eng: EngineConfig) -> data.StructLayout:
    return _layout(eng.pes, max(_bits(eng.weight_words), _bits(eng.bias_words)),
                   max(2 * eng.weight_width, 2 * eng.bias_width))


def dense_load_layout(cfg: DenseConfig) -> data.StructLayout:
    """Weight bank ``pe`` word ``g*n + j``; bias ``addr`` = row; registers
    :class:`circnn.config.DenseField`."""
    return _layout(cfg.mults, max(_bits(cfg.groups * cfg.max_in), _bits(cfg.max_out)),
                   max(cfg.weight_width, cfg.bias_width))
