"""Sequences as data: vocabularies, batches, datasets, and checking a model against them.

Data flows into training and tracing as a :class:`Batch` of numpy arrays:

* ``inputs``: role -> ``(B, T)`` int64 token ids or ``(B, T, F)`` float32 values. Roles are
  ``"x"`` for a single-input model, ``"src"`` and ``"tgt"`` (teacher-forced decoder input)
  for an encoder-decoder;
* ``targets``: ``(B, T)`` int64 class ids or ``(B, T, C)`` float32 values;
* ``mask``: ``(B, T)`` float32, 1 where the step carries loss. The loss of a batch is
  ``L = sum(mask * loss) / sum(mask)`` (:mod:`playground.losses`).

Which steps carry loss follows from the task's shape (:data:`SHAPES`). :func:`make_dataset`
turns the ``data`` object of an experiment file into a :class:`Dataset`; the sources live in
:mod:`playground.sources`, the built-in tasks in :mod:`playground.tasks`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .errors import SequenceError

SHAPES = ("one_to_one", "one_to_many", "many_to_one", "many_to_many", "seq2seq")
SHAPE_LABELS = {
    "one_to_one": "one-to-one",
    "one_to_many": "one-to-many",
    "many_to_one": "many-to-one",
    "many_to_many": "many-to-many (aligned)",
    "seq2seq": "many-to-many (encoder-decoder)",
}
LEVELS = ("char", "word")
_WORD = re.compile(r"\w+(?:['\u2019]\w+)*|[^\w\s]")
_NO_SPACE_BEFORE = set(",.;:!?)]}%\u2019'\"")
_NO_SPACE_AFTER = set("([{")


def tokenize(text: str, level: str = "char") -> list[str]:
    """Split ``text`` into symbols. ``char``: every character (spaces and newlines included).
    ``word``: words (letters, digits, inner apostrophes: ``don't``) and each punctuation mark as
    its own token; whitespace only separates."""
    if level == "char":
        return list(text)
    if level == "word":
        return _WORD.findall(text)
    raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")


class Vocab:
    """An ordered set of symbols; symbol ``i`` has id ``i``. There is no ``<unk>``: encoding a
    symbol outside the vocabulary is an error that names it and its position."""

    def __init__(self, symbols: Iterable[str], level: str = "char"):
        self.symbols: tuple[str, ...] = tuple(str(s) for s in symbols)
        if level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
        self.level = level
        self.index = {s: i for i, s in enumerate(self.symbols)}
        if len(self.index) != len(self.symbols):
            dup = next(s for i, s in enumerate(self.symbols) if self.index[s] != i)
            raise SequenceError(f"symbol {dup!r} appears twice in the vocabulary")

    @classmethod
    def from_text(cls, text: str | Sequence[str], level: str = "char",
                  order: str = "sorted") -> Vocab:
        """The symbols of ``text`` (a string, tokenized at ``level``, or a list of tokens), in
        sorted order or in order of first appearance (``order="appearance"``: ``hello`` gives
        h, e, l, o as in the class notes)."""
        tokens = tokenize(text, level) if isinstance(text, str) else list(text)
        seen = list(dict.fromkeys(tokens))
        return cls(seen if order == "appearance" else sorted(seen), level)

    def __len__(self) -> int:
        return len(self.symbols)

    def __iter__(self):
        return iter(self.symbols)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.index

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Vocab) and self.symbols == other.symbols
                and self.level == other.level)

    def __hash__(self) -> int:
        return hash((self.symbols, self.level))

    def __repr__(self) -> str:
        return f"Vocab({list(self.symbols)!r}, level={self.level!r})"

    def tokens(self, text: str | Sequence[str]) -> list[str]:
        """``text`` split into symbols at this vocabulary's level (a list is kept as it is)."""
        return tokenize(text, self.level) if isinstance(text, str) else [str(s) for s in text]

    def encode(self, text: str | Sequence[str]) -> np.ndarray:
        """Symbol ids, ``(T,)`` int64. Raises :class:`SequenceError` for an unknown symbol."""
        tokens = self.tokens(text)
        ids = np.empty(len(tokens), dtype=np.int64)
        for pos, s in enumerate(tokens):
            i = self.index.get(s)
            if i is None:
                raise SequenceError(f"symbol {s!r} at position {pos} is not in the vocabulary "
                                    f"({self.preview()})")
            ids[pos] = i
        return ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The symbols of ``ids``; an id outside the vocabulary raises :class:`SequenceError`."""
        out = []
        for pos, i in enumerate(np.asarray(ids, dtype=np.int64).reshape(-1)):
            if not 0 <= i < len(self.symbols):
                raise SequenceError(f"id {int(i)} at position {pos} is outside the vocabulary "
                                    f"of {len(self.symbols)} symbols")
            out.append(self.symbols[i])
        return out

    def join(self, symbols: Iterable[str] | np.ndarray) -> str:
        """Symbols (or ids) back to text: characters side by side, words with spaces but none
        before punctuation."""
        symbols = symbols if isinstance(symbols, (np.ndarray, str)) else list(symbols)
        if isinstance(symbols, np.ndarray) or any(isinstance(s, (int, np.integer))
                                                  for s in symbols):
            symbols = self.decode(symbols)
        symbols = list(symbols)
        if self.level == "char":
            return "".join(symbols)
        text = ""
        for i, s in enumerate(symbols):
            if i and s[0] not in _NO_SPACE_BEFORE and text[-1] not in _NO_SPACE_AFTER:
                text += " "
            text += s
        return text

    def preview(self, limit: int = 12) -> str:
        shown = ", ".join(repr(s) for s in self.symbols[:limit])
        more = f", ... ({len(self)} in all)" if len(self) > limit else ""
        return f"symbols {shown}{more}"

    def to_dict(self) -> dict:
        return {"symbols": list(self.symbols), "level": self.level}

    @classmethod
    def from_dict(cls, data: dict) -> Vocab:
        return cls(data["symbols"], data.get("level", "char"))


@dataclass
class Batch:
    """``B`` sequences: inputs per role, targets and the loss mask (see the module doc).
    Arrays are numpy; :meth:`to_torch` gives the same batch as tensors."""

    inputs: dict[str, np.ndarray]
    targets: np.ndarray
    mask: np.ndarray

    @property
    def size(self) -> int:
        """B, the number of sequences."""
        return int(self.mask.shape[0])

    @property
    def steps(self) -> int:
        """T of the targets (the steps the head's outputs cover)."""
        return int(self.mask.shape[1])

    def row(self, i: int) -> Batch:
        """Sequence ``i`` alone, as a batch of one."""
        return Batch({r: x[i:i + 1] for r, x in self.inputs.items()}, self.targets[i:i + 1],
                     self.mask[i:i + 1])

    def to_torch(self, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32) -> Batch:
        """The same batch with torch tensors on ``device``: ids as int64, values as ``dtype``,
        the mask as ``dtype``."""
        def conv(a):
            t = torch.as_tensor(a)
            t = t.long() if not t.dtype.is_floating_point else t.to(dtype)
            return t.to(device)
        return Batch({r: conv(x) for r, x in self.inputs.items()}, conv(self.targets),
                     torch.as_tensor(self.mask).to(device=device, dtype=dtype))


def shape_mask(shape: str, batch: int, steps: int, lengths: Sequence[int] | None = None
               ) -> np.ndarray:
    """The ``(B, T)`` loss mask a shape implies: every (valid) step for ``many_to_many``,
    ``one_to_many``, ``seq2seq`` and ``one_to_one``; the last (valid) step for
    ``many_to_one``. ``lengths`` gives each sequence's valid length (padding carries no loss)."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}, got {shape!r}")
    lengths = np.full(batch, steps) if lengths is None else np.asarray(lengths)
    t = np.arange(steps)[None, :]
    if shape == "many_to_one":
        return (t == lengths[:, None] - 1).astype(np.float32)
    return (t < lengths[:, None]).astype(np.float32)


def pad(seqs: Sequence[np.ndarray], value=0) -> tuple[np.ndarray, np.ndarray]:
    """Stack sequences of different lengths, padding the end with ``value``; returns the
    ``(B, T, ...)`` array and the lengths."""
    lengths = np.array([len(s) for s in seqs])
    T = int(lengths.max()) if len(seqs) else 0
    first = np.asarray(seqs[0])
    out = np.full((len(seqs), T, *first.shape[1:]), value, dtype=first.dtype)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return out, lengths


class Dataset:
    """Where batches come from, and what a model must look like to learn from them.

    Subclasses set the attributes and implement :meth:`generate` (``n`` fresh sequences from
    ``rng``). ``sample`` draws a training batch with the caller's generator; ``validation``
    is a fixed held-out batch and ``example`` one fixed sequence, both derived from ``seed``.
    """

    name: str = ""
    description: str = ""
    shape: str = "many_to_many"
    output: str = "classes"                  # "classes" | "values"
    vocab: Vocab | None = None               # input symbols (token inputs)
    target_vocab: Vocab | None = None        # output classes when not the input vocabulary
    input_features: int | None = None        # numeric inputs: values per step
    output_size: int = 1                     # what the head must produce per step
    roles: tuple[str, ...] = ("x",)
    language_model: bool = False             # next-symbol prediction on a text (n-gram baseline)
    validation_size: int = 64

    def __init__(self, seed: int = 0):
        self.seed = int(seed)
        self._validation: Batch | None = None
        self._example: Batch | None = None

    # -- to implement ------------------------------------------------------------------------
    def generate(self, n: int, rng: np.random.Generator) -> Batch:
        raise NotImplementedError

    def encode_input(self, text: str) -> Batch:
        """A user-typed sequence as a batch of one, with targets where they follow from the
        input (else a zero mask). Raises :class:`SequenceError` for what cannot be read."""
        raise SequenceError(f"{self.name or 'this data'} cannot read typed input")

    # -- provided ----------------------------------------------------------------------------
    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """A training batch of ``batch_size`` sequences drawn with ``rng``."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise SequenceError(f"batch size must be a positive integer, got {batch_size!r}")
        return self.generate(int(batch_size), rng)

    def validation(self) -> Batch:
        """A fixed held-out batch (the same on every call)."""
        if self._validation is None:
            self._validation = self.generate(self.validation_size,
                                             np.random.default_rng([self.seed, 1]))
        return self._validation

    def example(self) -> Batch:
        """One fixed sequence (B=1) for the step-through view."""
        if self._example is None:
            self._example = self.generate(1, np.random.default_rng([self.seed, 2]))
        return self._example

    @property
    def classes(self) -> Vocab | None:
        """The names of the output classes (``None`` for values)."""
        if self.output != "classes":
            return None
        return self.target_vocab if self.target_vocab is not None else self.vocab

    @property
    def head_output(self) -> str:
        """The head's output a model needs: ``softmax`` for classes, ``identity`` for values."""
        return "softmax" if self.output == "classes" else "identity"

    @property
    def token_inputs(self) -> bool:
        return self.vocab is not None

    def step_labels(self, batch: Batch, row: int = 0, role: str = "x") -> list[str]:
        """One label per input step, for the views: the symbol, or the values."""
        x = batch.inputs[role][row]
        if self.vocab is not None and x.ndim == 1:
            return self.vocab.decode(x)
        return [", ".join(f"{v:.3g}" for v in step) for step in np.asarray(x).reshape(len(x), -1)]

    def target_labels(self, batch: Batch, row: int = 0) -> list[str]:
        """One label per target step ("" where the step carries no loss)."""
        y, m = batch.targets[row], batch.mask[row]
        if self.classes is not None:
            names = self.classes.symbols
            return [names[int(c)] if mk > 0 and 0 <= c < len(names) else ""
                    for c, mk in zip(y, m)]
        y = np.asarray(y).reshape(len(m), -1)
        return [", ".join(f"{v:.3g}" for v in step) if mk > 0 else "" for step, mk in zip(y, m)]

    def corpus(self) -> list[np.ndarray]:
        """Training sequences of symbol ids, for count-based baselines (language models)."""
        raise SequenceError(f"{self.name or 'this data'} is not a language-model text")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.shape} {self.output}>"


def bind_inputs(model, batch: Batch) -> dict[str, torch.Tensor]:
    """``{input node id: tensor}`` for ``model`` from the batch's roles, on the model's device.

    One input node takes role ``"x"`` (or the batch's only role); several input nodes take the
    role of the same name (``src``, ``tgt``). Token ids become int64, values the model's
    dtype. A missing role or an input of the wrong kind raises :class:`SequenceError`."""
    ids = model.input_ids
    roles = batch.inputs
    if len(ids) == 1:
        nid = ids[0]
        if "x" in roles:
            chosen = {nid: roles["x"]}
        elif nid in roles:
            chosen = {nid: roles[nid]}
        elif len(roles) == 1:
            chosen = {nid: next(iter(roles.values()))}
        else:
            raise SequenceError(f"the model has one input node '{nid}' but the data has "
                                f"{len(roles)} sequences ({', '.join(roles)}); an "
                                f"encoder-decoder needs input nodes named {' and '.join(roles)}")
    else:
        missing = [n for n in ids if n not in roles]
        if missing:
            names = ", ".join(repr(m) for m in missing)
            have = ", ".join(repr(r) for r in roles)
            raise SequenceError(f"no sequence for input node(s) {names}; the data provides "
                                f"{have}. "
                                "Name the input nodes after them")
        chosen = {n: roles[n] for n in ids}
    device, dtype = model.device, model.dtype
    out = {}
    for nid, x in chosen.items():
        t = torch.as_tensor(x)
        token = model.graph.node(nid).params["encoding"] != "numeric"
        if token:
            if t.dim() != 2 or t.dtype.is_floating_point:
                raise SequenceError(f"input node '{nid}' takes token ids (B, T) but the data "
                                    f"gives values of shape {tuple(t.shape)}; set its encoding "
                                    "to numeric")
            t = t.long()
        else:
            if t.dim() == 2 and not t.dtype.is_floating_point:
                raise SequenceError(f"input node '{nid}' takes numeric values but the data gives "
                                    "token ids; set its encoding to one-hot or embedding")
            t = t.to(dtype)
        out[nid] = t.to(device)
    return out


def make_dataset(config: dict, path: str = "data", base_dir: str | None = None) -> Dataset:
    """The dataset an experiment file's ``data`` object describes. ``source`` is ``task``,
    ``text``, ``numbers`` or ``file`` (relative file paths are read from ``base_dir``).
    Config errors raise :class:`~playground.errors.FileFormatError` with the field path."""
    from .dataconfig import dataset_from_config

    return dataset_from_config(config, path, base_dir)


# Re-exported here so that everything about fitting data and models is one import away.
from .modelcheck import check_model, suggest_head, suggest_input  # noqa: E402,F401
