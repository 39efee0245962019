"""cocotb benches: the inverse real FFT and the frame reorder buffer against their models.

``real_ifft_matches_model`` (top: ``RealIFFT`` in a stream shell) streams the structured
spectra of :func:`structured_spectra` plus ``random`` random full-range
packed frames and compares every output pair with
:func:`circnn.sim.model.real_fft.real_ifft`.

``frame_reorder_matches_model`` (top: ``FrameReorder`` with a ``data``
payload) streams numbered words and checks the permutation of
:func:`circnn.sim.model.real_fft.reorder_permutation` and the ``last``
flags.

Configuration (``CIRCNN_BENCH``): points / depth, width, twiddle_width,
rounding, order, random (frame count), idle / stall probabilities, seed.
"""

from __future__ import annotations

import random

import cocotb
import numpy as np
from cocotb.triggers import with_timeout

from circnn.sim.benches.shell_driver import shell_stream
from circnn.sim.benches.streams import start_clock_and_reset, pack_fields, transfer, unpack_fields
from circnn.sim.harness.runner import bench_config
from circnn.sim.benches.stimulus import structured_frames
from circnn.sim.model.fixedpoint import int_range
from circnn.config import RealFFTConfig, RealIFFTConfig
from circnn.sim.model.real_fft import (pack_spectrum, real_fft,
                                       real_ifft, reorder_permutation)

__all__ = ["structured_spectra", "random_spectra"]


