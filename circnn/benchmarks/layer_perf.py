"""``circnn perf-layer``: the PE-array performance benchmark (cycles and ECP5 figures).

Two measurements of the ``layer`` design (``rtl/layer.py``) at k = 16,
16-bit datapaths:

1. **Cycles**, in RTL simulation (cocotb on Verilator or Icarus, the same bench
   that checks the layer word for word against the bit-true model):
   square block-circulant layers n x n (n = 128, 256, 512, 1024, i.e.
   q = p = n/k blocks) on P = 1, 4, 8 PEs and batch B = 1, 4, a few vectors
   each.  ``cycles`` counts from the first input word accepted to the last
   output word delivered, with no idle input and no output back-pressure.
   Each point is simulated twice: with one batch (B vectors) and with
   N vectors, so that the steady-state cost of a vector is

       steady = (cycles(N vectors) - cycles(B vectors)) / (N - B)

   (with B = 1 this is (C_N - C_1) / (N - 1)): the pipeline fill (input
   FFT, first pass, drain, IFFT, output stage) cancels out.

   The formula it is checked against: the MAC stage issues one packed
   spectrum word per clock to all P PEs, and a packed spectrum has k/2
   words per block (bins 0 and k/2 share word 0), so

       ideal MAC-bound cycles per vector = ceil(p / P) * q * k/2

   independent of B (a batch of B vectors takes B times as many clocks, and
   B is what saves weight reads, not clocks).  PE utilisation is
   ``pe_steps / (P * cycles)`` (``pe_steps`` counts, per issued clock, the
   PEs that compute a real output block); its ceiling is
   ``p / (P * ceil(p / P))``.

   Sizes that are not simulated (``--quick``, or over ``--max-sim-clocks``)
   are extrapolated with the formula and marked so.

2. **Synthesis**: ``circnn synth layer`` on LFE5U-85F-6 CABGA381 for
   P = 1, 4, 8 (k = 16, 16-bit, B = 1, max_q = max_p = 64: memories for the
   1024 x 1024 layer); a P whose build fails or outlasts ``--synth-timeout``
   is retried with max_q = max_p = 16, and the table says which was used.

Output: a Markdown table on stdout, ``layer.md`` and ``layer.json`` in
``--out`` (default ``build/perf``); simulation and synthesis files under it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["run_perf_layer", "random_layer_program", "ideal_cycles_per_vector", "plan_points", "Point"]

K = 16
WIDTH = 16
SIZES = (128, 256, 512, 1024)
PES = (1, 4, 8)
BATCHES = (1, 4)
ENGINE_MAX = 64           # max_q = max_p of the simulated (and synthesised) engine
SYNTH_FALLBACK_MAX = 16
GOAL_FMAX_MHZ = 125.0
GOAL_UTILISATION = 0.90


def ideal_cycles_per_vector(p: int, q: int, pes: int, k: int = K) -> int:
    """MAC-bound clocks per input vector: ceil(p/P) * q * k/2 (independent of B)."""
    return -(-p // pes) * q * (k // 2)


def utilisation_ceiling(p: int, pes: int) -> float:
    """Best possible pe_steps / (P * MAC clocks): the last pass may leave PEs idle."""
    return p / (pes * -(-p // pes))


@dataclass(frozen=True)
class Point:
    n: int            # square layer n x n
    pes: int
    batch: int
    vectors: int      # N, a multiple of batch, >= 2 batches for a steady state

    @property
    def q(self) -> int:
        return self.n // K

    @property
    def p(self) -> int:
        return self.n // K

    @property
    def ideal(self) -> int:
        return ideal_cycles_per_vector(self.p, self.q, self.pes)

    def estimated_clocks(self) -> int:
        """Clocks of both simulations (one batch, then N vectors), roughly."""
        fill = self.q * (K // 2) * self.batch + self.p * (K // 2) + 300
        per_vec = max(self.ideal, self.q * (K // 2), self.p * (K // 2))
        return per_vec * (self.vectors + self.batch) + 2 * fill

    @property
    def name(self) -> str:
        return f"n{self.n}_P{self.pes}_B{self.batch}"


def _vectors(n: int, pes: int, batch: int) -> int:
    """Enough vectors for a steady state, few enough for a short simulation."""
    ideal = ideal_cycles_per_vector(n // K, n // K, pes)
    if batch == 1:
        if ideal <= 2048:
            return 4
        if ideal <= 8192:
            return 3
        return 2
    return 3 * batch if ideal <= 2048 else 2 * batch


def plan_points(quick: bool, sizes=None, pes=None, batches=None):
    """(grid, simulate): every reported point, and the subset to simulate."""
    if quick:
        sizes_sim = (128, 256)
        pes = tuple(pes or (4,))
        batches = tuple(batches or BATCHES)
        grid_sizes = tuple(sizes or SIZES)
    else:
        grid_sizes = tuple(sizes or SIZES)
        sizes_sim = grid_sizes
        pes = tuple(pes or PES)
        batches = tuple(batches or BATCHES)
    grid = [Point(n, P, B, _vectors(n, P, B)) for B in batches for P in pes for n in grid_sizes]
    simulate = [pt for pt in grid if pt.n in sizes_sim]
    return grid, simulate


# --------------------------------------------------------------------------------------
# simulation


def random_layer_program(rng, eng, p: int, q: int, n_vectors: int):
    """A random float layer through the compiler (as tests/layer_cases.compiled_case)."""
    from circnn.compiler import compile_layer, quantize_inputs
    from circnn.bundle import Layer

    w = rng.normal(size=(p, q, eng.k)) * np.sqrt(2.0 / (q * eng.k))
    b = rng.normal(size=p * eng.k) * 0.1
    layer = Layer(w, b, "relu")
    calib = rng.uniform(-1, 1, size=(64, layer.n_in))
    prog = compile_layer(layer, eng, calibration=calib)
    x = quantize_inputs(rng.uniform(-1, 1, size=(n_vectors, layer.n_in)), prog.in_frac, eng, q)
    return prog, x


def _simulate(eng, prog, x, name: str, say=None, simulator: str = "verilator") -> dict:
    """One RTL run at full rate (no idle, no stall), outputs checked against the
    bit-true model; returns the bench's stats."""
    from circnn.sim.harness.layer import simulate_layer

    progress = (lambda msg: say(f"    {msg}")) if say else None
    _, stats = simulate_layer(eng, prog, x, name=name, idle=0.0, stall=0.0, seed=0,
                              progress=progress, simulator=simulator)
    return dict(stats)


