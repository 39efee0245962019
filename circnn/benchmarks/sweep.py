"""``circnn bench``: the circulant engine against the dense baseline, on one device.

Every point is one fully-connected layer ``m x n`` (m outputs, n inputs) on
one engine, 16-bit activations and weights, batch B = 1:

- ``circulant``: the ``layer`` design (:class:`circnn.rtl.layer.CirculantLayer`)
  with block size ``k`` and ``pes`` = P processing elements, its memories
  sized for exactly this layer (max_q = n/k, max_p = m/k);
- ``dense``: the ``dense`` design (:class:`circnn.rtl.dense.DenseLayer`) with
  ``pes`` = M multipliers, max_in = n, max_out = m.  Its ``k`` is the block
  size of the comparison it belongs to; the dense engine only uses it to
  group outputs on its stream.

For every point: ``mult18``, ``lut4``, ``ff``, ``dp16kd`` and ``fmax_mhz``
come from ``circnn synth`` (yosys + nextpnr-ecp5, LFE5U-85F-6 CABGA381);
``cycles`` is the steady-state clock count per input vector,

    circulant: ceil(p/P) * q * k/2      (p = m/k, q = n/k; k/2 packed words per block)
    dense:     ceil(m/M) * n

measured in RTL simulation (``cycles_source`` "rtl": (C_N - C_1)/(N - 1)
over N vectors, outputs checked word for word against the bit-true model),
or taken from the formula (``cycles_source`` "formula") once the formula has
been checked within 2 % against simulation of the same engine (same engine,
k and P/M) at the sizes that were simulated; ``weight_bits`` is the weight
storage: ``m*n*16`` for dense, ``(m/k)*(n/k) * k * 16`` for circulant (a
block's spectrum is k real numbers: bins 1..k/2-1 as complex pairs plus the
real bins 0 and k/2, which share one packed word); ``gops`` is
dense-equivalent: ``2*m*n`` operations per vector at ``fmax_mhz``.

Each circulant point is compared with the dense engine **of the same MULT18
budget** (M = the circulant point's MULT18 count) on the same layer; the
dense engine of a layer too big for the device is replaced by the same-M
dense engine at the largest size that fits, with formula cycles for the
bigger layer (the ``dense_basis`` of the ratio says which).

A point that does not fit the device is reported as "does not fit" with the
resources that overflowed: from an estimate of the weight banks' block RAMs
before any synthesis (a layer whose weights alone need more DP16KD than the
device has is not synthesised), or from nextpnr's utilisation table.

Output (``--out``, default ``build/bench``): ``bench.json``, ``bench.md``,
``scaling.png``, ``efficiency.png``; synthesis and simulation files under it.
Synthesis reports are reused when the design parameters and the RTL sources
are unchanged (``--fresh`` rebuilds).

This module runs the sweep (:func:`run_bench`) and makes each point's
record; the points and their formulas are in :mod:`.sweep_points`, a
point's synthesis in :mod:`.sweep_synthesis`, its simulation in
:mod:`.sweep_simulation`, the comparisons in :mod:`.sweep_comparison` and
the outputs in :mod:`.sweep_report` and :mod:`.sweep_plots`.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from circnn.synth.synth_job import DEVICE_CAPACITY, overflow_text

from .sweep_comparison import compare, scaling_series, targets
from .sweep_points import (DEVICE, DEVICE_LABEL, FORMULA_TOLERANCE, MAX_DENSE_MULTS, SQUARE_SIZES,
                           TARGET_K, TARGET_SIZE, WIDTH, BenchPoint, estimate_weight_dp16kd,
                           formula_cycles, gops, plan, weight_bits)
from .sweep_report import write_outputs
from .sweep_simulation import SIM_VECTORS, sim_clocks, simulate_point
from .sweep_synthesis import sources_digest, synth_point

__all__ = ["run_bench", "dense_partners"]


def run_bench(*, out: Path, quick: bool = False, freq: float = 125.0, jobs: int = 2,
              synth_timeout: float = 3600.0, max_sim_clocks: int = 150_000, fresh: bool = False,
              skip_synth: bool = False, sizes=None, ks=None, pes=None, seed: int = 0,
              simulator: str = "verilator", say=print) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    synth_dir, t_start = out / "synth", time.monotonic()
    synth_dir.mkdir(exist_ok=True)
    source_hash = sources_digest()
    circ = plan(quick, sizes, ks, pes)
    say(f"bench: {len(circ)} circulant point(s), each with a same-MULT18 dense partner; "
        f"{DEVICE_LABEL}, target {freq} MHz, seed {seed}")
    synth = {}

    def do_synth(pt):
        if skip_synth:
            return {"fits": None, "error": "synthesis skipped (--skip-synth)"}
        return synth_point(pt, synth_dir, freq=freq, timeout=synth_timeout, fresh=fresh, say=say,
                           source_hash=source_hash)

    sims, sim_fail = {}, {}

    def simulate(pts):
        for pt in pts:
            if pt in sims or pt in sim_fail or sim_clocks(pt) > max_sim_clocks:
                continue
            if not synth_fits(pt):
                continue
            say(f"{pt.name}: RTL simulation, {SIM_VECTORS} vectors "
                f"(formula {formula_cycles(pt)} cycles/vector)")
            try:
                sims[pt] = simulate_point(pt, say, seed, simulator)
            except Exception as exc:   # reported; the sweep goes on
                msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                sim_fail[pt] = msg
                say(f"{pt.name}: simulation FAILED: {msg}")
                continue
            s = sims[pt]
            say(f"{pt.name}: {s['steady_cycles']:.1f} cycles/vector steady vs formula "
                f"{s['formula_cycles']} ({100 * s['rel_diff']:+.2f}%)")

    def synth_fits(pt):
        r = synth.get(pt)
        if r is not None:
            return r.get("fits") is not False
        return estimate_weight_dp16kd(pt) <= DEVICE_CAPACITY[DEVICE]["dp16kd"]

    # Every engine configuration is simulated at its smallest size (so the formula is
    # checked for it), plus every point that simulates in --max-sim-clocks.
    def sim_order(pts):
        smallest = {}
        for pt in sorted(pts, key=lambda p: p.m * p.n):
            smallest.setdefault((pt.engine, pt.k, pt.pes), pt)
        first = list(smallest.values())
        return first + [pt for pt in pts if pt not in first]

    # Synthesis runs in a pool (the points of the targets first); each dense
    # partner is queued as soon as its circulant point's MULT18 count is known, and
    # the main thread simulates meanwhile.
    dense = []
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        order = sorted(circ, key=lambda p: (p.k != TARGET_K or p.m != TARGET_SIZE
                                            or p.n != TARGET_SIZE))
        futures = {pool.submit(do_synth, pt): pt for pt in order}
        pending = set(futures)
        simulate(sim_order(circ))
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                pt = futures[f]
                synth[pt] = f.result()
                if pt.engine != "circulant":
                    continue
                for d in dense_partners([pt], synth):
                    if not any((u.m, u.n, u.pes) == (d.m, d.n, d.pes) for u in dense):
                        dense.append(d)
                        nf = pool.submit(do_synth, d)
                        futures[nf] = d
                        pending.add(nf)
            simulate(sim_order(dense))
    except BaseException:
        # Ctrl-C, SIGTERM, a bug: queued runs are dropped and running ones not waited
        # for (the pool's own exit would wait for every synthesis in progress)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()

    points = [_point_record(pt, synth.get(pt, {}), sims, sim_fail) for pt in circ + dense]
    result = {
        "device": DEVICE_LABEL, "freq_target_mhz": freq, "width": WIDTH, "batch": 1,
        "quick": quick, "seed": seed, "simulator": simulator,
        "formulas": {
            "circulant_cycles": "ceil(p/P) * q * k/2 per vector (p = m/k, q = n/k)",
            "dense_cycles": "ceil(m/M) * n per vector",
            "circulant_weight_bits": "(m/k) * (n/k) * k * 16: k real numbers per block "
                                     "(bins 0 and k/2 real, bins 1..k/2-1 complex)",
            "dense_weight_bits": "m * n * 16",
            "gops": "2*m*n / (cycles / Fmax), dense-equivalent",
            "tolerance": f"formula used only where it is within {100 * FORMULA_TOLERANCE:.0f}% "
                         "of simulation for the same engine, k and P/M",
        },
        "points": points,
    }
    result["comparisons"] = compare(result["points"])
    result["targets"] = targets(result["comparisons"])
    result["scaling"] = scaling_series(result["points"])
    result["elapsed_s"] = round(time.monotonic() - t_start, 1)
    write_outputs(out, result, say)
    say(f"bench finished in {result['elapsed_s']:.0f} s: {out / 'bench.json'}")
    return result


def dense_partners(circ: list[BenchPoint], synth: dict) -> list[BenchPoint]:
    """Dense engines with each circulant point's MULT18 count, on its layer; for a layer
    whose dense weights cannot fit, the same M on the largest square layer that does."""
    cap = DEVICE_CAPACITY[DEVICE]["dp16kd"]
    out = []
    for pt in circ:
        r = synth.get(pt, {})
        M = r.get("mult18")
        if not M:
            continue
        M = min(M, MAX_DENSE_MULTS)
        partner = BenchPoint("dense", pt.m, pt.n, pt.k, M)
        out.append(partner)
        if estimate_weight_dp16kd(partner) > cap:
            for size in sorted(SQUARE_SIZES, reverse=True):
                alt = BenchPoint("dense", size, size, pt.k, M)
                if estimate_weight_dp16kd(alt) <= cap:
                    out.append(alt)
                    break
    return out


def _point_record(pt: BenchPoint, syn: dict, sims: dict, sim_fail: dict) -> dict:
    rec = {"engine": pt.engine, "name": pt.name, "m": pt.m, "n": pt.n, "k": pt.k, "pes": pt.pes,
           "design": pt.design, "params": pt.synth_params(),
           "mult18": syn.get("mult18"), "lut4": syn.get("lut4"), "ff": syn.get("ff"),
           "dp16kd": syn.get("dp16kd"), "fmax_mhz": syn.get("fmax_mhz"),
           "timing_met": syn.get("timing_met"),
           "fits": syn.get("fits"), "fit_source": syn.get("fit_source")}
    if syn.get("overflow"):
        rec["does_not_fit"] = overflow_text(syn["overflow"])
        rec["overflow"] = syn["overflow"]
    if syn.get("error"):
        rec["synth_error"] = syn["error"]
    rec["weight_dp16kd_estimate"] = estimate_weight_dp16kd(pt)
    rec["formula_cycles"] = formula_cycles(pt)
    if pt in sims:
        s = sims[pt]
        rec.update(cycles=s["steady_cycles"], cycles_source="rtl", latency_cycles=s["latency_cycles"],
                   formula_rel_diff=s["rel_diff"], sim_wall_s=s["wall_s"], sim_seed=s["seed"])
    else:
        checks = {q.name: s for q, s in sims.items()
                  if (q.engine, q.k, q.pes) == (pt.engine, pt.k, pt.pes)}
        rec["cycles"] = float(formula_cycles(pt))
        rec["cycles_source"] = "formula"
        rec["formula_checked"] = bool(checks) and all(abs(s["rel_diff"]) <= FORMULA_TOLERANCE
                                                      for s in checks.values())
        if checks:
            rec["formula_checked_against"] = list(checks)
        if pt in sim_fail:
            rec["sim_error"] = sim_fail[pt]
    rec["weight_bits"] = weight_bits(pt)
    g = gops(pt.m, pt.n, rec["cycles"], rec["fmax_mhz"]) if rec["fits"] else None
    rec["gops"] = g
    rec["gops_per_mult18"] = g / rec["mult18"] if g and rec["mult18"] else None
    rec["gops_per_klut4"] = g / (rec["lut4"] / 1000) if g and rec["lut4"] else None
    return rec
