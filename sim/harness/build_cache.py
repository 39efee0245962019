"""Simulator builds, compiled once and reused: a cache keyed by content.

A build (Verilator's C++ executable, Icarus's ``sim.vvp``) depends only on
the Verilog text, the simulator and its version, cocotb's version and the
build options; :func:`cached_build` hashes all of them, and a build with
the same key is reused, across tests of one configuration and across
runs.  Builds live in ``build_root()/sim-cache/<simulator>-<key>/``.

* **Complete or rebuilt**: a build is trusted only when its ``complete``
  marker exists, written after the build succeeded.  A failed or
  interrupted build leaves no marker, so the next run removes the folder and
  builds again.
* **One builder per key**: concurrent test workers that need the same build
  wait on a lock file; the first builds, the others then reuse it.
* **Bounded**: beyond :data:`MAX_ENTRIES` builds, the least recently used
  are removed.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

__all__ = ["CachedBuild", "cached_build", "cached_verilog", "build_key", "cache_root",
           "MAX_ENTRIES", "MAX_VERILOG", "CACHE_ENV"]

#: builds kept (most are under 5 MB; an accelerator's Verilator build is about 30 MB)
MAX_ENTRIES = 300
#: Verilog texts kept (yosys's output for given RTLIL; most are under 1 MB)
MAX_VERILOG = 1000
_MARKER = "complete"


@dataclass(frozen=True)
class CachedBuild:
    """A usable build: its folder, whether it was reused, and what building cost."""

    folder: Path
    cached: bool
    build_s: float


#: where the builds live: this variable, else the user's cache folder
CACHE_ENV = "CIRCNN_SIM_CACHE"


def cache_root() -> Path:
    """``$CIRCNN_SIM_CACHE``, else ``$XDG_CACHE_HOME/circnn/sim-builds`` (``~/.cache``
    by default): outside the build folder, so that runs with their own build folder
    (the tests' temporary ones, another checkout) share the builds too."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "circnn" / "sim-builds"


def build_key(simulator: str, sources: Sequence[Path], options: Sequence[str]) -> str:
    """Hash of everything a build depends on: source texts (not their paths),
    the simulator and its version, cocotb's version and the options."""
    import cocotb
    import cocotb_tools.config

    from .simulators import simulator_version
    h = hashlib.sha256()
    # a Verilator executable links cocotb's libraries by path: one entry per environment
    for part in (simulator, simulator_version(simulator), f"cocotb {cocotb.__version__}",
                 str(cocotb_tools.config.libs_dir), *options):
        h.update(part.encode() + b"\0")
    for source in sources:
        h.update(Path(source).name.encode() + b"\0")
        h.update(Path(source).read_bytes() + b"\0")
    return h.hexdigest()[:24]


def cached_build(simulator: str, sources: Sequence[Path], options: Sequence[str],
                 build: Callable[[Path], None]) -> CachedBuild:
    """The build of ``sources`` with ``options``: reused when complete, else made by
    ``build(folder)`` (which must raise on failure) and marked complete."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    key = build_key(simulator, sources, options)
    folder = root / f"{simulator}-{key}"
    marker = folder / _MARKER
    with _locked(root / f"{simulator}-{key}.lock"):
        if marker.exists():
            os.utime(marker)                    # recently used
            return CachedBuild(folder, True, 0.0)
        if folder.exists():                     # a failed or interrupted build: not trusted
            shutil.rmtree(folder)
        folder.mkdir()
        t0 = time.monotonic()
        build(folder)
        marker.write_text(f"{key}\n")
        built = CachedBuild(folder, False, time.monotonic() - t0)
    _prune(root, keep=folder)
    return built


def cached_verilog(rtlil_text: str, convert: Callable[[str], str]) -> str:
    """``convert(rtlil_text)`` (yosys's RTLIL-to-Verilog step, a few tenths of a second a
    run), kept by the hash of the RTLIL and of the tools
    (:func:`circnn.verilog.verilog_tool_version`): a run that elaborates the
    same design again skips yosys."""
    from circnn.verilog import verilog_tool_version
    folder = cache_root() / "verilog"
    h = hashlib.sha256(verilog_tool_version().encode() + b"\0" + rtlil_text.encode())
    path = folder / f"{h.hexdigest()[:32]}.v"
    try:
        text = path.read_text()
        os.utime(path)                          # recently used
        return text
    except OSError:
        pass
    text = convert(rtlil_text)
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text)
    os.replace(partial, path)                   # whole or absent, for concurrent readers
    files = sorted(folder.glob("*.v"), key=lambda p: p.stat().st_mtime)
    for old in files[:max(0, len(files) - MAX_VERILOG)]:
        old.unlink(missing_ok=True)
    return text


class _locked:
    """An exclusive ``flock`` on ``path`` for the duration of a ``with``."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _prune(root: Path, keep: Path) -> None:
    """Remove the least recently used complete builds beyond MAX_ENTRIES."""
    entries = []
    for folder in root.iterdir():
        marker = folder / _MARKER
        if folder.is_dir() and folder != keep and marker.exists():
            entries.append((marker.stat().st_mtime, folder))
    entries.sort()
    for _, folder in entries[:max(0, len(entries) + 1 - MAX_ENTRIES)]:
        lock = root / f"{folder.name}.lock"
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            continue
        try:                                    # skip a build another worker is using
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        try:
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
