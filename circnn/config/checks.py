"""Parameter checks, and parameters declared with their allowed values.

Every configuration dataclass in :mod:`circnn.config` declares its fields
with :func:`param`, which records the default, a one-line help text and the
allowed values (a range, powers of two only, or a list of choices) in the
field's metadata.  :func:`validate_fields` checks an instance against them,
once, in ``__post_init__``; the command line's ``--set`` parameters are
derived from the same metadata (:func:`limits_of`), so a range is written
down in exactly one place.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

from circnn.errors import ParameterError

__all__ = ["check_int", "check_choice", "check_power_of_two", "Limit", "param", "limits_of",
           "validate_fields"]


def check_int(name: str, value, lo: int | None = None, hi: int | None = None) -> int:
    """Validate an integer parameter (bools are refused; NumPy integers accepted)."""
    if isinstance(value, bool) or not isinstance(value, int):
        if type(value).__module__ == "numpy" and hasattr(value, "dtype") \
                and value.dtype.kind in "iu":
            value = int(value)
        else:
            raise ParameterError(f"{name} must be an integer, not {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        rng = f"{lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}"
        raise ParameterError(f"{name} must be in {rng}, not {value}")
    return value


def check_power_of_two(name: str, value, lo: int, hi: int) -> int:
    value = check_int(name, value)
    if value < lo or value > hi or value & (value - 1):
        raise ParameterError(f"{name} must be a power of two in {lo}..{hi}, not {value}")
    return value


def check_choice(name: str, value, choices: Sequence) -> Any:
    if value not in choices:
        raise ParameterError(f"{name} must be one of {', '.join(map(str, choices))}, not {value!r}")
    return value


@dataclass(frozen=True)
class Limit:
    """What one parameter may be: an integer range (optionally powers of two only),
    a boolean, or one of a list of choices."""

    help: str
    lo: int | None = None
    hi: int | None = None
    power_of_two: bool = False
    choices: tuple | None = None
    kind: type = int

    def check(self, name: str, value) -> Any:
        if self.choices is not None:
            return check_choice(name, value, self.choices)
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ParameterError(f"{name} must be true or false, not {value!r}")
            return value
        if self.power_of_two:
            return check_power_of_two(name, value, self.lo, self.hi)
        return check_int(name, value, self.lo, self.hi)

    def describe(self) -> str:
        if self.choices is not None:
            return "|".join(map(str, self.choices))
        if self.kind is bool:
            return "true|false"
        return f"{self.lo}..{self.hi}" + (", power of two" if self.power_of_two else "")


def param(default, help: str, lo: int | None = None, hi: int | None = None, *,
          power_of_two: bool = False, choices: Sequence | None = None):
    """A dataclass field with its default and its :class:`Limit`."""
    kind = bool if isinstance(default, bool) else (str if choices is not None else int)
    limit = Limit(help, lo, hi, power_of_two, tuple(choices) if choices is not None else None, kind)
    return dataclasses.field(default=default, metadata={"limit": limit})


def limits_of(cls) -> dict[str, tuple[Any, Limit]]:
    """``{field name: (default, Limit)}`` for every field declared with :func:`param`."""
    out = {}
    for f in dataclasses.fields(cls):
        if "limit" in f.metadata:
            out[f.name] = (f.default, f.metadata["limit"])
    return out


def validate_fields(obj) -> None:
    """Check every :func:`param` field of a dataclass instance against its Limit."""
    for f in dataclasses.fields(obj):
        limit = f.metadata.get("limit")
        if limit is not None:
            limit.check(f.name, getattr(obj, f.name))
