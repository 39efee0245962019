# amaranth: UnusedElaboratable=no
"""``UartRx`` / ``UartTx`` (Amaranth simulator) against a line written and read here.

The reference is the 8N1 frame itself, drawn by this test: the receiver is
given a line waveform built from the bytes (start bit 0, data bits least
significant first, stop bit 1, at a bit time up to 1.5 % off the divisor,
random idle between bytes) and must return exactly those bytes; the
transmitter's line is decoded here by sampling each bit in its middle
after the falling edge, and every bit must last ``divisor`` clocks.
"""

import random

import pytest
from amaranth.sim import Simulator

from circnn.config import LinkConfig, ParameterError, uart_divisor
from circnn.rtl.uart import UartRx, UartTx

from component_refs import run_sim
from streams import check_stream


def line_levels(frames, bit_clocks: float, gaps):
    """The line, one level per clock: each frame (a list of 10 bit levels) after its gap
    of idle clocks, each bit ``bit_clocks`` long (rounded from the frame's start)."""
    levels = []
    for frame, gap in zip(frames, gaps):
        levels += [1] * gap
        start = len(levels)
        for n, bit in enumerate(frame):
            end = start + round((n + 1) * bit_clocks)
            levels += [bit] * (end - len(levels))
    return levels + [1] * int(3 * bit_clocks)


def byte_frame(byte: int, stop: int = 1):
    return [0] + [(byte >> n) & 1 for n in range(8)] + [stop]


def run_receiver(divisor, levels, ready_pattern):
    dut = UartRx(divisor)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    out = check_stream(sim, dut.o, "o")
    pulses = {"framing_error": 0, "overrun": 0}

    async def bench(ctx):
        for clock, level in enumerate(levels):
            ctx.set(dut.rx, level)
            ctx.set(dut.o.ready, ready_pattern(clock))
            _, _, framing, overrun = await ctx.tick().sample(dut.framing_error, dut.overrun)
            pulses["framing_error"] += framing
            pulses["overrun"] += overrun
    sim.add_testbench(bench)
    run_sim(sim, len(levels) + 10)
    out.check()
    return out.words, pulses


@pytest.mark.parametrize("divisor,skew", [(4, 0.0), (8, 0.015), (8, -0.015), (13, 0.01)])
def test_receiver_returns_every_byte(divisor, skew, seed):
    rng = random.Random(seed)
    data = [rng.randrange(256) for _ in range(60)] + [0x00, 0xFF, 0x55, 0xAA]
    levels = line_levels([byte_frame(b) for b in data], divisor * (1 + skew),
                         [rng.choice([0, 0, 1, 3, 2 * divisor]) for _ in data])
    words, pulses = run_receiver(divisor, levels, lambda clock: rng.random() < 0.7)
    assert words == data, f"seed={seed}"
    assert pulses == {"framing_error": 0, "overrun": 0}


def test_receiver_drops_a_byte_with_a_bad_stop_bit(seed):
    rng = random.Random(seed)
    data = [rng.randrange(256) for _ in range(8)]
    frames = [byte_frame(b, stop=0 if n == 3 else 1) for n, b in enumerate(data)]
    levels = line_levels(frames, 8, [8] * len(data))
    words, pulses = run_receiver(8, levels, lambda clock: 1)
    assert words == data[:3] + data[4:]
    assert pulses == {"framing_error": 1, "overrun": 0}


def test_receiver_flags_an_overrun_and_keeps_the_older_byte():
    data = [0x12, 0x34, 0x56]
    levels = line_levels([byte_frame(b) for b in data], 8, [2, 0, 0])
    second_end = 2 + 2 * 80 + 4          # nobody takes a byte until the second has come
    words, pulses = run_receiver(8, levels, lambda clock: clock > second_end)
    assert words == [0x12, 0x56]
    assert pulses == {"framing_error": 0, "overrun": 1}


def test_receiver_ignores_a_glitch():
    levels = [1] * 5 + [0] * 2 + [1] * 20 + line_levels([byte_frame(0xC3)], 8, [3])
    words, pulses = run_receiver(8, levels, lambda clock: 1)
    assert words == [0xC3] and pulses["framing_error"] == 0


def decode_line(levels, divisor):
    """Bytes on a line sampled per clock, each bit read in its middle; asserts the start
    bit and the data bits last ``divisor`` clocks and the stop bit is 1."""
    out, t = [], 0
    while t < len(levels):
        if levels[t]:
            t += 1
            continue
        start = t
        assert levels[start:start + divisor] == [0] * divisor, f"start bit at clock {start}"
        bits = [levels[start + divisor * n + divisor // 2] for n in range(10)]
        for n in range(1, 9):     # each data bit holds for its whole bit time
            span = levels[start + divisor * n:start + divisor * (n + 1)]
            assert len(set(span)) == 1, f"bit {n} of the byte at clock {start}: {span}"
        assert bits[9] == 1, f"stop bit of the byte at clock {start}"
        out.append(sum(b << n for n, b in enumerate(bits[1:9])))
        t = start + 9 * divisor + divisor // 2 + 1
    return out


@pytest.mark.parametrize("divisor", [4, 9])
def test_transmitter_sends_every_byte(divisor, seed):
    rng = random.Random(seed)
    data = [rng.randrange(256) for _ in range(40)] + [0x00, 0xFF]
    dut = UartTx(divisor)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    levels = []

    async def line(ctx):
        async for _, _, tx in ctx.tick().sample(dut.tx):
            levels.append(tx)
    sim.add_testbench(line, background=True)

    async def bench(ctx):
        for byte in data:
            for _ in range(rng.choice([0, 0, 0, 5, 3 * divisor])):
                await ctx.tick()
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, byte)
            while True:
                _, _, ready = await ctx.tick().sample(dut.i.ready)
                if ready:
                    break
            ctx.set(dut.i.valid, 0)
        await ctx.tick().repeat(12 * divisor)
    sim.add_testbench(bench)
    run_sim(sim, 200 * 12 * divisor)
    assert levels[0] == 1
    assert decode_line(levels, divisor) == data, f"seed={seed}"


def test_divisor_is_checked_once_with_one_line():
    assert uart_divisor(100_000_000, 3_000_000) == 33
    assert uart_divisor(25_000_000, 115_200) == 217
    assert LinkConfig(clk_hz=100_000_000, baud=10_000_000).divisor == 10
    with pytest.raises(ParameterError, match=r"^baud must be at most clk_hz/4"):
        uart_divisor(10_000_000, 3_000_000)
    with pytest.raises(ParameterError, match=r"nearest divisor 6 gives 4166667 baud, 7.4 % off"):
        uart_divisor(25_000_000, 4_500_000)
    with pytest.raises(ParameterError, match="divisor must be in 4"):
        UartRx(3)
