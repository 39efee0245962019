"""The pictures of ``circnn bench``: ``scaling.png`` and ``efficiency.png``.

``scaling.png``: clocks per vector and weight storage against the layer
size for both engines, with n^2 and n log n guides.  ``efficiency.png``:
the circulant / dense GOPS-per-MULT18 ratio against k and against P at the
target size, with the target.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .sweep_comparison import TARGET_GOPS_RATIO
from .sweep_points import DEFAULT_PES, TARGET_K, TARGET_SIZE

__all__ = ["plot"]


def plot(out: Path, result: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sc = result["scaling"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    dense, circ, grow = sc["dense_formula"]["rows"], sc["circulant_k16"]["rows"], \
        sc["circulant_k_n_over_16"]["rows"]
    ns = np.array([r[0] for r in dense] or [256, 4096], dtype=float)
    for ax, col_d, col_c, col_g, title in ((ax1, 1, 1, 2, "clocks per vector"),
                                           (ax2, 2, 2, 3, "weight storage (bits)")):
        if dense:
            ax.plot([r[0] for r in dense], [r[col_d] for r in dense], "s-", color="tab:red",
                    label=f"dense, M={sc['dense_formula']['M']} (formula)")
        if circ:
            ax.plot([r[0] for r in circ], [r[col_c] for r in circ], "o-", color="tab:blue",
                    label=f"circulant k=16, P={DEFAULT_PES}")
            nf = [r for r in circ if not r[4]]
            if nf:
                ax.plot([r[0] for r in nf], [r[col_c] for r in nf], "o", mfc="white",
                        color="tab:blue", label="(does not fit the device)")
        if grow:
            ax.plot([r[0] for r in grow], [r[col_g] for r in grow], "^--", color="tab:green",
                    label=f"circulant k=n/16, P={DEFAULT_PES} (formula)")
        ref = 0.5 * (dense[0][col_d] if dense else 1.0)   # (below the dense line, to be seen)
        ax.plot(ns, ref * (ns / ns[0]) ** 2, ":", color="grey", label="~ n^2")
        y0 = grow[0][col_g] if grow else ref
        ax.plot(ns, y0 * (ns * np.log2(ns)) / (ns[0] * np.log2(ns[0])), "-.", color="grey",
                label="~ n log n")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("layer size n (n x n)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=7)
    fig.suptitle(f"circnn bench: scaling on {result['device']}")
    fig.tight_layout()
    fig.savefig(out / "scaling.png", dpi=120)
    plt.close(fig)

    comps = result["comparisons"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, sel, xlab in (
            (ax1, "k", lambda c: c["m"] == c["n"] == TARGET_SIZE and c["pes"] == DEFAULT_PES,
             "block size k"),
            (ax2, "pes", lambda c: c["m"] == c["n"] == TARGET_SIZE and c["k"] == TARGET_K,
             "processing elements P")):
        rows = sorted((c for c in comps if sel(c) and c["gops_per_mult18_ratio"]), key=lambda c: c[key])
        if rows:
            ax.bar([str(c[key]) for c in rows], [c["gops_per_mult18_ratio"] for c in rows],
                   color="tab:blue", label="GOPS/MULT18, circulant / dense")
        ax.axhline(TARGET_GOPS_RATIO, color="tab:red", ls="--", label=f"target {TARGET_GOPS_RATIO:.0f}x")
        ax.set_xlabel(xlab)
        ax.set_ylabel("ratio")
        ax.legend(fontsize=7)
        ax.grid(True, axis="y", alpha=0.3)
    ax1.set_title(f"{TARGET_SIZE}x{TARGET_SIZE}, P={DEFAULT_PES}")
    ax2.set_title(f"{TARGET_SIZE}x{TARGET_SIZE}, k={TARGET_K}")
    fig.tight_layout()
    fig.savefig(out / "efficiency.png", dpi=120)
    plt.close(fig)
