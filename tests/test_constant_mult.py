# amaranth: UnusedElaboratable=no
"""``ConstantComplexMultiplier`` (Amaranth simulator) and its ``ShiftAddPlan`` against
Python integer products.

Reference: ``(a.re*c.re - a.im*c.im, a.re*c.im + a.im*c.re)`` exactly, for the
constant ``c = constants[sel]``.  Every constant of a set meets the corner
operands (most negative, most positive, 0, +-1, most negative + 1, in every
pairing) and random ones, a new operand and constant every clock, each
product checked exactly ``latency`` clocks later (the ``ComplexMultiplier``'s 5)
and at its width.  The sets: the twiddle stages' (8-point: +-23170 only;
16-point: cos/sin of multiples of pi/8), the split/merge stage's at k = 16
and k = 32 (seven magnitudes, 4:1 selections), 8- and 18-bit codes, and one
with 0, powers of two, 2^15 - 1 and small odd numbers.  The plan alone
(:meth:`ShiftAddPlan.evaluate`, the same registers on Python integers) is
checked for every constant set any FFT configuration can ask for, and the
elaborated transforms are searched for ``Multiplier`` instances (one
MULT18X18D each on ECP5): none in the k = 16 transforms under ``auto``.
"""

import itertools
import random

import numpy as np
import pytest
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from circnn.config import (EngineConfig, FFTConfig, RealFFTConfig, RealIFFTConfig, post_twiddles,
                           stage_twiddles, twiddle_table)
from circnn.errors import ParameterError
from circnn.rtl.complex_mult import ComplexMultiplier
from circnn.rtl.constant_mult import ConstantComplexMultiplier
from circnn.rtl.fft import FFT
from circnn.rtl.layer import CirculantLayer
from circnn.rtl.multiplier import Multiplier
from circnn.rtl.real_fft import RealFFT
from circnn.rtl.real_ifft import RealIFFT
from circnn.rtl.shift_add_plan import ShiftAddPlan, csd_digits
from circnn.rtl.twiddle_multiplier import TwiddleMultiplier
from circnn.sim.model.fixedpoint import round_shift, wrap

from component_support import run_products


def expected(a, c):
    (ar, ai), (cr, ci) = a, c
    return ar * cr - ai * ci, ar * ci + ai * cr


def corners(width):
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    return [lo, hi, 0, 1, -1, lo + 1]


def stage_set(points, stage, twiddle_width):
    return list(FFTConfig(points, 16, twiddle_width).multiplied_twiddles(stage).values())


def split_set(points, twiddle_width, inverse=False):
    """The split stage's constants ``V_f`` (forward) or the merge stage's ``conj(V_f)``."""
    cfg = (RealIFFTConfig if inverse else RealFFTConfig)(points, 16, twiddle_width)
    if inverse:
        cos, msin = twiddle_table(points, twiddle_width)
        return [(int(msin[f]), int(cos[f])) for f in cfg.split_positions]
    v_re, v_im = post_twiddles(cfg)
    return [(int(v_re[f]), int(v_im[f])) for f in cfg.split_positions]


def run(dut, operands):
    """``operands``: list of ((re, im), sel), one per clock.  Returns the mismatches."""
    def drive(ctx, op):
        (ar, ai), sel = op
        for port, v in ((dut.a.re, ar), (dut.a.im, ai), (dut.sel, sel)):
            ctx.set(port, v)
    return run_products(dut, operands, ComplexMultiplier.latency, drive,
                        lambda op: expected(op[0], dut.constants[op[1]]))


SETS = {
    "fft8_stage0_t16": (17, 16, lambda: stage_set(8, 0, 16)),
    "fft16_stage0_t16": (17, 16, lambda: stage_set(16, 0, 16)),
    "ifft_core8_a18": (18, 16, lambda: stage_set(8, 0, 16)),
    "split16_t16": (17, 16, lambda: split_set(16, 16)),
    "merge16_t18": (18, 18, lambda: split_set(16, 18, inverse=True)),
    "split32_t16": (17, 16, lambda: split_set(32, 16)),
    "fft16_stage0_t8": (9, 8, lambda: stage_set(16, 0, 8)),
    "odd": (17, 16, lambda: [(0, 32767), (-32768, 0), (5, -3), (1, 1), (-7, 16384), (0, 0)]),
    "single": (2, 2, lambda: [(-2, 1)]),
}


