"""Built-in tasks about memory and long dependencies: copy memory, temporal order, string
reversal (encoder-decoder) and a toy attention task. Registered in
:data:`playground.data.taskbase.TASKS`.
"""

from __future__ import annotations

import numpy as np

from ..errors import SequenceError
from ..schema import Param
from .dataset import Batch, shape_mask
from .taskbase import TaskDataset, _letters, register
from .vocab import Vocab


@register("copy_memory", (Param("k", int, 5, 1, 100, label="Symbols to remember"),
                          Param("delay", int, 10, 1, 10_000, label="Delay (steps)"),
                          Param("symbols", int, 4, 1, 26, label="Alphabet size")))
class CopyMemoryTask(TaskDataset):
    """Copy memory: remember k symbols, reproduce them after a delay.

    The sequence starts with k random symbols, then blanks "-" for the delay, then a cue ":",
    then k more blanks during which the network must output the k symbols in order. Only those
    last k steps carry loss. The network has to hold k symbols in its state for the whole
    delay: look at the LSTM cell state staying flat through the blanks while the forget gate
    stays near 1, and at a vanilla RNN's state fading."""

    shape = "many_to_many"
    output = "classes"

    def setup(self):
        p = self.params
        self.vocab = Vocab(["-", ":", *_letters(p["symbols"])])
        self.output_size = len(self.vocab)
        self.steps = 2 * p["k"] + p["delay"]

    def _batch(self, ids: np.ndarray, known: bool = True) -> Batch:
        n, T = ids.shape
        k = self.params["k"]
        y = np.zeros((n, T), np.int64)
        mask = np.zeros((n, T), np.float32)
        if known:
            y[:, -k:] = ids[:, :k]
            mask[:, -k:] = 1.0
        return Batch({"x": ids}, y, mask)

    def generate(self, n, rng):
        k, delay = self.params["k"], self.params["delay"]
        ids = np.zeros((n, self.steps), np.int64)          # "-" is id 0
        ids[:, :k] = rng.integers(2, len(self.vocab), (n, k))
        ids[:, k + delay - 1] = 1                          # the cue ":"
        return self._batch(ids)

    def encode_input(self, text):
        ids = self.vocab.encode(text.strip())
        if len(ids) == 0:
            raise SequenceError("the sequence is empty")
        k = self.params["k"]
        return self._batch(ids[None], known=len(ids) >= 2 * k + 1)


@register("temporal_order", (Param("length", int, 20, 10, 10_000, label="Steps"),
                             Param("distractors", int, 4, 1, 20, label="Distractor symbols")))
