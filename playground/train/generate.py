"""Generation: what a model writes from a prompt, read the way its task reads input.

The one door for the app's Generate dock and ``main.py generate``. :func:`how_it_generates`
says how a model and its task generate (or raises, naming why they cannot),
:func:`suggest` a prompt and length from the task's example, and :func:`generate` returns a
:class:`Generation`:

* ``"continue"``, a language model (next-symbol prediction): the prompt is continued, each
  symbol fed back as the next input;
* ``"first"``, one-to-many: the prompt is the first input, every later step reads the
  task's blank, until the end symbol;
* ``"source"``, an encoder-decoder: the prompt is the source; the decoder starts from the
  start symbol and stops at the end symbol;
* ``"values"``, a values model free-runs past the numbers of the prompt (in the data's
  units), beside the truth where the prompt is the start of the task's example.

Greedy, sampling (temperature, top-k) and beam search work for every token kind; a values
model has only its one forecast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SequenceError
from . import decoding as G
from .decoding import (  # noqa: F401 - the model-level functions, also importable from here
    beam_ids,
    decode_beam,
    decode_ids,
    free_run,
    generate_ids,
    sampling_probs,
)

MODES = ("greedy", "sample", "beam")
PROMPT_IS = {"continue": "the text to continue", "first": "the first input",
             "source": "the source the encoder reads", "values": "the values to continue"}


@dataclass(frozen=True)
class Generation:
    """A prompt and what the model made of it. ``prompt``/``continuation``/``truth`` are
    symbols (tuples of str) or values ``(T, F)`` in the data's units (``kind == "values"``);
    ``truth`` is what the task says follows, where it knows (else None)."""

    how: str                     # "continue" | "first" | "source" | "values"
    prompt: tuple | np.ndarray
    continuation: tuple | np.ndarray
    truth: tuple | np.ndarray | None
    text: str                    # the continuation as text (numbers comma-separated)
    prompt_text: str
    input_text: str              # the sequence to step through, as the sequence input reads it
    ended: bool = False          # stopped at the task's end symbol
    score: float | None = None   # beam search: the total log-probability

    @property
    def kind(self) -> str:
        return "values" if self.how == "values" else "tokens"


def how_it_generates(model, dataset) -> str:
    """``"continue"``, ``"first"``, ``"source"`` or ``"values"`` (see the module doc); a
    :class:`SequenceError` that says why when the model and task cannot generate."""
    shape, ids = dataset.shape, list(model.input_ids)
    if shape in ("many_to_one", "one_to_one") and dataset.output == "classes":
        raise SequenceError(f"this task gives one answer per sequence ({shape.replace('_', '-')})"
                            ", so there is no sequence to continue; generation needs a model "
                            "that writes a sequence (next-symbol prediction, one-to-many, an "
                            "encoder-decoder, or forecasting values)")
    if dataset.output == "values":
        if len(ids) != 1 or model.head_output != "identity":
            raise SequenceError("free-running needs a one-input model with a values head")
        C = model.graph.node(model.output_id).params["out_features"]
        F = dataset.input_features or 1
        if shape not in ("many_to_many", "many_to_one") or C != F:
            raise SequenceError(f"this task's outputs ({C} value(s) per step) are not its next "
                                f"input ({F} value(s)), so they cannot be fed back to forecast")
        return "values"
    if dataset.vocab is None or model.head_output != "softmax":
        raise SequenceError("generation needs a task with a vocabulary and a softmax head")
    if shape == "seq2seq":
        roles = tuple(dataset.roles)
        if dataset.start_symbol is None or len(roles) != 2 or sorted(ids) != sorted(roles):
            raise SequenceError("an encoder-decoder generates with a start symbol and input "
                                f"nodes named {' and '.join(roles)}")
        return "source"
    if len(ids) != 1:
        raise SequenceError(f"this model has {len(ids)} inputs but the task is not an "
                            "encoder-decoder")
    if shape == "one_to_many":
        if dataset.blank_symbol not in dataset.vocab:
            raise SequenceError("a one-to-many task needs a blank symbol for the later inputs")
        return "first"
    if not dataset.language_model:
        raise SequenceError("this task's output at a step is not the next input (it is not "
                            "next-symbol prediction), so it cannot be fed back to generate")
    missing = [s for s in dataset.classes if s not in dataset.vocab]
    if missing:
        raise SequenceError(f"the output symbol {missing[0]!r} is not an input symbol, so it "
                            "cannot be fed back")
    return "continue"


def generation_problem(model, dataset) -> str | None:
    """Why ``model`` cannot generate on ``dataset``'s task, or None."""
    try:
        how_it_generates(model, dataset)
    except SequenceError as e:
        return str(e)
    return None


