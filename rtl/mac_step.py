"""The MAC step: what the scheduler issues to the PE array each clock.

One step is one multiply-accumulate on every active PE: input spectrum
word ``x_addr`` (the spectrum buffer), weight word ``w_addr`` (relative to
the layer's base, the same address in every PE's bank), into accumulator
word ``acc_addr`` of accumulator bank ``bank``.  ``first`` starts a new sum
(j = 0), ``real_pair`` marks packed word 0 (two real products),
``end_of_pass`` the pass's last step; ``active_pes`` counts the PEs doing
useful work (activity counters).  Steps travel as an always-ready stream:
the scheduler issues, nothing can refuse.
"""

from amaranth.lib import data, stream

from circnn.config import EngineConfig

__all__ = ["mac_step_layout", "mac_step_signature", "spectrum_words", "weight_words_per_bank"]


def spectrum_words(eng: EngineConfig) -> int:
    """Words of one spectrum buffer bank: B vectors x max_q blocks x k/2."""
    return eng.batch * eng.max_q * eng.half


def weight_words_per_bank(eng: EngineConfig) -> int:
    """Addresses a layer's weights span in a PE bank: ceil(max_p/P) x max_q x k/2."""
    return eng.groups * eng.max_q * eng.half


def mac_step_layout(eng: EngineConfig) -> data.StructLayout:
    return data.StructLayout({
        "x_addr": range(max(2, spectrum_words(eng))),
        "w_addr": range(max(2, weight_words_per_bank(eng))),
        "acc_addr": range(max(2, eng.batch * eng.half)),
        "first": 1,
        "real_pair": 1,
        "bank": 1,
        "end_of_pass": 1,
        "active_pes": range(eng.pes + 1),
    })


def mac_step_signature(eng: EngineConfig) -> stream.Signature:
    return stream.Signature(mac_step_layout(eng), always_ready=True)
