"""Design parameters as the command line sees them: ``--set name=value``.

A :class:`Param` is a configuration field's name, default and
:class:`~circnn.config.checks.Limit` (declared once, in :mod:`circnn.config`),
plus the parsing of its text form.  ``--set`` strings are parsed and
range-checked here, before any elaboration, so that bad input fails early
with a message that names the parameter and its allowed values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from circnn.config import Limit, limits_of
from circnn.errors import ParameterError

__all__ = ["Param", "params_of", "parse_assignments", "resolve_params"]


@dataclass(frozen=True)
class Param:
    """One design parameter: its name, default and allowed values."""

    name: str
    default: Any
    limit: Limit

    @property
    def help(self) -> str:
        return self.limit.help

    def parse(self, text: str) -> Any:
        kind = self.limit.kind
        if kind is bool:
            low = text.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ParameterError(f"{self.name} must be true or false, not {text!r}")
        if kind is int:
            try:
                return int(text, 0)
            except ValueError:
                raise ParameterError(f"{self.name} must be an integer, not {text!r}") from None
        return text

    def check(self, value) -> Any:
        return self.limit.check(self.name, value)

    def describe(self) -> str:
        return f"{self.name}={self.default} ({self.limit.describe()}): {self.help}"


def params_of(cls, *, defaults: dict | None = None, lo: dict | None = None,
              exclude: Sequence[str] = ()) -> tuple[Param, ...]:
    """The :class:`Param` of every declared field of configuration class ``cls``.

    ``defaults`` replaces a field's default for one design; ``lo`` raises a
    field's lower bound (a design may allow less than its configuration
    does, never more); ``exclude`` leaves fields out.
    """
    defaults, lo = defaults or {}, lo or {}
    unknown = (set(defaults) | set(lo) | set(exclude)) - set(limits_of(cls))
    if unknown:
        raise ValueError(f"{cls.__name__} has no fields {sorted(unknown)}")
    out = []
    for name, (default, limit) in limits_of(cls).items():
        if name in exclude:
            continue
        if name in lo:
            limit = dataclasses.replace(limit, lo=max(lo[name], limit.lo))
        out.append(Param(name, defaults.get(name, default), limit))
    return tuple(out)


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
                   from_text: bool = True) -> dict[str, Any]:
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
    return values
