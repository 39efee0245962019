"""Bit-true model of the dense baseline engine (``circnn.rtl.dense.DenseLayer``).

The engine a user would build without the circulant structure: M
multipliers, each owning a bank of weight rows, compute ``y = act(W x + b)``
for a dense (m, n) matrix, M rows at a time, one input element per clock.
It exists to be compared with the circulant engine on the same function
(``docs/architecture.md``, "The dense baseline").  The width plan is
:class:`circnn.config.DenseConfig`'s.  There is a single rounding step (the
output), so the engine's only error sources are the quantisation of
inputs, weights, bias and output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from circnn.config import DenseConfig, DenseMemoryImage, DenseRegisters
from circnn.errors import ParameterError

from .fixedpoint import int_range, requantize, round_shift

__all__ = ["DenseProgram", "dense_forward", "dense_float_forward", "ideal_dense_cycles_per_row",
           "dense_weight_images"]


@dataclass
class DenseProgram:
    """What the dense engine stores and is told for one layer.

    ``weight``: (m, n) int codes; ``bias``: (m,) int codes in the
    accumulator's scale (fraction ``in_frac + weight_frac``); ``out_shift``
    and ``relu``.  Formats are bookkeeping for the compiler.
    """

    weight: np.ndarray
    bias: np.ndarray
    out_shift: int
    relu: bool
    in_frac: int = 0
    out_frac: int = 0
    weight_frac: int = 0
    report: dict = field(default_factory=dict)

    @property
    def m(self) -> int:
        return int(self.weight.shape[0])

    @property
    def n(self) -> int:
        return int(self.weight.shape[1])

    def check(self, cfg: DenseConfig, name: str = "dense layer") -> None:
        """Refuse a program the engine cannot run, naming the offending value."""
        w = np.asarray(self.weight)
        if w.ndim != 2 or w.dtype.kind not in "iu":
            raise ParameterError(f"{name}: weight must be a 2-D integer array (m, n), "
                                 f"got shape {w.shape} dtype {w.dtype}")
        m, n = w.shape
        self.registers().check(cfg, name)
        lo, hi = int_range(cfg.weight_width)
        if w.min() < lo or w.max() > hi:
            raise ParameterError(f"{name}: weight codes outside {cfg.weight_width} bits")
        b = np.asarray(self.bias)
        if b.shape != (m,) or b.dtype.kind not in "iu":
            raise ParameterError(f"{name}: bias must be m={m} integer codes, has shape {b.shape}")
        blo, bhi = int_range(cfg.bias_width)
        if b.min() < blo or b.max() > bhi:
            raise ParameterError(f"{name}: bias codes outside {cfg.bias_width} bits")

    def registers(self) -> DenseRegisters:
        """What the dense engine's registers hold for this layer."""
        return DenseRegisters(n=self.n, m=self.m, out_shift=int(self.out_shift),
                              relu=bool(self.relu))

    def memory_image(self, cfg: DenseConfig) -> DenseMemoryImage:
        """The weight banks and the bias memory holding this layer."""
        return DenseMemoryImage(tuple(dense_weight_images(self, cfg)),
                                np.asarray(self.bias, dtype=np.int64))


def ideal_dense_cycles_per_row(cfg: DenseConfig, prog: DenseProgram) -> int:
    """MAC-bound clocks per input vector: ``ceil(m/M) * n``."""
    return -(-prog.m // cfg.mults) * prog.n


def dense_forward(x_codes, prog: DenseProgram, cfg: DenseConfig, trace: bool = False):
    """The engine's integer outputs (N, m) for integer inputs (N, n).

    ``acc = W x`` exactly; ``y = sat(round((acc + bias) [ReLU] / 2**out_shift))``
    to ``act_width`` bits.  With ``trace``, returns ``(y, info)`` where
    ``info`` holds the accumulators and the count of saturated outputs.
    """
    x = np.asarray(x_codes)
    if x.dtype.kind not in "iu":
        raise ValueError(f"expected integer input codes, got dtype {x.dtype}")
    x = x.astype(np.int64)
    if x.ndim != 2 or x.shape[1] != prog.n:
        raise ValueError(f"expected inputs of shape (N, {prog.n}), got {x.shape}")
    lo, hi = int_range(cfg.act_width)
    if x.size and (x.min() < lo or x.max() > hi):
        raise ValueError(f"input codes outside the {cfg.act_width}-bit range")
    w = np.asarray(prog.weight, dtype=np.int64)
    acc = x @ w.T                              # exact: int64 matmul, |acc| < 2**acc_width
    s = acc + np.asarray(prog.bias, dtype=np.int64)
    if prog.relu:
        s = np.maximum(s, 0)
    r = round_shift(s, prog.out_shift, cfg.rounding)
    y = requantize(s, prog.out_shift, cfg.act_width, cfg.rounding)
    if trace:
        return y, {"acc": acc, "sum": s, "out_saturations": int(np.count_nonzero(y != r))}
    return y


def dense_float_forward(weight, bias, activation: str, x) -> np.ndarray:
    """The float layer ``act(W x + b)`` for rows ``x`` (N, n)."""
    y = np.atleast_2d(np.asarray(x, dtype=np.float64)) @ np.asarray(weight, dtype=np.float64).T
    y = y + np.asarray(bias, dtype=np.float64)
    return np.maximum(y, 0.0) if activation == "relu" else y


def dense_weight_images(prog: DenseProgram, cfg: DenseConfig) -> list[np.ndarray]:
    """Per-multiplier word lists as the banks store them: word ``g*n + j`` = ``W[g*M + mult, j]``."""
    M, n = cfg.mults, prog.n
    groups = -(-prog.m // M)
    w = np.asarray(prog.weight, dtype=np.int64)
    images = []
    for mult in range(M):
        img = np.zeros(groups * n, dtype=np.int64)
        for g in range(groups):
            row = g * M + mult
            if row < prog.m:
                img[g * n:(g + 1) * n] = w[row]
        images.append(img)
    return images
