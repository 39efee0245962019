"""Test frames for FFT benches: structured corner cases plus random frames."""

from __future__ import annotations

import numpy as np

from circnn.config import int_range

__all__ = ["structured_frames", "random_frames"]


def structured_frames(points: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Impulses, constants, full-scale positive/negative, alternating signs.

    Returns ``(re, im)`` int arrays of shape (F, points).
    """
    lo, hi = int_range(width)
    frames = []
    for amp in (hi, lo):
        for m in sorted({0, 1, points // 2, points - 1}):
            f = np.zeros(points, dtype=complex)
            f[m] = amp + 1j * amp
            frames.append(f)
            f = np.zeros(points, dtype=complex)
            f[m] = amp
            frames.append(f)
    for c in (hi, lo, 0, 1, -1):
        frames.append(np.full(points, c + 1j * c))
        frames.append(np.full(points, c + 1j * (lo if c == hi else hi)))
    alt = np.where(np.arange(points) % 2 == 0, hi, lo)
    frames.append(alt + 1j * alt)
    frames.append(alt - 1j * 0 + 1j * alt[::-1])
    frames.append(alt + 0j)
    pair = np.where((np.arange(points) // 2) % 2 == 0, hi, lo)
    frames.append(pair + 1j * alt)
    arr = np.array(frames)
    return arr.real.astype(np.int64), arr.imag.astype(np.int64)


def random_frames(rng: np.random.Generator, count: int, points: int, width: int):
    lo, hi = int_range(width)
    return (rng.integers(lo, hi + 1, (count, points)), rng.integers(lo, hi + 1, (count, points)))
