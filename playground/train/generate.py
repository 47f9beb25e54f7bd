"""Generation: sampling text from a prompt, free-running a series.

Text: from a prompt, repeat ``p = softmax(z_T / temperature)``, pick the next symbol
(``argmax p`` when greedy, else a draw from ``p``, or from its ``top_k`` most likely
symbols) and feed it back as the next input. Beam search keeps the ``width`` continuations
of highest total log-probability at every step instead of one.
Time series: feed each prediction ``y_t`` back as the input ``x_{t+1}``.

Models that are a plain stack of recurrent layers (input -> RNN/LSTM/GRU... -> linear)
run one step at a time with their state carried over
(:meth:`~playground.model.build.SequenceModel.run` with ``carry``, also used by truncated
BPTT in :mod:`playground.train.trainer`); any other graph is re-run on the whole prefix at
each step, which gives the same result, just slower.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import SequenceError
from ..model.build import SequenceModel
from ..model.inputs import check_inputs


class _Stepper:
    """Feeds a growing sequence to a model; incremental when the graph allows it."""

    def __init__(self, model: SequenceModel):
        self.model = model
        self.nid = model.input_ids[0]
        self.incremental = model.window_problem() is None
        self.states: dict = {}
        self.prefix: torch.Tensor | None = None

    def feed(self, x: torch.Tensor) -> torch.Tensor:
        """Append ``x (1, W, ...)``; return the output at the last step ``(C,)``."""
        if self.incremental:
            out, self.states = self.model.run({self.nid: x}, carry=self.states)
            return out[0, -1]
        self.prefix = x if self.prefix is None else torch.cat([self.prefix, x], 1)
        return self.model({self.nid: self.prefix})[0, -1]


def sampling_probs(logits, temperature: float, top_k: int | None = None) -> np.ndarray:
    """The distribution a draw takes: ``softmax(z / temperature)`` over the ``top_k`` largest
    logits (all when None), zero elsewhere."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    if top_k is not None and top_k < len(z):
        cut = np.partition(z, -top_k)[-top_k]
        z = np.where(z >= cut, z, -np.inf)
    p = np.exp(z - z.max())
    return p / p.sum()


def _pick(logits: torch.Tensor, temperature: float, greedy: bool,
          rng: np.random.Generator, top_k: int | None = None) -> int:
    if greedy or temperature <= 0:
        return int(torch.argmax(logits))
    p = sampling_probs(logits.double().cpu().numpy(), temperature, top_k)
    return int(rng.choice(len(p), p=p))


def _check_options(length: int, temperature: float, top_k, beam) -> None:
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise SequenceError(f"the length must be a whole number >= 0, got {length!r}")
    if not np.isfinite(temperature) or temperature < 0:
        raise SequenceError(f"the temperature must be a number >= 0, got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)
                              or top_k < 1):
        raise SequenceError(f"top-k must be a whole number >= 1, got {top_k!r}")
    if beam is not None and (isinstance(beam, bool) or not isinstance(beam, int) or beam < 1):
        raise SequenceError(f"the beam width must be a whole number >= 1, got {beam!r}")


@torch.no_grad()
def beam_ids(model: SequenceModel, prompt_ids, length: int, width: int,
             to_input=None) -> tuple[list[int], float]:
    """The ``length`` class ids continuing ``prompt_ids`` that beam search of ``width``
    finds, and their total log-probability. All beams run as one batch on the whole prefix
    at each step."""
    if len(model.input_ids) != 1:
        raise SequenceError("generation needs a model with one input")
    _check_options(length, 1.0, None, width)
    nid = model.input_ids[0]
    x = check_inputs(model, np.asarray(prompt_ids, dtype=np.int64).reshape(1, -1))[nid]
    feed = (lambda c: c) if to_input is None else to_input
    was = model.training
    model.eval()
    try:
        beams = [([], 0.0)]   # (generated ids, total log-probability)
        for _ in range(length):
            tails = torch.tensor([[feed(c) for c in ids] for ids, _ in beams],
                                 dtype=torch.long, device=x.device).view(len(beams), -1)
            prefix = torch.cat([x.expand(len(beams), -1), tails], 1)
            logp = torch.log_softmax(model({nid: prefix})[:, -1].double(), -1).cpu().numpy()
            scored = [(score + logp[b, c], b, c) for b, (_, score) in enumerate(beams)
                      for c in range(logp.shape[1])]
            scored.sort(key=lambda s: -s[0])
            beams = [(beams[b][0] + [c], sc) for sc, b, c in scored[:width]]
        ids, score = beams[0]
        return ids, float(score)
    finally:
        model.train(was)