def measure_point(pt: Point, say, seed: int = 0, simulator: str = "verilator") -> dict:
    from circnn.config import EngineConfig

    eng = EngineConfig(k=K, act_width=WIDTH, weight_width=WIDTH, ifft_width=WIDTH,
                       twiddle_width=WIDTH, pes=pt.pes, batch=pt.batch,
                       max_q=ENGINE_MAX, max_p=ENGINE_MAX)
    rng = np.random.default_rng(seed + pt.n * 1000 + pt.pes * 10 + pt.batch)
    t0 = time.monotonic()
    prog, x = random_layer_program(rng, eng, pt.p, pt.q, pt.vectors)
    runs = {}
    for count in (pt.batch, pt.vectors):
        t = time.monotonic()
        say(f"  simulate {pt.n}x{pt.n} P={pt.pes} B={pt.batch}: {count} vector(s) "
            f"(~{pt.ideal * count + pt.q * K // 2 * pt.batch} clocks)")
        stats = _simulate(eng, prog, x[:count], f"perf_{pt.name}_v{count}", say, simulator)
        dt = time.monotonic() - t
        runs[count] = dict(stats, wall_s=round(dt, 1))
        say(f"  ... {stats['cycles']} cycles, {stats['cycles'] / count:.1f}/vector, "
            f"{dt:.1f} s ({stats['cycles'] / max(dt, 1e-9):.0f} clocks/s)")
    one, many = runs[pt.batch], runs[pt.vectors]
    P = pt.pes
    res = {
        "n": pt.n, "q": pt.q, "p": pt.p, "pes": P, "batch": pt.batch, "vectors": pt.vectors,
        "source": "rtl",
        "ideal_cycles_per_vector": pt.ideal,
        "cycles": many["cycles"],
        "cycles_per_vector": many["cycles"] / pt.vectors,
        "cycles_one_batch": one["cycles"],
        "mac_steps": many["mac_steps"],
        "pe_steps": many["pe_steps"],
        "pe_utilisation": many["pe_steps"] / (P * many["cycles"]),
        "utilisation_ceiling": utilisation_ceiling(pt.p, P),
        "ratio_to_ideal": many["cycles"] / pt.vectors / pt.ideal,
        "latency_one_batch": one["cycles"],
        "wall_s": round(time.monotonic() - t0, 1),
        "clocks_per_s": round((one["cycles"] + many["cycles"])
                              / max(one["wall_s"] + many["wall_s"], 1e-9)),
    }
    if pt.vectors > pt.batch:
        dc = many["cycles"] - one["cycles"]
        steady = dc / (pt.vectors - pt.batch)
        res["steady_cycles_per_vector"] = steady
        res["steady_rel_diff"] = (steady - pt.ideal) / pt.ideal
        res["steady_pe_utilisation"] = (many["pe_steps"] - one["pe_steps"]) / (P * dc)
    return res


