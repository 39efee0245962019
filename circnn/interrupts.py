"""Interrupted commands: SIGINT and SIGTERM unwind like exceptions.

Python turns SIGINT (Ctrl-C) into :class:`KeyboardInterrupt`; SIGTERM (what
``kill``, ``timeout`` and service managers send) kills the process outright
by default, so no ``finally`` block and no context manager's exit runs, and
half-written outputs stay behind.  While :func:`sigterm_raises` is active,
SIGTERM raises :class:`Terminated` in the main thread instead: it unwinds
through every ``finally`` like a Ctrl-C does, and, being a
:class:`BaseException`, it passes the ``except Exception`` handlers that keep
a benchmark sweep going after a failed point.

The command line (:func:`circnn.cli.main`) prints one line for either,
``circnn <command>: interrupted`` / ``circnn <command>: terminated``, and
exits with status 130 (128 + SIGINT) or 143 (128 + SIGTERM), the statuses a
shell reports for a process those signals killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

__all__ = ["Terminated", "sigterm_raises", "interrupt_status", "interrupt_message", "fast_exit"]


class Terminated(BaseException):
    """SIGTERM arrived (raised by the handler :func:`sigterm_raises` installs)."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


@contextlib.contextmanager
def sigterm_raises():
    """While active, SIGTERM raises :class:`Terminated` in the main thread.

    Every SIGTERM raises, as every Ctrl-C raises ``KeyboardInterrupt``: a
    handler's exception that lands in a ``__del__`` method or a garbage
    collector callback is printed and dropped by Python, and ignoring the
    signals after the first would then leave a process that only SIGKILL
    ends.  The previous handler is restored on exit.  Outside the main
    thread (where Python cannot install handlers) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interrupt_status(exc: BaseException) -> int:
    """The exit status of an interrupted command: 128 + the signal's number."""
    if isinstance(exc, Terminated):
        return 128 + exc.signum
    return 128 + signal.SIGINT


def interrupt_message(command: str | None, exc: BaseException) -> str:
    """``circnn <command>: interrupted`` (SIGINT) or ``... terminated`` (SIGTERM)."""
    what = "terminated" if isinstance(exc, Terminated) else "interrupted"
    return f"circnn {command}: {what}" if command else f"circnn: {what}"


def fast_exit(status: int) -> None:
    """End the process now, with ``status``, without tearing the interpreter down.

    For an interrupted command whose cleanup has already run (the stack has
    unwound): a large design leaves millions of objects whose deallocation
    at interpreter exit takes seconds, and the user pressed Ctrl-C to stop
    now.  Standard streams are flushed first.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed pipe: nothing more can be said anyway
            pass
    os._exit(status)
