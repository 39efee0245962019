"""The demo's pictures: accuracy against block size, the RTL confusion matrix, and each
layer's cycles against its MAC bound."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .config import N_CLASSES

__all__ = ["plot_sweep", "plot_confusion", "plot_layer_cycles"]


def plot_sweep(path: Path, sweep: list[dict], dense_acc: float, k_main: int, dataset: str):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ks = [s["k"] for s in sweep]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    ax.axhline(100 * dense_acc, color="0.3", ls="--", label="dense baseline (float)")
    ax.plot(ks, [100 * s["accuracy_float"] for s in sweep], "o-", ms=10, mfc="none", mew=1.5,
            label="block-circulant, float")
    ax.plot(ks, [100 * s["accuracy_golden"] for s in sweep], "s--",
            label="block-circulant, 16-bit fixed point (golden = RTL)")
    for s in sweep:
        ax.annotate(f"{s['compression_ratio']:.1f}x", (s["k"], 100 * s["accuracy_float"]),
                    textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks)
    ax.set_xticklabels([f"{k}{' (demo)' if k == k_main else ''}" for k in ks])
    ax.set_xlabel("block size k (labels: weight compression vs dense)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"Accuracy against block size ({dataset})")
    lowest = min([100 * dense_acc] + [100 * s[key] for s in sweep
                                      for key in ("accuracy_float", "accuracy_golden")])
    ax.set_ylim(max(0.0, math.floor(lowest / 5) * 5 - 10), 100.5)
    ax.set_xlim(ks[0] / 1.5, ks[-1] * 1.5)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_confusion(path: Path, confusion: np.ndarray, acc: float, rows: int):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.6, 5.0), dpi=120)
    im = ax.imshow(confusion, cmap="Blues")
    hi = confusion.max() if confusion.size else 0
    for (r, c), v in np.ndenumerate(confusion):
        if v:
            ax.text(c, r, str(v), ha="center", va="center", fontsize=7,
                    color="white" if v > hi / 2 else "black")
    totals = confusion.sum(axis=1)
    ax.set_xticks(range(N_CLASSES))
    ax.set_yticks(range(N_CLASSES))
    ax.set_yticklabels([f"{c}: {100 * confusion[c, c] / totals[c]:.0f}%" if totals[c] else f"{c}: -"
                        for c in range(N_CLASSES)], fontsize=8)
    ax.set_xlabel("predicted by the RTL")
    ax.set_ylabel("true label: per-class accuracy")
    ax.set_title(f"RTL confusion matrix: {100 * acc:.2f}% of {rows}")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_layer_cycles(path: Path, names: list[str], cycles: list[float], bounds: list[int],
                      network: str):
    """Bars: each descriptor's measured cycles per inference beside its MAC bound."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.0, 4.2), dpi=120)
    at = np.arange(len(names))
    ax.bar(at - 0.2, cycles, 0.4, label="measured (RTL, steady state)")
    ax.bar(at + 0.2, bounds, 0.4, label="MAC bound: pixels x ceil(p/P) x q x k/2")
    for x, c, b in zip(at, cycles, bounds):
        ax.annotate(f"{100 * b / c:.0f}%" if c else "", (x - 0.2, c), textcoords="offset points",
                    xytext=(0, 3), ha="center", fontsize=8)
    ax.set_xticks(at)
    ax.set_xticklabels([n.replace(" (", "\n(") for n in names], fontsize=7)
    ax.set_ylabel("cycles per inference")
    ax.set_title(f"Cycles per layer against the MAC bound\n{network}", fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
