"""The demo's progress on stderr: a heading and an elapsed time per step, tqdm bars.

Every step longer than a few seconds shows progress (a bar with a count, or
an open-ended ticker with the latest status message); ``quiet`` silences
all of it.  The elapsed time of every step is kept for the report.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time

__all__ = ["Steps"]


class Steps:
    """The steps of one demo run: their headings, bars and elapsed times."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.times: dict[str, float] = {}
        self.tty = sys.stderr.isatty()

    def say(self, msg: str) -> None:
        if not self.quiet:
            from tqdm import tqdm
            tqdm.write(msg, file=sys.stderr)

    @contextlib.contextmanager
    def step(self, key: str, title: str):
        self.say(f"==> {title}")
        t0 = time.monotonic()
        try:
            yield
        finally:
            dt = time.monotonic() - t0
            self.times[key] = round(dt, 2)
            self.say(f"    {title}: {dt:.1f} s")

    def bar(self, total: int, desc: str, unit: str):
        from tqdm import tqdm
        return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=self.quiet,
                    dynamic_ncols=True, mininterval=0.2 if self.tty else 5.0, leave=True)

    @contextlib.contextmanager
    def ticker(self, desc: str):
        """An open-ended bar: the elapsed time and the latest status message.

        The bar is redrawn every second on a terminal (every 15 s into a
        file), so the clock keeps moving while a tool or simulator works.
        """
        from tqdm import tqdm
        bar = tqdm(total=None, desc=desc, file=sys.stderr, disable=self.quiet,
                   bar_format="[{elapsed}] {desc}", dynamic_ncols=True, mininterval=0.0,
                   leave=True)
        stop = threading.Event()
        period = 1.0 if self.tty else 15.0

        def tick():
            while not stop.wait(period):
                bar.refresh()
        thread = threading.Thread(target=tick, daemon=True)
        if not self.quiet:
            thread.start()

        def note(msg: str):
            bar.set_description_str(f"{desc}: {msg}", refresh=True)
        try:
            yield note
        finally:
            stop.set()
            if thread.is_alive():
                thread.join()
            bar.close()