def structured_spectra(cfg: RealIFFTConfig) -> tuple[np.ndarray, np.ndarray]:
    """Packed ``width``-bit corner-case spectra, ``(re, im)`` of shape (F, k/2).

    * the forward model's spectra (``real_fft`` at ``width - 1`` bits, or at
      8 bits shifted into range when ``width = 8``) of impulses, constants,
      full-scale positive / negative and alternating-sign real blocks;
    * the float spectra of the same blocks, scaled to full scale;
    * every word the same full-scale (or zero / one) value;
    * one word full scale, the others zero (at positions 0, 1, N/2, N/2+1, N-1);
    * random words drawn from the two extreme codes only;

    each distinct frame once, in that order.
    """
    k, N, W = cfg.points, cfg.half, cfg.width
    lo, hi = int_range(W)
    fw = max(8, W - 1)
    s_re, s_im = structured_frames(k, fw)
    blocks = np.concatenate([s_re, s_im])
    fwd = RealFFTConfig(k, fw, cfg.twiddle_width, cfg.rounding)
    f_re, f_im = real_fft(blocks, fwd)
    shift = fw + 1 - W
    frames = [(f_re >> shift, f_im >> shift)]

    bins = np.fft.rfft(blocks.astype(float), axis=-1)
    p_re, p_im = pack_spectrum(bins)
    peak = np.maximum(np.abs(p_re).max(axis=-1), np.abs(p_im).max(axis=-1))
    keep = peak > 0
    scale = hi / peak[keep, None]
    frames.append((np.clip(np.round(p_re[keep] * scale), lo, hi).astype(np.int64),
                   np.clip(np.round(p_im[keep] * scale), lo, hi).astype(np.int64)))

    values = (hi, lo, 0, 1, -1)
    const = [(a, b) for a in values for b in values]
    frames.append((np.array([[a] * N for a, _ in const]), np.array([[b] * N for _, b in const])))

    one_re, one_im = [], []
    for pos in sorted({0, 1, N // 2, N // 2 + 1, N - 1} & set(range(N))):
        for a, b in ((hi, hi), (lo, lo), (hi, lo), (lo, 0), (0, hi)):
            r, i = np.zeros(N, dtype=np.int64), np.zeros(N, dtype=np.int64)
            r[pos], i[pos] = a, b
            one_re.append(r)
            one_im.append(i)
    frames.append((np.array(one_re), np.array(one_im)))

    rng = np.random.default_rng(12345)
    ext = rng.choice([lo, hi], size=(2, 16, N))
    frames.append((ext[0], ext[1]))
    re = np.concatenate([f[0] for f in frames]).astype(np.int64)
    im = np.concatenate([f[1] for f in frames]).astype(np.int64)
    # drop repeats (the real and imaginary parts of many test blocks agree)
    _, first = np.unique(np.concatenate([re, im], axis=1), axis=0, return_index=True)
    keep = np.sort(first)
    return re[keep], im[keep]


def random_spectra(rng: np.random.Generator, count: int, cfg: RealIFFTConfig):
    lo, hi = int_range(cfg.width)
    return (rng.integers(lo, hi + 1, (count, cfg.half)),
            rng.integers(lo, hi + 1, (count, cfg.half)))


async def _start(dut):
    await start_clock_and_reset(dut)


def _budget_ns(words: int, c: dict) -> int:
    return int(10 * (words * 4 + 2000) / max(0.05, 1 - max(c["idle"], c["stall"])))


@cocotb.test()
async def real_ifft_matches_model(dut):
    c = bench_config()
    seed = c["seed"]
    dut._log.info(f"seed={seed} config={c}")
    cfg = RealIFFTConfig(c["points"], c["width"], c["twiddle_width"], c["rounding"],
                         c.get("twiddle_multiplier", "auto"))  # the model: the same either way
    N, W, OW = cfg.half, cfg.width, cfg.output_width
    rng = np.random.default_rng(seed)
    s_re, s_im = structured_spectra(cfg)
    r_re, r_im = random_spectra(rng, c["random"], cfg)
    re, im = np.concatenate([s_re, r_re]), np.concatenate([s_im, r_im])
    F = len(re)
    expected = real_ifft((re, im), cfg)
    exp0, exp1 = expected[:, 0::2], expected[:, 1::2]

    words = [pack_fields((re[f, n], im[f, n]), (W, W)) for f in range(F) for n in range(N)]
    got = await shell_stream(dut, words, len(words), c)

    fields = np.array([unpack_fields(w, (OW, OW, 1), (True, True, False)) for w in got])
    g0, g1, g_last = (fields[:, i].reshape(F, N) for i in range(3))
    bad = np.argwhere((g0 != exp0) | (g1 != exp1))
    if len(bad):
        f, n = bad[0]
        raise AssertionError(f"{len(bad)} of {F * N} pairs differ; first: block {f} pair {n}: "
                             f"got ({g0[f, n]}, {g1[f, n]}), model ({exp0[f, n]}, {exp1[f, n]}) "
                             f"(seed={seed})")
    expected_last = np.zeros((F, N), dtype=int)
    expected_last[:, -1] = 1
    assert np.array_equal(g_last, expected_last), "last flags"
    # irfft(X)/2 of W-bit words stays below 2^(W-1): a quarter of the output range
    assert np.abs(expected).max() < (1 << (W - 1))
    dut._log.info(f"{F} blocks ({F * N} pairs) equal to the model")


@cocotb.test()
async def frame_reorder_matches_model(dut):
    c = bench_config()
    seed = c["seed"]
    dut._log.info(f"seed={seed} config={c}")
    depth, width = c["depth"], c["width"]
    perm = reorder_permutation(depth, c["order"])
    F = c["frames"]
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 1 << width, (F, depth))
    values[0] = np.arange(depth) % (1 << width)   # a numbered frame first
    words = values.ravel().tolist()
    await _start(dut)
    got = await with_timeout(transfer(dut, dut.clk, words, len(words), idle=c["idle"],
                                      stall=c["stall"], burst=c.get("burst", 1),
                                      rng=random.Random(seed)),
                             _budget_ns(len(words), c), "ns")
    fields = np.array([unpack_fields(w, (width, 1), (False, False)) for w in got])
    g_data, g_last = fields[:, 0].reshape(F, depth), fields[:, 1].reshape(F, depth)
    expected = values[:, perm]
    bad = np.argwhere(g_data != expected)
    assert not len(bad), (f"{len(bad)} words misplaced; first at frame {bad[0][0]} word "
                          f"{bad[0][1]} (seed={seed})")
    expected_last = np.zeros((F, depth), dtype=int)
    expected_last[:, -1] = 1
    assert np.array_equal(g_last, expected_last), "last flags"
    dut._log.info(f"{F} frames of {depth} words reordered as the model says")
