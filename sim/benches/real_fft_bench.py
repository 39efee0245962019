"""cocotb bench: the real-input FFT (in a stream shell) against its bit-true model, word
for word."""

import cocotb
import numpy as np

from circnn.sim.benches.shell_driver import shell_stream
from circnn.sim.benches.streams import pack_fields, unpack_fields
from circnn.sim.harness.runner import bench_config
from circnn.sim.benches.stimulus import random_frames, structured_frames
from circnn.config import RealFFTConfig
from circnn.sim.model.real_fft import real_fft


@cocotb.test()
async def real_fft_matches_model(dut):
    c = bench_config()
    seed = c["seed"]
    dut._log.info(f"seed={seed} config={c}")
    cfg = RealFFTConfig(c["points"], c["width"], c["twiddle_width"], c["rounding"],
                        c.get("twiddle_multiplier", "auto"))  # the model: the same either way
    k, W, OW, N = cfg.points, cfg.width, cfg.output_width, cfg.half
    rng = np.random.default_rng(seed)
    s_re, s_im = structured_frames(k, W)
    x = np.concatenate([s_re, s_im, random_frames(rng, c["random"], k, W)[0]])
    F = len(x)
    exp_re, exp_im = real_fft(x, cfg)

    words = [pack_fields((x[f, 2 * n], x[f, 2 * n + 1]), (W, W)) for f in range(F) for n in range(N)]
    got = await shell_stream(dut, words, len(words), c)

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
