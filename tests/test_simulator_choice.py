# amaranth: UnusedElaboratable=no
"""Choosing a simulator: ``--simulator`` on the four commands that simulate, their
default, bad names and missing tools refused on one line before any work; the
build cache (a failed C++ build is rebuilt, never trusted; an identical one is
reused); waveforms on both simulators."""

import json

import numpy as np
import pytest

from circnn.bundle import Bundle, save_bundle
from circnn.cli import main
from circnn.config import FFTConfig
from circnn.errors import CircnnError
from circnn.rtl.fft import FFT
from circnn.sim.harness.runner import run_bench
from circnn.sim.harness.stream_shell import StreamShell

from network_cases import random_bundle

UNKNOWN = "--simulator 'modelsim': unknown simulator; choose one of verilator, icarus"


def _bundle_files(tmp_path):
    rng = np.random.default_rng(5)
    save_bundle(tmp_path / "model.npz", Bundle(random_bundle(rng, 4, [2, 2], ["relu"]).layers))
    np.save(tmp_path / "x.npy", rng.uniform(-1, 1, (3, 8)))
    return tmp_path / "model.npz", tmp_path / "x.npy"


def _command(name, tmp_path):
    """The command line of ``name``, writing only ``tmp_path / "out"`` (a file or folder)."""
    out = tmp_path / "out"
    if name.startswith("infer"):
        model, x = _bundle_files(tmp_path)
        backend = name.split(":")[1]
        return ["infer", "--model", str(model), "--inputs", str(x), "--backend", backend,
                "--out", str(out)] + (["--k", "4"] if backend == "rtl-dense" else [])
    if name == "demo":
        return ["demo", "--out", str(out), "--epochs", "1", "--limit", "12", "--skip-synth",
                "--quiet"]
    return [name, "--quick", "--skip-synth", "--quiet", "--out", str(out)]


COMMANDS = ["infer:rtl", "infer:rtl-dense", "demo", "bench", "perf-layer"]


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unknown_simulator_is_one_line_before_any_work(command, tmp_path, capsys,
                                                          monkeypatch):
    monkeypatch.setenv("CIRCNN_BUILD", str(tmp_path / "build"))
    code = main(_command(command, tmp_path) + ["--simulator", "modelsim"])
    out, err = capsys.readouterr()
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.endswith(UNKNOWN), line
    assert not (tmp_path / "out").exists() and not (tmp_path / "build").exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_verilator_is_the_default_and_is_checked_first(command, tmp_path, capsys, monkeypatch):
    """Each command asks for Verilator when not told otherwise, and a Verilator that
    cannot run here (no g++) stops it on one line before anything is written."""
    from circnn.sim.harness import simulators
    monkeypatch.setenv("CIRCNN_BUILD", str(tmp_path / "build"))
    monkeypatch.setattr(simulators.shutil, "which", lambda exe: None if exe == "g++" else exe)
    code = main(_command(command, tmp_path))
    _, err = capsys.readouterr()
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.endswith(
        "the verilator simulation compiles C++ and needs `g++`, which is not on PATH; "
        "install it with: sudo apt-get install g++ make perl (or use --simulator icarus)"), line
    assert not (tmp_path / "out").exists() and not (tmp_path / "build").exists()


def test_infer_refuses_a_simulator_for_a_backend_that_does_not_simulate(tmp_path, capsys):
    model, x = _bundle_files(tmp_path)
    code = main(["infer", "--model", str(model), "--inputs", str(x), "--backend", "golden",
                 "--out", str(tmp_path / "y.npy"), "--simulator", "icarus"])
    _, err = capsys.readouterr()
    assert code == 2 and "--simulator" in err and "golden" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "y.npy").exists()


def test_the_suite_simulator_follows_SIM(monkeypatch):
    from circnn.sim.harness.simulators import suite_simulator
    monkeypatch.delenv("SIM", raising=False)
    assert suite_simulator("verilator") == "verilator"
    monkeypatch.setenv("SIM", "icarus")
    assert suite_simulator("verilator") == "icarus"


# --- the build cache, on a real Verilator build -----------------------------------------

def _small_fft_run(name, simulator, config=None):
    """A 4-point FFT in a stream shell: the smallest design with a real bench."""
    cfg = FFTConfig(4, 8, 8)
    return run_bench(StreamShell(FFT(cfg), addr_bits=10), name=name,
                     test_module="circnn.sim.benches.fft_bench", simulator=simulator,
                     config=dict(points=4, width=8, twiddle_width=8, rounding="half_up",
                                 mode="mixed", random=50, idle=0.2, stall=0.2, seed=11,
                                 **(config or {})))


def test_a_failed_cxx_build_is_one_line_and_is_rebuilt_next_time(tmp_path, monkeypatch):
    monkeypatch.setenv("CIRCNN_SIM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CIRCNN_BUILD", str(tmp_path / "build"))
    # a compiler that fails: make runs it for every C++ file of the build
    monkeypatch.setenv("MAKEFLAGS", "CXX=false")
    with pytest.raises(CircnnError) as failure:
        _small_fft_run("cache_fail", "verilator")
    message = str(failure.value)
    assert "\n" not in message and message.startswith("the verilator build failed")
    assert "build.log" in message
    assert "the next run builds again" in message
    (folder,) = (tmp_path / "cache").glob("verilator-*/")
    assert not (folder / "complete").exists()         # never trusted
    monkeypatch.delenv("MAKEFLAGS")
    first = _small_fft_run("cache_ok", "verilator")
    assert not first.build_cached and first.build_s > 0
    assert (folder / "complete").exists()             # the same key, built this time
    again = _small_fft_run("cache_again", "verilator")
    assert again.build_cached and again.build_s == 0  # the identical build, reused


