"""The comparisons of ``circnn bench``: each circulant point against its dense partner.

:func:`compare` sets every circulant point against the dense engine with
the same MULT18 budget on the same layer (or, when that one does not fit
the device, the same-M dense engine at the largest layer that does, with
formula cycles for the bigger layer); :func:`targets` checks the issue's
targets on those rows; :func:`scaling_series` gathers the square layers
for the scaling plot.
"""

from __future__ import annotations

from .sweep_points import (DEFAULT_PES, MAX_DENSE_MULTS, SQUARE_SIZES, TARGET_K, TARGET_SIZE, WIDTH,
                           BenchPoint, formula_cycles, gops, weight_bits)

__all__ = ["compare", "targets", "scaling_series", "TARGET_GOPS_RATIO", "TARGET_STORAGE_RATIO"]

TARGET_GOPS_RATIO = 6.0
TARGET_STORAGE_RATIO = 14.0


def compare(points: list[dict]) -> list[dict]:
    """Each circulant point against its same-MULT18 dense engine (module docstring)."""
    dense = [p for p in points if p["engine"] == "dense"]
    out = []
    for c in points:
        if c["engine"] != "circulant" or not c.get("mult18"):
            continue
        M = min(c["mult18"], MAX_DENSE_MULTS)
        same = [d for d in dense if d["pes"] == M and d["m"] == c["m"] and d["n"] == c["n"]]
        row = {"circulant": c["name"], "m": c["m"], "n": c["n"], "k": c["k"], "pes": c["pes"],
               "mult18": c["mult18"]}
        d = same[0] if same else None
        basis = None
        gpm_dense = gpk_dense = None
        if d and d["gops"]:
            basis = f"{d['name']} ({d['cycles_source']} cycles)"
            gpm_dense, gpk_dense = d["gops_per_mult18"], d["gops_per_klut4"]
            row["dense_fits"] = True
        else:
            fitting = sorted((x for x in dense if x["pes"] == M and x["gops"]),
                             key=lambda x: -x["m"] * x["n"])
            row["dense_fits"] = False if d is not None else None
            if fitting:
                f = fitting[0]
                cyc = -(-c["m"] // M) * c["n"]
                g = gops(c["m"], c["n"], cyc, f["fmax_mhz"])
                gpm_dense = g / f["mult18"]
                gpk_dense = g / (f["lut4"] / 1000)
                basis = (f"{f['name']}'s Fmax/MULT18/LUT4 with formula cycles {cyc} for "
                         f"{c['m']}x{c['n']}" + (f" ({d['name']} does not fit: "
                                                  f"{d.get('does_not_fit', '?')})" if d else ""))
        row["dense_basis"] = basis
        row["weight_bits_ratio"] = (c["m"] * c["n"] * WIDTH) / c["weight_bits"]
        row["cycles_ratio"] = (-(-c["m"] // M) * c["n"]) / c["cycles"]
        row["gops_per_mult18_ratio"] = (c["gops_per_mult18"] / gpm_dense
                                        if c["gops_per_mult18"] and gpm_dense else None)
        row["gops_per_klut4_ratio"] = (c["gops_per_klut4"] / gpk_dense
                                       if c["gops_per_klut4"] and gpk_dense else None)
        out.append(row)
    return out


def targets(comparisons: list[dict]) -> list[dict]:
    """The issue's targets at k=16, 1024x1024, same MULT18 budget."""
    rows = [c for c in comparisons
            if c["k"] == TARGET_K and c["m"] == TARGET_SIZE and c["n"] == TARGET_SIZE]
    out = []
    for c in rows:
        g = c["gops_per_mult18_ratio"]
        out.append({"circulant": c["circulant"], "pes": c["pes"], "mult18": c["mult18"],
                    "gops_per_mult18_ratio": g, "gops_target": TARGET_GOPS_RATIO,
                    "gops_met": None if g is None else g >= TARGET_GOPS_RATIO,
                    "weight_bits_ratio": c["weight_bits_ratio"], "storage_target": TARGET_STORAGE_RATIO,
                    "storage_met": c["weight_bits_ratio"] >= TARGET_STORAGE_RATIO,
                    "dense_basis": c["dense_basis"]})
    return out


def scaling_series(points: list[dict]) -> dict:
    """Cycles and weight bits against n for square layers: the measured/formula points of
    both engines, and the circulant engine with k growing with n (k = n/16, formula)."""
    def square(engine, pred):
        return sorted(([p["n"], p["cycles"], p["weight_bits"], p["cycles_source"], bool(p["fits"])]
                       for p in points if p["engine"] == engine and p["m"] == p["n"] and pred(p)),
                      key=lambda r: r[0])
    circ = square("circulant", lambda p: p["k"] == TARGET_K and p["pes"] == DEFAULT_PES)
    dense_M = sorted({p["pes"] for p in points if p["engine"] == "dense"})
    M = next((c for c in dense_M if c == 32), dense_M[0] if dense_M else 32)
    ns = sorted({r[0] for r in circ}) or list(SQUARE_SIZES)
    dense = [[n, float(formula_cycles(BenchPoint("dense", n, n, TARGET_K, M))),
              weight_bits(BenchPoint("dense", n, n, TARGET_K, M))] for n in ns]
    grow = []
    for n in ns:
        k = min(256, max(4, n // 16))
        pt = BenchPoint("circulant", n, n, k, DEFAULT_PES)
        grow.append([n, k, float(formula_cycles(pt)), weight_bits(pt)])
    return {"circulant_k16": {"columns": ["n", "cycles", "weight_bits", "cycles_source", "fits"],
                              "rows": circ},
            "dense_formula": {"M": M, "columns": ["n", "cycles", "weight_bits"], "rows": dense},
            "circulant_k_n_over_16": {"pes": DEFAULT_PES,
                                      "columns": ["n", "k", "cycles", "weight_bits"], "rows": grow}}
