# amaranth: UnusedElaboratable=no
"""``OneHotFSM`` (Amaranth simulator) against Amaranth's own ``m.FSM``, clock by clock.

The same machine is written twice in one module, once with ``m.FSM`` (the
reference) and once with ``OneHotFSM``: transitions under conditions, nested
ones, a later ``next`` that overrides an earlier one in the same clock (as
``m.next`` does), a state that stays, a self-loop, and actions enabled by a
state.  Random inputs drive both; every state's flag is compared with the
reference's ``ongoing`` at every clock, exactly one flag is high, and every
state is visited.
"""

import random

import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from circnn.rtl.one_hot_fsm import OneHotFSM

STATES = ("A", "B", "C", "D")


def machine(m, a, b, c, enter, go, count):
    """The machine, once per style: ``enter(state)`` opens a state block, ``go`` moves."""
    with enter("A"):
        m.d.sync += count.eq(count + 1)
        with m.If(a):
            go("B")
        with m.If(b):           # overrides the move to B on the same clock
            go("C")
    with enter("B"):
        with m.If(a & b):
            go("D")
        with m.Elif(c):
            go("A")
        with m.Else():
            go("B")             # a self-loop, written out
    with enter("C"):
        with m.If(c):
            with m.If(a):
                go("A")
            with m.Else():
                go("D")
        # else stays in C
    with enter("D"):
        go("A")
        with m.If(b & c):
            go("C")


def build():
    m = Module()
    a, b, c = Signal(), Signal(), Signal()
    count_ref, count_hot = Signal(8), Signal(8)
    with m.FSM() as ref:
        def go_ref(s):
            m.next = s
        machine(m, a, b, c, m.State, go_ref, count_ref)
    hot = OneHotFSM(m, STATES, name="hot")
    machine(m, a, b, c, hot.state, hot.next, count_hot)
    return m, (a, b, c), ref, hot, (count_ref, count_hot)


def test_matches_amaranth_fsm(seed):
    rng = random.Random(seed)
    m, inputs, ref, hot, counts = build()
    ref_flags = {s: ref.ongoing(s) for s in STATES}
    hot_flags = {s: hot.ongoing(s) for s in STATES}
    bad, visited = [], set()
    sim = Simulator(m)
    sim.add_clock(1e-8)

    async def bench(ctx):
        for clock in range(1500):
            for sig in inputs:
                ctx.set(sig, rng.random() < 0.5)
            want = {s: ctx.get(f) for s, f in ref_flags.items()}
            got = {s: ctx.get(f) for s, f in hot_flags.items()}
            visited.update(s for s, v in want.items() if v)
            if got != want or sum(got.values()) != 1:
                bad.append((clock, got, want))
            if ctx.get(counts[0]) != ctx.get(counts[1]):
                bad.append((clock, "actions differ"))
            await ctx.tick()
    sim.add_testbench(bench)
    sim.run()
    assert not bad, f"{len(bad)} mismatches, first {bad[:3]}"
    assert visited == set(STATES)


def test_misuse_is_refused():
    m = Module()
    with pytest.raises(ValueError, match="distinct"):
        OneHotFSM(m, ("A", "A"), name="x")
    fsm = OneHotFSM(m, ("A", "B"), name="y")
    with pytest.raises(ValueError, match="unknown state"):
        fsm.ongoing("Z")
    with pytest.raises(ValueError, match="outside a state"):
        fsm.next("B")
    with pytest.raises(ValueError, match="inside state"):
        with fsm.state("A"):
            with fsm.state("B"):
                pass
