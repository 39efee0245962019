"""The Python half of the stream shell (:mod:`circnn.sim.harness.stream_shell`).

:func:`shell_transfer` is :func:`circnn.sim.benches.streams.transfer` for a
design wrapped in a :class:`~circnn.sim.harness.stream_shell.StreamShell`:
the input words go to a file, the shell streams them in and the outputs
out in hardware, with the same idle and back-pressure patterns and stream
checks, and Python wakes once for the whole run instead of several times a
clock.
"""

from __future__ import annotations

from pathlib import Path

from cocotb.triggers import RisingEdge, with_timeout

from .patterns import StallPattern
from .streams import reset, start_clock_and_reset

__all__ = ["shell_reset", "start_shell_clock_and_reset", "shell_start", "shell_transfer",
           "shell_stream", "IN_FILE", "OUT_FILE"]

#: the shell's files, in the folder the simulator runs in
IN_FILE, OUT_FILE = "stream_in.hex", "stream_out.hex"
_CONTROLS = ("shell_load", "shell_start", "shell_dump")


async def shell_reset(dut, cycles: int = 3) -> None:
    """Hold ``rst`` for ``cycles`` clocks with the shell's controls (and ``load``, if
    any) low."""
    await reset(dut, cycles, controls=_CONTROLS)


async def start_shell_clock_and_reset(dut) -> None:
    """Start a 100 MHz clock on ``dut.clk`` and reset the design and its shell."""
    await start_clock_and_reset(dut, controls=_CONTROLS)


async def _pulse(dut, name: str) -> None:
    getattr(dut, name).value = 1
    await RisingEdge(dut.clk)
    getattr(dut, name).value = 0


async def shell_start(dut, words, count: int, *, shell: dict, idle: float = 0.0,
                      stall: float = 0.0, burst: float = 1.0, seed: int = 0) -> None:
    """Write the input file and start a run of the shell (two clocks); the run then
    goes on in hardware (:func:`shell_transfer` waits for it and reads the outputs)."""
    depth = 1 << shell["addr_bits"]
    words = [int(w) for w in words]
    if len(words) > depth or count > depth:
        raise AssertionError(f"{len(words)} input / {count} output words, but the shell "
                             f"holds {depth}: elaborate it with more address bits")
    mask = (1 << shell["in_width"]) - 1
    Path(IN_FILE).write_text("".join(f"{w & mask:x}\n" for w in words) or "0\n")
    Path(OUT_FILE).unlink(missing_ok=True)
    for name, pattern in (("idle", StallPattern(idle, burst)), ("stall", StallPattern(stall, burst))):
        enter, stay = pattern.thresholds()
        getattr(dut, f"shell_{name}_enter").value = enter
        getattr(dut, f"shell_{name}_stay").value = stay
    dut.shell_n_in.value = len(words)
    dut.shell_n_out.value = count
    dut.shell_seed.value = seed & 0xFFFF_FFFF
    await _pulse(dut, "shell_load")
    await _pulse(dut, "shell_start")


async def shell_transfer(dut, words, count: int, *, shell: dict, idle: float = 0.0,
                         stall: float = 0.0, burst: float = 1.0, seed: int = 0,
                         timeout_ns: float, stats: dict | None = None) -> list[int]:
    """Stream ``words`` in and collect ``count`` output words, in hardware.

    ``shell``: the shell's shape as the harness elaborated it
    (:meth:`~circnn.sim.harness.stream_shell.StreamShell.describe`: ``addr_bits``,
    ``in_width``).  The source is idle and the sink stalls as two
    :class:`StallPattern` of ``idle`` / ``stall`` with mean runs of ``burst``
    clocks (drawn in hardware from ``seed``).  Fails when the run takes longer
    than ``timeout_ns``, when the output stream broke a stream rule, or when an
    output word is not all 0/1.  ``stats`` (if given) receives the clock of
    the first input and the last output transfer (``first_in``,
    ``last_out``) counted from the start.
    """
    await shell_start(dut, words, count, shell=shell, idle=idle, stall=stall, burst=burst,
                      seed=seed)
    if count:
        await with_timeout(RisingEdge(dut.shell_done), int(timeout_ns), "ns")
    await _pulse(dut, "shell_dump")
    await RisingEdge(dut.clk)
    got = _read_words(OUT_FILE, count)
    sent = int(dut.shell_sent.value)
    n_in = int(dut.shell_n_in.value)
    violations = int(dut.shell_violations.value)
    if violations:
        raise AssertionError(f"stream o: {violations} stream rule violation(s) (valid fell, or "
                             f"the payload changed, before the word was taken)")
    if sent != n_in:
        raise AssertionError(f"stream i: {sent} of the {n_in} words taken")
    if stats is not None:
        stats["first_in"] = int(dut.shell_first_in.value)
        stats["last_out"] = int(dut.shell_last_out.value)
    return got


async def shell_stream(dut, words, count: int, c: dict, clocks_per_word: int = 4) -> list[int]:
    """Start the clock, reset, and stream ``words`` through the shell in one run with the
    bench configuration ``c``'s ``shell``, ``idle``, ``stall``, ``burst`` and ``seed``;
    the ``count`` output words.  Fails after ``clocks_per_word`` clocks a word (plus
    2000), stretched by the idle and stall fractions."""
    await start_shell_clock_and_reset(dut)
    budget_ns = 10 * (len(words) * clocks_per_word + 2000) / max(0.05, 1 - max(c["idle"], c["stall"]))
    return await shell_transfer(dut, words, count, shell=c["shell"], idle=c["idle"],
                                stall=c["stall"], burst=c.get("burst", 1), seed=c["seed"],
                                timeout_ns=budget_ns)


def _read_words(path: str, count: int) -> list[int]:
    if count == 0:
        return []
    out = []
    for line in Path(path).read_text().splitlines():
        line = line.split("//")[0].strip()       # Icarus writes address comments
        if not line or line.startswith("@"):
            continue
        try:
            out.append(int(line, 16))
        except ValueError:
            raise AssertionError(f"stream o: output word {len(out)} is {line!r}, not all "
                                 f"0/1") from None
    if len(out) != count:
        raise AssertionError(f"stream o: {len(out)} words written, {count} expected")
    return out
