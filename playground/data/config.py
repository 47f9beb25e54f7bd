"""The ``data`` object of an experiment file, checked field by field.

``source`` picks the kind of data; the other fields depend on it (:data:`SOURCE_FIELDS`):

* ``{"source": "task", "task": "adding", "params": {"length": 50}, "seed": 0}``
* ``{"source": "text", "text": "...", "level": "char", "window": 32}``
* ``{"source": "numbers", "text": "0.1, 0.5, 0.9", "window": 16, "shape": "many_to_many"}``
* ``{"source": "file", "path": "series.csv", "columns": ["temp"], "window": 16}``

Every problem raises :class:`~playground.errors.FileFormatError` naming the field path,
e.g. ``data.params.length: must be a positive integer, got -3``.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any

from ..errors import FileFormatError, SequenceError
from ..schema import Param, check_fields
from .sources import SeriesDataset, TextDataset, parse_numbers, read_array, read_csv, read_text
from .taskbase import make_task

SOURCES = ("task", "text", "numbers", "file")
FILE_TYPES = {".txt": "text", ".csv": "csv", ".npy": "array", ".npz": "array"}

_SEED = Param("seed", int, 0, 0, 2**32 - 1, label="Seed")
_WINDOW = Param("window", int, 32, 1, 1_000_000, label="Window (steps)")
_VALIDATION = Param("validation", float, 0.1, 0.0, 0.5, label="Held-out fraction")
_LEVEL = Param("level", str, "char", choices=("char", "word"), label="Level")
_LOWER = Param("lower", bool, False, label="Lower-case")
_SHAPE = Param("shape", str, "many_to_many", choices=("many_to_many", "many_to_one"),
               label="Predict")
_NAME = Param("name", str, "", label="Name")
_NORMALIZE = Param("normalize", bool, False, label="Normalise (z-score)")

SOURCE_FIELDS: dict[str, tuple[Param, ...]] = {
    "task": (Param("task", str, "hello", label="Task"), _SEED, _NAME),
    "text": (Param("text", str, "", label="Text"), _LEVEL, _WINDOW, _VALIDATION, _LOWER, _SEED,
             _NAME),
    "numbers": (Param("text", str, "", label="Numbers"),
                Param("window", int, 16, 1, 1_000_000, label="Window (steps)"), _SHAPE,
                _VALIDATION, _NORMALIZE, _SEED, _NAME),
    "file": (Param("path", str, "", label="File"), _LEVEL, _WINDOW, _VALIDATION, _LOWER, _SHAPE,
             _NORMALIZE,
             Param("delimiter", str, ",", label="CSV delimiter"),
             Param("array", str, "", label="Array (.npz)"), _SEED, _NAME),
}
# Fields that are not plain scalars, checked by hand.
_EXTRA = {"task": ("params",), "file": ("columns", "header")}
_ONLY_FOR = {"level": ("text",), "lower": ("text",), "columns": ("csv",), "header": ("csv",),
             "delimiter": ("csv",), "array": ("array",), "shape": ("csv", "array"),
             "normalize": ("csv", "array")}


def _fail(path: str, message: str):
    raise FileFormatError(message, path)


@contextmanager
def _at(path: str):
    """Give a SequenceError raised while building a dataset the config field it came from, and
    a data file's error that field too, keeping the data file's name in the sentence (an
    experiment that re-raises with its own file name would otherwise lose it)."""
    try:
        yield
    except SequenceError as e:
        raise FileFormatError(str(e), path) from None
    except FileFormatError as e:
        if e.path or not e.file:
            raise
        raise FileFormatError(f"{e.file}: {e.detail}", path) from None


def make_dataset(config: Any, path: str = "data", base_dir: str | None = None):
    """The dataset an experiment file's ``data`` object describes. ``source`` is ``task``,
    ``text``, ``numbers`` or ``file`` (relative file paths are read from ``base_dir``).
    Config errors raise :class:`~playground.errors.FileFormatError` with the field path."""
    if not isinstance(config, dict):
        _fail(path, f"must be an object, got {type(config).__name__}")
    source = config.get("source")
    if source not in SOURCES:
        _fail(f"{path}.source", f"must be one of {', '.join(SOURCES)}, got {source!r}")
    rest = {k: v for k, v in config.items() if k != "source"}
    required = {"task": ("task",), "text": ("text",), "numbers": ("text",), "file": ("path",)}
    c = check_fields(rest, SOURCE_FIELDS[source], path, _EXTRA.get(source, ()),
                     required[source])
    if source == "task":
        return make_task(c["task"], c.get("params", {}), c["seed"], f"{path}.params",
                         task_path=f"{path}.task")
    if source == "text":
        if not c["text"].strip():
            _fail(f"{path}.text", "is empty; type some text")
        with _at(f"{path}.text"):
            return TextDataset(c["text"], c["level"], c["window"], c["validation"], c["lower"],
                               c["seed"], c["name"] or "typed text")
    if source == "numbers":
        with _at(f"{path}.text"):
            return SeriesDataset(parse_numbers(c["text"]), c["window"], c["shape"],
                                 c["validation"], c["seed"], c["name"] or "typed numbers",
                                 normalize=c["normalize"])
    file = c["path"]
    full = file if os.path.isabs(file) or base_dir is None else os.path.join(base_dir, file)
    ext = os.path.splitext(file)[1].lower()
    kind = FILE_TYPES.get(ext)
    if kind is None:
        _fail(f"{path}.path", f"cannot read {ext or 'files without an extension'}; use one of "
              f"{', '.join(FILE_TYPES)}")
    for key, kinds in _ONLY_FOR.items():
        if key in rest and kind not in kinds:
            _fail(f"{path}.{key}", f"does not apply to {ext} files")
    name = c["name"] or os.path.basename(file)
    if not os.path.exists(full):
        _fail(f"{path}.path", f"file not found: {full}")
    with _at(f"{path}.path"):
        return _file_dataset(kind, full, name, c, rest, path)


def _file_dataset(kind, full, name, c, rest, path):
    if kind == "text":
        return TextDataset(read_text(full), c["level"], c["window"], c["validation"],
                           c["lower"], c["seed"], name)
    if kind == "csv":
        columns = c.get("columns")
        if columns is not None and (not isinstance(columns, list) or not columns or not all(
                isinstance(x, (str, int)) and not isinstance(x, bool) for x in columns)):
            _fail(f"{path}.columns", f"must be a non-empty list of column names or 0-based "
                  f"indices, got {columns!r}")
        header = c.get("header", "auto")
        if header not in ("auto", True, False):
            _fail(f"{path}.header", f"must be \"auto\", true or false, got {header!r}")
        delimiter = c["delimiter"] if "delimiter" in rest else None
        if delimiter is not None and len(delimiter) != 1:
            _fail(f"{path}.delimiter", f"must be one character, got {delimiter!r}")
        values, names = read_csv(full, columns, header, delimiter)
        return SeriesDataset(values, c["window"], c["shape"], c["validation"], c["seed"], name,
                             names, c["normalize"])
    arr = read_array(full, c["array"] or None)
    return SeriesDataset(arr, c["window"], c["shape"], c["validation"], c["seed"], name,
                         normalize=c["normalize"])
