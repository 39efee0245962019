"""cocotb bench: faults on the whole accelerator (in a stream shell), each followed by a
correct inference.

Configuration (``CIRCNN_BENCH``): ``data`` (an .npz with ``writes``, ``x``,
``expected``: the host-bus writes that load the network, the input codes, the
model's output codes), ``fault``, ``seed``, ``stats`` (a path), ``run`` (``k``,
``p``, ``batch``, ``max_p`` of the network) and, for ``fault = "reset"``,
``state_flags`` (the network controller's one-hot state flags).

* ``reset``: a probe inference records the controller's state on every
  clock from the start; then, for every state it went through, at one
  clock drawn at random among those it spent in that state, the same
  inference is started again and reset there (the state at that clock read
  back and recorded), the registers are reloaded and an inference must give
  the model's outputs;
* ``x_idle``: the host bus carries X on its address and data whenever it
  is idle, and the input stream carries X when not valid (the shell's
  memory past the loaded words, on Icarus); the outputs must be the
  model's, and the stats count the clocks of X seen on the inputs (so the
  check is not vacuous) and of X on a valid output (must be 0);
* ``saturation``: one inference; the stats hold ACC_SAT and OUT_SAT;
* ``busy_writes``: the network is loaded and started; while it is busy
  (before its inputs arrive, and again while they stream) the host writes
  a second network (``writes2``: descriptors, counts, weights, biases).
  The run must give the first network's outputs and leave
  STATUS.write_ignored set; then, idle, the second network is written, and
  its start clears the flag and its run gives ``expected2`` on ``x2``.  The
  stats hold STATUS as read at each step.
"""

import json
import random
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotb.types import LogicArray

from circnn.config import HostRegister, decode_status
from circnn.sim.benches.accelerator_bench import Host
from circnn.sim.benches.layer_bench import reassemble
from circnn.sim.benches.shell_driver import (shell_reset, shell_start, shell_transfer,
                                             start_shell_clock_and_reset)
from circnn.sim.benches.streams import pair_words
from circnn.sim.harness.runner import bench_config

IDLE, STALL = 0.2, 0.2


class XHost(Host):
    """A host whose bus carries X on ``addr`` and ``w_data`` between its accesses."""

    def idle(self):
        d = self.dut
        d.bus__addr.value = LogicArray("X" * len(d.bus__addr))
        d.bus__w_data.value = LogicArray("X" * len(d.bus__w_data))

    async def write(self, addr, data):
        await super().write(addr, data)
        self.idle()

    async def read(self, addr):
        value = await super().read(addr)
        self.idle()
        return value


def _resolvable(handle) -> bool:
    return handle.value.is_resolvable


async def _inference(dut, host, c, data, seed, shell, name, *, key="", during=None):
    """Load, start, stream; the outputs must be the model's.  ``key``: the suffix of
    the data's ``writes``, ``x``, ``expected``; ``during``: a coroutine function run
    (and awaited) between the start and the end of the streaming."""
    await host.write_all(data["writes" + key].tolist())
    await host.write(HostRegister.CTRL, 1)
    return await _stream_and_check(dut, host, c, data, seed, shell, name, key=key, during=during)


