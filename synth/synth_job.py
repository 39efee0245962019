"""One ``circnn synth`` run in a child process, for the benchmark harnesses.

The child gets its own process group, so a run that outlasts its timeout is
killed with yosys/nextpnr underneath it; progress is reported once a minute
with the stage the flow is in (told by the progress lines in its log).  A run
that fails because the design does not fit the device is recognised from
nextpnr's utilisation table and reported as such, with the resources that
overflowed (:func:`overflow_from_log`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["SynthChild", "synth_in_child", "overflow_from_log", "DEVICE_CAPACITY", "overflow_of",
           "overflow_text"]

#: Resources of the ECP5 parts (nextpnr's BEL counts), by report key.
DEVICE_CAPACITY = {
    "LFE5U-25F": {"lut4": 24288, "ff": 24288, "mult18": 28, "dp16kd": 56},
    "LFE5U-45F": {"lut4": 43848, "ff": 43848, "mult18": 72, "dp16kd": 108},
    "LFE5U-85F": {"lut4": 83640, "ff": 83640, "mult18": 156, "dp16kd": 208},
}

_BEL_KEYS = {"TRELLIS_COMB": "lut4", "TRELLIS_FF": "ff", "MULT18X18D": "mult18", "DP16KD": "dp16kd"}


def overflow_of(used: dict, device: str) -> dict:
    """``{key: {"used", "available", "percent"}}`` for every resource over capacity."""
    cap = DEVICE_CAPACITY[device]
    return {k: {"used": int(used[k]), "available": cap[k], "percent": round(100 * used[k] / cap[k], 1)}
            for k in cap if used.get(k) is not None and used[k] > cap[k]}


def overflow_text(over: dict) -> str:
    """``"DP16KD 256/208 (123%), ..."``: an overflow dict on one line."""
    return ", ".join(f"{k.upper()} {v['used']}/{v['available']} ({v['percent']:.0f}%)"
                     for k, v in over.items())


def overflow_from_log(text: str) -> dict:
    """Resources over 100 % in nextpnr's "Device utilisation" table (empty if none)."""
    out = {}
    for m in re.finditer(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+(\d+)%", text, re.M):
        bel, used, avail = m.group(1), int(m.group(2)), int(m.group(3))
        if used > avail:
            key = _BEL_KEYS.get(bel, bel.lower())
            out[key] = {"used": used, "available": avail, "percent": round(100 * used / avail, 1)}
    return out


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the child's process group (its cleanup runs), SIGKILL after 20 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class SynthChild:
    """``circnn synth DESIGN`` on ``params`` into ``report``, started in a child process
    now; :meth:`wait` collects it (the caller may do other work meanwhile), :meth:`stop`
    ends it with yosys/nextpnr underneath it."""

    def __init__(self, design: str, params: dict, report: Path, *, freq: float,
                 device: str = "LFE5U-85F", package: str = "CABGA381", speed: int = 6,
                 seed: int = 1):
        from .flow import TOOL_FILES, tool_folder     # (the flow imports the RTL: only when used)

        self.params = params
        self.report = report = Path(report).resolve()
        report.unlink(missing_ok=True)
        self.pnr_log = tool_folder(report) / TOOL_FILES["nextpnr_log"]
        # not --quiet: the flow's progress lines in the log tell the stage in progress
        argv = [sys.executable, "-m", "circnn.cli", "synth", design, "--freq", str(freq),
                "--device", device, "--package", package, "--speed", str(speed),
                "--seed", str(seed), "--report", str(report)]
        for k, v in params.items():
            argv += ["--set", f"{k}={v}"]
        report.parent.mkdir(parents=True, exist_ok=True)
        self.log = report.with_name(f"{report.stem}.cli.log")
        self.t0 = time.monotonic()
        with open(self.log, "w") as fh:
            # run in the report's folder: a ``circnn/`` source folder in the caller's
            # working directory would shadow the installed package for ``python -m``
            self.proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT,
                                         start_new_session=True, cwd=report.parent)

    def stop(self) -> None:
        """End the run (and its tools) if it is still going."""
        if self.proc.poll() is None:
            _stop(self.proc)

    def wait(self, *, timeout: float, say, label: str) -> dict:
        """The run's result (see :func:`synth_in_child`); ``say`` gets a line a minute.
        Ctrl-C or SIGTERM while waiting stops the child (it runs in its own session,
        so it would go on otherwise) and goes on up."""
        proc, log = self.proc, self.log
        status = None
        try:
            while status is None:
                try:
                    proc.wait(timeout=60)
                    status = "done"
                except subprocess.TimeoutExpired:
                    dt = time.monotonic() - self.t0
                    if dt > timeout:
                        _stop(proc)
                        status = "timeout"
                    else:
                        stage = "nextpnr" if "] nextpnr-ecp5 " in log.read_text(errors="replace") \
                            else "yosys"
                        say(f"  synth {label}: {stage} running, {dt:.0f} s")
        except BaseException:
            _stop(proc)
            raise
        return self._result(status, timeout)

    def _result(self, status: str, timeout: float) -> dict:
        proc, log, report, pnr_log = self.proc, self.log, self.report, self.pnr_log
        base = {"wall_s": round(time.monotonic() - self.t0, 1), "report": str(report)}
        if status == "timeout":
            return dict(base, ok=False, error=f"timed out after {timeout:.0f} s")
        if proc.returncode != 0 or not report.exists():
            text = log.read_text(errors="replace")
            # the tool folder holds this run's nextpnr log only when nextpnr itself failed
            overflow = overflow_from_log(pnr_log.read_text(errors="replace")) \
                if "nextpnr-ecp5 failed" in text and pnr_log.exists() else {}
            tail = text.strip().splitlines()[-3:]
            res = dict(base, ok=False, error=f"exit {proc.returncode}: " + " / ".join(tail))
            if overflow:
                res["overflow"] = overflow
            return res
        r = json.loads(report.read_text())
        return dict(base, ok=True, fmax_mhz=r["fmax_mhz"], timing_met=r["timing_met"],
                    lut4=r["lut4"], ff=r["ff"], mult18=r["mult18"], dp16kd=r["dp16kd"],
                    seconds=r.get("seconds"))


def synth_in_child(design: str, params: dict, report: Path, *, freq: float, timeout: float,
                   say, label: str, device: str = "LFE5U-85F", seed: int = 1) -> dict:
    """Run ``circnn synth DESIGN`` on ``params`` into ``report``.

    Returns ``{"ok": True, "fmax_mhz", "timing_met", "lut4", "ff", "mult18",
    "dp16kd", "wall_s", "report", ...}`` or ``{"ok": False, "error", "wall_s",
    "overflow"?}`` (``overflow`` when nextpnr found the design too big).
    """
    return SynthChild(design, params, report, freq=freq, device=device, seed=seed).wait(
        timeout=timeout, say=say, label=label)
