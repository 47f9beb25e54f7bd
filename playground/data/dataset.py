"""Sequences as data: vocabularies, batches, datasets, and checking a model against them.

Data flows into training and tracing as a :class:`Batch` of numpy arrays:

* ``inputs``: role -> ``(B, T)`` int64 token ids or ``(B, T, F)`` float32 values. Roles are
  ``"x"`` for a single-input model, ``"src"`` and ``"tgt"`` (teacher-forced decoder input)
  for an encoder-decoder;
* ``targets``: ``(B, T)`` int64 class ids or ``(B, T, C)`` float32 values;
* ``mask``: ``(B, T)`` float32, 1 where the step carries loss. The loss of a batch is
  ``L = sum(mask * loss) / sum(mask)`` (:mod:`playground.model.losses`).

Which steps carry loss follows from the task's shape (:data:`SHAPES`).
:func:`playground.data.config.make_dataset` turns the ``data`` object of an experiment
file into a :class:`Dataset`; the sources live in :mod:`playground.data.sources`, the
built-in tasks in :mod:`playground.data.tasks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import SequenceError
from .vocab import Vocab

SHAPES = ("one_to_one", "one_to_many", "many_to_one", "many_to_many", "seq2seq")
SHAPE_LABELS = {
    "one_to_one": "one-to-one",
    "one_to_many": "one-to-many",
    "many_to_one": "many-to-one",
    "many_to_many": "many-to-many (aligned)",
    "seq2seq": "many-to-many (encoder-decoder)",
}
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


def format_value(v: float, digits: int = 3) -> str:
    """A value as a reader wants it: ``0.5``, ``-1.2``, ``3e+05``; rounding noise
    (``-4.9e-16`` from normalising) and ``-0`` read as ``0``."""
    v = float(v)
    if abs(v) < 1e-9:
        return "0"
    s = f"{v:.{digits}g}"
    return "0" if s in ("-0", "0") else s


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
    # generation (playground.train.generate): what the model reads and writes past a prompt
    start_symbol: str | None = None          # seq2seq: the decoder's first input
    end_symbol: str | None = None            # an output that ends the sequence
    blank_symbol: str | None = None          # one_to_many: the input of every later step
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
        return [", ".join(format_value(v) for v in step)
                for step in np.asarray(x).reshape(len(x), -1)]

    def target_labels(self, batch: Batch, row: int = 0) -> list[str]:
        """One label per target step ("" where the step carries no loss)."""
        y, m = batch.targets[row], batch.mask[row]
        if self.classes is not None:
            names = self.classes.symbols
            return [names[int(c)] if mk > 0 and 0 <= c < len(names) else ""
                    for c, mk in zip(y, m)]
        y = np.asarray(y).reshape(len(m), -1)
        return [", ".join(format_value(v) for v in step) if mk > 0 else ""
                for step, mk in zip(y, m)]

    def corpus(self) -> list[np.ndarray]:
        """Training sequences of symbol ids, for count-based baselines (language models)."""
        raise SequenceError(f"{self.name or 'this data'} is not a language-model text")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.shape} {self.output}>"
