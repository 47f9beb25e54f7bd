"""Built-in tasks: small synthetic problems, each teaching one idea, with parameters and a seed.

Each is a :class:`~playground.data.taskbase.TaskDataset` registered by name in
:data:`~playground.data.taskbase.TASKS` (``playground.data`` imports this module and
:mod:`playground.data.memory_tasks`, so every task is there once the package is loaded).
Every task generates fresh sequences from the generator it is given, so the same seed gives
the same batches.

The five shapes of the class notes all appear: ``one_to_one`` (vitals), ``one_to_many``
(spell), ``many_to_one`` (adding, parity, temporal order, toy attention), ``many_to_many``
(hello, sine, copy memory) and ``seq2seq`` (reverse). The memory tasks live in
:mod:`playground.data.memory_tasks`.
"""

from __future__ import annotations

import numpy as np

from ..errors import SequenceError
from ..schema import Param
from .dataset import Batch, pad, shape_mask
from .sources import next_symbol_batch, parse_numbers
from .taskbase import TaskDataset, WordListTask, register
from .vocab import Vocab


@register("hello", (Param("text", str, "hello", label="Word(s)"),))
class HelloTask(WordListTask):
    """Hello: predict the next character.

    The character-level language model of the class notes. The input is "hell", one-hot
    encoded (h, e, l, o); at every step the network must output the next character, so the
    targets are "ello". Look at the second "l": the input is the same letter twice, yet the
    answer differs (l, then o). Only the hidden state, which carries what came before, can tell
    them apart; step through it and watch it differ at the two "l" steps. Several words
    (separated by spaces) are sampled one per sequence."""

    shape = "many_to_many"
    output = "classes"
    language_model = True

    def setup(self):
        self.words = self.params["text"].split()
        if not self.words:
            self.fail("text", "must contain at least one word")
        short = [w for w in self.words if len(w) < 2]
        if short:
            self.fail("text", f"each word needs at least 2 characters, got {short[0]!r}")
        self.vocab = Vocab.from_text("".join(self.words), "char", order="appearance")
        self.output_size = len(self.vocab)
        self.ids = [self.vocab.encode(w) for w in self.words]
        self.validation_size = len(self.words)

    def _batch(self, which) -> Batch:
        x, lengths = pad([self.ids[i][:-1] for i in which])
        y, _ = pad([self.ids[i][1:] for i in which])
        return Batch({"x": x}, y, shape_mask("many_to_many", len(which), x.shape[1], lengths))

    def encode_input(self, text):
        return next_symbol_batch(self.vocab, text.strip())

    def corpus(self):
        return list(self.ids)


_SINE = (
    Param("length", int, 40, 2, 10_000, label="Steps"),
    Param("period_min", float, 10.0, 2.0, 1000.0, label="Shortest period (steps)"),
    Param("period_max", float, 30.0, 2.0, 1000.0, label="Longest period (steps)"),
    Param("amplitude", float, 1.0, 0.0, 100.0, label="Amplitude"),
    Param("shape", str, "many_to_many", choices=("many_to_many", "many_to_one"),
          label="Predict"),
)


@register("sine", (*_SINE, Param("noise", float, 0.0, 0.0, 10.0, label="Noise (std)")))
class SineTask(TaskDataset):
    """Sine: forecast the next value of a wave.

    Each sequence is a sine wave x_t = A sin(2 pi t / P + phi) with a random phase and a random
    period P. At every step the network predicts the next value (or, with "many_to_one", only
    the value after the last step). It must infer the period from what it has seen, so the
    first predictions are poor and improve along the sequence: watch the per-step loss fall.
    Free-running generation feeds each prediction back as the next input."""

    shape = "many_to_many"
    output = "values"
    input_features = 1
    output_size = 1

    def setup(self):
        p = self.params
        if p["period_min"] > p["period_max"]:
            self.fail("period_min", f"must not exceed period_max ({p['period_max']}), got "
                      f"{p['period_min']}")
        self.shape = p["shape"]

    def generate(self, n, rng):
        p = self.params
        T = p["length"]
        phase = rng.uniform(0, 2 * np.pi, (n, 1))
        period = rng.uniform(p["period_min"], p["period_max"], (n, 1))
        t = np.arange(T + 1)[None, :]
        clean = p["amplitude"] * np.sin(2 * np.pi * t / period + phase)     # (B, T+1)
        noisy = clean + p["noise"] * rng.standard_normal(clean.shape)
        x = noisy[:, :-1, None].astype(np.float32)
        y = clean[:, 1:, None].astype(np.float32)
        return Batch({"x": x}, y, shape_mask(self.shape, n, T))

    def encode_input(self, text):
        x = parse_numbers(text, 1)
        y = np.zeros_like(x)
        y[:-1] = x[1:]
        mask = np.zeros(len(x), np.float32)
        if self.shape == "many_to_many":
            mask[:-1] = 1.0
        return Batch({"x": x[None]}, y[None], mask[None])


