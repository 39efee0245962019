"""cocotb bench: one CirculantLayer against the bit-true layer model, word for word.

The layer runs inside a :class:`~circnn.sim.harness.stream_shell.StreamShell`
(configuration key ``shell``), which streams its inputs and outputs in
hardware.  Configuration (``CIRCNN_BENCH``): ``program`` (a .npz written by
save_program, holding the engine, the layer and the input codes ``x``),
idle / stall probabilities, seed; ``via_load``: first write the program
through the ``load`` port (the layer was elaborated without it);
``compare`` (default true): check the outputs, saturation counts and MAC
steps against the model (false: only record what the RTL computed).
Writes ``stats.json`` (cycles, MAC steps, PE utilisation; key ``stats``)
and, with key ``outputs``, the reassembled output codes (N, p*k) as a .npy
file.
"""

import json
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from circnn.sim.benches.load_port import drive_load, layer_load_words
from circnn.sim.benches.shell_driver import shell_transfer, start_shell_clock_and_reset
from circnn.sim.benches.streams import pair_words, unpack_fields
from circnn.sim.harness.program_files import load_program
from circnn.sim.harness.runner import bench_config
from circnn.sim.model.layer import layer_forward


def output_fields(eng):
    bits = lambda n: max(1, (max(2, n) - 1).bit_length())
    return ((eng.act_width, eng.act_width, bits(eng.max_p), bits(eng.batch), 1),
            (True, True, False, False, False))


def reassemble(words, eng, p, n_vectors):
    """Place tagged output words: returns (N, p*k) and the order check."""
    widths, signed = output_fields(eng)
    k, N, B = eng.k, eng.half, eng.batch
    y = np.zeros((n_vectors, p * k), dtype=np.int64)
    seen = np.zeros((n_vectors, p), dtype=int)
    blocks_per_batch = p * B
    block_count = 0
    n = 0
    for w in words:
        y0, y1, block, vector, last = unpack_fields(w, widths, signed)
        batch = block_count // blocks_per_batch
        row = batch * B + vector
        y[row, block * k + 2 * n] = y0
        y[row, block * k + 2 * n + 1] = y1
        n += 1
        if last:
            assert n == N, f"block of {n} words, expected {N}"
            seen[row, block] += 1
            n = 0
            block_count += 1
    return y, seen


async def monitor(dut, names, every):
    """Debug aid (config ``debug``): log internal signals every ``every`` clocks."""
    from cocotb.triggers import ReadOnly, RisingEdge
    t = 0
    while True:
        await ReadOnly()
        if t % every == 0:
            vals = []
            for n in names:
                h = dut
                for part in n.split("."):
                    h = getattr(h, part)
                vals.append(f"{n}={h.value}")
            dut._log.info(f"t={t} " + " ".join(vals))
        await RisingEdge(dut.clk)
        t += 1


@cocotb.test()
async def layer_matches_model(dut):
    c = bench_config()
    seed = c["seed"]
    eng, prog, arrays = load_program(c["program"])
    x = arrays["x"]
    dut._log.info(f"seed={seed} engine={eng.to_dict()} p={prog.p} q={prog.q} vectors={len(x)}")
    compare = c.get("compare", True)
    if compare:
        expected, trace = layer_forward(x, prog, eng, trace=True)

    words = pair_words(x, eng.act_width)
    n_out = len(x) * prog.p * eng.half
    await start_shell_clock_and_reset(dut)
    if c.get("via_load"):
        await drive_load(dut, layer_load_words(eng, prog))
    if c.get("debug"):
        cocotb.start_soon(monitor(dut, c["debug"], c.get("debug_every", 10)))
    stats = {}
    ideal = -(-prog.p // eng.pes) * prog.q * eng.half * len(x)
    budget = 10 * (4 * (len(words) + n_out + ideal) + 5000) / max(0.05, 1 - max(c["idle"], c["stall"]))
    got = await shell_transfer(dut, words, n_out, shell=c["shell"], idle=c["idle"],
                               stall=c["stall"], burst=c.get("burst", 1), seed=seed,
                               timeout_ns=budget, stats=stats)
    await ClockCycles(dut.clk, 2)

    y, seen = reassemble(got, eng, prog.p, len(x))
    if c.get("outputs"):
        np.save(c["outputs"], y)
    assert np.all(seen == 1), f"every output block exactly once: {seen.tolist()}"
    acc_sat = int(dut.acc_saturations.value.to_unsigned())
    out_sat = int(dut.out_saturations.value.to_unsigned())
    mac_steps = int(dut.mac_steps.value.to_unsigned())
    pe_steps = int(dut.pe_steps.value.to_unsigned())
    cycles = stats["last_out"] - stats["first_in"] + 1
    if compare:
        bad = np.argwhere(y != expected)
        if len(bad):
            r, e = bad[0]
            raise AssertionError(f"{len(bad)} of {y.size} outputs differ; first: vector {r} element {e}: "
                                 f"got {y[r, e]}, model {expected[r, e]} (seed={seed})")
        assert acc_sat == trace.acc_saturations, f"acc saturations {acc_sat} != model {trace.acc_saturations}"
        assert out_sat == trace.out_saturations, f"out saturations {out_sat} != model {trace.out_saturations}"
        assert mac_steps == ideal, f"MAC steps {mac_steps} != ceil(p/P)*q*k/2*N = {ideal}"
    result = {"cycles": cycles, "vectors": len(x), "cycles_per_vector": cycles / len(x),
              "mac_steps": mac_steps, "pe_steps": pe_steps, "ideal_mac_cycles": ideal,
              "pe_utilisation": pe_steps / (eng.pes * cycles),
              "acc_saturations": acc_sat, "out_saturations": out_sat}
    Path(c.get("stats", "stats.json")).write_text(json.dumps(result, indent=2))
    dut._log.info(f"{y.size} outputs {'equal to the model' if compare else 'recorded'}; {result}")