def test_infer_reports_a_failed_build_on_one_line_and_writes_nothing(tmp_path, capsys,
                                                                    monkeypatch):
    monkeypatch.setenv("CIRCNN_SIM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CIRCNN_BUILD", str(tmp_path / "build"))
    monkeypatch.setenv("MAKEFLAGS", "CXX=false")
    model, x = _bundle_files(tmp_path)
    code = main(["infer", "--model", str(model), "--inputs", str(x), "--backend", "rtl",
                 "--out", str(tmp_path / "y.npy"), "--quiet"])
    _, err = capsys.readouterr()
    assert code == 2
    (line,) = err.strip().splitlines()
    assert "error: the verilator build failed" in line and "build.log" in line
    assert line.endswith("the next run builds again; or use --simulator icarus)")
    assert not (tmp_path / "y.npy").exists()
    assert not [p for p in (tmp_path / "cache").rglob("complete")]


@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_waves_gives_an_fst_waveform_on_both(simulator, tmp_path, monkeypatch):
    monkeypatch.setenv("CIRCNN_BUILD", str(tmp_path / "build"))
    monkeypatch.setenv("WAVES", "1")
    run = _small_fft_run(f"waves_{simulator}", simulator)
    waves = sorted(p for p in (tmp_path / "build" / "sim" / f"waves_{simulator}").rglob("*.fst"))
    assert len(waves) == 1 and waves[0].stat().st_size > 1000, waves
    assert waves[0].read_bytes()[:1] == b"\x00"       # an FST file's first block: a header
    assert run.clocks > 0


def test_a_missing_header_names_the_package_to_install(tmp_path):
    from circnn.sim.harness.runner import _build_error
    log = tmp_path / "build.log"
    log.write_text("c++ -Os -c fstcpp_writer.cpp\n"
                   "fstcpp_writer.cpp:18:10: fatal error: lz4.h: No such file or directory\n"
                   "make: *** [verilated.mk:295: verilated_fst_c.o] Error 1\n")
    message = str(_build_error("verilator", log, RuntimeError()))
    assert message == (f"the verilator build failed: the C++ header lz4.h is not installed; "
                       f"install it with: sudo apt-get install liblz4-dev (log: {log}; the next "
                       f"run builds again)")


# --- circnn perf-sim ---------------------------------------------------------------------

def test_perf_sim_measures_each_run_and_writes_its_table(tmp_path, capsys):
    out = tmp_path / "perf"
    assert main(["perf-sim", "--rows", "2", "--simulators", "icarus", "--quiet",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    data = json.loads((out / "sim.json").read_text())
    assert data["network"] == "64-256-128-10" and data["k"] == 16 and data["rows"] == 2
    assert [(r["simulator"], r["phase"]) for r in data["runs"]] == [("icarus", "cold"),
                                                                    ("icarus", "cached")]
    cold, cached = data["runs"]
    assert not cold["build_cached"] and cached["build_cached"]
    for run in data["runs"]:
        assert run["golden_mismatches"] == 0 and run["sim_clocks"] > 2 * 448
        assert run["clocks_per_s"] == round(run["sim_clocks"] / run["sim_wall_s"])
        assert run["wall_s"] > run["sim_wall_s"] > 0
    assert cold["sim_clocks"] == cached["sim_clocks"]       # the same run, the same clocks
    assert data["verilator_over_icarus_clocks_per_s"] is None   # one simulator only
    assert "| icarus | cold |" in printed and (out / "sim.md").read_text() in printed


@pytest.mark.parametrize("args, message", [
    (["--simulators", "icarus,questa"], "--simulators 'questa': unknown simulator"),
    (["--simulators", ","], "--simulators needs at least one"),
    (["--rows", "0"], "--rows 0: must be 1..450"),
    (["--rows", "451"], "--rows 451: must be 1..450"),
])
def test_perf_sim_bad_options_are_one_line_before_any_work(args, message, tmp_path, capsys):
    out = tmp_path / "perf"
    assert main(["perf-sim", "--out", str(out), *args]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert message in line
    assert not out.exists()


def test_yosys_runs_once_per_rtlil_text(tmp_path, monkeypatch):
    from circnn.sim.harness.build_cache import cached_verilog
    monkeypatch.setenv("CIRCNN_SIM_CACHE", str(tmp_path / "cache"))
    calls = []

    def convert(text):
        calls.append(text)
        return f"// from {text}"
    assert cached_verilog("module \\a\nend\n", convert) == "// from module \\a\nend\n"
    assert cached_verilog("module \\a\nend\n", convert) == "// from module \\a\nend\n"
    assert cached_verilog("module \\b\nend\n", convert) == "// from module \\b\nend\n"
    assert calls == ["module \\a\nend\n", "module \\b\nend\n"]
    assert not list((tmp_path / "cache" / "verilog").glob(".*.tmp"))
