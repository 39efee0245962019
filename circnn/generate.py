"""Elaborate a registered design to Verilog with a provenance header.

Like a generator's output should, every file records what made it: the
circnn version, the design, the target and every parameter value, so that
a Verilog file found in someone's tree can be regenerated exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import __version__
from .designs import get_design
from .files import check_output_dir
from .files import write_files_atomic as atomic_output_dir
from .verilog import elaborate_verilog
from .verilog_identifier import check_verilog_identifier

__all__ = ["verilog_header", "write_design", "atomic_output_dir"]


def verilog_header(design: str, params: dict, target: str, top: str) -> str:
    lines = [
        f"circnn {__version__} -- generated Verilog, do not edit",
        f"design: {design}",
        f"target: {target}",
        f"top module: {top}",
        "parameters:",
        *(f"  {k} = {v}" for k, v in params.items()),
        "regenerate with:",
        f"  circnn generate {design} --target {target} "
        + " ".join(f"--set {k}={v}" for k, v in params.items()) + " --out DIR",
    ]
    return "".join(f"// {line}\n" for line in lines) + "\n"


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
    text = verilog_header(design_name, params, target, top) + elaborate_verilog(component, top,
                                                                                target,
                                                                                progress=progress)
    meta = {"design": design_name, "target": target, "top": top, "params": params,
            "circnn_version": __version__}
    if progress:
        progress(f"writing {Path(out_dir) / f'{top}.v'} ({len(text) / 1e6:.1f} MB)")
    with atomic_output_dir(out_dir) as tmp:
        (tmp / f"{top}.v").write_text(text)
        (tmp / "params.json").write_text(json.dumps(meta, indent=2) + "\n")
    meta["verilog"] = str(Path(out_dir) / f"{top}.v")
    return meta
