"""cocotb bench: one DenseLayer against the bit-true dense model, word for word.

The layer runs inside a :class:`~circnn.sim.harness.stream_shell.StreamShell`
(configuration key ``shell``), which streams its inputs and outputs in
hardware.
Configuration (``CIRCNN_BENCH``): ``program`` (a .npz written by
:func:`circnn.sim.harness.program_files.save_dense_program`, holding the engine, the
layer and the input codes ``x``), idle / stall probabilities, seed;
``compare`` (default true): check the outputs, the zero padding of the last
block, the saturation count and the MAC step counts against the model
(false: only record what the RTL computed); ``via_load``: first write the
weights, biases and registers through the ``load`` port (the layer was
elaborated without a program).  Writes ``stats.json`` (key
``stats``) and, with key ``outputs``, the output codes (N, m) as a .npy file.
"""

import json
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from circnn.sim.benches.layer_bench import output_fields
from circnn.sim.benches.load_port import dense_load_words, drive_load
from circnn.sim.benches.shell_driver import shell_transfer, start_shell_clock_and_reset
from circnn.sim.benches.streams import pair_words, unpack_fields
from circnn.sim.harness.program_files import load_dense_program
from circnn.sim.harness.runner import bench_config
from circnn.sim.model.dense import dense_forward, ideal_dense_cycles_per_row


def output_word_count(cfg, m, n_vectors):
    return n_vectors * -(-m // cfg.k) * cfg.half


def reassemble(words, cfg, m, n_vectors):
    """Place tagged output words: returns (N, blocks*k) and how often each block came."""
    widths, signed = output_fields(cfg)
    k, half, B = cfg.k, cfg.half, cfg.batch
    blocks = -(-m // k)
    y = np.zeros((n_vectors, blocks * k), dtype=np.int64)
    seen = np.zeros((n_vectors, blocks), dtype=int)
    block_count = 0
    i = 0
    for w in words:
        y0, y1, block, vector, last = unpack_fields(w, widths, signed)
        row = (block_count // (blocks * B)) * B + vector
        y[row, block * k + 2 * i] = y0
        y[row, block * k + 2 * i + 1] = y1
        i += 1
        if last:
            assert i == half, f"block of {i} pairs, expected {half}"
            seen[row, block] += 1
            i = 0
            block_count += 1
    return y, seen


@cocotb.test()
async def dense_matches_model(dut):
    c = bench_config()
    seed = c["seed"]
    cfg, prog, arrays = load_dense_program(c["program"])
    x = arrays["x"]
    dut._log.info(f"seed={seed} engine={cfg.to_dict()} m={prog.m} n={prog.n} vectors={len(x)}")
    compare = c.get("compare", True)

    words = pair_words(x, cfg.act_width)
    n_out = output_word_count(cfg, prog.m, len(x))
    await start_shell_clock_and_reset(dut)
    if c.get("via_load"):
        await drive_load(dut, dense_load_words(cfg, prog))
    stats = {}
    ideal = ideal_dense_cycles_per_row(cfg, prog) * len(x)
    budget = 10 * (4 * (len(words) + n_out + ideal) + 5000) / max(0.05, 1 - max(c["idle"], c["stall"]))
    got = await shell_transfer(dut, words, n_out, shell=c["shell"], idle=c["idle"],
                               stall=c["stall"], burst=c.get("burst", 1), seed=seed,
                               timeout_ns=budget, stats=stats)
    await ClockCycles(dut.clk, 2)

    y_full, seen = reassemble(got, cfg, prog.m, len(x))
    y = y_full[:, :prog.m]
    if c.get("outputs"):
        np.save(c["outputs"], y)
    assert np.all(seen == 1), f"every output block exactly once: {seen.tolist()}"
    out_sat = int(dut.out_saturations.value.to_unsigned())
    mac_steps = int(dut.mac_steps.value.to_unsigned())
    pe_steps = int(dut.pe_steps.value.to_unsigned())
    cycles = stats["last_out"] - stats["first_in"] + 1
    if compare:
        expected, info = dense_forward(x, prog, cfg, trace=True)
        bad = np.argwhere(y != expected)
        if len(bad):
            r, e = bad[0]
            raise AssertionError(f"{len(bad)} of {y.size} outputs differ; first: vector {r} row {e}: "
                                 f"got {y[r, e]}, model {expected[r, e]} (seed={seed})")
        assert not np.any(y_full[:, prog.m:]), "outputs past m must be zero"
        assert out_sat == info["out_saturations"], \
            f"out saturations {out_sat} != model {info['out_saturations']}"
        assert mac_steps == ideal, f"MAC steps {mac_steps} != ceil(m/M)*n*N = {ideal}"
        assert pe_steps == prog.m * prog.n * len(x), \
            f"multiplier steps {pe_steps} != m*n*N = {prog.m * prog.n * len(x)}"
    result = {"cycles": cycles, "vectors": len(x), "cycles_per_vector": cycles / len(x),
              "mac_steps": mac_steps, "pe_steps": pe_steps, "ideal_mac_cycles": ideal,
              "pe_utilisation": pe_steps / (cfg.mults * cycles),
              "acc_saturations": 0, "out_saturations": out_sat}
    Path(c.get("stats", "stats.json")).write_text(json.dumps(result, indent=2))
    dut._log.info(f"{y.size} outputs {'equal to the model' if compare else 'recorded'}; {result}")