def extrapolate_point(pt: Point, reason: str) -> dict:
    ceiling = utilisation_ceiling(pt.p, pt.pes)
    return {
        "n": pt.n, "q": pt.q, "p": pt.p, "pes": pt.pes, "batch": pt.batch, "vectors": None,
        "source": f"formula ({reason})",
        "ideal_cycles_per_vector": pt.ideal,
        "cycles_per_vector": float(pt.ideal),
        "steady_cycles_per_vector": float(pt.ideal),
        "pe_utilisation": ceiling, "steady_pe_utilisation": ceiling,
        "utilisation_ceiling": ceiling,
        "ratio_to_ideal": 1.0,
    }


# --------------------------------------------------------------------------------------
# synthesis


def _synth_params(pes: int, max_qp: int) -> dict:
    return dict(k=K, act_width=WIDTH, weight_width=WIDTH, ifft_width=WIDTH, twiddle_width=WIDTH,
                pes=pes, batch=1, max_q=max_qp, max_p=max_qp)


def _run_synth(pes: int, max_qp: int, freq: float, out: Path, timeout: float, say) -> dict:
    """``circnn synth layer`` in a child process (killed on timeout)."""
    from circnn.synth.synth_job import synth_in_child

    r = synth_in_child("layer", _synth_params(pes, max_qp), out / f"layer_P{pes}_max{max_qp}.json",
                       freq=freq, timeout=timeout, say=say, label=f"P={pes} max={max_qp}")
    return dict(r, pes=pes, max_q=max_qp, max_p=max_qp, batch=1, freq_target_mhz=freq)


def synth_point(pes: int, freq: float, out: Path, timeout: float, say) -> dict:
    attempts = []
    for max_qp in (ENGINE_MAX, SYNTH_FALLBACK_MAX):
        say(f"synthesis: layer P={pes} k={K} {WIDTH}-bit max_q=max_p={max_qp} @ {freq} MHz")
        r = _run_synth(pes, max_qp, freq, out, timeout, say)
        if r["ok"]:
            say(f"  ... Fmax {r['fmax_mhz']} MHz, LUT4 {r['lut4']}, FF {r['ff']}, "
                f"MULT18 {r['mult18']}, DP16KD {r['dp16kd']} ({r['wall_s']:.0f} s)")
            r["attempts"] = attempts
            return r
        say(f"  ... failed: {r['error']} ({r['wall_s']:.0f} s)")
        attempts.append({"max_q": max_qp, "error": r["error"], "wall_s": r["wall_s"]})
    return dict(r, attempts=attempts)


# --------------------------------------------------------------------------------------
# report


def _f(v, fmt="{:.0f}", none="-"):
    return none if v is None else fmt.format(v)


def _pct(v):
    return "-" if v is None else f"{100 * v:.1f}%"


def _signed_pct(v):
    return "-" if v is None else f"{100 * v:+.2f}%"