async def _stream_and_check(dut, host, c, data, seed, shell, name, *, key="", during=None):
    run = c["run"]
    x, expected = data["x" + key], data["expected" + key]
    words = pair_words(x, shell["in_width"] // 2)
    n_out = expected.size // 2
    transfer = cocotb.start_soon(shell_transfer(
        dut, words, n_out, shell=shell, seed=seed, idle=IDLE, stall=STALL,
        timeout_ns=10 * (200 * (len(words) + n_out) + 20000)))
    if during is not None:
        await during()
    got = await transfer
    await ClockCycles(dut.clk, 5)       # the last layer's end reaches the controller
    status = decode_status(await host.read(HostRegister.STATUS))
    assert status["done"] and not status["busy"] and not status["error"], \
        f"{name}: status {status}"

    class Shape:
        pass
    eng = Shape()
    eng.k, eng.half, eng.batch = run["k"], run["k"] // 2, run["batch"]
    eng.act_width, eng.max_p = shell["in_width"] // 2, run["max_p"]
    y, seen = reassemble(got, eng, run["p"], x.shape[0])
    assert np.all(seen == 1), f"{name}: every output block exactly once"
    bad = np.argwhere(y != expected)
    assert not len(bad), f"{name}: {len(bad)} of {y.size} outputs differ from the model " \
                         f"(first at {bad[0].tolist()}; seed={c['seed']})"
    return status


async def _fault_busy_writes(dut, host, c, data, py, shell, stats):
    first, second = data["writes"].tolist(), data["writes2"].tolist()
    await host.write_all(first)
    await host.write(HostRegister.CTRL, 1)
    # busy, waiting for input: half of the second network's writes, in random order
    py.shuffle(second)
    half = len(second) // 2
    await host.write_all(second[:half])
    stats["before_input"] = decode_status(await host.read(HostRegister.STATUS))

    async def rest():
        await host.write_all(second[half:])
        stats["while_streaming"] = decode_status(await host.read(HostRegister.STATUS))

    stats["first_done"] = await _stream_and_check(dut, host, c, data, py.getrandbits(32), shell,
                                                  "the first network, written over while busy",
                                                  during=rest)
    # idle: the same writes are taken, and the next start clears the flag
    await _inference(dut, host, c, data, py.getrandbits(32), shell,
                     "the second network, written while idle", key="2")
    stats["second_done"] = decode_status(await host.read(HostRegister.STATUS))


def _state(dut, flags):
    """The controller's state now (the one flag that is high)."""
    network = dut.dut.network
    high = [f for f in flags if int(getattr(network, f).value) == 1]
    assert len(high) == 1, f"state flags high: {high}"
    return high[0]


async def _fault_reset(dut, host, c, data, shell, py, stats):
    flags = c["state_flags"]
    stream_seed = py.getrandbits(32)
    # the probe: the controller's state on each clock from the clock after the start write
    trace = []

    async def record():
        while True:
            await FallingEdge(dut.clk)
            trace.append(_state(dut, flags))

    await host.write_all(data["writes"].tolist())
    await host.write(HostRegister.CTRL, 1)
    recorder = cocotb.start_soon(record())
    x, expected = data["x"], data["expected"]
    words = pair_words(x, shell["in_width"] // 2)
    await shell_transfer(dut, words, expected.size // 2, shell=shell, seed=stream_seed,
                         idle=IDLE, stall=STALL, timeout_ns=10 * 200000)
    await ClockCycles(dut.clk, 10)      # the end of the run: back in IDLE
    recorder.cancel()
    clocks = {}
    for n, s in enumerate(trace):
        clocks.setdefault(s, []).append(n)
    stats["visited"] = sorted(clocks)
    stats["resets"] = {}
    for state in sorted(clocks):
        at = py.choice(clocks[state])
        await shell_reset(dut)
        await host.write_all(data["writes"].tolist())
        await host.write(HostRegister.CTRL, 1)
        start = cocotb.start_soon(shell_start(dut, words, expected.size // 2, shell=shell,
                                              seed=stream_seed, idle=IDLE, stall=STALL))
        for _ in range(at):
            await FallingEdge(dut.clk)
        await FallingEdge(dut.clk)
        hit = _state(dut, flags)
        if not start.done():
            start.cancel()
        await shell_reset(dut)
        stats["resets"][state] = {"clock": at, "state_at_reset": hit}
        await _inference(dut, host, c, data, stream_seed, shell, f"after a reset in {state}")


async def _watch_x(dut, counts):
    while True:
        await FallingEdge(dut.clk)
        if int(dut.i__valid.value) == 0 and not _resolvable(dut.i__payload):
            counts["x_on_idle_input"] += 1
        if not (_resolvable(dut.bus__addr) and _resolvable(dut.bus__w_data)):
            counts["x_on_idle_bus"] += 1
        if int(dut.o__valid.value) == 1 and not _resolvable(dut.o__payload):
            counts["x_on_valid_output"] += 1


@cocotb.test()
async def accelerator_survives_faults(dut):
    c = bench_config()
    seed = c["seed"]
    dut._log.info(f"seed={seed} fault={c['fault']}")
    data = np.load(c["data"], allow_pickle=False)
    py = random.Random(seed)
    shell = c["shell"]
    stats = {}
    # the bus driven (w_en low) from the first clock, before the reset ends
    host = XHost(dut) if c["fault"] == "x_idle" else Host(dut)
    await start_shell_clock_and_reset(dut)
    if c["fault"] == "reset":
        await _fault_reset(dut, host, c, data, shell, py, stats)
    elif c["fault"] == "x_idle":
        host.idle()
        counts = {"x_on_idle_input": 0, "x_on_idle_bus": 0, "x_on_valid_output": 0}
        watcher = cocotb.start_soon(_watch_x(dut, counts))
        for n in range(2):
            await _inference(dut, host, c, data, py.getrandbits(32), shell, f"run {n}")
        watcher.cancel()
        stats.update(counts)
    elif c["fault"] == "saturation":
        await _inference(dut, host, c, data, py.getrandbits(32), shell, "saturating run")
        stats["acc_saturations"] = await host.read(HostRegister.ACC_SATURATIONS)
        stats["out_saturations"] = await host.read(HostRegister.OUT_SATURATIONS)
    elif c["fault"] == "busy_writes":
        await _fault_busy_writes(dut, host, c, data, py, shell, stats)
    else:
        raise AssertionError(f"unknown fault {c['fault']!r}")
    await RisingEdge(dut.clk)
    Path(c["stats"]).write_text(json.dumps(stats, indent=2))
