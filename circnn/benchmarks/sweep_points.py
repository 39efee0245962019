"""The points of ``circnn bench`` and what follows from a point alone.

A :class:`BenchPoint` is one layer on one engine; its cycle formula, weight
storage, weight-bank block RAMs and dense-equivalent GOPS are computed here
from its dimensions (the formulas of :mod:`.sweep`'s docstring).
:func:`plan` lists the circulant points of a sweep, and
:func:`check_bench_args` refuses a bad sweep before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from circnn.errors import CircnnError

__all__ = ["BenchPoint", "check_bench_args", "plan", "formula_cycles", "weight_bits",
           "estimate_weight_dp16kd", "gops"]

WIDTH = 16
DEVICE = "LFE5U-85F"
DEVICE_LABEL = "LFE5U-85F-6 CABGA381"
FORMULA_TOLERANCE = 0.02
TARGET_K = 16
TARGET_SIZE = 1024
#: Most multipliers a dense engine gets (the LFE5U-85F's MULT18X18D count).
MAX_DENSE_MULTS = 156

SQUARE_SIZES = (256, 512, 1024, 2048, 4096)
NON_SQUARE = ((256, 1024), (1024, 256))        # (m, n)
KS = (4, 8, 16, 32, 64)
PES = (1, 2, 4, 8, 16)
DEFAULT_PES = 4

# DP16KD aspect ratios (depth, width) on ECP5.
_DP16KD_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))


@dataclass(frozen=True)
class BenchPoint:
    engine: str       # "circulant" or "dense"
    m: int            # outputs
    n: int            # inputs
    k: int            # block size (dense: the stream grouping of its comparison)
    pes: int          # P (circulant) or M (dense)

    def __post_init__(self):
        if self.engine not in ("circulant", "dense"):
            raise ValueError(f"engine must be 'circulant' or 'dense', not {self.engine!r}")
        if self.engine == "circulant" and (self.m % self.k or self.n % self.k):
            raise ValueError(f"circulant layer {self.m}x{self.n} is not a multiple of k={self.k}")

    @property
    def name(self) -> str:
        tag = "P" if self.engine == "circulant" else "M"
        k = f"_k{self.k}" if self.engine == "circulant" else ""
        return f"{self.engine}_{self.m}x{self.n}{k}_{tag}{self.pes}"

    @property
    def design(self) -> str:
        return "layer" if self.engine == "circulant" else "dense"

    def synth_params(self) -> dict:
        if self.engine == "circulant":
            return dict(k=self.k, act_width=WIDTH, weight_width=WIDTH, ifft_width=WIDTH,
                        twiddle_width=WIDTH, pes=self.pes, batch=1,
                        max_q=self.n // self.k, max_p=self.m // self.k)
        return dict(act_width=WIDTH, weight_width=WIDTH, mults=self.pes, batch=1,
                    max_in=self.n, max_out=self.m, k=min(self.k, 256))


def formula_cycles(pt: BenchPoint) -> int:
    """MAC-bound clocks per input vector (the formulas of :mod:`.sweep`'s docstring)."""
    if pt.engine == "circulant":
        p, q = pt.m // pt.k, pt.n // pt.k
        return -(-p // pt.pes) * q * (pt.k // 2)
    return -(-pt.m // pt.pes) * pt.n


def weight_bits(pt: BenchPoint, width: int = WIDTH) -> int:
    """Weight storage: dense m*n words; circulant k real numbers per k x k block."""
    if pt.engine == "circulant":
        return (pt.m // pt.k) * (pt.n // pt.k) * pt.k * width
    return pt.m * pt.n * width


def _dp16kd_for(depth: int, width: int) -> int:
    return min(-(-depth // d) * -(-width // w) for d, w in _DP16KD_SHAPES)


def estimate_weight_dp16kd(pt: BenchPoint, width: int = WIDTH) -> int:
    """Block RAMs the weight banks alone need (a lower bound on the design's DP16KD)."""
    if pt.engine == "circulant":
        p, q = pt.m // pt.k, pt.n // pt.k
        depth = -(-p // pt.pes) * q * (pt.k // 2)
        return pt.pes * _dp16kd_for(depth, 2 * width)
    return pt.pes * _dp16kd_for(-(-pt.m // pt.pes) * pt.n, width)


def gops(m: int, n: int, cycles: float, fmax_mhz: float | None) -> float | None:
    """Dense-equivalent GOPS: 2*m*n operations per vector, one vector per ``cycles`` clocks."""
    if fmax_mhz is None or not cycles:
        return None
    return 2.0 * m * n * fmax_mhz / cycles / 1000.0


def check_bench_args(*, freq: float, jobs: int, sizes=None, ks=None, pes=None) -> None:
    """Reject a bad sweep before anything runs, naming the option and its range."""
    if not 1 <= freq <= 1000:
        raise CircnnError(f"--freq must be in 1..1000 MHz, not {freq}")
    if not 1 <= jobs <= 8:
        raise CircnnError(f"--jobs must be in 1..8, not {jobs}")
    for n in sizes or ():
        if not 16 <= n <= 16384:
            raise CircnnError(f"--sizes: {n} outside 16..16384")
    for k in ks or ():
        if k not in (4, 8, 16, 32, 64, 128, 256):
            raise CircnnError(f"--ks: {k} is not a power of two in 4..256")
    for P in pes or ():
        if not 1 <= P <= 64:
            raise CircnnError(f"--pes: {P} outside 1..64")
    if sizes and ks and not any(n % k == 0 for n in sizes for k in ks):
        raise CircnnError("--sizes and --ks: no size is a multiple of any block size")


def plan(quick: bool = False, sizes=None, ks=None, pes=None) -> list[BenchPoint]:
    """The circulant points of the sweep (dense partners are added after their synthesis).

    Full: square sizes at k=16, P=4; two non-square layers; every k at
    1024x1024, P=4; every P at 1024x1024, k=16.  ``--quick``: 256x256 at
    k=16, P=4 only.  ``sizes`` / ``ks`` / ``pes`` replace the swept values.
    """
    if quick:
        sizes, ks, pes = tuple(sizes or (256,)), tuple(ks or (TARGET_K,)), tuple(pes or (DEFAULT_PES,))
        pts = [(n, n, k, P) for n in sizes for k in ks for P in pes]
    else:
        sizes, ks, pes = tuple(sizes or SQUARE_SIZES), tuple(ks or KS), tuple(pes or PES)
        ref_n = TARGET_SIZE if TARGET_SIZE in sizes else max(sizes)
        ref_k = TARGET_K if TARGET_K in ks else ks[0]
        ref_p = DEFAULT_PES if DEFAULT_PES in pes else pes[0]
        pts = [(n, n, ref_k, ref_p) for n in sizes]
        pts += [(m, n, ref_k, ref_p) for m, n in NON_SQUARE
                if sizes is SQUARE_SIZES or (m in sizes and n in sizes)]
        pts += [(ref_n, ref_n, k, ref_p) for k in ks]
        pts += [(ref_n, ref_n, ref_k, P) for P in pes]
    out = []
    for m, n, k, P in pts:
        pt = BenchPoint("circulant", m, n, k, P) if m % k == 0 and n % k == 0 else None
        if pt is not None and pt not in out:
            out.append(pt)
    return out
