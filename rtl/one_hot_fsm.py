"""``OneHotFSM``: a state machine with one flip-flop per state, written like ``m.FSM``.

Amaranth's ``m.FSM`` keeps the state in a binary register, and yosys does not
re-encode a register that has an initial value (every Amaranth register has
one).  In a controller with twenty states, every decision then starts at a
decode of that register, shared by all its users and placed far from most of
them; at 160 MHz on ECP5 that decode was the network controller's slowest
path.  Here each state is a flip-flop of its own: a state's actions are
enabled by its flag directly, and a flag's next value depends only on the
flags of the states that enter or leave it.

Usage mirrors ``m.FSM``::

    fsm = OneHotFSM(m, ("IDLE", "RUN"), name="control")
    with fsm.state("IDLE"):
        with m.If(go):
            fsm.next("RUN")
    with fsm.state("RUN"):
        ...
    fsm.ongoing("RUN")      # the flag

As with ``m.next``, the last ``next`` a clock executes wins: a ``next``
clears the flags of the targets named before it in the same state.  The
first state is the initial one (its flag resets to 1, the others to 0).
``state`` blocks must not nest.  Exactly one flag is high at any time, so
the blocks are mutually exclusive.
"""

from contextlib import contextmanager

from amaranth.hdl import Signal

__all__ = ["OneHotFSM"]


class OneHotFSM:
    def __init__(self, m, states, *, name: str):
        states = tuple(states)
        if not states or len(set(states)) != len(states):
            raise ValueError(f"{name}: states must be distinct names, not {states!r}")
        self._m = m
        self._flags = {s: Signal(name=f"{name}_{s.lower()}", init=int(n == 0))
                       for n, s in enumerate(states)}
        self._current = None
        self._targets = {s: [] for s in states}     # targets named so far, per state

    def ongoing(self, state: str):
        """The flag of ``state`` (high while the machine is in it)."""
        return self._flags[self._check(state)]

    @contextmanager
    def state(self, state: str):
        """The actions of ``state``: statements under its flag."""
        if self._current is not None:
            raise ValueError(f"state {state!r} inside state {self._current!r}")
        self._current = self._check(state)
        try:
            with self._m.If(self._flags[state]):
                yield
        finally:
            self._current = None

    def next(self, state: str):
        """Go to ``state`` on the next clock (from inside a ``state`` block)."""
        src = self._current
        if src is None:
            raise ValueError(f"next({state!r}) outside a state block")
        dst = self._check(state)
        earlier = [t for t in self._targets[src] if t not in (src, dst)]
        self._m.d.sync += [self._flags[t].eq(0) for t in earlier]
        self._m.d.sync += [self._flags[src].eq(0), self._flags[dst].eq(1)]
        if dst not in self._targets[src]:
            self._targets[src].append(dst)

    def _check(self, state: str) -> str:
        if state not in self._flags:
            raise ValueError(f"unknown state {state!r}; states: {', '.join(self._flags)}")
        return state
