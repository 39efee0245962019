"""``circnn build --program``: load a build's bitstream into the board with openFPGALoader.

``openFPGALoader -b <board> FILE.bit`` writes the bitstream to the FPGA's
configuration memory (SRAM: it is gone at the next power cycle; the
board's flash is left alone).  The loader is the one the environment
variable ``OPENFPGALOADER`` names (as amaranth-boards' platforms take it),
else ``openFPGALoader`` on ``PATH``; when there is none, a checkout's
``scripts/ensure-tools.sh --program`` installs it (the Debian package
``openfpgaloader``, through apt-get) before any work, since ``--program``
asks for it.  A loader that finds no board (none plugged in, no
permission on the USB device) is one line, exit status 2.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .errors import CircnnError

__all__ = ["LOADER", "find_loader", "program_board"]

#: the loader's command name (Debian package ``openfpgaloader``)
LOADER = "openFPGALoader"
#: the project's tool installer (a checkout's)
ENSURE_TOOLS = Path(__file__).resolve().parent.parent / "scripts" / "ensure-tools.sh"
#: what openFPGALoader says when it finds no cable or no device on it
_NO_BOARD = ("unable to open ftdi device", "no cable", "cable not found", "jtag init failed",
             "no device found", "fail to open", "unable to open", "usb_open",
             "libusb_open", "not found", "can't find", "cannot find")


def _which() -> str | None:
    named = os.environ.get("OPENFPGALOADER")
    if named:
        return shutil.which(named) or (named if Path(named).is_file() else None)
    return shutil.which(LOADER)


def find_loader(say=None) -> str:
    """The openFPGALoader to run; without one, ``scripts/ensure-tools.sh --program``
    installs it (a checkout only), else a one-line error naming what to install."""
    found = _which()
    if found is not None:
        return found
    hint = "install the Debian package openfpgaloader (sudo apt-get install openfpgaloader)"
    if os.environ.get("OPENFPGALOADER"):
        raise CircnnError(f"--program: OPENFPGALOADER={os.environ['OPENFPGALOADER']!r} is no "
                          f"program; unset it or name openFPGALoader")
    if ENSURE_TOOLS.is_file():
        if say:
            say(f"--program: {LOADER} not found; installing it (scripts/ensure-tools.sh "
                f"--program)")
        proc = subprocess.run(["bash", str(ENSURE_TOOLS), "--program"], capture_output=True,
                              text=True)
        found = _which()
        if proc.returncode == 0 and found is not None:
            return found
        last = (proc.stderr.strip().splitlines() or [""])[-1]
        raise CircnnError(f"--program: {LOADER} not found and scripts/ensure-tools.sh "
                          f"--program could not install it ({last or 'exit ' + str(proc.returncode)}"
                          f"); {hint}")
    raise CircnnError(f"--program: {LOADER} not found; {hint}")


def program_board(bitstream: Path, board, say=None) -> None:
    """Load ``bitstream`` into ``board`` (a :class:`~circnn.config.board.Board`); a
    one-line CircnnError when the loader fails (no board found, or another reason)."""
    loader = find_loader(say)
    if say:
        say(f"{Path(loader).name} -b {board.loader_board} {bitstream.name}")
    try:
        proc = subprocess.run([loader, "-b", board.loader_board, str(bitstream)],
                              capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise CircnnError(f"--program: {LOADER} did not finish within 300 s") from None
    except OSError as exc:
        raise CircnnError(f"--program: cannot run {loader!r}: {exc.strerror or exc}") from None
    if proc.returncode == 0:
        return
    text = (proc.stdout + "\n" + proc.stderr).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    said = next((line for line in lines if any(p in line.lower() for p in _NO_BOARD)), None)
    if said is not None:
        raise CircnnError(f"--program: no {board.name} found by {LOADER} ({said}); plug the "
                          f"board's USB port in (the bitstream is in the build folder: "
                          f"{LOADER} -b {board.loader_board} {bitstream})")
    raise CircnnError(f"--program: {LOADER} failed (exit {proc.returncode}"
                      + (f": {lines[-1]}" if lines else "") + ")")