def render_markdown(result: dict) -> str:
    lines = []
    cfg = result["config"]
    lines += [
        "# Circulant PE array: performance of the `layer` design",
        "",
        f"k = {K}, {WIDTH}-bit activations/weights/IFFT/twiddles, half_up rounding; "
        f"simulated engine max_q = max_p = {ENGINE_MAX}; random compiled layers (ReLU), "
        "outputs checked word for word against the bit-true model in every run.",
        "",
        f"## Cycles (RTL: cocotb 2 on {result['config'].get('simulator', 'icarus')}, no idle "
        "input, no output back-pressure)",
        "",
        "ideal MAC-bound cycles per vector = ceil(p/P) * q * k/2 "
        "(packed spectra: k/2 words per block, bins 0 and k/2 share word 0), independent of B.",
        "",
        "- cycles: first input word accepted to last output word delivered, N vectors.",
        "- all = cycles / N; steady = (cycles(N) - cycles(B)) / (N - B), the pipeline fill cancelled.",
        "- util = pe_steps / (P * cycles); steady util over the same difference.",
        "- vs formula = (steady - ideal) / ideal.",
        "- rows marked *formula* were not simulated: ideal cycles and the utilisation ceiling "
        "p / (P * ceil(p/P)).",
        "",
        "| layer | q = p | P | B | N | source | cycles (N) | cyc/vec all | cyc/vec steady "
        "| ideal | all / ideal | steady vs formula | util all | util steady | sim |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | ---: |",
    ]
    for r in result["points"]:
        sim = "-" if r["source"] != "rtl" else f"{r['wall_s']:.0f} s"
        src = "RTL" if r["source"] == "rtl" else f"*{r['source']}*"
        lines.append(
            f"| {r['n']}x{r['n']} | {r['q']} | {r['pes']} | {r['batch']} | {_f(r['vectors'])} | {src} "
            f"| {_f(r.get('cycles'))} | {_f(r['cycles_per_vector'], '{:.1f}')} "
            f"| {_f(r.get('steady_cycles_per_vector'), '{:.1f}')} | {r['ideal_cycles_per_vector']} "
            f"| {_f(r['ratio_to_ideal'], '{:.3f}')} "
            f"| {_signed_pct(r.get('steady_rel_diff')) if r['source'] == 'rtl' else '-'} "
            f"| {_pct(r['pe_utilisation'])} | {_pct(r.get('steady_pe_utilisation'))} | {sim} |")
    if result.get("failures"):
        lines += ["", "Simulation failures:", ""]
        lines += [f"- {f['point']}: {f['error']}" for f in result["failures"]]
    lines.append("")
    synth = result.get("synthesis")
    if synth:
        lines += [
            f"## Synthesis (`circnn synth layer`, {cfg['device']}, yosys synth_ecp5 + nextpnr-ecp5 "
            f"--out-of-context, target {cfg['freq']} MHz)",
            "",
            f"k = {K}, {WIDTH}-bit, B = 1.",
            "",
            "| P | max_q = max_p | Fmax (MHz) | target met | LUT4 | FF | MULT18 | DP16KD | build | note |",
            "| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for s in synth:
            note = "; ".join(f"max {a['max_q']}: {a['error']}" for a in s.get("attempts", []))
            if s["ok"]:
                lines.append(
                    f"| {s['pes']} | {s['max_q']} | {_f(s['fmax_mhz'], '{:.1f}')} "
                    f"| {'yes' if s['timing_met'] else 'no'} | {s['lut4']} | {s['ff']} "
                    f"| {s['mult18']} | {s['dp16kd']} | {s['wall_s']:.0f} s | {note} |")
            else:
                lines.append(f"| {s['pes']} | - | - | - | - | - | - | - | {s['wall_s']:.0f} s "
                             f"| failed: {note} |")
        lines.append("")
    elif cfg.get("skip_synth"):
        lines += ["## Synthesis", "", "skipped (--skip-synth, or --quick without --synth).", ""]
    goals = result.get("goals")
    if goals:
        lines += ["## Goals of the issue", ""]
        lines += [f"- {g}" for g in goals]
        lines.append("")
    return "\n".join(lines)


def _goals(result: dict) -> list[str]:
    out = []
    synth = [s for s in result.get("synthesis") or [] if s["ok"]]
    for s in synth:
        ok = s["fmax_mhz"] is not None and s["fmax_mhz"] >= GOAL_FMAX_MHZ
        out.append(f"Fmax >= {GOAL_FMAX_MHZ:.0f} MHz at P={s['pes']} (max {s['max_q']}): "
                   f"{_f(s['fmax_mhz'], '{:.1f}')} MHz -> {'met' if ok else 'NOT met'}")
    rtl = [r for r in result["points"] if r["source"] == "rtl"]
    if rtl:
        largest = max(r["n"] for r in rtl)
        for r in rtl:
            if r["n"] != largest:
                continue
            u = r.get("steady_pe_utilisation", r["pe_utilisation"])
            ok = u >= GOAL_UTILISATION
            out.append(f"PE busy >= {100 * GOAL_UTILISATION:.0f}% on the largest simulated layer "
                       f"({largest}x{largest}, P={r['pes']}, B={r['batch']}): steady "
                       f"{_pct(u)}, over all {r['vectors']} vectors {_pct(r['pe_utilisation'])} "
                       f"-> {'met' if ok else 'NOT met'}")
    return out


def run_perf_layer(*, out: Path, quick: bool = False, freq: float = 125.0, skip_synth: bool = False,
                   synth: bool = False, synth_timeout: float = 600.0,
                   max_sim_clocks: int = 2_000_000, sizes=None, pes=None, batches=None,
                   device: str = "LFE5U-85F-6 CABGA381", simulator: str = "verilator",
                   say=print) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    do_synth = (synth or not quick) and not skip_synth
    grid, to_sim = plan_points(quick, sizes, pes, batches)
    t_start = time.monotonic()
    result = {
        "config": {"k": K, "width": WIDTH, "engine_max_q": ENGINE_MAX, "engine_max_p": ENGINE_MAX,
                   "quick": quick, "freq": freq, "device": device,
                   "skip_synth": not do_synth, "max_sim_clocks": max_sim_clocks,
                   "simulator": simulator},
        "formula": "ideal MAC-bound cycles per vector = ceil(p/P) * q * k/2, independent of B",
        "points": [], "failures": [],
    }
    say(f"perf-layer: {len(to_sim)} simulated point(s) of {len(grid)}"
        + (", synthesis of P in " + str(tuple(pes or PES)) if do_synth else ", no synthesis"))
    for pt in grid:
        if pt not in to_sim:
            result["points"].append(extrapolate_point(pt, "not simulated in --quick"))
            continue
        est = pt.estimated_clocks()
        if est > max_sim_clocks:
            say(f"skip {pt.name}: ~{est} simulated clocks > --max-sim-clocks {max_sim_clocks}")
            result["points"].append(extrapolate_point(pt, "not simulated: too long"))
            continue
        t = time.monotonic()
        say(f"point {pt.n}x{pt.n} (q=p={pt.q}) P={pt.pes} B={pt.batch} N={pt.vectors}: "
            f"ideal {pt.ideal} cycles/vector, ~{est} clocks to simulate")
        try:
            r = measure_point(pt, say, simulator=simulator)
        except Exception as exc:  # report it and carry on with the other points
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            say(f"  ... FAILED: {msg}")
            result["failures"].append({"point": pt.name, "error": msg})
            result["points"].append(extrapolate_point(pt, "simulation failed"))
            continue
        result["points"].append(r)
        say(f"point {pt.name} done in {time.monotonic() - t:.1f} s: "
            f"{r['cycles_per_vector']:.1f} cycles/vector over {pt.vectors}, steady "
            f"{_f(r.get('steady_cycles_per_vector'), '{:.1f}')} vs ideal {pt.ideal}, "
            f"util {_pct(r['pe_utilisation'])}")
        _write(out, result)
    if do_synth:
        result["synthesis"] = []
        for P in tuple(pes or PES):
            result["synthesis"].append(synth_point(P, freq, out / "synth", synth_timeout, say))
            _write(out, result)
    result["goals"] = _goals(result)
    result["elapsed_s"] = round(time.monotonic() - t_start, 1)
    _write(out, result)
    say(f"perf-layer finished in {result['elapsed_s']:.0f} s")
    return result


def _write(out: Path, result: dict) -> None:
    (out / "layer.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "layer.md").write_text(render_markdown(result))
