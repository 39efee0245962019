"""What made a generated file: the provenance header every generated file carries.

A generated file records the circnn version, the git commit of the source
tree it was made from (``git describe --always --dirty`` of the checkout
circnn runs from, ``-dirty`` when tracked files were changed; ``unknown``
when circnn does not run from a git checkout or git is missing), what was
made (design, target, top module, parameters, inputs and their hashes) and
the one command that makes it again, with every option that changed the
output.  The version alone does not trace a file to its code: it stays the
same over many commits that change the RTL.

The header is a dict (:func:`provenance`), kept as it is under the key
``provenance`` of a JSON file and rendered as lines (:func:`header_lines`)
at the top of a Verilog file (:func:`verilog_comment`), so the files of one
run carry the same header and can be compared line for line.
"""

from __future__ import annotations

import functools
import shlex
import subprocess
from pathlib import Path

from . import __version__

__all__ = ["SOURCE_ROOT", "UNKNOWN", "git_commit", "provenance", "header_lines",
           "verilog_comment", "command_line"]

#: the folder above the ``circnn`` package: the checkout circnn runs from, if any
SOURCE_ROOT = Path(__file__).resolve().parent.parent
#: the commit of a source tree that is no git checkout
UNKNOWN = "unknown"
#: keys of a provenance dict that the first line and the last two render
_FIRST = ("circnn_version", "git_commit")
_LAST = "regenerate"


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(SOURCE_ROOT), *args], capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """``git describe --always --dirty`` of the checkout circnn runs from, or
    :data:`UNKNOWN` (no checkout there, no git, or a checkout of something else
    above an installed package)."""
    top = _git("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != SOURCE_ROOT:
        return UNKNOWN
    return _git("describe", "--always", "--dirty") or UNKNOWN


def command_line(words) -> str:
    """A command line from its words, quoted for a POSIX shell where needed."""
    return shlex.join(str(w) for w in words)


def provenance(regenerate: str, **made) -> dict:
    """The header of a generated file: the circnn version, the git commit, what was
    made (``made``, in order: values, or dicts of parameters) and the command that
    makes it again."""
    return {"circnn_version": __version__, "git_commit": git_commit(), **made,
            _LAST: regenerate}


def _printable(text) -> str:
    """One line: control characters (a newline in a path) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def header_lines(prov: dict) -> list[str]:
    """The header as text lines (no comment marks)."""
    lines = [f"circnn {_printable(prov['circnn_version'])} (git "
             f"{_printable(prov['git_commit'])}) -- generated file, do not edit"]
    for key, value in prov.items():
        if key in _FIRST or key == _LAST:
            continue
        label = key.replace("_", " ")
        if isinstance(value, dict):
            lines.append(f"{label}:")
            lines += [f"  {_printable(k)} = {_printable(v)}" for k, v in value.items()]
        else:
            lines.append(f"{label}: {_printable(value)}")
    return lines + ["regenerate with:", f"  {_printable(prov[_LAST])}"]


def verilog_comment(prov: dict) -> str:
    """The header as Verilog line comments, and a blank line."""
    return "".join(f"// {line}\n" for line in header_lines(prov)) + "\n"
