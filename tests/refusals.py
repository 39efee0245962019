"""A refusal that costs nothing: hostile files must be turned down from their
headers, before anything they declare is allocated or read."""

import time
import tracemalloc

import pytest

from circnn.errors import CircnnError

MiB = 2**20


def refused_cheaply(fn, *fragments, error=CircnnError, peak_below=4 * MiB, seconds=2.0):
    """Run ``fn``; expect one ``error`` line containing every fragment, with a
    Python memory peak below ``peak_below`` and within ``seconds``; returns the
    message."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(error) as info:
            fn()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    elapsed = time.perf_counter() - t0
    msg = str(info.value)
    assert "\n" not in msg, msg
    for frag in fragments:
        assert frag in msg, msg
    assert peak < peak_below, f"peak {peak} bytes while refusing: {msg}"
    assert elapsed < seconds, f"{elapsed:.2f} s while refusing: {msg}"
    return msg
