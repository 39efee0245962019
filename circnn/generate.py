"""Elaborate a registered design to Verilog with a provenance header.

Like a generator's output should, every file records what made it: the
circnn version, the design, the target and every parameter value, so that
a Verilog file found in someone's tree can be regenerated exactly.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from . import __version__
from .designs import get_design
from .verilog import elaborate_verilog

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
                 top: str | None = None) -> dict:
    """Elaborate ``design_name`` into ``out_dir/<top>.v`` plus ``params.json``.

    Parameters are validated before anything is written; the directory is
    assembled beside its destination and moved into place only when
    complete, so a failure leaves no partial output behind.
    """
    design = get_design(design_name)
    params = design.resolve(given)
    top = top or design_name
    design.platform(target)         # a bad target is refused before anything is built
    component = design.elaborate(params)
    text = verilog_header(design_name, params, target, top) + elaborate_verilog(component, top,
                                                                                target)
    meta = {"design": design_name, "target": target, "top": top, "params": params,
            "circnn_version": __version__}
    with atomic_output_dir(out_dir) as tmp:
        (tmp / f"{top}.v").write_text(text)
        (tmp / "params.json").write_text(json.dumps(meta, indent=2) + "\n")
    meta["verilog"] = str(Path(out_dir) / f"{top}.v")
    return meta


class atomic_output_dir:
    """Context manager: build a directory in a sibling temp dir, then move it.

    Files already in the destination are replaced one by one only on
    success; on failure the temp dir is removed and the destination is
    untouched (and not created).
    """

    def __init__(self, dest):
        self.dest = Path(dest)

    def __enter__(self) -> Path:
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.dest.name}.", dir=self.dest.parent))
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.dest.mkdir(exist_ok=True)
                for item in self.tmp.iterdir():
                    target = self.dest / item.name
                    if target.is_dir() and not target.is_symlink():
                        shutil.rmtree(target)
                    os.replace(item, target)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False
