# amaranth: UnusedElaboratable=no
"""``circnn infer --build DIR --backend rtl``: the Verilog file of a build folder,
loaded by replaying its program.bin through the host bus, against the golden model,
every output word compared (one small network: the suite's time is shared)."""

import json
from pathlib import Path

import numpy as np

from circnn.cli import main
from circnn.sim.harness.simulators import suite_simulator

from test_build import build_argv, inputs, tree


def test_infer_build_simulates_the_built_verilog(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CIRCNN_BUILD", str(tmp_path / "work"))
    model, cal, x = inputs(tmp_path, 21, cnn=False)
    out = tmp_path / "build"
    # the module is named like the harness's own top: the harness must name its shell apart
    assert main(build_argv(model, cal, out, "--top", "top", "--layer-batches", "2")) == 0
    built = tree(out)

    # what the harness compiles: the build's file (after its header), beside the shell
    import circnn.sim.harness.accelerator as harness
    runs = []
    real_run_bench = harness.run_bench

    def run_bench(*args, **kwargs):
        runs.append(kwargs)
        return real_run_bench(*args, **kwargs)
    monkeypatch.setattr(harness, "run_bench", run_bench)

    simulator = suite_simulator("icarus")
    assert main(["infer", "--build", str(out), "--backend", "rtl", "--inputs", str(x),
                 "--out", str(tmp_path / "rtl.npy"), "--report", str(tmp_path / "rtl.json"),
                 "--simulator", simulator]) == 0
    printed = capsys.readouterr().out
    assert main(["infer", "--build", str(out), "--backend", "golden", "--inputs", str(x),
                 "--out", str(tmp_path / "golden.npy"), "--quiet"]) == 0

    (run,) = runs
    (verilog,) = run["verilog_files"]
    text = (out / "top.v").read_text()
    assert verilog.top == "top" and run["toplevel"] != "top"
    assert text.endswith(verilog.text) and text[:-len(verilog.text)].startswith("// circnn ")
    assert "module top(" in verilog.text

    report = json.loads((tmp_path / "rtl.json").read_text())
    meta = json.loads((out / "build.json").read_text())
    assert report["rtl_golden_mismatches"] == 0
    assert report["accelerator"] == meta["accelerator"]
    assert report["mac_bound_cycles"] == meta["mac_bound_cycles"]
    assert report["rtl"]["padded_rows"] == 3 and report["rtl"]["inferences_counter"] == 8
    assert report["build"] == str(out) and str(out) in report["accelerator_source"]
    assert any(line.startswith("accelerator (the build") for line in printed.splitlines())
    rtl, golden = np.load(tmp_path / "rtl.npy"), np.load(tmp_path / "golden.npy")
    assert rtl.shape == (5, 7) and np.array_equal(rtl, golden)
    assert tree(out) == built                   # the build is read, never written
    assert not list(Path(tmp_path / "work").rglob("network_runs/*"))
