"""Idle and back-pressure patterns for stream benches: per-clock draws and bursts.

A :class:`StallPattern` says, clock by clock, whether a source is idle (or
a sink stalls).  With ``burst == 1`` every clock is an independent draw
with probability ``rate``; with ``burst > 1`` stalls come in runs whose
mean length is ``burst`` clocks (a two-state Markov chain with the same
long-run stall fraction ``rate``), which is what exposes a missing credit
or an off-by-one in a FIFO bound: a long run of stalls fills every queue
on the way.  The cocotb benches (:mod:`circnn.sim.benches.streams`) and
the Amaranth-simulator tests use the same patterns.
"""

from __future__ import annotations

import random

__all__ = ["StallPattern"]


class StallPattern:
    """``next()`` -> True when this clock stalls (an idle source or a stalled sink)."""

    def __init__(self, rate: float = 0.0, burst: float = 1.0, rng: random.Random | None = None):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"rate must be in [0, 1), not {rate}")
        if burst < 1.0:
            raise ValueError(f"burst must be at least 1, not {burst}")
        self.rate = rate
        self.burst = burst
        self.rng = rng or random.Random(0)
        self._stalling = False

    @property
    def probabilities(self) -> tuple[float, float]:
        """(enter, stay): the chance that a clock stalls after one that did not, and
        after one that did.  ``burst == 1``: both ``rate`` (independent draws);
        else runs last ``burst`` clocks on average (stay ``1 - 1/burst``) and are
        entered so that the long-run fraction of stalled clocks is ``rate``."""
        if not self.rate:
            return 0.0, 0.0
        if self.burst == 1.0:
            return self.rate, self.rate
        return self.rate / (self.burst * (1.0 - self.rate)), 1.0 - 1.0 / self.burst

    def thresholds(self, bits: int = 16) -> tuple[int, int]:
        """:attr:`probabilities` as ``bits``-bit thresholds for a hardware pattern
        (a clock stalls when a uniform ``bits``-bit draw is below the threshold),
        as :class:`circnn.sim.harness.stream_shell.StreamShell` draws them."""
        full = 1 << bits
        return tuple(min(full - 1, round(p * full)) for p in self.probabilities)

    def next(self) -> bool:
        if not self.rate:
            return False
        enter, stay = self.probabilities
        self._stalling = self.rng.random() < (stay if self._stalling else enter)
        return self._stalling

    def __repr__(self) -> str:
        return f"StallPattern(rate={self.rate}, burst={self.burst})"
