"""Decoding: what a model writes past a prompt, as ids and arrays.

Text: from a prompt, repeat ``p = softmax(z_T / temperature)``, pick the next symbol
(``argmax p`` when greedy, else a draw from ``p``, or from its ``top_k`` most likely
symbols) and feed it back as the next input. Beam search keeps the ``width`` continuations
of highest total log-probability at every step instead of one.
Time series: feed each prediction ``y_t`` back as the input ``x_{t+1}``.
Encoder-decoders: the encoder reads the source; the decoder reads a start symbol, then each
symbol it wrote, until it writes the end symbol (greedy, sampled, or by beam search).
Functions here take and give ids and arrays; :mod:`.generate` reads a prompt for a task.

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


class _eval:
    """``with _eval(model):`` eval mode inside, the caller's mode after."""

    def __init__(self, model):
        self.model, self.was = model, model.training

    def __enter__(self):
        self.model.eval()

    def __exit__(self, *exc):
        self.model.train(self.was)


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


def _beam_search(next_logp, length: int, width: int, end_id: int | None = None
                 ) -> tuple[list[int], float, bool]:
    """Beam search over continuations: ``next_logp(tails)`` gives the ``(len(tails), C)``
    log-probabilities of the next class after each tail. Keeps the ``width`` best of all
    candidates by total log-probability; a beam that produced ``end_id`` is finished and keeps
    competing with its score as it is. Stops after ``length`` steps, or as soon as the best
    beam is finished (every other can only fall lower). Returns (ids, score, ended)."""
    beams: list[tuple[list[int], float, bool]] = [([], 0.0, False)]
    for _ in range(length):
        live = [b for b in beams if not b[2]]
        if not live:
            break
        logp = np.asarray(next_logp([ids for ids, _, _ in live]), dtype=np.float64)  # (B, C)
        done = [b for b in beams if b[2]]
        scores = np.array([s for _, s, _ in live])[:, None] + logp                   # (B, C)
        flat = np.concatenate([np.array([s for _, s, _ in done]), scores.reshape(-1)])
        C = logp.shape[1]
        best = np.argsort(-flat, kind="stable")[:width]
        beams = []
        for i in best:
            if i < len(done):
                beams.append(done[i])
            else:
                b, c = divmod(int(i) - len(done), C)
                beams.append((live[b][0] + [c], float(flat[i]), c == end_id))
        if beams[0][2]:
            break
    return beams[0]


@torch.no_grad()
def beam_ids(model: SequenceModel, prompt_ids, length: int, width: int,
             to_input=None, end_id: int | None = None) -> tuple[list[int], float]:
    """The ``length`` class ids continuing ``prompt_ids`` that beam search of ``width``
    finds (fewer when a beam ends with ``end_id``), and their total log-probability. All
    beams run as one batch on the whole prefix at each step."""
    if len(model.input_ids) != 1:
        raise SequenceError("generation needs a model with one input")
    _check_options(length, 1.0, None, width)
    nid = model.input_ids[0]
    x = check_inputs(model, np.asarray(prompt_ids, dtype=np.int64).reshape(1, -1))[nid]
    feed = (lambda c: c) if to_input is None else to_input

    def next_logp(tails):
        tail = torch.tensor([[feed(c) for c in ids] for ids in tails], dtype=torch.long,
                            device=x.device).view(len(tails), -1)                # (B, t)
        prefix = torch.cat([x.expand(len(tails), -1), tail], 1)                 # (B, T + t)
        return torch.log_softmax(model({nid: prefix})[:, -1].double(), -1).cpu().numpy()

    with _eval(model):
        ids, score, _ = _beam_search(next_logp, length, width, end_id)
    return ids, score


