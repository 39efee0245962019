# amaranth: UnusedElaboratable=no
"""``ComplexMultiplier`` (Amaranth simulator) against Python integer arithmetic.

Reference: ``(a.re*b.re - a.im*b.im, a.re*b.im + a.im*b.re)`` exactly, or
``(a.re*b.re, a.im*b.im)`` with ``real_pair``, computed with Python ints.
New operands every clock (random, plus the corners: most negative, most
positive, 0, +-1), ``real_pair`` drawn per clock, and the product checked
exactly ``latency`` clocks later (1 operand register + 3 multiplier
registers + 1 sum register = 5), on the three-product path (operands of at
most 17 bits) and the four-product path (an 18-bit operand).
"""

import itertools
import random

import pytest

from circnn.errors import ParameterError
from circnn.rtl.complex_mult import ComplexMultiplier

from component_support import run_products


def expected(a, b, pair):
    (ar, ai), (br, bi) = a, b
    if pair:
        return ar * br, ai * bi
    return ar * br - ai * bi, ar * bi + ai * br


def corners(width):
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    return [lo, hi, 0, 1, -1, lo + 1]


def run(dut, operands):
    """``operands``: list of (a, b, real_pair), one per clock.  Returns the mismatches."""
    def drive(ctx, op):
        (ar, ai), (br, bi), pair = op
        for port, v in ((dut.a.re, ar), (dut.a.im, ai), (dut.b.re, br), (dut.b.im, bi),
                        (dut.real_pair, pair)):
            ctx.set(port, v)
    return run_products(dut, operands, 5, drive, lambda op: expected(*op))


@pytest.mark.parametrize("a_width,b_width,products", [
    (2, 2, 3), (8, 8, 3), (16, 16, 3), (17, 16, 3), (17, 17, 3), (9, 17, 3),
    (18, 16, 4), (16, 18, 4), (18, 18, 4), (18, 2, 4),
])
def test_exact_product(a_width, b_width, products, seed):
    rng = random.Random(seed)
    dut = ComplexMultiplier(a_width, b_width)
    assert dut.latency == 5
    assert dut.multipliers == products and dut.three_products == (products == 3)
    assert dut.p_width == a_width + b_width + 1
    ca, cb = corners(a_width), corners(b_width)
    ops = []
    # every corner combination, in both modes
    for ar, ai, br, bi in itertools.product(ca[:3], ca[:3], cb[:3], cb[:3]):
        for pair in (0, 1):
            ops.append(((ar, ai), (br, bi), pair))
    # random operands (corners mixed in), real_pair drawn per clock
    pick = lambda c, w: rng.choice(c) if rng.random() < 0.2 else \
        rng.randint(-(1 << (w - 1)), (1 << (w - 1)) - 1)
    for _ in range(300):
        ops.append(((pick(ca, a_width), pick(ca, a_width)), (pick(cb, b_width), pick(cb, b_width)),
                    int(rng.random() < 0.3)))
    rng.shuffle(ops)
    bad = run(dut, ops)
    assert not bad, f"{len(bad)} wrong products (n, (a, b, real_pair), got, expected): {bad[:4]}"


@pytest.mark.parametrize("a_width,b_width", [(17, 17), (18, 18)])
def test_most_negative_squared(a_width, b_width):
    # (lo + j lo)^2 = 2 lo^2 j: the largest imaginary part, the sum's full width
    lo_a, lo_b = -(1 << (a_width - 1)), -(1 << (b_width - 1))
    ops = [((lo_a, lo_a), (lo_b, lo_b), 0), ((lo_a, lo_a), (lo_b, lo_b), 1),
           ((lo_a, -lo_a - 1), (lo_b, -lo_b - 1), 0), ((lo_a, 0), (0, lo_b), 0)]
    assert expected(*ops[0]) == (0, 2 * lo_a * lo_b)
    assert not run(ComplexMultiplier(a_width, b_width), ops)


def test_real_pair_switches_per_clock(seed):
    # the mode is sampled with its operands: alternating modes on a constant
    # operand pair give alternating results, each at its own latency
    rng = random.Random(seed)
    a, b = (rng.randint(1000, 30000), rng.randint(-30000, -1000)), \
        (rng.randint(1000, 30000), rng.randint(1000, 30000))
    for widths in ((16, 16), (18, 16)):
        ops = [(a, b, n % 2) for n in range(12)] + [(a, b, int(n % 3 == 0)) for n in range(12)]
        assert not run(ComplexMultiplier(*widths), ops)


@pytest.mark.parametrize("kwargs,name", [
    (dict(a_width=1, b_width=8), "a_width"), (dict(a_width=19, b_width=8), "a_width"),
    (dict(a_width=8, b_width=0), "b_width"), (dict(a_width=8, b_width=19), "b_width"),
    (dict(a_width=True, b_width=8), "a_width"), (dict(a_width=8, b_width=8.0), "b_width"),
])
def test_rejects_bad_widths(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        ComplexMultiplier(**kwargs)
