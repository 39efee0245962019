# amaranth: UnusedElaboratable=no
"""``MACScheduler`` (rtl/scheduler.py) alone in the Amaranth simulator, against the
documented loop nest enumerated in plain Python (``component_refs.mac_passes``).

The bench plays both neighbours: the spectrum buffer's reader side (``spectra.ready``
high from a batch's arrival until the scheduler's ``release`` has been seen, as the
registered :class:`BankPair` does, with a second batch sometimes already waiting)
and the accumulator banks' writer side (``banks.bank`` toggling on each ``commit``,
``banks.free`` low while that bank waits for a drain that takes a random, sometimes
long, time).  Every issued step is recorded and compared field by field with the
loop nest (passes g, input blocks j, words f, batch b): addresses, ``first``,
``real_pair``, ``end_of_pass``, ``active_pes`` and the alternating bank, for several
layer shapes run back to back (p != q, P not dividing p, B = 1 and 3).  Also
checked: a pass's steps come one per clock, a bank is claimed only while free and
before its pass, nothing is issued without a loaded batch, and the spectra are
released exactly once per batch, right after its last step.
"""

import random

import pytest
from amaranth.sim import Simulator

from circnn.config import EngineConfig
from circnn.rtl.scheduler import MACScheduler

from component_refs import STEP_FIELDS, mac_passes, run_sim
from streams import StallPattern, check_stream

# k, P, B, max_q, max_p, layers [(p, q, batches)]
CASES = [
    (4, 2, 1, 4, 5, [(5, 3, 3), (3, 1, 2), (1, 4, 2), (4, 2, 2)]),
    (8, 3, 3, 3, 7, [(7, 2, 2), (4, 3, 2), (2, 1, 2)]),
    (4, 4, 3, 2, 3, [(3, 2, 2), (1, 1, 2)]),      # p < P: one pass with fewer PEs
    (4, 1, 3, 3, 2, [(2, 3, 2), (1, 2, 1)]),      # one PE
    (16, 2, 1, 2, 3, [(3, 2, 3), (2, 1, 2)]),
]


