"""Built-in tasks for two comparisons: string reversal over strings of several lengths
(an encoder-decoder with and without attention, accuracy against length) and a tagging task
whose tag at step t is the symbol of a later step (a bidirectional tagger). Registered in
:data:`playground.data.taskbase.TASKS`.
"""

from __future__ import annotations

import numpy as np

from ..errors import SequenceError
from ..schema import Param
from .dataset import Batch, shape_mask
from .taskbase import TaskDataset, _letters, register
from .vocab import Vocab


@register("reverse_lengths", (Param("min_length", int, 4, 1, 200, label="Shortest string"),
                              Param("max_length", int, 16, 1, 200, label="Longest string"),
                              Param("symbols", int, 6, 2, 26, label="Alphabet size")))
class ReverseLengthsTask(TaskDataset):
    """String reversal over several lengths: accuracy against length.

    Like "reverse", but each source string has its own length, drawn from min_length to
    max_length. The source is padded at the front with "_" up to max_length, so the
    encoder's last step is always the string's last symbol; the decoder writes the string
    backwards and then "</s>" (padding after that carries no loss). Without attention the
    whole string must pass through the encoder's final state, and long strings come out
    worse than short ones; with cross-attention the decoder looks back at the source and
    length hardly matters. :meth:`at_length` gives a held-out batch of one length, to
    measure accuracy against length."""

    shape = "seq2seq"
    output = "classes"
    roles = ("src", "tgt")
    start_symbol = "<s>"
    end_symbol = "</s>"
    pad_symbol = "_"

    def setup(self):
        p = self.params
        if p["min_length"] > p["max_length"]:
            self.fail("min_length", f"must be at most max_length ({p['max_length']}), got "
                                    f"{p['min_length']}")
        self.vocab = Vocab([*_letters(p["symbols"]), self.pad_symbol, self.start_symbol,
                            self.end_symbol])
        self.output_size = len(self.vocab)
        self.pad_id = self.vocab.index[self.pad_symbol]
        self.start_id = self.vocab.index[self.start_symbol]
        self.end_id = self.vocab.index[self.end_symbol]

    def _batch(self, strings: list[np.ndarray]) -> Batch:
        """Strings of symbol ids (any lengths) as one batch: sources padded at the front to
        max_length (a longer string is not cut), targets and decoder inputs at the back."""
        n = len(strings)
        S = max(self.params["max_length"], max(len(s) for s in strings))
        T = max(len(s) for s in strings) + 1                        # the reversal and </s>
        src = np.full((n, S), self.pad_id, np.int64)
        tgt = np.full((n, T), self.pad_id, np.int64)
        y = np.full((n, T), self.pad_id, np.int64)
        for i, s in enumerate(strings):
            L = len(s)
            src[i, S - L:] = s
            tgt[i, 0], tgt[i, 1:L + 1] = self.start_id, s[::-1]
            y[i, :L], y[i, L] = s[::-1], self.end_id
        lengths = [len(s) + 1 for s in strings]
        return Batch({"src": src, "tgt": tgt}, y, shape_mask("seq2seq", n, T, lengths))

    def generate(self, n, rng):
        p = self.params
        lengths = rng.integers(p["min_length"], p["max_length"] + 1, n)
        return self._batch([rng.integers(0, p["symbols"], L) for L in lengths])

    def at_length(self, length: int, n: int | None = None) -> Batch:
        """A fixed held-out batch of ``n`` (default: the validation size) strings, all of
        ``length`` symbols, padded as in training."""
        rng = np.random.default_rng([self.seed, 3, int(length)])
        n = self.validation_size if n is None else n
        return self._batch(list(rng.integers(0, self.params["symbols"], (n, int(length)))))

    def encode_input(self, text):
        ids = self.vocab.encode(text.strip())
        start = 0
        while start < len(ids) and ids[start] == self.pad_id:       # padding, as shown
            start += 1
        ids = ids[start:]
        if len(ids) == 0:
            raise SequenceError("the sequence is empty")
        bad = np.flatnonzero(ids >= self.params["symbols"])
        if len(bad):
            raise SequenceError(f"symbol {self.vocab.symbols[ids[bad[0]]]!r} at position "
                                f"{start + bad[0] + 1} cannot be part of the source")
        return self._batch([ids])


@register("lookahead_tag", (Param("length", int, 16, 2, 10_000, label="Steps"),
                            Param("symbols", int, 4, 2, 26, label="Alphabet size"),
                            Param("ahead", int, 2, 1, 100, label="Steps ahead")))
class LookaheadTagTask(TaskDataset):
    """Lookahead tagging: tag each letter with the one `ahead` steps later.

    Many-to-many (aligned), like part-of-speech tagging: one tag per input step. The tag at
    step t is the input at step t + ahead, and "." where that is past the end. A
    unidirectional network has not read that letter yet when it must answer, so it can only
    guess (1 in `symbols`, apart from the "." at the end); a bidirectional one also runs a
    second recurrent layer from the last step back to the first, whose state at step t has
    already read every later letter. Look at the backward direction's h: it carries the
    letters just seen, which are the letters ahead."""

    shape = "many_to_many"
    output = "classes"
    end_tag = "."

    def setup(self):
        letters = _letters(self.params["symbols"])
        self.vocab = Vocab(letters)
        self.target_vocab = Vocab([*letters, self.end_tag])
        self.output_size = len(self.target_vocab)
        self.end_id = self.target_vocab.index[self.end_tag]

    def _batch(self, ids: np.ndarray) -> Batch:
        n, T = ids.shape
        k = self.params["ahead"]
        y = np.full((n, T), self.end_id, np.int64)
        y[:, :max(T - k, 0)] = ids[:, k:]
        return Batch({"x": ids}, y, shape_mask("many_to_many", n, T))

    def generate(self, n, rng):
        return self._batch(rng.integers(0, self.params["symbols"], (n, self.params["length"])))

    def encode_input(self, text):
        ids = self.vocab.encode(text.strip())
        if len(ids) == 0:
            raise SequenceError("the sequence is empty")
        return self._batch(ids[None])
