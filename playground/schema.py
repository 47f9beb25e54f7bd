"""Parameter schemas: what a field may hold, checked before anything is built.

A :class:`Param` describes one setting (its type, default, range or choices, the label a
form shows). Layer kinds (:mod:`playground.model.kinds`), data sources
(:mod:`playground.data.config`) and tasks (:mod:`playground.data.tasks`) declare their
settings as tuples of them, and :func:`check_fields` reads a file's object against such a
tuple, naming the field path of anything wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import FileFormatError


@dataclass(frozen=True)
class Param:
    """Schema of one node parameter: its type, default and allowed values."""

    name: str
    type: type
    default: Any
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    label: str = ""
    only_if: tuple[str, tuple] | None = None  # (other param, values) for which it applies

    def check(self, value: Any) -> str | None:
        """Return what is wrong with ``value``, or None when it is fine."""
        if self.type is bool:
            if not isinstance(value, bool):
                return f"must be true or false, got {value!r}"
            return None
        if self.type is int:
            if isinstance(value, bool) or not isinstance(value, int):
                return f"must be an integer, got {value!r}"
        elif self.type is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"must be a number, got {value!r}"
            if value != value:  # NaN
                return "must be a number, got NaN"
        elif self.type is str:
            if not isinstance(value, str):
                return f"must be a string, got {value!r}"
        if self.choices is not None and value not in self.choices:
            return f"must be one of {', '.join(map(str, self.choices))}, got {value!r}"
        if self.min is not None and value < self.min:
            if self.type is int and self.min == 1:
                return f"must be a positive integer, got {value!r}"
            return f"must be >= {self.min}, got {value!r}"
        if self.max is not None and value > self.max:
            return f"must be <= {self.max}, got {value!r}"
        return None


def param_applies(p: Param, params: dict[str, Any]) -> bool:
    """Whether ``p`` applies, given the other values (``only_if``)."""
    if p.only_if is None:
        return True
    other, values = p.only_if
    return params.get(other) in values


def _fail(path: str, message: str):
    raise FileFormatError(message, path)


def check_fields(values: Any, schema: tuple[Param, ...], path: str,
                 extra: tuple[str, ...] = (), required: tuple[str, ...] = ()) -> dict[str, Any]:
    """``values`` checked against ``schema``: defaults filled in, unknown or bad fields raise
    FileFormatError naming ``path.field``."""
    if not isinstance(values, dict):
        _fail(path, f"must be an object, got {type(values).__name__}")
    known = {p.name: p for p in schema}
    out = {p.name: p.default for p in schema}
    for key, value in values.items():
        if key in extra:
            out[key] = value
            continue
        if key not in known:
            names = ", ".join([*known, *extra])
            _fail(f"{path}.{key}", f"unknown field; expected one of {names}")
        p = known[key]
        if p.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        problem = p.check(value)
        if problem:
            _fail(f"{path}.{key}", problem)
        out[key] = value
    for key in required:
        if key not in values:
            _fail(f"{path}.{key}", "missing")
    return out