@pytest.mark.parametrize("name", list(SETS))
def test_exact_products(name, seed):
    a_width, b_width, make = SETS[name]
    constants = make()
    rng = random.Random(seed)
    dut = ConstantComplexMultiplier(a_width, b_width, constants)
    assert dut.latency == ComplexMultiplier.latency == 5
    assert dut.p_width == ComplexMultiplier(a_width, b_width).p_width == a_width + b_width + 1
    assert dut.p.re.shape().width == dut.p_width
    c = corners(a_width)
    ops = [(a, sel) for sel in range(len(constants)) for a in itertools.product(c, c)]
    lo, hi = c[0], c[1]
    pick = lambda: rng.choice(c) if rng.random() < 0.2 else rng.randint(lo, hi)
    ops += [((pick(), pick()), rng.randrange(len(constants))) for _ in range(400)]
    rng.shuffle(ops)
    bad = run(dut, ops)
    assert not bad, f"{len(bad)} wrong products (n, (a, sel), got, expected): {bad[:4]}"


@pytest.mark.parametrize("name", ["fft16_stage0_t16", "split16_t16", "merge16_t18",
                                  "split32_t16", "fft16_stage0_t8", "fft8_stage0_t16"])
def test_split_final_sums(name, seed):
    # split=(k, n): hi + carry is (p >> k) mod 2^n, hi alone misses the carry
    # out of the bits below k; the TwiddleMultiplier's choice k = shift - 1,
    # n = internal width + 1
    a_width, b_width, make = SETS[name]
    constants = make()
    k, n = b_width - 2, a_width + 1
    rng = random.Random(seed)
    dut = ConstantComplexMultiplier(a_width, b_width, constants, split=(k, n))
    assert dut.latency == ComplexMultiplier.latency and not hasattr(dut, "p")
    c = corners(a_width)
    ops = [(a, sel) for sel in range(len(constants)) for a in itertools.product(c, c)]
    lo, hi = c[0], c[1]
    ops += [((rng.randint(lo, hi), rng.randint(lo, hi)), rng.randrange(len(constants)))
            for _ in range(300)]
    rng.shuffle(ops)
    mask = (1 << n) - 1

    def drive(ctx, op):
        (ar, ai), sel = op
        for port, v in ((dut.a.re, ar), (dut.a.im, ai), (dut.sel, sel)):
            ctx.set(port, v)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    bad = []

    async def bench(ctx):
        for clock in range(len(ops) + dut.latency - 1):
            if clock < len(ops):
                drive(ctx, ops[clock])
            await ctx.tick()
            j = clock + 1 - dut.latency
            if j >= 0:
                want = [(v >> k) & mask for v in expected(ops[j][0], constants[ops[j][1]])]
                got = [(ctx.get(getattr(dut.hi, part)) + ctx.get(getattr(dut.carry, part)))
                       & mask for part in ("re", "im")]
                if got != want:
                    bad.append((j, ops[j], got, want))
    sim.add_testbench(bench)
    sim.run()
    assert not bad, f"{len(bad)} wrong split sums: {bad[:4]}"


def test_split_refused_where_it_cannot_be_exact():
    with pytest.raises(ValueError, match="cannot split"):
        ConstantComplexMultiplier(17, 16, stage_set(16, 0, 16), split=(0, 18))


@pytest.mark.parametrize("rounding", ["half_up", "truncate", "half_even"])
@pytest.mark.parametrize("shift_add", [True, False])
def test_twiddle_multiplier_rounds_like_the_model(rounding, shift_add, seed):
    # q = wrap(round_shift(a * codes[addr], shift, rounding), q_width), `latency`
    # clocks after a (the ROM addressed one clock earlier), whichever multiplier
    cfg = FFTConfig(16, 16, 16, rounding)
    codes = stage_twiddles(cfg, 0)
    multiplied = cfg.multiplied_twiddles(0)
    shift, qw = 15, 17
    dut = TwiddleMultiplier(17, 16, codes, multiplied, shift_add=shift_add, shift=shift,
                            rounding=rounding, q_width=qw)
    assert dut.latency == ComplexMultiplier.latency + 1
    rng = random.Random(seed)
    c = corners(17)
    ops = [(a, n) for n in multiplied for a in itertools.product(c, c)]
    ops += [((rng.randint(c[0], c[1]), rng.randint(c[0], c[1])), rng.choice(list(multiplied)))
            for _ in range(300)]
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    bad = []

    async def bench(ctx):
        for clock in range(len(ops) + dut.latency + 1):
            if clock < len(ops):
                ctx.set(dut.addr, ops[clock][1])
            if 1 <= clock <= len(ops):
                (ar, ai), _ = ops[clock - 1]
                ctx.set(dut.a.re, ar)
                ctx.set(dut.a.im, ai)
            await ctx.tick()
            j = clock - dut.latency
            if j >= 0 and j < len(ops):
                a, n = ops[j]
                p = np.array(expected(a, codes[n]), dtype=np.int64)
                want = [int(v) for v in wrap(round_shift(p, shift, rounding), qw)]
                got = [ctx.get(dut.q.re), ctx.get(dut.q.im)]
                if got != want:
                    bad.append((j, a, n, got, want))
    sim.add_testbench(bench)
    sim.run()
    assert not bad, f"{len(bad)} wrong: {bad[:4]}"


