"""Run a cocotb bench against an Amaranth component, from pytest.

``run_bench`` elaborates the component to Verilog in a per-test build
directory, compiles it with Icarus Verilog through cocotb's Python runner
and runs a cocotb test module (from :mod:`circnn.sim.benches`) on it.  The
bench receives its configuration as JSON in the ``CIRCNN_BENCH`` environment
variable (read it with :func:`bench_config`).  ``WAVES=1`` in the
environment records an FST waveform in the build directory.
:func:`require_simulator` refuses, in one line, when Icarus Verilog is
missing; the simulation entry points call it before they write anything.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from circnn.errors import CircnnError
from circnn.verilog import elaborate_verilog

__all__ = ["run_bench", "bench_config", "build_root", "slug", "require_simulator",
           "PRIMITIVES_DIR", "BENCH_ENV", "SIMULATOR_EXECUTABLES"]

BENCH_ENV = "CIRCNN_BENCH"
#: Behavioural Verilog models of the ECP5 primitives (for ``target="ecp5"`` runs).
PRIMITIVES_DIR = Path(__file__).resolve().parent.parent / "primitives"


#: What cocotb's Icarus runner executes: the compiler and the simulation runtime
#: (both in the Debian/Ubuntu package ``iverilog``).
SIMULATOR_EXECUTABLES = ("iverilog", "vvp")


def require_simulator() -> None:
    """Raise :class:`~circnn.errors.CircnnError` (one line) unless Icarus Verilog is on ``PATH``.

    The message names the missing executable and the command that installs
    it.  Cheap (a ``PATH`` look-up): call it before any file is written.
    """
    for exe in SIMULATOR_EXECUTABLES:
        if shutil.which(exe) is None:
            raise CircnnError(f"the RTL simulation needs Icarus Verilog, but `{exe}` is not on "
                              f"PATH; install it with: sudo apt-get install iverilog")


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


def run_bench(component, *, name: str, test_module: str, config: dict | None = None,
              toplevel: str = "top", target: str = "generic", testcase=None,
              seed: int | None = None, timeout_s: float | None = None) -> Path:
    """Elaborate, compile and simulate; raise AssertionError unless all tests pass.

    ``target`` ``ecp5`` elaborates with ECP5 primitives and simulates them
    with their behavioural models (:data:`PRIMITIVES_DIR`).  Returns the
    build directory.  ``name`` identifies the run (one build directory per
    name, so parallel pytest workers never share one).
    """
    require_simulator()
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    build_dir = build_root() / "sim" / slug(name)
    if build_dir.exists():
        shutil.rmtree(build_dir)
    build_dir.mkdir(parents=True)
    verilog_path = build_dir / f"{toplevel}.v"
    verilog_path.write_text(simulation_verilog(elaborate_verilog(component, toplevel, target)))
    sources = [verilog_path]
    if target == "ecp5":
        sources += sorted(PRIMITIVES_DIR.glob("*.v"))

    waves = os.environ.get("WAVES", "0") not in ("", "0")
    runner = get_runner("icarus")
    runner.build(sources=sources, hdl_toplevel=toplevel, build_dir=build_dir,
                 timescale=("1ns", "1ps"), waves=waves, always=True,
                 log_file=build_dir / "build.log")
    env = {BENCH_ENV: json.dumps(config or {})}
    if timeout_s is not None:
        env["CIRCNN_BENCH_TIMEOUT_S"] = str(timeout_s)
    log_file = build_dir / "sim.log"
    try:
        results = runner.test(test_module=test_module, hdl_toplevel=toplevel,
                              build_dir=build_dir, test_dir=build_dir, extra_env=env,
                              waves=waves, testcase=testcase, seed=seed,
                              results_xml=str(build_dir / "results.xml"), log_file=log_file)
    except SystemExit as exc:  # cocotb's runner exits on failure under pytest
        raise AssertionError(f"cocotb bench {test_module} failed (exit {exc.code}); "
                             f"log: {log_file}\n{_tail(log_file)}") from None
    num_tests, num_failed = get_results(results)
    if num_tests == 0 or num_failed:
        raise AssertionError(f"cocotb bench {test_module}: {num_failed} of {num_tests} "
                             f"tests failed; log: {log_file}\n{_tail(log_file)}")
    return build_dir


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