@torch.no_grad()
def generate_ids(model: SequenceModel, prompt_ids, length: int, *, temperature: float = 1.0,
                 greedy: bool = False, seed: int | None = None, top_k: int | None = None,
                 to_input=None) -> list[int]:
    """``length`` class ids continuing ``prompt_ids`` (a one-input token model).
    ``to_input`` maps an output class to the input id fed back (identity by default)."""
    if len(model.input_ids) != 1:
        raise SequenceError("generation needs a model with one input")
    _check_options(length, temperature, top_k, None)
    ids = check_inputs(model, np.asarray(prompt_ids, dtype=np.int64).reshape(1, -1))
    x = ids[model.input_ids[0]]  # (1, T)
    rng = np.random.default_rng(seed)
    was = model.training
    model.eval()
    try:
        stepper = _Stepper(model)
        logits = stepper.feed(x)
        out: list[int] = []
        for _ in range(length):
            c = _pick(logits, temperature, greedy, rng, top_k)
            out.append(c)
            nxt = c if to_input is None else to_input(c)
            logits = stepper.feed(torch.tensor([[nxt]], device=x.device))
        return out
    finally:
        model.train(was)


def generate_text(model: SequenceModel, dataset, prompt: str, length: int, *,
                  temperature: float = 1.0, greedy: bool = False,
                  seed: int | None = None, top_k: int | None = None,
                  beam: int | None = None) -> str:
    """Continue ``prompt`` by ``length`` symbols of the dataset's vocabulary, as text
    (characters side by side, words with spaces). Greedy, sampled at ``temperature``
    (from the ``top_k`` most likely symbols), or the best of a beam search of width
    ``beam``."""
    vocab = dataset.vocab
    if vocab is None:
        raise SequenceError("this task has no vocabulary; use free_run for numeric series")
    if not prompt:
        raise SequenceError("the prompt is empty; type at least one symbol")
    try:
        ids = np.asarray(vocab.encode(prompt), dtype=np.int64)
    except SequenceError as e:
        raise SequenceError(f"prompt: {e}") from None
    out_vocab = dataset.target_vocab or vocab
    to_input = None
    if dataset.target_vocab is not None:
        def to_input(c: int) -> int:
            return int(vocab.encode([out_vocab.decode([c])[0]])[0])
    if beam is not None:
        ids_out = beam_ids(model, ids, length, beam, to_input=to_input)[0]
    else:
        ids_out = generate_ids(model, ids, length, temperature=temperature, greedy=greedy,
                               seed=seed, top_k=top_k, to_input=to_input)
    return out_vocab.join(out_vocab.decode(ids_out))


@torch.no_grad()
def free_run(model: SequenceModel, context, steps: int) -> np.ndarray:
    """Predict ``steps`` values past ``context`` ``(T, F)`` (or ``(T,)``), feeding each
    prediction back as the next input; returns ``(steps, F)``. The head must output as many
    values per step as the input has features."""
    if len(model.input_ids) != 1 or model.head_output != "identity":
        raise SequenceError("free-running prediction needs a one-input model with a values head")
    nid = model.input_ids[0]
    x = check_inputs(model, {nid: np.asarray(context, dtype=np.float32)})[nid]  # (1, T, F)
    F_ = x.shape[-1]
    C = model.graph.node(model.output_id).params["out_features"]
    if C != F_:
        raise SequenceError(f"the head predicts {C} value(s) per step but the input has {F_} "
                            "feature(s); free-running feeds predictions back as inputs")
    was = model.training
    model.eval()
    try:
        stepper = _Stepper(model)
        y = stepper.feed(x)
        out = []
        for _ in range(steps):
            out.append(y)
            y = stepper.feed(y.view(1, 1, F_))
        return torch.stack(out).cpu().numpy() if out else np.zeros((0, F_), np.float32)
    finally:
        model.train(was)
