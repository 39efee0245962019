"""``circnn bench``: its formulas, fit checks, comparisons and outputs.

The sweep itself is a benchmark (minutes to hours of synthesis), not a test;
here the parts it is built from are checked against hand-computed values,
synthesis is replaced by canned reports, and one small point is simulated
for real to check that the cycle formula holds within the 2 % the bench
relies on.
"""

import json

import pytest

from circnn.benchmarks.sweep import run_bench
from circnn.benchmarks.sweep_comparison import compare, targets
from circnn.benchmarks.sweep_points import (BenchPoint, estimate_weight_dp16kd, formula_cycles, gops,
                                            plan, weight_bits)
from circnn.benchmarks.sweep_synthesis import synth_point
from circnn.cli import main
from circnn.synth.synth_job import overflow_from_log


def test_formulas_by_hand():
    c = BenchPoint("circulant", 1024, 1024, 16, 4)
    # p = q = 64 blocks; ceil(64/4) = 16 passes of 64 blocks of 8 packed words
    assert formula_cycles(c) == 16 * 64 * 8 == 8192
    # 64*64 blocks of 16 real numbers of 16 bits
    assert weight_bits(c) == 1_048_576
    d = BenchPoint("dense", 1024, 1024, 16, 32)
    assert formula_cycles(d) == 32 * 1024
    assert weight_bits(d) == 16_777_216
    assert weight_bits(d) / weight_bits(c) == 16.0
    # P not dividing p: 1024x256 at P=3 -> p=64, ceil(64/3)=22 passes, q=16
    assert formula_cycles(BenchPoint("circulant", 1024, 256, 16, 3)) == 22 * 16 * 8
    assert formula_cycles(BenchPoint("dense", 10, 7, 16, 4)) == 3 * 7
    # 2*m*n ops per vector: 2*1024*1024 / (8192 / 100 MHz) = 25.6 GOPS
    assert gops(1024, 1024, 8192, 100.0) == pytest.approx(25.6)
    assert gops(1024, 1024, 8192, None) is None


def test_weight_bank_block_ram_estimate():
    # 4 banks of 16*64*8 = 8192 words x 32 bits: 16 DP16KD (512x36) each
    assert estimate_weight_dp16kd(BenchPoint("circulant", 1024, 1024, 16, 4)) == 64
    # 32 banks of 2048 words x 16 bits: 2 DP16KD (1024x18) each
    assert estimate_weight_dp16kd(BenchPoint("dense", 256, 256, 16, 32)) == 64
    # 1024x1024 dense at M=32: 32768 words per bank, 32 DP16KD each: far over 208
    assert estimate_weight_dp16kd(BenchPoint("dense", 1024, 1024, 16, 32)) == 1024


def test_plan_covers_the_sweep():
    pts = plan(quick=False)
    names = {p.name for p in pts}
    for n in (256, 512, 1024, 2048, 4096):
        assert f"circulant_{n}x{n}_k16_P4" in names
    for k in (4, 8, 16, 32, 64):
        assert f"circulant_1024x1024_k{k}_P4" in names
    for P in (1, 2, 4, 8, 16):
        assert f"circulant_1024x1024_k16_P{P}" in names
    assert "circulant_256x1024_k16_P4" in names and "circulant_1024x256_k16_P4" in names
    assert len(names) == len(pts)
    assert [p.name for p in plan(quick=True)] == ["circulant_256x256_k16_P4"]
    # sizes that are not a multiple of k are left out, not failed
    assert all(p.k == 32 for p in plan(quick=True, sizes=(32, 48), ks=(32,)))


def test_nextpnr_overflow_is_read_from_its_log():
    log = """Info: Device utilisation:
Info: \t          TRELLIS_IO:     0/   365     0%
Info: \t              DP16KD:   300/   208   144%
Info: \t          MULT18X18D:    32/   156    20%
Info: \t        TRELLIS_COMB: 90000/ 83640   107%
ERROR: Unable to place cell 'x', no BELs remaining to implement cell type 'DP16KD'
"""
    over = overflow_from_log(log)
    assert over == {"dp16kd": {"used": 300, "available": 208, "percent": 144.2},
                    "lut4": {"used": 90000, "available": 83640, "percent": 107.6}}
    assert overflow_from_log("Info: \t DP16KD:   20/   208   9%\n") == {}


def _record(engine, m, n, k, pes, mult18, lut4, fmax, cycles, fits=True):
    return {"engine": engine, "name": f"{engine}_{m}x{n}_{pes}", "m": m, "n": n, "k": k,
            "pes": pes, "mult18": mult18, "lut4": lut4, "fmax_mhz": fmax, "fits": fits,
            "cycles": cycles, "cycles_source": "formula",
            "weight_bits": weight_bits(BenchPoint(engine, m, n, k, pes)),
            "gops": gops(m, n, cycles, fmax) if fits else None,
            "gops_per_mult18": gops(m, n, cycles, fmax) / mult18 if fits else None,
            "gops_per_klut4": gops(m, n, cycles, fmax) / (lut4 / 1000) if fits else None,
            "does_not_fit": None if fits else "DP16KD 1024/208 (492%)"}


