"""Declared, validated design parameters.

Every registered design lists its parameters as :class:`Param` objects;
``--set name=value`` strings are parsed and range-checked here, before any
elaboration, so that bad input fails early with a message that names the
parameter and its allowed values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from .errors import ParameterError

__all__ = ["Param", "parse_assignments", "resolve_params", "check_int", "check_choice",
           "check_power_of_two"]


def check_int(name: str, value, lo: int | None = None, hi: int | None = None) -> int:
    """Validate an integer parameter (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            import numpy as np
            if isinstance(value, np.integer):
                value = int(value)
            else:
                raise TypeError
        except TypeError:
            raise ParameterError(f"{name} must be an integer, not {value!r}") from None
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
class Param:
    """One design parameter: its type, default and allowed values."""

    name: str
    default: Any
    help: str
    lo: int | None = None
    hi: int | None = None
    choices: tuple | None = None
    power_of_two: bool = False
    kind: type = int

    def parse(self, text: str) -> Any:
        if self.kind is bool:
            low = text.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ParameterError(f"{self.name} must be true or false, not {text!r}")
        if self.kind is int:
            try:
                return int(text, 0)
            except ValueError:
                raise ParameterError(f"{self.name} must be an integer, not {text!r}") from None
        return text

    def check(self, value) -> Any:
        if self.choices is not None:
            return check_choice(self.name, value, self.choices)
        if self.kind is int:
            if self.power_of_two:
                return check_power_of_two(self.name, value, self.lo, self.hi)
            return check_int(self.name, value, self.lo, self.hi)
        if self.kind is bool and not isinstance(value, bool):
            raise ParameterError(f"{self.name} must be true or false, not {value!r}")
        return value

    def describe(self) -> str:
        if self.choices is not None:
            allowed = "|".join(map(str, self.choices))
        elif self.kind is int:
            allowed = f"{self.lo}..{self.hi}" + (", power of two" if self.power_of_two else "")
        else:
            allowed = self.kind.__name__
        return f"{self.name}={self.default} ({allowed}): {self.help}"


def parse_assignments(items: Iterable[str] | None) -> dict[str, str]:
    """``["a=1", "b=x"]`` to ``{"a": "1", "b": "x"}``."""
    out: dict[str, str] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParameterError(f"--set expects name=value, not {item!r}")
        if name in out:
            raise ParameterError(f"parameter {name} is set twice")
        out[name] = value.strip()
    return out


def resolve_params(params: Sequence[Param], given: dict[str, Any], *, design: str,
                   from_text: bool = True,
                   validate: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Defaults overlaid with ``given``, every value checked."""
    by_name = {p.name: p for p in params}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        allowed = ", ".join(by_name) or "none"
        raise ParameterError(f"design {design} has no parameter {unknown[0]} (parameters: {allowed})")
    values = {}
    for p in params:
        if p.name in given:
            raw = given[p.name]
            value = p.parse(raw) if from_text and isinstance(raw, str) else raw
        else:
            value = p.default
        values[p.name] = p.check(value)
    if validate is not None:
        validate(values)
    return values
