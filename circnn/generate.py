"""Elaborate a registered design to Verilog with a provenance header.

Like a generator's output should, every file records what made it
(:mod:`circnn.provenance`): the circnn version and the git commit of the
source, the design, the target, the top module and every parameter value,
and the command that regenerates it with every option that changed the
output, so that a Verilog file found in someone's tree can be traced to
the code that made it and regenerated exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import __version__
from .designs import get_design
from .files import check_output_dir
from .files import write_files_atomic as atomic_output_dir
from .provenance import command_line, provenance, verilog_comment
from .verilog import elaborate_verilog
from .verilog_identifier import check_verilog_identifier

__all__ = ["design_provenance", "verilog_header", "write_design", "atomic_output_dir"]


def design_provenance(design: str, params: dict, target: str, top: str) -> dict:
    """The provenance header of ``design``'s Verilog: ``circnn generate`` with the
    target, the top module (when it is not the design's name) and every parameter."""
    words = ["circnn", "generate", design, "--target", target,
             *(["--top", top] if top != design else []),
             *(w for k, v in params.items() for w in ("--set", f"{k}={v}")), "--out", "DIR"]
    return provenance(command_line(words), design=design, target=target, top_module=top,
                      parameters=params)


def verilog_header(design: str, params: dict, target: str, top: str) -> str:
    """Verilog comments: :func:`design_provenance`."""
    return verilog_comment(design_provenance(design, params, target, top))


def write_design(design_name: str, given: dict | None, target: str, out_dir: Path,
                 top: str | None = None, progress=None) -> dict:
    """Elaborate ``design_name`` into ``out_dir/<top>.v`` plus ``params.json``.

    The top name (a Verilog identifier, so the file stays in ``out_dir``), the
    output folder, the parameters and the target are checked before anything is
    built; the two files replace those of the same names in ``out_dir`` all or
    none (:class:`~circnn.files.write_files_atomic`), other files there stay.
    ``progress`` (optional) receives a line as each slow step starts.
    """
    design = get_design(design_name)
    top = check_verilog_identifier(design_name if top is None else top, "--top")
    out_dir = check_output_dir(out_dir, "--out")
    params = design.resolve(given)
    design.platform(target)         # a bad target is refused before anything is built
    component = design.elaborate(params)
    prov = design_provenance(design_name, params, target, top)
    text = verilog_comment(prov) + elaborate_verilog(component, top, target, progress=progress)
    meta = {"design": design_name, "target": target, "top": top, "params": params,
            "circnn_version": __version__, "git_commit": prov["git_commit"], "provenance": prov}
    if progress:
        progress(f"writing {Path(out_dir) / f'{top}.v'} ({len(text) / 1e6:.1f} MB)")
    with atomic_output_dir(out_dir) as tmp:
        (tmp / f"{top}.v").write_text(text)
        (tmp / "params.json").write_text(json.dumps(meta, indent=2) + "\n")
    meta["verilog"] = str(Path(out_dir) / f"{top}.v")
    return meta