@register("noisy_sine", (*_SINE, Param("noise", float, 0.2, 0.0, 10.0, label="Noise (std)")))
class NoisySineTask(SineTask):
    """Noisy sine: forecast the clean wave from noisy readings.

    Like "sine", but the network reads the wave with Gaussian noise added and is trained to
    predict the next *clean* value. It cannot predict the noise, so it must average over
    several steps: compare the hidden state's smooth trajectory with the jagged input, and see
    that the loss stays well below the noise variance."""


@register("adding", (Param("length", int, 50, 2, 10_000, label="Steps"),))
class AddingTask(TaskDataset):
    """Adding problem (Hochreiter & Schmidhuber 1997): add the two marked numbers.

    Each step has two features: a random value in [0, 1] and a marker that is 1 at exactly two
    steps (one in each half) and 0 elsewhere. After the last step the network must output the
    sum of the two marked values. Always answering 1 gives a squared error of 1/6 (0.167); a
    network that beats it has carried the first marked value across many steps. Compare a
    vanilla RNN with an LSTM as the length grows, and watch ||dL/dh_t|| vanish towards the
    first marker. (This is the variant of Le et al. 2015, one marker in each half.)"""

    shape = "many_to_one"
    output = "values"
    input_features = 2
    output_size = 1

    def generate(self, n, rng):
        T = self.params["length"]
        half = max(T // 2, 1)
        values = rng.uniform(0, 1, (n, T))
        first = rng.integers(0, half, n)
        second = rng.integers(half, T, n) if T > 1 else first
        marks = np.zeros((n, T))
        marks[np.arange(n), first] = 1.0
        marks[np.arange(n), second] = 1.0
        x = np.stack([values, marks], -1).astype(np.float32)
        y = np.zeros((n, T, 1), np.float32)
        y[:, -1, 0] = (values * marks).sum(1)
        return Batch({"x": x}, y, shape_mask("many_to_one", n, T))

    def encode_input(self, text):
        x = parse_numbers(text, 2)
        y = np.zeros((len(x), 1), np.float32)
        mask = np.zeros(len(x), np.float32)
        marks = x[:, 1]
        if np.isin(marks, (0.0, 1.0)).all() and marks.sum() == 2:
            y[-1, 0] = float((x[:, 0] * marks).sum())
            mask[-1] = 1.0
        return Batch({"x": x[None]}, y[None], mask[None])


@register("parity", (Param("length", int, 8, 1, 10_000, label="Bits"),
                     Param("mode", str, "final", choices=("final", "running"),
                           label="Answer")))
class ParityTask(TaskDataset):
    """Parity: is the number of 1s even or odd?

    The input is a string of bits. With "final" the network answers once, after the last bit
    (many-to-one); with "running" it answers at every step for the bits so far
    (many-to-many). Parity needs every bit: flipping any one flips the answer, so nothing can
    be forgotten. Running parity is easy (one flip-flop in the hidden state); final parity on
    long strings is hard, because the only training signal arrives at the end."""

    output = "classes"

    def setup(self):
        self.shape = "many_to_one" if self.params["mode"] == "final" else "many_to_many"
        self.vocab = Vocab(["0", "1"])
        self.target_vocab = Vocab(["even", "odd"], "word")
        self.output_size = 2

    def _batch(self, bits: np.ndarray) -> Batch:
        running = np.cumsum(bits, 1) % 2
        n, T = bits.shape
        return Batch({"x": bits.astype(np.int64)}, running.astype(np.int64),
                     shape_mask(self.shape, n, T))

    def generate(self, n, rng):
        return self._batch(rng.integers(0, 2, (n, self.params["length"])))

    def encode_input(self, text):
        bits = self.vocab.encode("".join(text.replace(",", " ").split()))
        if len(bits) == 0:
            raise SequenceError("the sequence is empty; type bits such as 1011")
        return self._batch(bits[None])


VITALS = ("height (cm)", "weight (kg)", "age (years)")
_VITALS_MEAN = np.array([170.0, 70.0, 50.0])
_VITALS_STD = np.array([10.0, 15.0, 60.0 / 12 ** 0.5])


@register("one_to_one", (Param("noise", float, 0.0, 0.0, 5.0, label="Label noise"),))
class VitalsTask(TaskDataset):
    """One-to-one: classify blood pressure from height, weight and age.

    The example of the class notes that is not a sequence at all: one step (T=1) with three
    features (height, weight, age, standardised) and one of three classes (low, normal, high
    blood pressure). The classes follow a made-up rule: the score (BMI - 24.2)/4.3 +
    (age - 50)/17.3 split into thirds. A recurrent layer here is just a feed-forward layer,
    since there is no previous step: h_0 is zero and W_hh never matters."""

    shape = "one_to_one"
    output = "classes"
    input_features = 3
    output_size = 3

    def setup(self):
        self.target_vocab = Vocab(["low", "normal", "high"], "word")
        self.feature_names = list(VITALS)

    @staticmethod
    def classify(raw: np.ndarray, noise: np.ndarray | float = 0.0) -> np.ndarray:
        """Class ids (0 low, 1 normal, 2 high) of ``(N, 3)`` raw vitals."""
        h, w, age = raw[:, 0], raw[:, 1], raw[:, 2]
        score = (w / (h / 100) ** 2 - 24.2) / 4.3 + (age - 50) / 17.3 + noise
        return np.digitize(score, [-0.61, 0.61]).astype(np.int64)

    def _batch(self, raw: np.ndarray, labels: np.ndarray) -> Batch:
        x = ((raw - _VITALS_MEAN) / _VITALS_STD).astype(np.float32)[:, None, :]
        return Batch({"x": x}, labels[:, None], np.ones((len(raw), 1), np.float32))

    def generate(self, n, rng):
        raw = np.stack([rng.normal(170, 10, n), rng.normal(70, 15, n).clip(35, 150),
                        rng.uniform(20, 80, n)], 1)
        noise = self.params["noise"] * rng.standard_normal(n)
        return self._batch(raw, self.classify(raw, noise))

    def encode_input(self, text):
        raw = parse_numbers(text).reshape(-1).astype(np.float64)
        if len(raw) != 3:
            raise SequenceError(f"type three numbers: {', '.join(VITALS)}; got {len(raw)}")
        if raw[0] <= 0:
            raise SequenceError(f"height must be positive, got {raw[0]:g}")
        return self._batch(raw[None], self.classify(raw[None]))


@register("one_to_many", (Param("words", str, "hello world", label="Words"),))
class SpellTask(WordListTask):
    """One-to-many: spell a word from its first letter.

    The input is given only at the first step (the word's first letter); every later step
    reads a blank "_". The network must produce the rest of the word, then "." to stop, so
    "h" -> "ello.". All it has after the first step is its hidden state: watch the state
    unfold the word on its own, like a caption generated from one image vector."""

    shape = "one_to_many"
    output = "classes"
    end_symbol = "."
    blank_symbol = "_"

    def setup(self):
        self.words = self.params["words"].split()
        if not self.words:
            self.fail("words", "must contain at least one word")
        firsts = [w[0] for w in self.words]
        dup = next((f for i, f in enumerate(firsts) if f in firsts[:i]), None)
        if dup is not None:
            self.fail("words", f"two words start with {dup!r}; each needs its own first letter")
        if "_" in firsts or any("." in w for w in self.words):
            self.fail("words", "words may not start with '_' or contain '.'")
        self.vocab = Vocab(["_", *firsts])
        self.target_vocab = Vocab(sorted(set("".join(w[1:] for w in self.words))) + ["."])
        self.output_size = len(self.target_vocab)
        self.validation_size = len(self.words)

    def _batch(self, which) -> Batch:
        xs, ys = [], []
        for i in which:
            w = self.words[i]
            xs.append(np.array([self.vocab.index[w[0]]] + [0] * (len(w) - 1)))
            ys.append(self.target_vocab.encode([*w[1:], "."]))
        x, lengths = pad(xs)
        y, _ = pad(ys)
        return Batch({"x": x}, y, shape_mask("one_to_many", len(xs), x.shape[1], lengths))

    def encode_input(self, text):
        text = text.strip()
        if len(text) != 1:
            raise SequenceError(f"type one start letter ({', '.join(self.vocab.symbols[1:])})")
        first = int(self.vocab.encode(text)[0])
        if first == 0:
            raise SequenceError("'_' is the blank of later steps; type a start letter")
        return self._batch([first - 1])