def test_comparison_uses_same_mult18_dense_and_falls_back_when_it_does_not_fit():
    circ = _record("circulant", 1024, 1024, 16, 4, mult18=32, lut4=10000, fmax=100.0, cycles=8192)
    big = _record("dense", 1024, 1024, 16, 32, mult18=32, lut4=3000, fmax=None, cycles=32768,
                  fits=False)
    small = _record("dense", 256, 256, 16, 32, mult18=32, lut4=3000, fmax=120.0, cycles=2048)
    rows = compare([circ, big, small])
    assert len(rows) == 1
    r = rows[0]
    # circulant: 25.6 GOPS / 32 = 0.8 per MULT18; dense: 2*1024*1024*120e6 / 32768 / 32
    # = 0.24 per MULT18 (= 2 * Fmax in GHz); ratio 0.8 / 0.24
    assert r["gops_per_mult18_ratio"] == pytest.approx(0.8 / 0.24)
    assert r["weight_bits_ratio"] == 16.0
    assert r["cycles_ratio"] == 4.0
    assert r["dense_fits"] is False and "does not fit" in r["dense_basis"]
    t = targets(rows)
    assert t[0]["gops_met"] is False and t[0]["storage_met"] is True
    # with a fitting same-size dense engine, that one is the basis
    fit = _record("dense", 1024, 1024, 16, 32, mult18=32, lut4=3000, fmax=100.0, cycles=32768)
    r2 = compare([circ, fit])[0]
    assert r2["gops_per_mult18_ratio"] == pytest.approx(0.8 / 0.2)
    assert r2["dense_fits"] is True


def test_points_that_do_not_fit_are_reported_and_the_sweep_goes_on(tmp_path, monkeypatch):
    calls = []

    def fake_synth(design, params, report, **kw):
        calls.append((design, dict(params)))
        if design == "layer" and params["pes"] == 8:
            return {"ok": False, "error": "exit 2: nextpnr failed", "wall_s": 1.0,
                    "overflow": {"lut4": {"used": 90000, "available": 83640, "percent": 107.6}}}
        mult = 8 * params["pes"] if design == "layer" else params["mults"]
        return {"ok": True, "fmax_mhz": 110.0, "timing_met": False, "lut4": 5000, "ff": 4000,
                "mult18": mult, "dp16kd": 20, "wall_s": 1.0}

    monkeypatch.setattr("circnn.synth.synth_job.synth_in_child", fake_synth)
    # 2048x2048 k=16 P=4 needs 256 DP16KD for its weights alone: reported, not synthesised
    big = synth_point(BenchPoint("circulant", 2048, 2048, 16, 4), tmp_path, freq=125.0,
                      timeout=10, fresh=True, say=lambda m: None, source_hash="x")
    assert calls == []
    assert big["fits"] is False and big["fit_source"].startswith("estimate")
    assert big["overflow"]["dp16kd"]["used"] == 256

    result = run_bench(out=tmp_path / "b", sizes=(256,), ks=(16,), pes=(4, 8),
                       max_sim_clocks=0, jobs=1, say=lambda m: None)
    by = {p["name"]: p for p in result["points"]}
    # nextpnr's overflow is reported with the resource, and the other points go on
    p8 = by["circulant_256x256_k16_P8"]
    assert p8["fits"] is False and "LUT4 90000/83640 (108%)" in p8["does_not_fit"]
    assert p8["gops"] is None
    ok = by["circulant_256x256_k16_P4"]
    assert ok["fits"] and ok["mult18"] == 32 and ok["cycles_source"] == "formula"
    assert ok["formula_checked"] is False        # nothing was simulated (max_sim_clocks=0)
    assert ok["gops"] == pytest.approx(2 * 256 * 256 * 110.0 / 512 / 1000)
    # its dense partner has the same MULT18 budget
    assert by["dense_256x256_M32"]["pes"] == 32 and by["dense_256x256_M32"]["fits"]
    assert ("dense", {"act_width": 16, "weight_width": 16, "mults": 32, "batch": 1,
                      "max_in": 256, "max_out": 256, "k": 16}) in calls
    saved = json.loads((tmp_path / "b" / "bench.json").read_text())
    keys = {"engine", "m", "n", "k", "pes", "mult18", "lut4", "ff", "dp16kd", "fmax_mhz", "cycles",
            "cycles_source", "weight_bits", "gops", "gops_per_mult18"}
    assert all(keys <= set(p) for p in saved["points"])
    assert "does not fit" in (tmp_path / "b" / "bench.md").read_text()
    assert (tmp_path / "b" / "scaling.png").stat().st_size > 0
    assert (tmp_path / "b" / "efficiency.png").stat().st_size > 0


def test_quick_cycles_match_the_formula_in_rtl(tmp_path, capsys):
    code = main(["bench", "--quick", "--skip-synth", "--quiet", "--simulator", "icarus",
                 "--out", str(tmp_path / "q")])
    capsys.readouterr()
    assert code == 0
    data = json.loads((tmp_path / "q" / "bench.json").read_text())
    (pt,) = data["points"]
    assert pt["engine"] == "circulant" and pt["cycles_source"] == "rtl"
    assert data["simulator"] == "icarus"
    assert pt["formula_cycles"] == 512
    assert abs(pt["cycles"] - 512) / 512 <= 0.02


@pytest.mark.parametrize("args, message", [
    (["--ks", "5"], "--ks: 5"),
    (["--sizes", "8"], "--sizes: 8"),
    (["--pes", "0"], "--pes: 0"),
    (["--jobs", "0"], "--jobs must be"),
    (["--sizes", "a,b"], "--sizes takes"),
])
def test_bad_sweep_is_rejected_before_anything_is_written(tmp_path, capsys, args, message):
    out = tmp_path / "never"
    code = main(["bench", "--out", str(out)] + args)
    _, err = capsys.readouterr()
    assert code == 2 and message in err
    assert not out.exists()