def every_fft_constant_set():
    """Each constant set a twiddle or split/merge stage multiplies by, for every
    transform size and twiddle width the configurations accept."""
    for tw in range(8, 19):
        for points in (8, 16, 32, 64, 128, 256):
            cfg = FFTConfig(points, 16, tw)
            for stage in range(cfg.stages):
                if cfg.has_multiplier(stage):
                    yield f"fft{points}_s{stage}_t{tw}", stage_set(points, stage, tw)
        for points in (4, 8, 16, 32, 64, 128, 256, 512):
            yield f"split{points}_t{tw}", split_set(points, tw)
            yield f"merge{points}_t{tw}", split_set(points, tw, inverse=True)


def test_every_fft_constant_set_has_a_plan():
    # the widest operand (18 bits) and the corners, whose products are the extremes
    checked = 0
    for name, constants in every_fft_constant_set():
        plan = ShiftAddPlan(18, constants)
        assert max(plan.digits().values(), default=0) <= 8, name
        for sel, c in enumerate(constants):
            for a in ((-(1 << 17), -(1 << 17)), ((1 << 17) - 1, -(1 << 17)), (-(1 << 17) + 1, 1)):
                assert plan.evaluate(*a, sel) == expected(a, c), (name, a, c)
                checked += 1
    assert checked > 10000


def test_the_pi_over_8_set_by_hand():
    # W_16^n, n = 1, 2, 3, 5, 6, 7: three magnitudes, canonical signed digits
    plan = ShiftAddPlan(17, stage_set(16, 0, 16))
    assert sorted({m for _, m in plan.trees}) == [12540, 23170, 30274]
    assert csd_digits(12540) == [(2, -1), (8, 1), (12, -1), (14, 1)]
    assert sum(d * (1 << s) for s, d in csd_digits(23170)) == 23170
    assert [len(csd_digits(m)) for m in (12540, 23170, 30274)] == [4, 6, 5]
    # the parts are swapped so that each output selects between two products
    assert all(len(plan.sources[slot]) == 2 for slot in plan.sources)
    assert plan.swaps == [False, False, True, True, False, False]


def test_rejects_what_it_cannot_build():
    with pytest.raises(ParameterError, match="a_width"):
        ConstantComplexMultiplier(19, 16, [(1, 1)])
    with pytest.raises(ParameterError, match="b_width"):
        ConstantComplexMultiplier(16, 1, [(1, 1)])
    with pytest.raises(ValueError, match="does not fit 16 bits"):
        ConstantComplexMultiplier(16, 16, [(32768, 0)])
    # 0b10101010101010101: nine non-zero digits, one more than three adder levels sum
    with pytest.raises(ValueError, match="9 non-zero signed digits"):
        ConstantComplexMultiplier(16, 18, [(87381, 0)])


def multipliers_in(component) -> int:
    """``Multiplier`` instances in the elaborated hierarchy of ``component``."""
    count, todo = 0, [Fragment.get(component, None)]
    while todo:
        fragment = todo.pop()
        count += any(isinstance(o, Multiplier) for o in fragment.origins or ())
        todo += [sub for sub, *_ in fragment.subfragments]
    return count


def test_auto_leaves_no_multiplier_in_the_k16_transforms():
    assert multipliers_in(RealFFT(RealFFTConfig(16))) == 0
    assert multipliers_in(RealIFFT(RealIFFTConfig(16))) == 0
    # the DSP choice: 3 per twiddle and split stage (4 in the inverse's 18-bit core)
    assert multipliers_in(RealFFT(RealFFTConfig(16, twiddle_multiplier="dsp"))) == 6
    assert multipliers_in(RealIFFT(RealIFFTConfig(16, twiddle_multiplier="dsp"))) == 7
    # 64 points: the D = 32 and 16 stages (15 and 7 magnitudes) keep their DSPs
    assert multipliers_in(FFT(FFTConfig(64))) == 6
    # the engine builds its transforms with the default: only the PEs' multipliers remain
    eng = EngineConfig(k=16, pes=4, max_q=2, max_p=4)
    assert multipliers_in(CirculantLayer(eng)) == 3 * eng.pes
