"""A build folder: what ``circnn build`` writes, and reading it back for ``circnn infer --build``.

The folder (``docs/build.md``) holds the accelerator's Verilog
(``<top>.v``), ``program.bin`` (the host-bus writes that load the network,
:mod:`circnn.host_program`), ``program.json`` (their summary and how to run
an inference, :mod:`circnn.host_protocol`), ``build.json`` (every
accelerator parameter, the layers' formats and errors, the MAC-bound
cycles, the versions, the inputs' and files' SHA-256) and, with
``--synth``, ``synth.json`` and ``synth.files/``; with ``--board``, the board's
top level (``<top>_<board>.v``, ``.lpf``) and with ``--synth`` its bitstream
(``.bit``) and ``board.files/`` (:mod:`circnn.board_build`).

:func:`load_build` reads a folder back and refuses, in one line naming the
folder or file, anything that is not a whole, unchanged build: a missing
folder or file, JSON that is not a build's, parameters no accelerator has,
a ``program.bin`` or Verilog whose hash is not the one recorded.
:class:`Build` then checks the bundle and calibration rows a run gives
against those the build was made from, and the network compiled from them
against ``program.bin``, write for write.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .config import NetworkConfig
from .errors import CircnnError
from .files import check_output_dir
from .host_program import HostProgram, read_program
from .provenance import verilog_comment

__all__ = ["BUILD_JSON", "PROGRAM_BIN", "PROGRAM_JSON", "SYNTH_REPORT", "SYNTH_FILES", "FORMAT",
           "BOARD_FILES",
           "BUILD_KEYS", "sha256_file", "check_build_out", "Build", "load_build"]

BUILD_JSON, PROGRAM_BIN, PROGRAM_JSON = "build.json", "program.bin", "program.json"
SYNTH_REPORT, SYNTH_FILES = "synth.json", "synth.files"
#: a --board --synth build's flow files (one folder per place-and-route attempt)
BOARD_FILES = "board.files"
#: the board's files a build writes, besides Verilog (its top level's constraints, bitstream)
BOARD_SUFFIXES = (".v", ".lpf", ".bit")
#: ``format`` of build.json
FORMAT = "circnn-build/1"
#: what build.json always holds
BUILD_KEYS = ("format", "provenance", "circnn_version", "git_commit", "amaranth_version",
              "yosys_version", "design", "target", "top", "accelerator", "layers",
              "mac_bound_cycles", "model", "calibration", "files", "sha256")
#: the design a build elaborates
DESIGN = "accelerator"


def sha256_file(path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_build_out(out) -> Path:
    """``--out`` of ``circnn build`` is replaced as a whole, so it must be a new folder
    (in an existing one), an empty one, or a previous build: ``build.json`` and
    nothing but a build's files (the names above, Verilog files and a board's
    constraints and bitstream)."""
    out = check_output_dir(out, "--out", whole=True)
    if not out.is_dir():
        return out
    names = os.listdir(out)
    known = {BUILD_JSON, PROGRAM_BIN, PROGRAM_JSON, SYNTH_REPORT, SYNTH_FILES, BOARD_FILES}
    foreign = sorted(n for n in names if n not in known
                     and not (n.endswith(BOARD_SUFFIXES) and BUILD_JSON in names))
    if foreign:
        listed = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise CircnnError(f"--out {str(out)!r}: holds files circnn build did not write "
                          f"({listed}); a build replaces the whole folder, so name a new or "
                          f"empty folder or a previous build")
    return out


@dataclass
class Build:
    """A build folder read back: its ``build.json``, accelerator and host program."""

    folder: Path
    meta: dict
    net: NetworkConfig
    program: HostProgram

    @property
    def target(self) -> str:
        return self.meta["target"]

    @property
    def verilog_path(self) -> Path:
        return self.folder / self.meta["files"]["verilog"]

    def _where(self, name: str = BUILD_JSON) -> str:
        return repr(str(self.folder / name))

    def files(self) -> list[tuple[str, Path]]:
        """The folder's files a run reads, as (what, path) for output-path checks."""
        return [(f"--build's {name}", self.folder / name)
                for name in (BUILD_JSON, PROGRAM_BIN, self.meta["files"]["verilog"])]

    def _checked_input(self, given, key: str, flag: str) -> Path | None:
        """The file of input ``key`` (``model``, ``calibration``): ``given`` or the one
        recorded, with the SHA-256 the build recorded."""
        recorded = self.meta[key]
        if recorded is None:
            if given is not None:
                raise CircnnError(f"{flag} {str(given)!r}: the build {str(self.folder)!r} chose "
                                  f"its formats without calibration rows (from the weights and "
                                  f"biases); drop {flag}, or build again with it")
            return None
        path = Path(given) if given is not None else Path(recorded["path"])
        shown = f"{flag} {str(path)!r}" if given is not None else \
            f"{self._where()}: its {key} {str(path)!r}"
        if not path.is_file():
            raise CircnnError(f"{shown} does not exist or is no file"
                              + ("" if given is not None else f"; give the file with {flag}"))
        if sha256_file(path) != recorded["sha256"]:
            raise CircnnError(f"{shown} does not match the build {str(self.folder)!r}: the "
                              f"build was made from a file of SHA-256 {recorded['sha256'][:16]}... "
                              f"({recorded['path']!r}); give that file or build again")
        return path

    def check_inputs(self, model, calibration) -> tuple[Path, Path | None]:
        """The bundle and the calibration rows of a run on this build: those given
        (``None``: those recorded), refused unless they are the build's own."""
        return (self._checked_input(model, "model", "--model"),
                self._checked_input(calibration, "calibration", "--calibration"))

    def check_program(self, compiled) -> None:
        """Refuse, in one line, a network (its programs or steps) whose host-bus
        writes on this accelerator are not ``program.bin``'s, write for write."""
        from .sim.model.accelerator import build_image, host_writes
        writes = host_writes(build_image(compiled, self.net), weights=True, n_batches=1)
        if writes == self.program.writes:
            return
        at = next((i for i, (a, b) in enumerate(zip(writes, self.program.writes)) if a != b),
                  min(len(writes), len(self.program.writes)))
        raise CircnnError(f"{self._where(PROGRAM_BIN)}: does not load the network compiled from "
                          f"the bundle and calibration rows build.json names ({len(writes)} "
                          f"writes against {len(self.program.writes)}, the first difference at "
                          f"write {at}); build again")

    def verilog_module(self):
        """The Verilog to simulate: the file's text after its provenance header."""
        from .sim.harness.prebuilt import VerilogModule
        text = self.verilog_path.read_text()
        header = verilog_comment(self.meta["provenance"])
        if not text.startswith(header):
            raise CircnnError(f"{self._where(self.meta['files']['verilog'])}: its header is not "
                              f"the provenance build.json records; build again")
        return VerilogModule(text[len(header):], self.meta["top"], self.meta["files"]["verilog"],
                             str(self.verilog_path))