@torch.no_grad()
def generate_ids(model: SequenceModel, prompt_ids, length: int, *, temperature: float = 1.0,
                 greedy: bool = False, seed: int | None = None, top_k: int | None = None,
                 to_input=None, end_id: int | None = None) -> list[int]:
    """``length`` class ids continuing ``prompt_ids`` (a one-input token model), fewer when
    ``end_id`` comes first (it is kept). ``to_input`` maps an output class to the input id fed
    back (identity by default)."""
    if len(model.input_ids) != 1:
        raise SequenceError("generation needs a model with one input")
    _check_options(length, temperature, top_k, None)
    ids = check_inputs(model, np.asarray(prompt_ids, dtype=np.int64).reshape(1, -1))
    x = ids[model.input_ids[0]]  # (1, T)
    rng = np.random.default_rng(seed)
    with _eval(model):
        stepper = _Stepper(model)
        logits = stepper.feed(x)
        out: list[int] = []
        for _ in range(length):
            c = _pick(logits, temperature, greedy, rng, top_k)
            out.append(c)
            if c == end_id:
                break
            nxt = c if to_input is None else to_input(c)
            logits = stepper.feed(torch.tensor([[nxt]], device=x.device))
        return out


def _decoder(model: SequenceModel, src_ids, start_id: int, src: str, tgt: str, to_input):
    """``next_logits(tails) -> (len(tails), C)``: the encoder-decoder run on the source and
    each target prefix ``start_id`` + tail, the logits of its last step."""
    if sorted(model.input_ids) != sorted([src, tgt]):
        raise SequenceError(f"an encoder-decoder needs input nodes '{src}' and '{tgt}'; this "
                            f"model has {', '.join(repr(i) for i in model.input_ids)}")
    tgt_ids = np.asarray([start_id], dtype=np.int64)
    x = check_inputs(model, {src: np.asarray(src_ids, dtype=np.int64).reshape(1, -1),
                             tgt: tgt_ids.reshape(1, -1)})
    feed = (lambda c: c) if to_input is None else to_input

    def next_logits(tails):
        n = len(tails)
        tail = torch.tensor([[feed(c) for c in ids] for ids in tails], dtype=torch.long,
                            device=x[tgt].device).view(n, -1)                     # (B, t)
        prefix = torch.cat([x[tgt].expand(n, -1), tail], 1)                       # (B, 1 + t)
        return model({src: x[src].expand(n, -1), tgt: prefix})[:, -1]            # (B, C)

    return next_logits


@torch.no_grad()
def decode_ids(model: SequenceModel, src_ids, length: int, *, start_id: int,
               end_id: int | None = None, src: str = "src", tgt: str = "tgt",
               temperature: float = 1.0, greedy: bool = False, seed: int | None = None,
               top_k: int | None = None, to_input=None) -> list[int]:
    """An encoder-decoder's output for the source ``src_ids``: the decoder (input node
    ``tgt``) reads ``start_id``, then each class it produced (``to_input`` maps a class to the
    id it reads), until ``end_id`` (kept) or ``length`` classes. Each step runs the whole
    model on the growing target prefix: the decoder starts from the encoder's final state and
    attends to all of it, so there is no state of its own to carry over."""
    _check_options(length, temperature, top_k, None)
    next_logits = _decoder(model, src_ids, start_id, src, tgt, to_input)
    rng = np.random.default_rng(seed)
    out: list[int] = []
    with _eval(model):
        for _ in range(length):
            c = _pick(next_logits([out])[0], temperature, greedy, rng, top_k)
            out.append(c)
            if c == end_id:
                break
    return out


@torch.no_grad()
def decode_beam(model: SequenceModel, src_ids, length: int, width: int, *, start_id: int,
                end_id: int | None = None, src: str = "src", tgt: str = "tgt",
                to_input=None) -> tuple[list[int], float]:
    """Beam search of ``width`` over an encoder-decoder's outputs for ``src_ids`` (see
    :func:`decode_ids`); the best sequence and its total log-probability."""
    _check_options(length, 1.0, None, width)
    next_logits = _decoder(model, src_ids, start_id, src, tgt, to_input)

    def next_logp(tails):
        return torch.log_softmax(next_logits(tails).double(), -1).cpu().numpy()

    with _eval(model):
        ids, score, _ = _beam_search(next_logp, length, width, end_id)
    return ids, score


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
    with _eval(model):
        stepper = _Stepper(model)
        y = stepper.feed(x)
        out = []
        for _ in range(steps):
            out.append(y)
            y = stepper.feed(y.view(1, 1, F_))
    return torch.stack(out).cpu().numpy() if out else np.zeros((0, F_), np.float32)