def format_values(values: np.ndarray, digits: int = 6) -> str:
    """``(T, F)`` values as the sequence input reads them: ``a,b,c`` for one feature,
    ``a, b; c, d`` (steps split by ``;``) for several."""
    values = np.asarray(values).reshape(len(values), -1)
    if values.shape[1] == 1:
        return ",".join(f"{v:.{digits}g}" for v in values[:, 0])
    return "; ".join(", ".join(f"{v:.{digits}g}" for v in step) for step in values)


def _units(dataset, values: np.ndarray) -> np.ndarray:
    denorm = getattr(dataset, "denormalize", None)
    return np.asarray(denorm(values) if callable(denorm) else values, np.float64)


def suggest(model, dataset) -> tuple[str, int]:
    """A prompt and length from the task's example: the start of the text, the first input,
    the source, or the first half of the values (the rest is the truth to compare with)."""
    how = how_it_generates(model, dataset)
    ex = dataset.example()
    if how == "values":
        x = _units(dataset, ex.inputs["x"][0])                        # (T, F)
        k = max(1, len(x) // 2)
        return format_values(x[:k], 4), len(x) - k + 1
    if how == "source":
        src = ex.inputs[dataset.roles[0]][0]
        return dataset.vocab.join(src), 2 * int(ex.mask.shape[1])
    symbols = dataset.step_labels(ex)
    if how == "first":
        return symbols[0], 2 * int(ex.mask.shape[1])
    k = max(1, -(-len(symbols) // 4))
    return dataset.vocab.join(symbols[:k]), len(symbols) + 1 - k


def _read(dataset, how: str, prompt: str):
    """(input ids the model reads, the prompt's symbols, the truth or None)."""
    if not prompt.strip():
        raise SequenceError("the prompt is empty; type at least one symbol")
    try:
        if how == "continue":
            ids = dataset.vocab.encode(prompt)
            return ids, tuple(dataset.vocab.tokens(prompt)), None
        batch = dataset.encode_input(prompt)
    except SequenceError as e:
        raise SequenceError(f"prompt: {e}") from None
    y, m = batch.targets[0], batch.mask[0]
    truth = tuple(dataset.classes.decode(y[m > 0]))
    if how == "first":
        ids = dataset.vocab.encode(prompt.strip())
        return ids, tuple(dataset.vocab.decode(ids)), truth
    src = batch.inputs[dataset.roles[0]][0]
    return src, tuple(dataset.vocab.decode(src)), truth


def _check_mode(mode: str, beam) -> None:
    if mode not in MODES:
        raise SequenceError(f"the mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "beam" and beam is None:
        raise SequenceError("beam search needs a width")


def generate(model, dataset, prompt: str, length: int, *, mode: str = "greedy",
             temperature: float = 1.0, top_k: int | None = None, beam: int | None = 3,
             seed: int | None = None) -> Generation:
    """What ``model`` makes of ``prompt`` in up to ``length`` steps (see the module doc):
    ``mode`` greedy, sample (at ``temperature``, from the ``top_k`` most likely) or beam (of
    width ``beam``). Raises :class:`SequenceError` naming a bad prompt (the symbol and its
    position) or why this model cannot generate."""
    _check_mode(mode, beam)
    how = how_it_generates(model, dataset)
    if how == "values":
        return _free_run(model, dataset, prompt, length, mode)
    ids, prompt_symbols, truth = _read(dataset, how, prompt)
    vocab, classes = dataset.vocab, dataset.classes
    end_id = classes.index.get(dataset.end_symbol) if dataset.end_symbol else None
    if how == "first":
        blank = vocab.index[dataset.blank_symbol]

        def to_input(_c: int) -> int:
            return blank
    elif classes == vocab:
        to_input = None
    else:
        def to_input(c: int) -> int:
            return vocab.index[classes.symbols[c]]
    greedy, score = mode == "greedy", None
    if how == "source":
        roles = dict(start_id=vocab.index[dataset.start_symbol], end_id=end_id,
                     src=dataset.roles[0], tgt=dataset.roles[1], to_input=to_input)
        if mode == "beam":
            out, score = G.decode_beam(model, ids, length, beam, **roles)
        else:
            out = G.decode_ids(model, ids, length, temperature=temperature, greedy=greedy,
                               seed=seed, top_k=top_k, **roles)
    elif mode == "beam":
        out, score = G.beam_ids(model, ids, length, beam, to_input=to_input, end_id=end_id)
    else:
        out = G.generate_ids(model, ids, length, temperature=temperature, greedy=greedy,
                             seed=seed, top_k=top_k, to_input=to_input, end_id=end_id)
    symbols = tuple(classes.decode(out))
    prompt_text = vocab.join(list(prompt_symbols))
    stepped = vocab.join([*prompt_symbols, *symbols]) if how == "continue" else prompt_text
    return Generation(how, prompt_symbols, symbols, truth, classes.join(list(symbols)),
                      prompt_text, stepped, ended=end_id is not None and end_id in out,
                      score=score)


def _free_run(model, dataset, prompt: str, length: int, mode: str) -> Generation:
    if mode != "greedy":
        raise SequenceError("a values model free-runs, each prediction fed back as the next "
                            "input: sampling and beam search are for token models")
    try:
        x = dataset.encode_input(prompt).inputs["x"][0]                  # (T, F), model units
    except SequenceError as e:
        raise SequenceError(f"prompt: {e}") from None
    out = G.free_run(model, x, length)                                   # (N, F)
    ex = dataset.example()
    ex_x, ex_y = ex.inputs["x"][0], np.asarray(ex.targets[0]).reshape(len(ex.mask[0]), -1)
    truth = None
    T = len(x)
    scale = max(1.0, float(np.abs(ex_x).max(initial=0.0)))
    if T <= len(ex_x) and np.allclose(x, ex_x[:T], rtol=1e-3, atol=1e-3 * scale):
        truth = _units(dataset, ex_y[T - 1:T - 1 + length])            # y_t is x_{t+1}
    prompt_values, values = _units(dataset, x), _units(dataset, out)
    return Generation("values", prompt_values, values, truth, format_values(values),
                      format_values(prompt_values),
                      format_values(np.concatenate([prompt_values, values])))


def generate_text(model, dataset, prompt: str, length: int, *,
                  temperature: float = 1.0, greedy: bool = False,
                  seed: int | None = None, top_k: int | None = None,
                  beam: int | None = None) -> str:
    """Continue ``prompt`` by up to ``length`` symbols, as text (characters side by side,
    words with spaces): greedy, sampled at ``temperature`` (from the ``top_k`` most likely
    symbols), or the best of a beam search of width ``beam``. An encoder-decoder reads the
    prompt as its source. See :func:`generate`."""
    mode = "beam" if beam is not None else "greedy" if greedy else "sample"
    return generate(model, dataset, prompt, length, mode=mode, temperature=temperature,
                    top_k=top_k, beam=beam or 1, seed=seed).text
