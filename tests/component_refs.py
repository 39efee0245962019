"""Shared pieces of the layer-component tests (scheduler, PE, PE array, spectrum
buffer, drain, output stage): the MAC loop nest written out as plain Python (the
reference the scheduler is checked against and the stimulus of the PE tests),
payload packing, random integer codes, and a bounded simulator run.

Nothing here imports the components under test: expected values come from the
loop nest below or from the NumPy model (``circnn.sim.model.layer``).
"""

import numpy as np
from amaranth.hdl import Const

from circnn.sim.model.fixedpoint import int_range

__all__ = ["mac_passes", "pack", "random_codes", "run_sim", "STEP_FIELDS"]

STEP_FIELDS = ("x_addr", "w_addr", "acc_addr", "first", "real_pair", "bank",
               "end_of_pass", "active_pes")


def mac_passes(p: int, q: int, half: int, batch: int, pes: int, first_bank: int = 0):
    """The documented loop nest of one batch: a list of passes, each a list of step dicts.

    for g in passes, j in input blocks, f in words, b in batch: x_addr = (b*q + j)*k/2 + f,
    w_addr = (g*q + j)*k/2 + f, acc_addr = b*k/2 + f, first = j == 0,
    real_pair = f == 0, end_of_pass on the pass's last step, passes alternating
    accumulator banks from ``first_bank``, active_pes = min(P, p - g*P).
    """
    groups = -(-p // pes)
    passes = []
    for g in range(groups):
        steps = []
        for j in range(q):
            for f in range(half):
                for b in range(batch):
                    steps.append({
                        "x_addr": (b * q + j) * half + f,
                        "w_addr": (g * q + j) * half + f,
                        "acc_addr": b * half + f,
                        "first": int(j == 0),
                        "real_pair": int(f == 0),
                        "bank": (first_bank + g) % 2,
                        "end_of_pass": int(j == q - 1 and f == half - 1 and b == batch - 1),
                        "active_pes": min(pes, p - g * pes),
                    })
        passes.append(steps)
    return passes


def pack(layout, **fields) -> int:
    """The raw bits (LSB first) of a struct layout's value."""
    return Const.cast(layout.const(fields)).value


def random_codes(rng, bits: int, shape, corners: float = 0.15) -> np.ndarray:
    """Random signed ``bits``-bit codes, a fraction of them the extremes (lo, hi, 0, -1)."""
    lo, hi = int_range(bits)
    x = rng.integers(lo, hi + 1, size=shape)
    pick = rng.random(size=shape) < corners
    x[pick] = rng.choice(np.array([lo, hi, 0, -1]), size=int(pick.sum()))
    return x.astype(np.int64)


def run_sim(sim, clocks: int) -> None:
    """Run until every (non-background) testbench is done; fail after about ``clocks``
    clocks (a testbench waiting for something that never comes)."""
    for _ in range(4 * clocks):         # a clock is two time steps (its two edges)
        if not sim.advance():
            return
    raise AssertionError(f"simulation still running after about {clocks} clocks")
