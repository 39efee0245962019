"""cocotb bench: the real-input FFT against its bit-true model, word for word."""

import random

import cocotb
import numpy as np
from cocotb.triggers import with_timeout

from circnn.sim.benches.streams import start_clock_and_reset, pack_fields, transfer, unpack_fields
from circnn.sim.harness.runner import bench_config
from circnn.sim.benches.stimulus import random_frames, structured_frames
from circnn.config import RealFFTConfig
from circnn.sim.model.real_fft import real_fft


@cocotb.test()
async def real_fft_matches_model(dut):
    c = bench_config()
    seed = c["seed"]
    dut._log.info(f"seed={seed} config={c}")
    cfg = RealFFTConfig(c["points"], c["width"], c["twiddle_width"], c["rounding"])
    k, W, OW, N = cfg.points, cfg.width, cfg.output_width, cfg.half
    rng = np.random.default_rng(seed)
    s_re, s_im = structured_frames(k, W)
    x = np.concatenate([s_re, s_im, random_frames(rng, c["random"], k, W)[0]])
    F = len(x)
    exp_re, exp_im = real_fft(x, cfg)

    words = [pack_fields((x[f, 2 * n], x[f, 2 * n + 1]), (W, W)) for f in range(F) for n in range(N)]
    py = random.Random(seed)
    await start_clock_and_reset(dut)
    budget_ns = 10 * (len(words) * 4 + 2000) / max(0.05, 1 - max(c["idle"], c["stall"]))
    got = await with_timeout(transfer(dut, dut.clk, words, len(words), idle=c["idle"],
                                      stall=c["stall"], burst=c.get("burst", 1), rng=py),
                             int(budget_ns), "ns")

    fields = np.array([unpack_fields(w, (OW, OW, 1), (True, True, False)) for w in got])
    g_re, g_im, g_last = (fields[:, i].reshape(F, N) for i in range(3))
    bad = np.argwhere((g_re != exp_re) | (g_im != exp_im))
    if len(bad):
        f, p = bad[0]
        raise AssertionError(f"{len(bad)} of {F * N} words differ; first: block {f} word {p}: "
                             f"got {g_re[f, p]}{g_im[f, p]:+d}j, model {exp_re[f, p]}{exp_im[f, p]:+d}j "
                             f"(seed={seed})")
    expected_last = np.zeros((F, N), dtype=int)
    expected_last[:, -1] = 1
    assert np.array_equal(g_last, expected_last), "last flags"
    dut._log.info(f"{F} blocks ({F * N} words) equal to the model")
