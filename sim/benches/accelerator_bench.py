"""cocotb bench: the whole Accelerator against the multi-layer bit-true model.

The accelerator runs inside a :class:`~circnn.sim.harness.stream_shell.StreamShell`
(configuration key ``shell``): its input and output streams are driven in
hardware, the host bus from here.

Configuration (``CIRCNN_BENCH``): ``data`` (an .npz written by the test),
``runs`` (a list of runs, each ``{"name", "batch", "p", "k", "reset_after"?,
"expect_error"?, "mac_bound_clocks"?}``; the last sets the time allowed), idle / stall probabilities, seed, ``stats`` (a path).
For run ``name`` the npz holds ``{name}_writes`` (host-bus writes: address,
data), ``{name}_x`` (input codes) and ``{name}_expected`` (output codes
computed by :func:`circnn.sim.model.network.network_forward`).  A run with
``"compare": false`` only records its outputs (``"outputs"``: an .npy path).
"""

import json
import random
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, Timer

from circnn.sim.benches.layer_bench import reassemble
from circnn.sim.benches.shell_driver import (shell_reset, shell_start, shell_transfer,
                                             start_shell_clock_and_reset)
from circnn.sim.benches.streams import pair_words
from circnn.sim.harness.runner import bench_config
from circnn.config import ErrorCode, HostRegister, decode_status
from circnn.rtl.host_bus import READ_LATENCY


class Host:
    """Drives the accelerator's configuration bus."""

    def __init__(self, dut):
        self.dut = dut
        dut.bus__w_en.value = 0
        dut.bus__r_en.value = 0
        dut.bus__addr.value = 0
        dut.bus__w_data.value = 0

    async def write(self, addr, data):
        d = self.dut
        d.bus__addr.value = int(addr)
        d.bus__w_data.value = int(data) & ((1 << len(d.bus__w_data)) - 1)
        d.bus__w_en.value = 1
        await RisingEdge(d.clk)
        d.bus__w_en.value = 0

    async def read(self, addr):
        d = self.dut
        d.bus__addr.value = int(addr)
        d.bus__r_en.value = 1
        await RisingEdge(d.clk)
        d.bus__r_en.value = 0
        for _ in range(READ_LATENCY - 1):
            await RisingEdge(d.clk)
        await ReadOnly()
        value = int(d.bus__r_data.value.to_unsigned())
        await RisingEdge(d.clk)
        return value

    async def write_all(self, writes):
        for addr, data in writes:
            await self.write(addr, data)


@cocotb.test()
async def accelerator_matches_model(dut):
    c = bench_config()
    seed = c["seed"]
    dut._log.info(f"seed={seed} runs={[r['name'] for r in c['runs']]}")
    data = np.load(c["data"], allow_pickle=False)
    py = random.Random(seed)
    host = Host(dut)
    await start_shell_clock_and_reset(dut)
    shell = c["shell"]
    act = shell["in_width"] // 2
    patterns = dict(idle=c["idle"], stall=c["stall"], burst=c.get("burst", 1))
    stats = {}
    for run in c["runs"]:
        name = run["name"]
        writes = data[f"{name}_writes"]
        await host.write_all(writes.tolist())
        status = decode_status(await host.read(HostRegister.STATUS))
        assert not status["busy"], f"{name}: busy before start"
        await host.write(HostRegister.CTRL, 1)
        if run.get("expect_error"):
            await ClockCycles(dut.clk, 200)
            status = decode_status(await host.read(HostRegister.STATUS))
            code, layer = status["error_code"], status["error_layer"]
            assert status["error"] and not status["busy"], \
                f"{name}: status {status}, expected error, not busy"
            meaning = ErrorCode(code).meaning if code in set(ErrorCode) else "not an error code"
            assert (code, layer) == tuple(run["expect_error"]), \
                f"{name}: error code {code} ({meaning}) at layer {layer}, expected {run['expect_error']}"
            stats[name] = {"error_code": code, "error_layer": layer}
            dut._log.info(f"{name}: refused with code {code} at layer {layer}: {meaning}")
            continue
        x = data[f"{name}_x"]
        expected = data[f"{name}_expected"]
        words = pair_words(x, act)
        n_out = expected.size // 2
        if run.get("reset_after"):
            # start, let it run a while, then reset in the middle of the inference
            await shell_start(dut, words, n_out, shell=shell, seed=py.getrandbits(32), **patterns)
            await Timer(10 * run["reset_after"], "ns")
            await shell_reset(dut)
            dut._log.info(f"{name}: reset after {run['reset_after']} clocks; reloading the registers")
            await host.write_all(writes.tolist())
            await host.write(HostRegister.CTRL, 1)
        # clocks: the streams' words, or the run's MAC-bound clocks (convolutions), with
        # room (a hang detector, not a speed check: a deep network with narrow inputs
        # and outputs spends several hundred clocks an inference on few words)
        clocks = max(80 * (len(words) + n_out), 4 * run.get("mac_bound_clocks", 0)) + 20000
        budget = 10 * clocks / max(0.05, 1 - max(c["idle"], c["stall"]))
        transfer_stats = {}
        got = await shell_transfer(dut, words, n_out, shell=shell, seed=py.getrandbits(32),
                                   timeout_ns=budget, stats=transfer_stats, **patterns)
        await ClockCycles(dut.clk, 5)
        status = decode_status(await host.read(HostRegister.STATUS))
        assert status["done"] and not status["busy"] and not status["error"], \
            f"{name}: status {status} after the run, expected done"

        class Shape:  # what reassemble needs of the engine
            pass
        eng = Shape()
        eng.k, eng.half, eng.batch, eng.act_width = run["k"], run["k"] // 2, run["batch"], act
        eng.max_p = run["max_p"]
        y, seen = reassemble(got, eng, run["p"], x.shape[0])
        assert np.all(seen == 1), f"{name}: every output block exactly once"
        if run.get("outputs"):
            np.save(run["outputs"], y)
        bad = np.argwhere(y != expected) if run.get("compare", True) else []
        if len(bad):
            r, e = bad[0]
            raise AssertionError(f"{name}: {len(bad)} of {y.size} outputs differ; first: vector {r} "
                                 f"element {e}: got {y[r, e]}, model {expected[r, e]} (seed={seed})")
        cycles = await host.read(HostRegister.CYCLES)
        batch_cycles = await host.read(HostRegister.BATCH_CYCLES)
        inferences = await host.read(HostRegister.INFERENCES)
        layer_cycles = [await host.read(HostRegister.LAYER_CYCLES + i) for i in range(run["layers"])]
        stats[name] = {"vectors": int(x.shape[0]), "cycles": cycles,
                       "cycles_per_inference": cycles / x.shape[0],
                       "batch_cycles": batch_cycles,
                       "layer_cycles_last_batch": layer_cycles, "inferences_counter": inferences,
                       "stream_cycles": transfer_stats.get("last_out", 0) - transfer_stats.get("first_in", 0) + 1}
        dut._log.info(f"{name}: {y.size} outputs equal to the model; {stats[name]}")
    Path(c["stats"]).write_text(json.dumps(stats, indent=2))
