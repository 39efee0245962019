# amaranth: UnusedElaboratable=no
"""``BankPair`` (Amaranth simulator) against a hand-written reference state machine.

The reference (:class:`Banks`) is the component's documented rules, kept in
plain Python: each bank is free, claimed or ready; banks are used in turn,
so the next commit, landing and release each concern the bank their own
pointer names, and each pointer toggles on its event; without a landing
step a commit makes the bank ready at once; every event shows in the flags
on the next clock.  Random legal event sequences (per-clock draws and runs,
from :class:`StallPattern`) are applied to both, with ``landing`` off and
on, and every output is compared at every clock; the safety properties (a
bank is never free to the writer while claimed or ready, never ready to the
reader before its commit or landing) are also checked on their own.
"""

import random

import pytest
from amaranth.sim import Simulator

from circnn.rtl.bank_pair import BankPair

from streams import StallPattern

FREE, CLAIMED, READY = "free", "claimed", "ready"


class Banks:
    """The documented bookkeeping of two banks used in turn."""

    def __init__(self, landing):
        self.landing = landing
        self.state = [FREE, FREE]
        self.w = self.l = self.r = 0      # next commit, landing, release

    def outputs(self):
        return {
            "writer.bank": self.w, "writer.free": int(self.state[self.w] == FREE),
            "reader.bank": self.r, "reader.ready": int(self.state[self.r] == READY),
            "reader.ready_next": int(self.state[1 - self.r] == READY),
        }

    # which events the protocol allows now
    def may_commit(self):
        return self.state[self.w] == FREE

    def may_land(self):
        return self.landing and self.state[self.l] == CLAIMED

    def may_release(self):
        return self.state[self.r] == READY

    def step(self, commit, land, release):
        """Apply one clock's events (all seen against the state before the clock)."""
        new = list(self.state)
        if commit:
            assert self.may_commit()
            new[self.w] = CLAIMED if self.landing else READY
            self.w ^= 1
        if land:
            assert self.may_land()
            new[self.l] = READY
            self.l ^= 1
        if release:
            assert self.may_release()
            new[self.r] = FREE
            self.r ^= 1
        self.state = new


def read_outputs(ctx, dut):
    return {
        "writer.bank": ctx.get(dut.writer.bank), "writer.free": ctx.get(dut.writer.free),
        "reader.bank": ctx.get(dut.reader.bank), "reader.ready": ctx.get(dut.reader.ready),
        "reader.ready_next": ctx.get(dut.reader.ready_next),
    }


def run_events(landing, choose, clocks):
    """Drive ``clocks`` clocks of events from ``choose(ref) -> (commit, land, release)``;
    returns (mismatches, per-clock log of (outputs, events, reference state))."""
    dut = BankPair(landing=landing)
    ref = Banks(landing)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    bad, log = [], []

    async def bench(ctx):
        for clock in range(clocks):
            got, want = read_outputs(ctx, dut), ref.outputs()
            if got != want:
                bad.append((clock, got, want, list(ref.state)))
            commit, land, release = choose(ref)
            ctx.set(dut.writer.commit, commit)
            ctx.set(dut.reader.release, release)
            if landing:
                ctx.set(dut.landed.land, land)
            # outputs are registered: the events of this clock do not show yet
            if read_outputs(ctx, dut) != got:
                bad.append((clock, "outputs follow this clock's events"))
            log.append((got, (commit, land, release), list(ref.state)))
            await ctx.tick()
            ref.step(commit, land, release)
    sim.add_testbench(bench)
    sim.run()
    return bad, log


def random_chooser(rng, writer, lander, reader):
    """Events whenever the protocol allows them and the patterns are not stalling."""
    def choose(ref):
        commit = ref.may_commit() and not writer.next()
        land = ref.may_land() and not lander.next()
        release = ref.may_release() and not reader.next()
        return int(commit), int(land), int(release)
    return choose


PATTERNS = [
    ((0.0, 1), (0.0, 1), (0.0, 1)),       # every event as soon as allowed
    ((0.5, 1), (0.5, 1), (0.5, 1)),       # per-clock draws
    ((0.3, 1), (0.7, 1), (0.1, 1)),
    ((0.5, 6), (0.4, 3), (0.6, 8)),       # in runs
    ((0.1, 2), (0.8, 10), (0.8, 12)),     # slow reader and landing: the writer waits
    ((0.8, 12), (0.2, 4), (0.1, 1)),      # slow writer: the reader waits
]


@pytest.mark.parametrize("landing", [False, True])
@pytest.mark.parametrize("writer,lander,reader", PATTERNS)
def test_matches_reference(landing, writer, lander, reader, seed):
    rng = random.Random(seed)
    choose = random_chooser(rng, *(StallPattern(*p, rng=rng) for p in (writer, lander, reader)))
    bad, log = run_events(landing, choose, 600)
    assert not bad, f"{len(bad)} mismatches, first {bad[:3]}"
    # the sequences really exercised the pair: every event, both banks
    events = [e for _, e, _ in log]
    assert sum(e[0] for e in events) >= 10 and sum(e[2] for e in events) >= 10
    if reader[0] >= 0.5:        # a slow reader: the writer had to wait at times
        assert any(out["writer.free"] == 0 for out, _, _ in log)
    assert {out["writer.bank"] for out, _, _ in log} == {0, 1}