@pytest.mark.parametrize("k,pes,batch,max_q,max_p,layers", CASES)
@pytest.mark.parametrize("burst", [1, 6])
def test_scheduler_issues_the_loop_nest(k, pes, batch, max_q, max_p, layers, burst, seed):
    rng = random.Random(seed)
    eng = EngineConfig(k=k, pes=pes, batch=batch, max_q=max_q, max_p=max_p)
    N = eng.half
    dut = MACScheduler(eng)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    steps_stream = check_stream(sim, dut.step, "step")

    first_bank = rng.randrange(2)
    # expected: every batch of every layer, passes alternating banks throughout
    expected_batches = []
    bank = first_bank
    for p, q, batches in layers:
        for _ in range(batches):
            passes = mac_passes(p, q, N, batch, pes, bank)
            bank = (bank + len(passes)) % 2
            expected_batches.append(passes)

    longest = max(q for _, q, _ in layers) * N * batch      # steps of the longest pass
    log = []        # per clock: dict of what was seen at the clock's edge
    arrival = StallPattern(0.6, burst, rng)    # idle clocks before a batch arrives
    drain = StallPattern(0.7, burst, rng)      # clocks a drain keeps its bank

    async def bench(ctx):
        clock = 0
        w_bank, busy = first_bank, [False, False]
        claimed, drains = [], []        # banks claimed in order; [bank, clocks left] draining
        drained_any = False
        for p, q, batches in layers:
            # a new layer: the configuration changes while nothing runs
            ctx.set(dut.p, p)
            ctx.set(dut.q, q)
            loaded = 0          # batches in the spectrum buffer (at most two banks)
            to_load = batches
            released = 0
            while released < batches:
                if to_load and loaded < 2 and not arrival.next():
                    loaded += 1
                    to_load -= 1
                ctx.set(dut.spectra.ready, int(loaded > 0))
                ctx.set(dut.spectra.ready_next, int(loaded > 1))
                ctx.set(dut.banks.bank, w_bank)
                ctx.set(dut.banks.free, int(not busy[w_bank]))
                _, _, valid, step, release, commit = await ctx.tick().sample(
                    dut.step.valid, dut.step.payload, dut.spectra.release, dut.banks.commit)
                log.append({"clock": clock, "valid": valid, "step": step, "release": release,
                            "commit": commit, "free": int(not busy[w_bank]), "bank": w_bank,
                            "ready": int(loaded > 0)})
                clock += 1
                assert clock < 5_000, "the scheduler stopped issuing"
                # the drains empty their banks (a random, sometimes long, time after the pass)
                for d in drains:
                    d[1] -= 1
                while drains and drains[0][1] <= 0:
                    busy[drains.pop(0)[0]] = False
                if commit:
                    busy[w_bank] = True
                    claimed.append(w_bank)
                    w_bank ^= 1
                if valid and step.end_of_pass:
                    length = 0
                    while drain.next() or length < 2:
                        length += 1
                    if rng.random() < 0.3 or not drained_any:
                        # now and then (and the first time) longer than two passes
                        length += 4 * longest + 20
                    drained_any = True
                    assert claimed, f"clock {clock}: a pass ended without a claimed bank"
                    drains.append([claimed.pop(0), length])
                if release:
                    loaded -= 1
                    released += 1
            # let the scheduler settle before the configuration changes
            for _ in range(4):
                ctx.set(dut.spectra.ready, 0)
                ctx.set(dut.spectra.ready_next, 0)
                _, _, valid, commit = await ctx.tick().sample(dut.step.valid, dut.banks.commit)
                assert not valid and not commit, "activity after the last batch was released"
                log.append({"clock": clock, "valid": 0, "step": None, "release": 0,
                            "commit": 0, "free": 1, "bank": w_bank, "ready": 0})
                clock += 1

    sim.add_testbench(bench)
    run_sim(sim, 8_000)
    steps_stream.check()

    issued = [(e["clock"], e["step"]) for e in log if e["valid"]]
    expected = [s for passes in expected_batches for steps in passes for s in steps]
    assert len(steps_stream.words) == len(issued)
    got = [{f: int(getattr(s, f)) for f in STEP_FIELDS} for _, s in issued]
    for n, (g, e) in enumerate(zip(got, expected)):
        assert g == e, f"step {n}: issued {g}, the loop nest says {e} (seed={seed})"
    assert len(got) == len(expected), f"{len(got)} steps issued, {len(expected)} expected"

    commits = [e["clock"] for e in log if e["commit"]]
    releases = [e["clock"] for e in log if e["release"]]
    n_passes = sum(len(passes) for passes in expected_batches)
    assert len(commits) == n_passes, f"{len(commits)} bank claims for {n_passes} passes"
    assert len(releases) == len(expected_batches), \
        f"{len(releases)} spectrum releases for {len(expected_batches)} batches"
    pos = 0
    pass_index = 0
    waited = 0
    for b, passes in enumerate(expected_batches):
        for steps in passes:
            # a pass's steps come on consecutive clocks
            clocks = [issued[pos + i][0] for i in range(len(steps))]
            assert clocks == list(range(clocks[0], clocks[0] + len(steps))), \
                f"pass {pass_index}: steps not on consecutive clocks: {clocks}"
            # the bank was claimed before the pass started, and only while free
            c = commits[pass_index]
            assert 1 <= clocks[0] - c <= 2, \
                f"pass {pass_index}: claimed at clock {c}, first step at {clocks[0]}"
            if pass_index > 0:
                prev_end = issued[pos - 1][0]
                assert c >= prev_end, f"pass {pass_index}: bank claimed before the last pass ended"
                waited += sum(1 for e in log[prev_end:c] if not e["free"])
            pos += len(steps)
            pass_index += 1
        last = issued[pos - 1][0]
        assert 0 <= releases[b] - last <= 1, \
            f"batch {b}: last step at clock {last}, spectra released at {releases[b]}"
        if b + 1 < len(expected_batches):
            assert releases[b] < issued[pos][0], f"batch {b + 1} started before batch {b}'s release"
    for e in log:
        if e["commit"]:
            assert e["free"], f"clock {e['clock']}: bank claimed while not free"
        if e["valid"]:
            assert e["ready"], f"clock {e['clock']}: a step issued with no batch loaded"
    # the bench did make passes wait for their bank (else the waits were not tested)
    assert waited > 0, "no pass ever waited for a busy bank: the stimulus is too gentle"
