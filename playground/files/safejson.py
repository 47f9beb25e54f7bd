"""JSON read as an untrusted file: bounded in size, depth and numbers.

An experiment file may come from anyone. :func:`parse` turns every way plain ``json``
fails on a hostile file (nesting that exhausts the stack, an integer of thousands of
digits, a number too large for a float, NaN) into a :class:`FileFormatError` that names
the file and, where it can, the field, before any of it reaches code that would convert
or allocate by it.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from ..data.filechecks import open_regular, too_large
from ..errors import FileFormatError

MAX_BYTES = 20 * 2 ** 20   # an experiment file is a few kB; a lesson-rich one tens of kB
MAX_DEPTH = 32             # the deepest real file nests 6 levels
MAX_INT = 10 ** 15         # beyond every setting's range, and exact as a float


def read_text(path: str | os.PathLike) -> str:
    """The file's text, refused before reading when it is missing, not a regular file (a
    FIFO is never opened) or larger than :data:`MAX_BYTES` (the data files' guard,
    :func:`playground.data.filechecks.open_regular`)."""
    f, _ = open_regular(str(path), MAX_BYTES, "experiment file")
    try:
        with f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise FileFormatError(f"cannot read the file: {e.strerror or e}", file=str(path)) from None
    if len(raw) > MAX_BYTES:
        raise too_large(str(path), "experiment file", MAX_BYTES)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FileFormatError(f"cannot read the file: {e}", file=str(path)) from None


def parse(text: str, file: str | None = None) -> Any:
    """``json.loads(text)``, checked: depth at most :data:`MAX_DEPTH`, integers at most
    :data:`MAX_INT` in size, every number finite."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise FileFormatError(f"not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}",
                              file=file) from None
    except RecursionError:
        raise FileFormatError(f"nested too deeply (more than {MAX_DEPTH} levels)",
                              file=file) from None
    except ValueError as e:   # an integer literal over Python's 4,300 digits
        raise FileFormatError(f"a number with too many digits ({e})", file=file) from None
    check(data, file)
    return data


def check(data: Any, file: str | None = None) -> None:
    """Walk ``data`` without recursion; the first bad value raises, naming its field."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise FileFormatError(f"nested too deeply (more than {MAX_DEPTH} levels)",
                                  path or None, file)
        if isinstance(value, dict):
            stack.extend((v, f"{path}.{k}" if path else str(k), depth + 1)
                         for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))
        elif isinstance(value, bool) or value is None or isinstance(value, str):
            continue
        elif isinstance(value, int):
            if abs(value) > MAX_INT:
                digits = len(str(abs(value)))
                raise FileFormatError(f"number too large ({digits} digits; at most "
                                      f"{MAX_INT:.0e})", path or None, file)
        elif isinstance(value, float) and not math.isfinite(value):
            raise FileFormatError(f"must be a finite number, got {value}", path or None, file)
