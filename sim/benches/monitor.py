"""Stream-protocol checking: the rules once (:class:`StreamRules`), watched from cocotb
(:class:`StreamMonitor`) or from an Amaranth-simulator testbench (``tests/streams.py``).

The rules of an ``amaranth.lib.stream`` interface, checked at every clock
edge from the ``valid``, ``ready`` and ``payload`` seen just before it:

* once ``valid`` is high it stays high until the word is accepted
  (``valid & ready`` at an edge);
* the payload does not change while a word waits to be accepted;
* ``valid`` and ``ready`` are 0 or 1 (never X) after reset, and so is the
  payload of a valid word.

Every transferred word is recorded in order, so that a bench can check
that nothing was lost, duplicated or reordered (:meth:`StreamRules.check_words`).
"""

from __future__ import annotations

__all__ = ["StreamRules", "StreamMonitor"]


class StreamRules:
    """Feed :meth:`observe` once per clock edge; read ``words`` and :meth:`check`."""

    def __init__(self, name: str):
        self.name = name
        self.words: list[int] = []
        self.violations: list[str] = []
        self.clocks = 0
        self._waiting = None          # payload of a word offered and not yet accepted

    def observe(self, valid, ready, payload) -> None:
        """One edge: ``valid``/``ready`` ints (None when not 0/1), ``payload`` an int
        (None when not resolvable)."""
        if valid is None or ready is None:
            self._violate(f"valid={valid} ready={ready}: not 0/1")
            self._waiting = None
        else:
            if self._waiting is not None:
                if not valid:
                    self._violate("valid fell before the word was accepted")
                elif payload is not None and payload != self._waiting:
                    self._violate(f"payload changed from {self._waiting:#x} to {payload:#x} "
                                  f"while waiting to be accepted")
            if valid and payload is None:
                self._violate("the payload of a valid word is not 0/1")
                self._waiting = None
            elif valid and ready:
                self.words.append(payload)
                self._waiting = None
            else:
                self._waiting = payload if valid else None
        self.clocks += 1

    def _violate(self, what: str) -> None:
        if len(self.violations) < 20:
            self.violations.append(f"stream {self.name}, clock {self.clocks}: {what}")

    def check(self) -> None:
        """Raise AssertionError if a rule was broken."""
        if self.violations:
            raise AssertionError(f"{len(self.violations)} stream rule violation(s); "
                                 + "; ".join(self.violations[:3]))

    def check_words(self, expected) -> None:
        """Raise unless the transferred words are exactly ``expected``, in order."""
        expected = [int(w) for w in expected]
        got = self.words
        for n, (g, e) in enumerate(zip(got, expected)):
            if g != e:
                raise AssertionError(f"stream {self.name}: word {n} is {g:#x}, expected {e:#x} "
                                     f"({len(got)} words seen, {len(expected)} expected)")
        if len(got) != len(expected):
            raise AssertionError(f"stream {self.name}: {len(got)} words seen, "
                                 f"{len(expected)} expected")


def _resolved(value):
    return int(value) if value.is_resolvable else None


class StreamMonitor(StreamRules):
    """:class:`StreamRules` on the ``<prefix>__valid/ready/payload`` handles of a cocotb DUT.

    Start it after reset; it samples in the read-only phase before each
    rising edge of ``clk``, as the hardware sees a transfer.
    """

    def __init__(self, dut, prefix: str, clk, *, name: str | None = None):
        import cocotb
        super().__init__(name or prefix)
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.payload = getattr(dut, f"{prefix}__payload")
        self.clk = clk
        self._task = cocotb.start_soon(self._watch())

    async def _watch(self):
        from cocotb.triggers import ReadOnly, RisingEdge
        while True:
            await ReadOnly()
            self.observe(_resolved(self.valid.value), _resolved(self.ready.value),
                         _resolved(self.payload.value))
            await RisingEdge(self.clk)

    def stop(self) -> None:
        self._task.cancel()
