"""The stream-protocol rules every bench checks (``StreamRules``, behind the cocotb
``StreamMonitor`` and the Amaranth-simulator checker), and the idle/stall patterns.

Hand-made clock-by-clock traces: each rule broken once, and kept."""

import random

import pytest

from circnn.sim.benches.monitor import StreamRules
from circnn.sim.benches.patterns import StallPattern


def observe(trace, name="s"):
    rules = StreamRules(name)
    for valid, ready, payload in trace:
        rules.observe(valid, ready, payload)
    return rules


def test_a_clean_trace_passes_and_records_transfers_in_order():
    rules = observe([(0, 1, 0), (1, 0, 5), (1, 0, 5), (1, 1, 5), (1, 1, 6), (0, 0, 9), (1, 1, 7)])
    rules.check()
    assert rules.words == [5, 6, 7]
    rules.check_words([5, 6, 7])


def test_valid_falling_before_acceptance_is_a_violation():
    rules = observe([(1, 0, 5), (0, 0, 5)])
    with pytest.raises(AssertionError, match="valid fell"):
        rules.check()


def test_payload_changing_while_waiting_is_a_violation():
    rules = observe([(1, 0, 5), (1, 1, 6)])
    with pytest.raises(AssertionError, match="payload changed from 0x5 to 0x6"):
        rules.check()


def test_unknown_handshake_or_payload_is_a_violation():
    with pytest.raises(AssertionError, match="not 0/1"):
        observe([(None, 1, 0)]).check()
    with pytest.raises(AssertionError, match="payload of a valid word"):
        observe([(1, 1, None)]).check()


@pytest.mark.parametrize("expected,message", [
    ([5, 7], "word 1 is 0x6, expected 0x7"),        # reordered or corrupted
    ([5, 6, 6], "2 words seen, 3 expected"),        # lost
    ([5], "2 words seen, 1 expected"),              # duplicated
])
def test_check_words_names_the_difference(expected, message):
    rules = observe([(1, 1, 5), (1, 1, 6)])
    with pytest.raises(AssertionError, match=message):
        rules.check_words(expected)


def test_per_clock_pattern_draws_independently(seed):
    pattern = StallPattern(0.3, 1, random.Random(seed))
    draws = [pattern.next() for _ in range(20000)]
    assert abs(sum(draws) / len(draws) - 0.3) < 0.02, f"seed={seed}"


@pytest.mark.parametrize("rate,burst", [(0.3, 8), (0.6, 20)])
def test_burst_pattern_keeps_the_rate_in_long_runs(rate, burst, seed):
    pattern = StallPattern(rate, burst, random.Random(seed))
    draws = [pattern.next() for _ in range(200000)]
    runs, length = [], 0
    for stalled in draws:
        if stalled:
            length += 1
        elif length:
            runs.append(length)
            length = 0
    assert abs(sum(draws) / len(draws) - rate) < 0.05, f"seed={seed}"
    assert abs(sum(runs) / len(runs) - burst) < 0.15 * burst, f"seed={seed}"


def test_pattern_rejects_bad_parameters():
    with pytest.raises(ValueError, match="rate"):
        StallPattern(1.0)
    with pytest.raises(ValueError, match="burst"):
        StallPattern(0.5, 0.5)
    assert not any(StallPattern(0.0, 10).next() for _ in range(100))