@pytest.mark.parametrize("landing", [False, True])
def test_safety_properties(landing, seed):
    rng = random.Random(seed)
    choose = random_chooser(rng, StallPattern(0.4, 3, rng), StallPattern(0.4, 2, rng),
                            StallPattern(0.5, 4, rng))
    bad, log = run_events(landing, choose, 800)
    assert not bad, bad[:3]
    commits = lands = releases = 0
    written = [0, 0]     # commits per bank
    landed = [0, 0]      # landings per bank (commits without a landing step)
    freed = [0, 0]       # releases per bank
    w_prev = r_prev = None
    for out, (commit, land, release), _ in log:
        wb, rb = out["writer.bank"], out["reader.bank"]
        # never free to the writer while it holds data not yet released
        if out["writer.free"]:
            assert written[wb] == freed[wb], (out, written, freed)
        # never ready to the reader before its data landed
        if out["reader.ready"]:
            assert landed[rb] > freed[rb], (out, landed, freed)
        if out["reader.ready_next"]:
            assert landed[1 - rb] > freed[1 - rb], (out, landed, freed)
        # one bank is never both the writer's and the reader's
        if out["writer.free"] and out["reader.ready"]:
            assert wb != rb
        # pointers alternate: each toggles exactly on its event
        if w_prev is not None:
            assert wb == w_prev[0] ^ w_prev[1]
            assert rb == r_prev[0] ^ r_prev[1]
        w_prev, r_prev = (wb, commit), (rb, release)
        if commit:
            written[wb] += 1
            if not landing:
                landed[wb] += 1
        if land:
            landed[lands % 2] += 1
        if release:
            freed[rb] += 1
        commits, lands, releases = commits + commit, lands + land, releases + release
    assert commits >= 20 and releases >= 20 and (lands >= 20 or not landing)


def test_landing_by_hand():
    # commit bank 0, then bank 1: both claimed, nothing ready until each lands,
    # in order; releasing bank 0 frees it for the writer on the next clock
    script = [
        # (commit, land, release), then the outputs expected on the next clock
        ((0, 0, 0), dict(wb=0, free=1, rb=0, ready=0, nxt=0)),
        ((1, 0, 0), dict(wb=1, free=1, rb=0, ready=0, nxt=0)),
        ((1, 0, 0), dict(wb=0, free=0, rb=0, ready=0, nxt=0)),   # both claimed
        ((0, 0, 0), dict(wb=0, free=0, rb=0, ready=0, nxt=0)),
        ((0, 1, 0), dict(wb=0, free=0, rb=0, ready=1, nxt=0)),   # bank 0 landed
        ((0, 0, 1), dict(wb=0, free=1, rb=1, ready=0, nxt=0)),   # bank 0 released; 1 not landed
        ((1, 1, 0), dict(wb=1, free=0, rb=1, ready=1, nxt=0)),   # 0 claimed again, 1 landed
        ((0, 1, 0), dict(wb=1, free=0, rb=1, ready=1, nxt=1)),   # 0 landed too
        ((0, 0, 1), dict(wb=1, free=1, rb=0, ready=1, nxt=0)),
        ((0, 0, 1), dict(wb=1, free=1, rb=1, ready=0, nxt=0)),
    ]
    check_script(True, script)


def test_no_landing_by_hand():
    script = [
        ((1, 0, 0), dict(wb=1, free=1, rb=0, ready=1, nxt=0)),   # ready at once
        ((1, 0, 0), dict(wb=0, free=0, rb=0, ready=1, nxt=1)),   # both ready: writer waits
        ((0, 0, 1), dict(wb=0, free=1, rb=1, ready=1, nxt=0)),
        ((1, 0, 1), dict(wb=1, free=1, rb=0, ready=1, nxt=0)),   # commit and release together
        ((0, 0, 1), dict(wb=1, free=1, rb=1, ready=0, nxt=0)),
    ]
    check_script(False, script)


def check_script(landing, script):
    dut = BankPair(landing=landing)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    seen = []

    async def bench(ctx):
        for (commit, land, release), _ in script:
            ctx.set(dut.writer.commit, commit)
            ctx.set(dut.reader.release, release)
            if landing:
                ctx.set(dut.landed.land, land)
            await ctx.tick()
            seen.append(dict(wb=ctx.get(dut.writer.bank), free=ctx.get(dut.writer.free),
                             rb=ctx.get(dut.reader.bank), ready=ctx.get(dut.reader.ready),
                             nxt=ctx.get(dut.reader.ready_next)))
    sim.add_testbench(bench)
    sim.run()
    for n, ((events, want), got) in enumerate(zip(script, seen)):
        assert got == want, f"after step {n} {events}: {got}, expected {want}"


def test_reset_state_and_ports():
    assert not hasattr(BankPair(), "landed")
    assert hasattr(BankPair(landing=True), "landed")
    bad, log = run_events(True, lambda ref: (0, 0, 0), 3)
    assert not bad
    assert log[0][0] == {"writer.bank": 0, "writer.free": 1, "reader.bank": 0,
                         "reader.ready": 0, "reader.ready_next": 0}
