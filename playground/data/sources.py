"""Sequences a user brings: typed text, typed numbers, and files (.txt, .csv, .npy, .npz).

Typed numbers: on one line, one value per step, separated by commas or spaces
(``0.1, 0.5, 0.9``). Several features per step: one step per line, or steps separated by
``;``, the features of a step by commas or spaces (``0.1 1; 0.5 0; 0.9 0``). Every step
must have the same number of features.

Files are read without running anything in them: text as UTF-8, CSV with :mod:`csv`,
arrays from their ``.npy`` headers, never unpickled. Every problem names the file and the
row, column or array; hostile files (a FIFO, a zip bomb, a header that claims 10^12 values)
are refused before anything is allocated by them (:mod:`.filechecks`).

Text becomes a next-symbol language model (:class:`TextDataset`); numbers become
next-step forecasting (:class:`SeriesDataset`).
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
from array import array

import numpy as np

from ..errors import FileFormatError, SequenceError
from . import filechecks as fc
from .dataset import Batch, Dataset, shape_mask
from .vocab import Vocab, tokenize

_SPLIT = re.compile(r"[,\s]+")


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def parse_numbers(text: str, features: int | None = None) -> np.ndarray:
    """Typed numbers (see the module doc) as a ``(T, F)`` float32 array."""
    text = text.strip()
    if not text:
        raise SequenceError("the sequence is empty; type numbers separated by commas or spaces")
    multi = ";" in text or "\n" in text
    chunks = [c.strip() for c in re.split(r"[;\n]", text)] if multi else [text]
    chunks = [c for c in chunks if c]
    rows: list[list[float]] = []
    for step, chunk in enumerate(chunks):
        cells = [c for c in _SPLIT.split(chunk) if c]
        values = []
        for j, cell in enumerate(cells):
            v = _number(cell)
            where = f"step {step}, feature {j}" if multi else f"value {j}"
            if v is None:
                raise SequenceError(f"{where}: {cell!r} is not a number")
            if not np.isfinite(v):
                raise SequenceError(f"{where} is {cell!r}; values must be finite numbers")
            values.append(v)
        if multi and rows and len(values) != len(rows[0]):
            raise SequenceError(f"step {step} has {len(values)} value(s) but step 0 has "
                                f"{len(rows[0])}; every step needs the same number of features")
        if multi:
            rows.append(values)
        else:
            rows = [[v] for v in values]
    arr = np.asarray(rows, dtype=np.float32)
    if features is not None and arr.shape[1] != features:
        raise SequenceError(f"expected {features} feature(s) per step, got {arr.shape[1]}"
                            + ("; put one step per line or separate steps with ';'"
                               if features > 1 else ""))
    return arr


def read_text(path: str, limit: int = fc.MAX_TEXT_BYTES, kind: str = "text file") -> str:
    """A UTF-8 text file's contents (newlines as ``\\n``). A missing, non-regular (a FIFO,
    a device), larger than ``limit`` bytes, undecodable or empty file raises FileFormatError."""
    name = os.path.basename(path)
    f, size = fc.open_regular(path, limit, kind)
    try:
        with io.TextIOWrapper(f, encoding="utf-8-sig") as t:
            text = t.read(min(size, limit) + 1)   # read(n) reserves n: never the limit
    except UnicodeDecodeError as e:
        raise FileFormatError(f"not UTF-8 text (byte {e.start} cannot be decoded)",
                              file=name) from None
    except OSError as e:
        raise FileFormatError(f"cannot read the file: {e.strerror or e}", file=path) from None
    if len(text) > limit:
        raise fc.too_large(name, kind, limit)
    if not text.strip():
        raise FileFormatError("the file is empty", file=name)
    return text


def read_csv(path: str, columns: list | None = None, header: bool | str = "auto",
             delimiter: str | None = None) -> tuple[np.ndarray, list[str]]:
    """Chosen columns (names or 0-based indices; all when ``None``) of a numeric CSV file as a
    ``(T, F)`` float32 array, and the column names. ``header="auto"`` takes the first row as
    names when one of its cells is not a number. The separator (``,``, ``;`` or tab) is
    guessed from the first lines when ``delimiter`` is ``None``; with ``;`` or tab, ``1,5``
    reads as 1.5. Limits: :data:`~.filechecks.MAX_CSV_BYTES`, ``MAX_CSV_COLUMNS``,
    ``MAX_CSV_CELLS``."""
    name = os.path.basename(path)
    text = read_text(path, fc.MAX_CSV_BYTES, "CSV file")
    head = text[:65536]
    guessed = fc.guess_delimiter(head)
    delimiter = delimiter or guessed
    fc.check_width(text, delimiter, name)
    comma = delimiter != ","
    other = guessed if guessed != delimiter else None
    reader = csv.reader(fc.lines_of(text), delimiter=delimiter)
    rows = ((reader.line_num, r) for r in reader if "".join(r).strip())
    try:
        first_n, first = next(rows, (0, None))
        if first is None:
            raise FileFormatError("the file has no rows", file=name)
        if header == "auto":
            header = any(fc.cell_value(c.strip(), comma) is None for c in first)
        width = len(first)
        names = [c.strip() for c in first] if header else [f"column {i}" for i in range(width)]
        picked = _pick(columns, names, bool(header), name)
        every = picked == list(range(width))
        values, lines = array("d"), array("q")
        for line, row in (rows if header else itertools.chain([(first_n, first)], rows)):
            if len(row) != width:
                raise FileFormatError(f"row {line} has {len(row)} cell(s) but the first row "
                                      f"has {width}", file=name)
            done = len(values)
            try:
                values.extend(map(float, row if every else [row[c] for c in picked]))
            except ValueError:
                del values[done:]
                values.extend([fc.cell_or_error(row[c], line, c, names, header, comma,
                                                other, name) for c in picked])
            lines.append(line)
            if len(values) > fc.MAX_CSV_CELLS:
                raise FileFormatError(f"holds more than {fc.MAX_CSV_CELLS:,} values (row "
                                      f"{line}); use a shorter file or fewer columns", file=name)
    except csv.Error as e:
        raise FileFormatError(f"not a readable CSV file ({e})", file=name) from None
    if not lines:
        raise FileFormatError("the file has a header but no data rows", file=name)
    table = np.frombuffer(values, np.float64).reshape(-1, len(picked))
    bad = ~(np.abs(table) <= fc.F32_MAX)                     # NaN, inf, or beyond float32
    if bad.any():
        i, j = (int(k) for k in np.argwhere(bad)[0])
        col, v = picked[j], table[i, j]
        where = f"row {lines[i]}, column {names[col]!r}" if header else \
            f"row {lines[i]}, column {col}"
        what = "values must be finite numbers" if not np.isfinite(v) else \
            f"too large (at most {fc.F32_MAX:.3g})"
        raise FileFormatError(f"{where}: {v:g}; {what}", file=name)
    return table.astype(np.float32), [names[c] for c in picked]


def _pick(columns: list | None, names: list[str], header: bool, name: str) -> list[int]:
    """0-based indices of the chosen ``columns`` (names or indices; all when ``None``)."""
    width = len(names)
    picked = list(range(width)) if columns is None else []
    for c in columns or []:
        if isinstance(c, int) and not isinstance(c, bool):
            if not 0 <= c < width:
                raise FileFormatError(f"column index {c} is out of range; the file has {width} "
                                      f"columns (0 to {width - 1})", file=name)
            picked.append(c)
        elif isinstance(c, str) and header and c in names:
            picked.append(names.index(c))
        else:
            known = ", ".join(repr(n) for n in names) if header else "none (no header row)"
            raise FileFormatError(f"no column named {c!r}; column names: {known}", file=name)
    return picked


def read_array(path: str, key: str | None = None) -> np.ndarray:
    """A numeric array from ``.npy`` or ``.npz`` (``key`` picks the array; optional when the
    file holds one). Shapes: ``(T,)``, ``(T, F)`` or ``(N, T, F)``; returned as
    ``(N, T, F)`` float32. Headers are checked before any data is read (see
    :mod:`.filechecks`); nothing is unpickled."""
    name = os.path.basename(path)
    f, size = fc.open_regular(path, fc.MAX_NUMPY_FILE_BYTES, "NumPy file")
    with f:
        try:
            magic = f.read(6)
            f.seek(0)
        except OSError as e:
            raise FileFormatError(f"cannot read the file: {e.strerror or e}",
                                  file=path) from None
        if magic == b"\x93NUMPY":
            field = "the array"
            arr = fc.read_npy(f, name, field, size)
        elif magic.startswith(b"PK"):
            arr, field = fc.read_npz(f, size, name, key)
        else:
            raise FileFormatError("not a readable NumPy file (.npy or .npz)", file=name)
    if arr.ndim == 1:
        arr = arr[None, :, None]
    elif arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim != 3:
        raise FileFormatError(f"{field} has shape {arr.shape}; expected (steps,), "
                              "(steps, features) or (sequences, steps, features)", file=name)
    if arr.size == 0:
        raise FileFormatError(f"{field} is empty (shape {arr.shape})", file=name)
    arr = arr.astype(np.float32)
    bad = ~np.isfinite(arr)
    if bad.any():
        n, t, f = (int(i) for i in np.argwhere(bad)[0])
        raise FileFormatError(f"{field}: sequence {n}, step {t}, feature {f} is {arr[n, t, f]}; "
                              "values must be finite", file=name)
    return arr


def _split(n: int, window: int, fraction: float) -> int:
    """How many items to hold out for validation (0 when too few would remain)."""
    held = int(round(n * fraction))
    if fraction <= 0 or held < window + 1 or n - held < window + 1:
        return 0
    return held


def _windows(n: int, window: int, limit: int) -> np.ndarray:
    return np.arange(0, n - window, window)[:limit] if n > window else np.zeros(1, dtype=int)


class TextDataset(Dataset):
    """Next-symbol prediction on a text, a character- or word-level language model.

    Every step is trained to predict the following symbol: inputs ``s_t .. s_{t+W-1}``,
    targets ``s_{t+1} .. s_{t+W}`` for windows of ``W`` symbols cut at random places. The last
    ``validation`` fraction of the text is held out when it is long enough."""

    shape = "many_to_many"
    output = "classes"
    language_model = True

    def __init__(self, text: str, level: str = "char", window: int = 32,
                 validation: float = 0.1, lower: bool = False, seed: int = 0,
                 name: str = "text"):
        super().__init__(seed)
        text = text.lower() if lower else text
        tokens = tokenize(text, level)
        if len(tokens) < 2:
            raise SequenceError(f"{name}: need at least 2 symbols to predict one from the other, "
                                f"got {len(tokens)}")
        self.vocab = Vocab.from_text(tokens, level)
        self.output_size = len(self.vocab)
        self.lower = lower
        ids = self.vocab.encode(tokens)
        held = _split(len(ids), window, validation)
        self.train_ids = ids[:len(ids) - held]
        self.val_ids = ids[len(ids) - held:] if held else self.train_ids
        self.held_out = held > 0
        self.window = min(window, len(self.train_ids) - 1)
        self.name = name
        unit = "characters" if level == "char" else "words"
        short = (f" (the text is shorter than the {window} asked for)"
                 if self.window < window else "")
        self.description = (f"Next-{unit[:-1]} prediction on {len(ids)} {unit} with "
                            f"{len(self.vocab)} distinct symbols, in windows of {self.window}"
                            f"{short}. " + ("The last part of the text is held out for "
                                            "validation." if self.held_out else
                                            "The text is too short to hold a part out."))

    def _cut(self, ids: np.ndarray, starts: np.ndarray) -> Batch:
        idx = starts[:, None] + np.arange(self.window + 1)[None, :]
        seq = ids[idx]
        return Batch({"x": seq[:, :-1]}, seq[:, 1:], np.ones(seq[:, 1:].shape, np.float32))

    def generate(self, n, rng):
        return self._cut(self.train_ids, rng.integers(0, len(self.train_ids) - self.window, n))

    def validation(self):
        if self._validation is None:
            W = min(self.window, len(self.val_ids) - 1)
            starts = _windows(len(self.val_ids), W, self.validation_size)
            idx = starts[:, None] + np.arange(W + 1)[None, :]
            seq = self.val_ids[idx]
            self._validation = Batch({"x": seq[:, :-1]}, seq[:, 1:],
                                     np.ones(seq[:, 1:].shape, np.float32))
        return self._validation

    def example(self):
        return self._cut(self.train_ids, np.zeros(1, dtype=int))

    def encode_input(self, text):
        return next_symbol_batch(self.vocab, text.lower() if self.lower else text)

    def corpus(self):
        return [self.train_ids]


def next_symbol_batch(vocab: Vocab, text) -> Batch:
    """A typed sequence for a next-symbol model: inputs are all its symbols, targets the
    following symbol (unknown after the last, so that step carries no loss)."""
    ids = vocab.encode(text)
    if len(ids) == 0:
        raise SequenceError("the sequence is empty")
    targets = np.zeros_like(ids)
    targets[:-1] = ids[1:]
    mask = np.ones(len(ids), np.float32)
    mask[-1] = 0.0
    return Batch({"x": ids[None]}, targets[None], mask[None])


class SeriesDataset(Dataset):
    """Forecasting a numeric series one step ahead.

    ``many_to_many``: at every step ``t`` the model predicts ``x_{t+1}`` (all features).
    ``many_to_one``: after reading a window ``x_1 .. x_W`` it predicts ``x_{W+1}``.
    Windows of ``W`` steps are cut at random places; the last ``validation`` fraction of each
    series is held out when it is long enough. With ``normalize`` every feature is rescaled to
    ``(x - mean) / std`` of the training part (``mean``, ``std``; :meth:`denormalize` undoes
    it), typed input included."""

    output = "values"

    def __init__(self, series: np.ndarray, window: int = 16, shape: str = "many_to_many",
                 validation: float = 0.1, seed: int = 0, name: str = "numbers",
                 feature_names: list[str] | None = None, normalize: bool = False):
        super().__init__(seed)
        series = np.asarray(series, dtype=np.float32)
        if series.ndim == 2:
            series = series[None]
        N, T, F = series.shape
        self.mean = np.zeros(F, np.float32)
        self.std = np.ones(F, np.float32)
        if T < 2:
            raise SequenceError(f"{name}: need at least 2 steps to forecast one from the other, "
                                f"got {T}")
        self.shape = shape
        self.input_features = self.output_size = F
        self.feature_names = feature_names or [f"feature {i}" for i in range(F)]
        held = _split(T, window, validation)
        if normalize:
            train = series[:, :T - held].reshape(-1, F)
            self.mean = train.mean(0)
            self.std = np.where(train.std(0) > 0, train.std(0), 1.0).astype(np.float32)
            series = (series - self.mean) / self.std
        self.normalized = bool(normalize)
        self.train = series[:, :T - held]
        self.val = series[:, T - held:] if held else self.train
        self.held_out = held > 0
        self.window = min(window, self.train.shape[1] - 1)
        self.name = name
        what = "the next value at every step" if shape == "many_to_many" else \
            "the value after each window"
        self.description = (f"Forecasting {F} feature(s) over {N * T} steps: the model predicts "
                            f"{what} (windows of {self.window}).")

    def _cut(self, data: np.ndarray, which: np.ndarray, starts: np.ndarray, W: int) -> Batch:
        idx = starts[:, None] + np.arange(W + 1)[None, :]
        seq = data[which[:, None], idx]                       # (B, W+1, F)
        mask = shape_mask(self.shape, len(starts), W)
        return Batch({"x": seq[:, :-1]}, np.ascontiguousarray(seq[:, 1:]), mask)

    def generate(self, n, rng):
        N, T, _ = self.train.shape
        return self._cut(self.train, rng.integers(0, N, n), rng.integers(0, T - self.window, n),
                         self.window)

    def validation(self):
        if self._validation is None:
            N, T, _ = self.val.shape
            W = min(self.window, T - 1)
            starts = _windows(T, W, max(1, self.validation_size // N))
            which = np.repeat(np.arange(N), len(starts))
            self._validation = self._cut(self.val, which, np.tile(starts, N), W)
        return self._validation

    def example(self):
        return self._cut(self.train, np.zeros(1, int), np.zeros(1, int), self.window)

    def denormalize(self, values: np.ndarray) -> np.ndarray:
        """Values in the units of the data (undoes ``normalize``); ``(..., F)``."""
        return np.asarray(values) * self.std + self.mean

    def encode_input(self, text):
        x = (parse_numbers(text, self.input_features) - self.mean) / self.std
        targets = np.zeros_like(x)
        targets[:-1] = x[1:]
        mask = np.zeros(len(x), np.float32)
        if self.shape == "many_to_many":
            mask[:-1] = 1.0
        return Batch({"x": x[None]}, targets[None], mask[None])
