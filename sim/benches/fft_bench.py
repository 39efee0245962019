"""cocotb bench: the FFT engine against its bit-true model, word for word.

Configuration (``CIRCNN_BENCH``): points, width, twiddle_width, rounding,
twiddle_multiplier (optional; the model is the same for every choice),
mode (``forward`` | ``inverse`` | ``mixed``: a random mode per frame),
random (number of random frames), idle / stall probabilities, seed.  The
top is the FFT in a :class:`~circnn.sim.harness.stream_shell.StreamShell`.
"""

import cocotb
import numpy as np

from circnn.sim.benches.shell_driver import shell_stream
from circnn.sim.benches.streams import pack_fields, unpack_fields
from circnn.sim.harness.runner import bench_config
from circnn.config import FFTConfig
from circnn.sim.model.fft import fft
from circnn.sim.benches.stimulus import random_frames, structured_frames


@cocotb.test()
async def fft_matches_model(dut):
    c = bench_config()
    seed = c["seed"]
    dut._log.info(f"seed={seed} config={c}")
    cfg = FFTConfig(c["points"], c["width"], c["twiddle_width"], c["rounding"],
                    c.get("twiddle_multiplier", "auto"))     # the model: the same either way
    N, W, OW = cfg.points, cfg.width, cfg.output_width
    rng = np.random.default_rng(seed)
    s_re, s_im = structured_frames(N, W)
    r_re, r_im = random_frames(rng, c["random"], N, W)
    re = np.concatenate([s_re, r_re])
    im = np.concatenate([s_im, r_im])
    F = len(re)
    if c["mode"] == "mixed":
        inverse = rng.random(F) < 0.5
    else:
        inverse = np.full(F, c["mode"] == "inverse")
    exp_re, exp_im = fft((re, im), cfg, inverse)

    words = [pack_fields((re[f, n], im[f, n], int(inverse[f])), (W, W, 1))
             for f in range(F) for n in range(N)]
    got = await shell_stream(dut, words, len(words), c)

    fields = np.array([unpack_fields(w, (OW, OW, 1, 1), (True, True, False, False)) for w in got])
    g_re = fields[:, 0].reshape(F, N)
    g_im = fields[:, 1].reshape(F, N)
    g_inv = fields[:, 2].reshape(F, N)
    g_last = fields[:, 3].reshape(F, N)
    bad = np.argwhere((g_re != exp_re) | (g_im != exp_im))
    if len(bad):
        f, p = bad[0]
        raise AssertionError(
            f"{len(bad)} of {F * N} words differ; first: frame {f} ({'inverse' if inverse[f] else 'forward'}) "
            f"position {p}: got {g_re[f, p]}{g_im[f, p]:+d}j, model {exp_re[f, p]}{exp_im[f, p]:+d}j "
            f"(seed={seed})")
    assert np.array_equal(g_inv, np.broadcast_to(inverse[:, None], (F, N)).astype(int)), "inverse flags"
    expected_last = np.zeros((F, N), dtype=int)
    expected_last[:, -1] = 1
    assert np.array_equal(g_last, expected_last), "last flags"
    # the model never overflows the guard bit: outputs use < half the range
    assert np.abs(exp_re).max() < (1 << (OW - 1)) and np.abs(exp_im).max() < (1 << (OW - 1))
    dut._log.info(f"{F} frames ({F * N} words) equal to the model")
