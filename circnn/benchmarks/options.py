"""Checks of the options ``circnn bench`` and ``circnn perf-layer`` share.

Made before any work: a bad value is one line naming the option and what is
allowed (:class:`~circnn.errors.CircnnError`, exit status 2).
"""

from __future__ import annotations

import math

from circnn.errors import CircnnError

__all__ = ["check_benchmark_options"]


def check_benchmark_options(*, freq: float, synth_timeout: float, max_sim_clocks: int) -> None:
    """``--freq`` in 1..1000 MHz, ``--synth-timeout`` > 0 s (finite), ``--max-sim-clocks`` >= 1."""
    if not 1 <= freq <= 1000:
        raise CircnnError(f"--freq must be in 1..1000 MHz, not {freq:g}")
    if not (math.isfinite(synth_timeout) and synth_timeout > 0):
        raise CircnnError(f"--synth-timeout must be a number of seconds > 0, not {synth_timeout:g}")
    if max_sim_clocks < 1:
        raise CircnnError(f"--max-sim-clocks must be >= 1, not {max_sim_clocks}")