class TemporalOrderTask(TaskDataset):
    """Temporal order (Hochreiter & Schmidhuber 1997): which came first, X or Y?

    A sequence of random distractor letters hides two relevant symbols, each X or Y: one early
    (10-20% of the way in), one in the middle (50-60%). After the last step the network names
    the order: XX, XY, YX or YY. It must notice the two relevant symbols among the noise,
    keep the first in memory past the second, and ignore everything else. Watch which steps
    change the hidden state most, and the input gate opening only at X and Y."""

    shape = "many_to_one"
    output = "classes"

    def setup(self):
        self.vocab = Vocab([*_letters(self.params["distractors"]), "X", "Y"])
        self.target_vocab = Vocab(["XX", "XY", "YX", "YY"], "word")
        self.output_size = 4
        self._x = self.vocab.index["X"]

    def generate(self, n, rng):
        T = self.params["length"]
        ids = rng.integers(0, self._x, (n, T))
        t1 = rng.integers(T // 10, max(2 * T // 10, T // 10 + 1), n)
        t2 = rng.integers(5 * T // 10, max(6 * T // 10, 5 * T // 10 + 1), n)
        a, b = rng.integers(0, 2, n), rng.integers(0, 2, n)
        rows = np.arange(n)
        ids[rows, t1] = self._x + a
        ids[rows, t2] = self._x + b
        y = np.zeros((n, T), np.int64)
        y[:, -1] = 2 * a + b
        return Batch({"x": ids}, y, shape_mask("many_to_one", n, T))

    def encode_input(self, text):
        ids = self.vocab.encode(text.strip())
        if len(ids) == 0:
            raise SequenceError("the sequence is empty")
        y = np.zeros(len(ids), np.int64)
        mask = np.zeros(len(ids), np.float32)
        relevant = ids[ids >= self._x] - self._x
        if len(relevant) == 2:
            y[-1] = 2 * relevant[0] + relevant[1]
            mask[-1] = 1.0
        return Batch({"x": ids[None]}, y[None], mask[None])


@register("reverse", (Param("length", int, 5, 1, 200, label="String length"),
                      Param("symbols", int, 5, 2, 26, label="Alphabet size")))
class ReverseTask(TaskDataset):
    """String reversal: an encoder-decoder reads a string and writes it backwards.

    The encoder reads the source ("src", e.g. "abcd"); the decoder then writes the reversed
    string one symbol at a time, starting from "<s>" and stopping with "</s>". In training the
    decoder reads the right answer so far ("tgt" = "<s>" + "dcba", teacher forcing) and is
    trained to output "dcba</s>". Without attention everything must squeeze through the
    encoder's final state; with cross-attention, look at the weights: the decoder's first step
    attends to the last source symbol, and the attention forms an anti-diagonal."""

    shape = "seq2seq"
    output = "classes"
    roles = ("src", "tgt")
    start_symbol = "<s>"
    end_symbol = "</s>"

    def setup(self):
        self.vocab = Vocab([*_letters(self.params["symbols"]), self.start_symbol,
                            self.end_symbol])
        self.output_size = len(self.vocab)
        self.start_id = self.vocab.index[self.start_symbol]
        self.end_id = self.vocab.index[self.end_symbol]

    def _batch(self, src: np.ndarray) -> Batch:
        n = len(src)
        rev = src[:, ::-1]
        tgt = np.concatenate([np.full((n, 1), self.start_id), rev], 1)
        y = np.concatenate([rev, np.full((n, 1), self.end_id)], 1)
        return Batch({"src": np.ascontiguousarray(src), "tgt": tgt}, y,
                     shape_mask("seq2seq", n, y.shape[1]))

    def generate(self, n, rng):
        return self._batch(rng.integers(0, self.params["symbols"],
                                        (n, self.params["length"])))

    def encode_input(self, text):
        ids = self.vocab.encode(text.strip())
        if len(ids) == 0:
            raise SequenceError("the sequence is empty")
        bad = np.flatnonzero(ids >= self.params["symbols"])
        if len(bad):
            raise SequenceError(f"symbol {self.vocab.symbols[ids[bad[0]]]!r} at position "
                                f"{bad[0] + 1} cannot be part of the source")
        return self._batch(ids[None])


@register("toy_attention", (Param("length", int, 16, 3, 10_000, label="Steps"),
                            Param("keys", int, 4, 2, 26, label="Key symbols"),
                            Param("distractors", int, 6, 1, 26, label="Distractor symbols"),
                            Param("early", float, 0.5, 0.01, 1.0,
                                  label="Key within the first (fraction)")))
class ToyAttentionTask(TaskDataset):
    """Toy attention: report the one key symbol seen far back.

    The sequence is lower-case distractors with exactly one upper-case key (A, B, ...) placed
    somewhere in its first part, and a query "?" at the end. At the "?" the network must name
    the key. A recurrent network has to carry the key through every later step; a
    self-attention layer can look straight back at it. Look at the attention weights of the
    last step: after training they put nearly all their weight on the key's position, wherever
    it is."""

    shape = "many_to_one"
    output = "classes"

    def setup(self):
        p = self.params
        keys = _letters(p["keys"], upper=True)
        self.vocab = Vocab([*_letters(p["distractors"]), *keys, "?"])
        self.target_vocab = Vocab(keys)
        self.output_size = p["keys"]
        self._first_key = p["distractors"]
        self._query = len(self.vocab) - 1

    def generate(self, n, rng):
        p = self.params
        T = p["length"]
        ids = rng.integers(0, p["distractors"], (n, T))
        ids[:, -1] = self._query
        span = max(1, min(T - 1, int(round(p["early"] * (T - 1)))))
        where = rng.integers(0, span, n)
        key = rng.integers(0, p["keys"], n)
        ids[np.arange(n), where] = self._first_key + key
        y = np.zeros((n, T), np.int64)
        y[:, -1] = key
        return Batch({"x": ids}, y, shape_mask("many_to_one", n, T))

    def encode_input(self, text):
        ids = self.vocab.encode(text.strip())
        if len(ids) == 0:
            raise SequenceError("the sequence is empty")
        y = np.zeros(len(ids), np.int64)
        mask = np.zeros(len(ids), np.float32)
        keys = ids[(ids >= self._first_key) & (ids < self._query)]
        if len(keys) == 1:
            y[-1] = keys[0] - self._first_key
            mask[-1] = 1.0
        return Batch({"x": ids[None]}, y[None], mask[None])
