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
"""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["BenchPoint", "check_bench_args", "plan", "formula_cycles", "weight_bits", "estimate_weight_dp16kd",
           "run_bench", "render_markdown", "gops"]

WIDTH = 16
DEVICE = "LFE5U-85F"
DEVICE_LABEL = "LFE5U-85F-6 CABGA381"
FORMULA_TOLERANCE = 0.02
TARGET_K = 16
TARGET_SIZE = 1024
TARGET_GOPS_RATIO = 6.0
TARGET_STORAGE_RATIO = 14.0
SIM_VECTORS = 3
#: Most multipliers a dense engine gets (the LFE5U-85F's MULT18X18D count).
MAX_DENSE_MULTS = 156

SQUARE_SIZES = (256, 512, 1024, 2048, 4096)
NON_SQUARE = ((256, 1024), (1024, 256))        # (m, n)
KS = (4, 8, 16, 32, 64)
PES = (1, 2, 4, 8, 16)
DEFAULT_PES = 4

# DP16KD aspect ratios (depth, width) on ECP5.
_DP16KD_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))


@dataclass(frozen=True)
class BenchPoint:
    engine: str       # "circulant" or "dense"
    m: int            # outputs
    n: int            # inputs
    k: int            # block size (dense: the stream grouping of its comparison)
    pes: int          # P (circulant) or M (dense)

    def __post_init__(self):
        if self.engine not in ("circulant", "dense"):
            raise ValueError(f"engine must be 'circulant' or 'dense', not {self.engine!r}")
        if self.engine == "circulant" and (self.m % self.k or self.n % self.k):
            raise ValueError(f"circulant layer {self.m}x{self.n} is not a multiple of k={self.k}")

    @property
    def name(self) -> str:
        tag = "P" if self.engine == "circulant" else "M"
        k = f"_k{self.k}" if self.engine == "circulant" else ""
        return f"{self.engine}_{self.m}x{self.n}{k}_{tag}{self.pes}"

    @property
    def design(self) -> str:
        return "layer" if self.engine == "circulant" else "dense"

    def synth_params(self) -> dict:
        if self.engine == "circulant":
            return dict(k=self.k, act_width=WIDTH, weight_width=WIDTH, ifft_width=WIDTH,
                        twiddle_width=WIDTH, pes=self.pes, batch=1,
                        max_q=self.n // self.k, max_p=self.m // self.k)
        return dict(act_width=WIDTH, weight_width=WIDTH, mults=self.pes, batch=1,
                    max_in=self.n, max_out=self.m, k=min(self.k, 256))


def formula_cycles(pt: BenchPoint) -> int:
    """MAC-bound clocks per input vector (the module docstring's formulas)."""
    if pt.engine == "circulant":
        p, q = pt.m // pt.k, pt.n // pt.k
        return -(-p // pt.pes) * q * (pt.k // 2)
    return -(-pt.m // pt.pes) * pt.n


def weight_bits(pt: BenchPoint, width: int = WIDTH) -> int:
    """Weight storage: dense m*n words; circulant k real numbers per k x k block."""
    if pt.engine == "circulant":
        return (pt.m // pt.k) * (pt.n // pt.k) * pt.k * width
    return pt.m * pt.n * width


def _dp16kd_for(depth: int, width: int) -> int:
    return min(-(-depth // d) * -(-width // w) for d, w in _DP16KD_SHAPES)


def estimate_weight_dp16kd(pt: BenchPoint, width: int = WIDTH) -> int:
    """Block RAMs the weight banks alone need (a lower bound on the design's DP16KD)."""
    if pt.engine == "circulant":
        p, q = pt.m // pt.k, pt.n // pt.k
        depth = -(-p // pt.pes) * q * (pt.k // 2)
        return pt.pes * _dp16kd_for(depth, 2 * width)
    return pt.pes * _dp16kd_for(-(-pt.m // pt.pes) * pt.n, width)


def gops(m: int, n: int, cycles: float, fmax_mhz: float | None) -> float | None:
    """Dense-equivalent GOPS: 2*m*n operations per vector, one vector per ``cycles`` clocks."""
    if fmax_mhz is None or not cycles:
        return None
    return 2.0 * m * n * fmax_mhz / cycles / 1000.0


def check_bench_args(*, freq: float, jobs: int, sizes=None, ks=None, pes=None) -> None:
    """Reject a bad sweep before anything runs, naming the option and its range."""
    from circnn.errors import CircnnError

    if not 1 <= freq <= 1000:
        raise CircnnError(f"--freq must be in 1..1000 MHz, not {freq}")
    if not 1 <= jobs <= 8:
        raise CircnnError(f"--jobs must be in 1..8, not {jobs}")
    for n in sizes or ():
        if not 16 <= n <= 16384:
            raise CircnnError(f"--sizes: {n} outside 16..16384")
    for k in ks or ():
        if k not in (4, 8, 16, 32, 64, 128, 256):
            raise CircnnError(f"--ks: {k} is not a power of two in 4..256")
    for P in pes or ():
        if not 1 <= P <= 64:
            raise CircnnError(f"--pes: {P} outside 1..64")
    if sizes and ks and not any(n % k == 0 for n in sizes for k in ks):
        raise CircnnError("--sizes and --ks: no size is a multiple of any block size")


def plan(quick: bool = False, sizes=None, ks=None, pes=None) -> list[BenchPoint]:
    """The circulant points of the sweep (dense partners are added after their synthesis).

    Full: square sizes at k=16, P=4; two non-square layers; every k at
    1024x1024, P=4; every P at 1024x1024, k=16.  ``--quick``: 256x256 at
    k=16, P=4 only.  ``sizes`` / ``ks`` / ``pes`` replace the swept values.
    """
    if quick:
        sizes, ks, pes = tuple(sizes or (256,)), tuple(ks or (TARGET_K,)), tuple(pes or (DEFAULT_PES,))
        pts = [(n, n, k, P) for n in sizes for k in ks for P in pes]
    else:
        sizes, ks, pes = tuple(sizes or SQUARE_SIZES), tuple(ks or KS), tuple(pes or PES)
        ref_n = TARGET_SIZE if TARGET_SIZE in sizes else max(sizes)
        ref_k = TARGET_K if TARGET_K in ks else ks[0]
        ref_p = DEFAULT_PES if DEFAULT_PES in pes else pes[0]
        pts = [(n, n, ref_k, ref_p) for n in sizes]
        pts += [(m, n, ref_k, ref_p) for m, n in NON_SQUARE
                if sizes is SQUARE_SIZES or (m in sizes and n in sizes)]
        pts += [(ref_n, ref_n, k, ref_p) for k in ks]
        pts += [(ref_n, ref_n, ref_k, P) for P in pes]
    out = []
    for m, n, k, P in pts:
        pt = BenchPoint("circulant", m, n, k, P) if m % k == 0 and n % k == 0 else None
        if pt is not None and pt not in out:
            out.append(pt)
    return out


# --------------------------------------------------------------------------------------
# synthesis (cached by design parameters and RTL sources)


def _rtl_hash() -> str:
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for folder in ("rtl", "sim", "circnn"):
        for f in sorted((root / folder).glob("*.py")):
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def synth_point(pt: BenchPoint, out: Path, *, freq: float, timeout: float, fresh: bool, say,
                source_hash: str) -> dict:
    """Resources and Fmax of one point, or why it has none (``fits`` false / ``error``)."""
    from .synth_job import overflow_of, synth_in_child

    pre = overflow_of({"dp16kd": estimate_weight_dp16kd(pt), "mult18": pt.pes if pt.engine == "dense" else 0}, DEVICE)
    if pre:
        say(f"{pt.name}: does not fit ({_overflow_text(pre)}, estimated), not synthesised")
        return {"fits": False, "fit_source": "estimate (weight banks alone)", "overflow": pre}
    cache = out / f"{pt.name}.bench.json"
    key = {"design": pt.design, "params": pt.synth_params(), "freq": freq, "source": source_hash}
    if cache.exists() and not fresh:
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            say(f"{pt.name}: synthesis reused ({cache})")
            return cached["result"]
    say(f"{pt.name}: synthesis ({pt.design}, {pt.synth_params()}) @ {freq} MHz")
    r = synth_in_child(pt.design, pt.synth_params(), out / f"{pt.name}.json", freq=freq,
                       timeout=timeout, say=say, label=pt.name, device=DEVICE)
    if r["ok"]:
        over = overflow_of(r, DEVICE)
        res = {"fits": not over, "fit_source": "nextpnr", **{k: r[k] for k in
               ("fmax_mhz", "timing_met", "lut4", "ff", "mult18", "dp16kd", "wall_s")}}
        if over:
            res["overflow"] = over
        say(f"{pt.name}: Fmax {r['fmax_mhz']} MHz, LUT4 {r['lut4']}, FF {r['ff']}, "
            f"MULT18 {r['mult18']}, DP16KD {r['dp16kd']} ({r['wall_s']:.0f} s)")
    elif r.get("overflow"):
        res = {"fits": False, "fit_source": "nextpnr", "overflow": r["overflow"], "wall_s": r["wall_s"]}
        say(f"{pt.name}: does not fit ({_overflow_text(r['overflow'])})")
    else:
        res = {"fits": None, "error": r["error"], "wall_s": r["wall_s"]}
        say(f"{pt.name}: synthesis FAILED: {r['error']}")
    if "error" not in res:
        cache.write_text(json.dumps({"key": key, "result": res}, indent=2) + "\n")
    return res


def _overflow_text(over: dict) -> str:
    return ", ".join(f"{k.upper()} {v['used']}/{v['available']} ({v['percent']:.0f}%)"
                     for k, v in over.items())


# --------------------------------------------------------------------------------------
# simulation: the formula checked against RTL


def _circulant_case(pt: BenchPoint, rng):
    from circnn.config import EngineConfig

    from .layer_perf import random_layer_program

    eng = EngineConfig(k=pt.k, act_width=WIDTH, weight_width=WIDTH, ifft_width=WIDTH,
                       twiddle_width=WIDTH, pes=pt.pes, batch=1,
                       max_q=pt.n // pt.k, max_p=pt.m // pt.k)
    prog, x = random_layer_program(rng, eng, pt.m // pt.k, pt.n // pt.k, SIM_VECTORS)
    from circnn.sim.harness.layer import simulate_layer
    return lambda rows, name, progress: simulate_layer(eng, prog, x[:rows], name=name,
                                                       progress=progress, keep_files=False)


def _dense_case(pt: BenchPoint, rng):
    from circnn.compiler import compile_dense, quantize_dense_inputs
    from circnn.config import DenseConfig
    from circnn.sim.harness.dense import simulate_dense

    cfg = DenseConfig(act_width=WIDTH, weight_width=WIDTH, mults=pt.pes, batch=1,
                      max_in=pt.n, max_out=pt.m, k=min(pt.k, 256))
    w = rng.normal(size=(pt.m, pt.n)) * np.sqrt(2.0 / pt.n)
    b = rng.normal(size=pt.m) * 0.1
    calib = rng.uniform(-1, 1, size=(64, pt.n))
    prog = compile_dense(w, b, "relu", cfg, calibration=calib)
    x = quantize_dense_inputs(rng.uniform(-1, 1, size=(SIM_VECTORS, pt.n)), prog.in_frac, cfg, pt.n)
    return lambda rows, name, progress: simulate_dense(cfg, prog, x[:rows], name=name,
                                                       progress=progress, keep_files=False)


def simulate_point(pt: BenchPoint, say, seed: int = 0) -> dict:
    """Steady-state clocks per vector in RTL: (C_N - C_1) / (N - 1), N = SIM_VECTORS."""
    rng = np.random.default_rng(seed)
    run = (_circulant_case if pt.engine == "circulant" else _dense_case)(pt, rng)
    progress = lambda msg: say(f"    {msg}")
    t0 = time.monotonic()
    _, one = run(1, f"bench_{pt.name}_v1", progress)
    _, many = run(SIM_VECTORS, f"bench_{pt.name}_v{SIM_VECTORS}", progress)
    steady = (many["cycles"] - one["cycles"]) / (SIM_VECTORS - 1)
    ideal = formula_cycles(pt)
    return {"steady_cycles": steady, "latency_cycles": one["cycles"], "formula_cycles": ideal,
            "rel_diff": (steady - ideal) / ideal, "vectors": SIM_VECTORS,
            "wall_s": round(time.monotonic() - t0, 1), "seed": seed}


def _sim_clocks(pt: BenchPoint) -> int:
    """Clocks the two simulations of a point take, roughly."""
    c = formula_cycles(pt)
    fill = (pt.n + pt.m) * 2 + 400
    return c * (1 + SIM_VECTORS) + 2 * fill


# --------------------------------------------------------------------------------------
# the sweep


def run_bench(*, out: Path, quick: bool = False, freq: float = 125.0, jobs: int = 2,
              synth_timeout: float = 3600.0, max_sim_clocks: int = 150_000, fresh: bool = False,
              skip_synth: bool = False, sizes=None, ks=None, pes=None, seed: int = 0,
              say=print) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    synth_dir, t_start = out / "synth", time.monotonic()
    synth_dir.mkdir(exist_ok=True)
    source_hash = _rtl_hash()
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
            if pt in sims or pt in sim_fail or _sim_clocks(pt) > max_sim_clocks:
                continue
            if not synth_fits(pt):
                continue
            say(f"{pt.name}: RTL simulation, {SIM_VECTORS} vectors "
                f"(formula {formula_cycles(pt)} cycles/vector)")
            try:
                sims[pt] = simulate_point(pt, say, seed)
            except Exception as exc:   # reported; the sweep goes on
                msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                sim_fail[pt] = msg
                say(f"{pt.name}: simulation FAILED: {msg}")
                continue
            s = sims[pt]
            say(f"{pt.name}: {s['steady_cycles']:.1f} cycles/vector steady vs formula "
                f"{s['formula_cycles']} ({100 * s['rel_diff']:+.2f}%)")

    def synth_fits(pt):
        from .synth_job import DEVICE_CAPACITY
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

    # Synthesis runs in a pool (the points of the issue's targets first); each dense
    # partner is queued as soon as its circulant point's MULT18 count is known, and
    # the main thread simulates meanwhile.
    dense = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
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

    points = [_point_record(pt, synth.get(pt, {}), sims, sim_fail) for pt in circ + dense]
    result = {
        "device": DEVICE_LABEL, "freq_target_mhz": freq, "width": WIDTH, "batch": 1,
        "quick": quick, "seed": seed,
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
    from .synth_job import DEVICE_CAPACITY

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
        rec["does_not_fit"] = _overflow_text(syn["overflow"])
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


# --------------------------------------------------------------------------------------
# outputs


def _f(v, fmt="{:.0f}"):
    return "-" if v is None else fmt.format(v)


def render_markdown(result: dict) -> str:
    L = ["# circnn bench: block-circulant engine against the dense baseline", "",
         f"{result['device']}, yosys synth_ecp5 + nextpnr-ecp5 --out-of-context, target "
         f"{result['freq_target_mhz']} MHz; {result['width']}-bit activations and weights, B = 1.", "",
         "cycles: steady-state clocks per input vector; *rtl* = simulated (cocotb + Icarus, every "
         "output word checked against the bit-true model), *formula* = "
         f"{result['formulas']['circulant_cycles']} (circulant) or "
         f"{result['formulas']['dense_cycles']} (dense), used once checked within "
         f"{100 * FORMULA_TOLERANCE:.0f}% of simulation on the same engine.  GOPS are "
         "dense-equivalent (2mn per vector).", "",
         "| engine | m x n | k | P / M | MULT18 | LUT4 | FF | DP16KD | Fmax MHz | cycles | source "
         "| weight bits | GOPS | GOPS/MULT18 | GOPS/kLUT4 | note |",
         "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: "
         "| ---: | ---: | --- |"]
    for p in result["points"]:
        note = ""
        if p.get("fits") is False:
            note = f"does not fit: {p['does_not_fit']} ({p['fit_source']})"
        elif p.get("synth_error"):
            note = (p["synth_error"] if "skipped" in p["synth_error"]
                    else f"synthesis failed: {p['synth_error'][:80]}")
        if p["cycles_source"] == "rtl":
            note = (note + "; " if note else "") + f"formula {100 * p['formula_rel_diff']:+.2f}%"
        elif not p.get("formula_checked"):
            note = (note + "; " if note else "") + "formula not checked in simulation"
        if p.get("sim_error"):
            note += f"; simulation failed: {p['sim_error'][:60]}"
        k = p["k"] if p["engine"] == "circulant" else "-"
        L.append(f"| {p['engine']} | {p['m']}x{p['n']} | {k} | {p['pes']} | {_f(p['mult18'])} "
                 f"| {_f(p['lut4'])} | {_f(p['ff'])} | {_f(p['dp16kd'])} | {_f(p['fmax_mhz'], '{:.1f}')} "
                 f"| {_f(p['cycles'], '{:.1f}')} | {p['cycles_source']} | {p['weight_bits']} "
                 f"| {_f(p['gops'], '{:.2f}')} | {_f(p['gops_per_mult18'], '{:.3f}')} "
                 f"| {_f(p['gops_per_klut4'], '{:.3f}')} | {note} |")
    L += ["", "## Circulant / dense, same MULT18 budget (dense M = the circulant point's MULT18)", "",
          "| circulant point | MULT18 | GOPS/MULT18 | GOPS/kLUT4 | weight bits | cycles | dense basis |",
          "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for c in result["comparisons"]:
        L.append(f"| {c['circulant']} | {c['mult18']} | {_f(c['gops_per_mult18_ratio'], '{:.2f}x')} "
                 f"| {_f(c['gops_per_klut4_ratio'], '{:.2f}x')} | {c['weight_bits_ratio']:.2f}x "
                 f"| {c['cycles_ratio']:.2f}x | {c['dense_basis'] or '-'} |")
    if result["targets"]:
        L += ["", f"## Targets (k = {TARGET_K}, {TARGET_SIZE}x{TARGET_SIZE})", ""]
        for t in result["targets"]:
            g = t["gops_per_mult18_ratio"]
            L.append(f"- {t['circulant']} ({t['mult18']} MULT18): GOPS/MULT18 "
                     f"{_f(g, '{:.2f}')}x vs target {t['gops_target']:.0f}x -> "
                     f"{'met' if t['gops_met'] else 'NOT met' if t['gops_met'] is False else 'not measured'}; "
                     f"weight storage {t['weight_bits_ratio']:.1f}x smaller vs target "
                     f"{t['storage_target']:.0f}x -> {'met' if t['storage_met'] else 'NOT met'}")
    L.append("")
    return "\n".join(L)


def write_outputs(out: Path, result: dict, say=print) -> None:
    (out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    md = render_markdown(result)
    (out / "bench.md").write_text(md)
    say(md)
    try:
        plot(out, result)
    except Exception as exc:  # plots are a convenience; the JSON and table are the result
        say(f"plots not written: {exc}")


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
