"""Fixed-point formats of data: choosing them, quantising inputs, dequantising outputs."""

from __future__ import annotations

import math

import numpy as np

from circnn.config import MAX_FRAC, EngineConfig
from circnn.errors import CircnnError
from circnn.sim.model.fixedpoint import FixedFormat

__all__ = ["frac_for_range", "check_frac", "check_finite", "quantize_inputs", "dequantize_outputs",
           "error_against_float"]


def frac_for_range(max_abs: float, bits: int, what: str = "values") -> int:
    """Largest fraction count at which ``max_abs`` still fits a signed ``bits`` register.

    Refuses (naming ``what``) a magnitude no format of circnn's holds: fraction
    counts are within ``-MAX_FRAC..MAX_FRAC``.
    """
    if not np.isfinite(max_abs) or max_abs <= 0:
        return bits - 1
    hi = (1 << (bits - 1)) - 1
    # log2 of each side: a denormal max_abs would overflow hi / max_abs
    frac = math.floor(math.log2(hi) - math.log2(max_abs))
    check_frac(frac, bits, what, f"largest magnitude {max_abs:.3g}")
    return int(frac)


def check_frac(frac: int, bits: int, what: str, detail: str) -> None:
    """Refuse a format with more than ``MAX_FRAC`` fraction bits either way."""
    if -MAX_FRAC <= frac <= MAX_FRAC:
        return
    hi = (1 << (bits - 1)) - 1
    lo_mag, hi_mag = hi * 2.0 ** -MAX_FRAC, hi * 2.0 ** MAX_FRAC
    raise CircnnError(f"{what}: {detail} needs a {bits}-bit format with {frac} fraction bits; "
                      f"circnn's formats have -{MAX_FRAC}..{MAX_FRAC}, for largest magnitudes "
                      f"from {lo_mag:.3g} to {hi_mag:.3g}: scale the data into that range")


def check_finite(name: str, values) -> None:
    arr = np.asarray(values, dtype=np.float64)
    bad = np.argwhere(~np.isfinite(arr))
    if len(bad):
        idx = tuple(int(i) for i in bad[0])
        raise CircnnError(f"{name}: value {arr[idx]} at index {idx if len(idx) > 1 else idx[0]} "
                          f"is not finite")


def quantize_inputs(x: np.ndarray, frac: int, eng: EngineConfig, q: int,
                    name: str = "inputs") -> np.ndarray:
    """Float rows (N, n_in) -> zero-padded int codes (N, q*k)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    check_finite(name, x)
    width = q * eng.k
    if x.shape[1] > width:
        raise CircnnError(f"{name}: rows have {x.shape[1]} values, the layer takes at most {width}")
    padded = np.zeros((x.shape[0], width))
    padded[:, :x.shape[1]] = x
    return FixedFormat(eng.act_width, frac).quantize(padded, "half_even")


def dequantize_outputs(y: np.ndarray, frac: int, n_out: int | None = None) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64) * 2.0 ** -frac
    return y if n_out is None else y[:, :n_out]


def error_against_float(got: np.ndarray, ref: np.ndarray, out_frac: int) -> dict:
    """How far fixed-point outputs ``got`` (dequantised) are from the float ``ref``."""
    err = got - ref
    rms = float(np.sqrt(np.mean(err ** 2)))
    scale = float(np.sqrt(np.mean(ref ** 2))) or 1.0
    return {"rms_error": rms, "relative_rms_error": rms / scale,
            "max_abs_error": float(np.abs(err).max()), "output_lsb": 2.0 ** -out_frac}