def _read_meta(folder: Path) -> dict:
    path = folder / BUILD_JSON
    where = repr(str(path))
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise CircnnError(f"--build {str(folder)!r}: holds no {BUILD_JSON} (not a folder "
                          f"circnn build wrote)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CircnnError(f"{where}: cannot read it: {getattr(exc, 'strerror', None) or exc}") \
            from None
    except json.JSONDecodeError as exc:
        raise CircnnError(f"{where}: not JSON ({exc.msg} at line {exc.lineno}); the build is "
                          f"corrupt, build again") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CircnnError(f"{where}: format {found!r}, expected {FORMAT!r}")
    missing = [key for key in BUILD_KEYS if key not in meta]
    if missing:
        raise CircnnError(f"{where}: has no key {missing[0]!r}; the build is corrupt, build again")
    for key in ("model", "calibration"):
        record = meta[key]
        if record is None and key == "calibration":
            continue
        if not isinstance(record, dict) or not all(isinstance(record.get(k), str)
                                                   for k in ("path", "sha256")):
            raise CircnnError(f"{where}: {key} must be {{\"path\", \"sha256\"}}, not {record!r}")
    files = meta["files"]
    for key in ("verilog", "program"):
        name = files.get(key) if isinstance(files, dict) else None
        if not isinstance(name, str) or not name or Path(name).name != name:
            raise CircnnError(f"{where}: files.{key} must name a file in the folder, not "
                              f"{name!r}")
    return meta


def _check_hash(folder: Path, meta: dict, name: str) -> None:
    path = folder / name
    where = repr(str(path))
    if not path.is_file():
        raise CircnnError(f"{where}: missing (the build {str(folder)!r} is incomplete); build "
                          f"again")
    recorded = meta["sha256"].get(name) if isinstance(meta["sha256"], dict) else None
    if recorded != sha256_file(path):
        raise CircnnError(f"{where}: changed since the build (its SHA-256 is not the one "
                          f"build.json records); build again")


def load_build(folder) -> Build:
    """The build in ``folder`` (``--build``), checked whole and unchanged."""
    from .designs import get_design
    from .errors import ParameterError
    folder = Path(folder)
    if not folder.is_dir():
        raise CircnnError(f"--build {str(folder)!r}: "
                          + ("is no folder" if folder.exists() else "does not exist"))
    meta = _read_meta(folder)
    if meta["design"] != DESIGN or not isinstance(meta["accelerator"], dict):
        raise CircnnError(f"{str(folder / BUILD_JSON)!r}: a build of design {meta['design']!r}; "
                          f"circnn infer runs builds of the {DESIGN}")
    design = get_design(DESIGN)
    try:
        net = design.configure(design.resolve(meta["accelerator"], from_text=False))
    except ParameterError as exc:
        raise CircnnError(f"{str(folder / BUILD_JSON)!r}: accelerator: {exc}") from None
    for name in (meta["files"]["program"], meta["files"]["verilog"]):
        _check_hash(folder, meta, name)
    program = read_program(folder / meta["files"]["program"])
    if program.data_bits != net.data_width:
        raise CircnnError(f"{str(folder / PROGRAM_BIN)!r}: writes of {program.data_bits} data "
                          f"bits; the accelerator's bus has {net.data_width}")
    return Build(folder, meta, net, program)
