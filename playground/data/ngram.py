"""The classic count-based baseline: an n-gram language model of the same text.

An n-gram model predicts the next symbol from the previous ``n - 1`` only, by counting:

    P(w | c) = (count(c, w) + k) / (count(c) + k * V)

with add-``k`` smoothing over a vocabulary of ``V`` symbols (``k = 0`` is the plain
maximum-likelihood estimate). Near the start of a sequence the context is shorter, and the
lower-order counts are used. When a context was never seen and ``k = 0``, the model backs off
to the next shorter context, down to the unigram. Shown beside the network's probabilities,
it makes plain what a recurrent state adds: memory beyond ``n - 1`` symbols.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ..errors import SequenceError
from .vocab import Vocab


class NGramModel:
    """An order-``n`` n-gram model with add-``k`` smoothing over ``vocab_size`` symbols.
    ``counts[m][context]`` holds the counts of each next symbol after an ``(m-1)``-symbol
    context, for every order ``m = 1 .. n``."""

    def __init__(self, order: int = 2, k: float = 1.0, vocab_size: int | None = None,
                 vocab: Vocab | None = None):
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise ValueError(f"order must be a positive integer, got {order!r}")
        if not k >= 0:
            raise ValueError(f"k must be >= 0, got {k!r}")
        if vocab_size is None:
            if vocab is None:
                raise ValueError("give vocab_size or vocab")
            vocab_size = len(vocab)
        self.order = order
        self.k = float(k)
        self.vocab = vocab
        self.V = int(vocab_size)
        self.counts: list[dict[tuple[int, ...], np.ndarray]] = [{} for _ in range(order + 1)]

    @classmethod
    def from_dataset(cls, dataset, order: int = 2, k: float = 1.0) -> NGramModel:
        """Fit on a language-model dataset's training text (``dataset.corpus()``)."""
        corpus = dataset.corpus()  # raises SequenceError for data that is not a text
        return cls(order, k, vocab=dataset.vocab).fit(corpus)

    @classmethod
    def baseline_for(cls, dataset, order: int = 3, k: float = 0.1) -> NGramModel | None:
        """The baseline shown beside a language model's predictions, or None for data that
        is not a next-symbol text (or cannot be counted)."""
        if not getattr(dataset, "language_model", False):
            return None
        try:
            return cls.from_dataset(dataset, order=order, k=k)
        except (SequenceError, AttributeError, ValueError, TypeError):
            return None

    def probs_for(self, batch) -> np.ndarray | None:
        """``(T, V)`` :meth:`step_probs` of a batch's first sequence, or None when the batch
        holds no symbol ids this model knows."""
        try:
            ids = np.asarray(next(iter(batch.inputs.values())))[0]
            return np.asarray(self.step_probs(ids))
        except (SequenceError, AttributeError, ValueError, TypeError, StopIteration):
            return None

    def fit(self, sequences: Iterable[Sequence[int]] | np.ndarray) -> NGramModel:
        """Add the counts of every n-gram inside each sequence of symbol ids (n-grams do not
        cross from one sequence to the next). Returns ``self``."""
        if isinstance(sequences, np.ndarray) and sequences.ndim == 1:
            sequences = [sequences]
        for seq in sequences:
            ids = [int(i) for i in np.asarray(seq).reshape(-1)]
            for pos, i in enumerate(ids):
                if not 0 <= i < self.V:
                    raise SequenceError(f"id {i} at position {pos + 1} is outside the vocabulary "
                                        f"of {self.V}")
            for t, w in enumerate(ids):
                for m in range(1, self.order + 1):
                    if t - (m - 1) < 0:
                        break
                    ctx = tuple(ids[t - m + 1:t])
                    row = self.counts[m].get(ctx)
                    if row is None:
                        row = self.counts[m][ctx] = np.zeros(self.V)
                    row[w] += 1
        return self

    def _context(self, context: Sequence[int] | str) -> tuple[int, ...]:
        if isinstance(context, str):
            if self.vocab is None:
                raise SequenceError("this n-gram model has no vocabulary to read text with")
            context = self.vocab.encode(context)
        ids = tuple(int(i) for i in np.asarray(context, dtype=np.int64).reshape(-1))
        return ids[max(0, len(ids) - (self.order - 1)):] if self.order > 1 else ()

    def probs(self, context: Sequence[int] | str = ()) -> np.ndarray:
        """``(V,)`` probabilities of the symbol that follows ``context`` (ids, or text when
        the model has a vocabulary); only its last ``n - 1`` symbols matter."""
        ctx = self._context(context)
        for m in range(len(ctx) + 1, 0, -1):
            row = self.counts[m].get(ctx[len(ctx) - (m - 1):] if m > 1 else ())
            total = 0.0 if row is None else float(row.sum())
            if total + self.k * self.V > 0:
                counts = np.zeros(self.V) if row is None else row
                return (counts + self.k) / (total + self.k * self.V)
        return np.full(self.V, 1.0 / self.V)  # nothing counted at all

    def step_probs(self, ids: Sequence[int] | str) -> np.ndarray:
        """``(T, V)``: row ``t`` is the distribution of the symbol after ``ids[:t+1]``, aligned
        with a network's output at step ``t`` of a next-symbol model. Each step hands
        :meth:`probs` only the last ``n - 1`` symbols (all it reads), not the whole prefix, so
        the cost is linear in ``T``."""
        if isinstance(ids, str):
            if self.vocab is None:
                raise SequenceError("this n-gram model has no vocabulary to read text with")
            ids = self.vocab.encode(ids)
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        n = self.order - 1
        return np.stack([self.probs(ids[max(0, t + 1 - n):t + 1]) for t in range(len(ids))]) \
            if len(ids) else np.zeros((0, self.V))

    def log_likelihood(self, ids: Sequence[int]) -> float:
        """Sum over ``t >= 1`` of ``log P(ids[t] | ids[:t])`` (natural log; ``-inf`` when an
        unsmoothed model meets an unseen n-gram)."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(ids) < 2:
            return 0.0
        p = self.step_probs(ids[:-1])[np.arange(len(ids) - 1), ids[1:]]
        with np.errstate(divide="ignore"):
            return float(np.log(p).sum())

    def cross_entropy(self, ids: Sequence[int]) -> float:
        """Mean per-step cross-entropy in nats: comparable with a network's next-symbol loss on
        the same sequence; ``exp`` of it is the perplexity."""
        n = len(np.asarray(ids).reshape(-1)) - 1
        return -self.log_likelihood(ids) / n if n > 0 else 0.0
