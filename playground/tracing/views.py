"""What the panels draw: the data contract between the core and the window.

:func:`make_view` picks the records a window shows (the selected recurrent layer and
attention node, the original run during a what-if) and computes, once per trace, every
quantity a panel draws that is not a plain array of the trace: gradient norms in float64,
the per-step loss with no value where a step carries no loss, the top classes of each
step, the symbols on the attention axes. The panels only draw these (``ui/`` does no
model math).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .records import AttentionTrace, RecurrentTrace, Trace, norm64, record_key

TOP_K = 8


@dataclass
class TraceView:
    """Everything a panel draws, for sequence 0 of a trace (arrays are ``(T, ...)``)."""

    trace: Trace
    base: Trace | None = None                # the original while a what-if is shown
    rec: RecurrentTrace | None = None        # the selected recurrent layer
    base_rec: RecurrentTrace | None = None
    attn: AttentionTrace | None = None       # the selected attention node
    tokens: list[str] = field(default_factory=list)       # the input, one label per step
    out_symbols: list[str] | None = None                  # the head's class names
    in_symbols: list[str] | None = None                   # the input vocabulary
    ngram: np.ndarray | None = None                       # (T, C) baseline probabilities
    ngram_order: int | None = None
    interventions: tuple = ()
    dh_norm: np.ndarray | None = None        # (T,) float64 ||dL/dh_t|| of ``rec``
    base_dh_norm: np.ndarray | None = None
    dc_norm: np.ndarray | None = None        # (T,) float64 ||dL/dc_t|| (LSTM)
    step_loss: np.ndarray | None = None      # (T,) loss per step; NaN where no loss is taken
    base_step_loss: np.ndarray | None = None
    top: TopClasses | None = None            # top[t]: class ids by probability, highest first
    query_labels: list[str] = field(default_factory=list)  # attention rows
    key_labels: list[str] = field(default_factory=list)    # attention columns

    @property
    def steps(self) -> int:
        return self.trace.steps

    @property
    def has_recurrent(self) -> bool:
        return any(isinstance(r, RecurrentTrace) for r in self.trace.layers)

    @property
    def has_attention(self) -> bool:
        return any(isinstance(r, AttentionTrace) for r in self.trace.layers)


def _pick(tr: Trace | None, sel) -> RecurrentTrace | None:
    if tr is None or sel is None:
        return None
    try:
        rec = tr.layer(*sel)
    except KeyError:
        return None
    return rec if isinstance(rec, RecurrentTrace) else None


def layer_choices(tr: Trace | None) -> list[tuple]:
    """Every recurrent record of ``tr`` as ``(*record_key(rec), label)``; a node called more
    than once has its calls told apart in the label ("lstm layer 0 (call 2)", counted from
    1)."""
    if tr is None:
        return []
    recs = [r for r in tr.layers if isinstance(r, RecurrentTrace)]
    several = {r.node for r in recs if r.call}
    return [(*record_key(r), f"{r.label} (call {r.call + 1})" if r.node in several
             else r.label) for r in recs]


def step_loss(tr: Trace | None) -> np.ndarray | None:
    """(T,) the loss of sequence 0 at each step, NaN where the step carries no loss (a step
    without a target is not a perfect prediction)."""
    if tr is None or tr.step_loss is None:
        return None
    loss = np.asarray(tr.step_loss[0], dtype=np.float64).copy()
    if tr.mask is not None:
        loss[np.asarray(tr.mask[0]) <= 0] = np.nan
    return loss


def _labels(n: int, tokens: list[str]) -> list[str]:
    return list(tokens[:n]) if len(tokens) >= n else [str(i) for i in range(n)]


def make_view(tr: Trace, base: Trace | None = None, rec_sel=None, attn_sel=None, *,
              tokens=(), out_symbols=None, in_symbols=None, ngram=None, ngram_order=None,
              interventions=()) -> TraceView:
    """The :class:`TraceView` of ``tr`` for the selected layer (``(node, layer, direction)``,
    or ``(node, layer, direction, call)`` for a later call of a module called more than once:
    :func:`~playground.tracing.records.record_key`) and attention node (or ``(node, call)``
    for a later call of an attention module called more than once)."""
    rec, base_rec = _pick(tr, rec_sel), _pick(base, rec_sel)
    node, call = attn_sel if isinstance(attn_sel, tuple) else (attn_sel, 0)
    attn = next((r for r in tr.layers if isinstance(r, AttentionTrace) and r.node == node
                 and r.call == call), None)
    tokens = list(tokens)
    v = TraceView(trace=tr, base=base, rec=rec, base_rec=base_rec, attn=attn, tokens=tokens,
                  out_symbols=None if out_symbols is None else list(out_symbols),
                  in_symbols=None if in_symbols is None else list(in_symbols),
                  ngram=ngram, ngram_order=ngram_order, interventions=tuple(interventions))
    if rec is not None and rec.dh is not None:
        v.dh_norm = _norm_of(rec, "dh")
        v.dc_norm = None if rec.dc is None else _norm_of(rec, "dc")
    if base_rec is not None and base_rec.dh is not None:
        v.base_dh_norm = _norm_of(base_rec, "dh")
    v.step_loss, v.base_step_loss = step_loss(tr), step_loss(base)
    if tr.probs is not None:
        v.top = TopClasses(tr.probs[0], TOP_K)
    if attn is not None:
        Tq, Tk = attn.weights.shape[2:]
        # the steps named by the symbols of the input they come from (an encoder-decoder's
        # keys are the source, its queries the decoder's input); numbered when unknown
        v.query_labels = _input_labels(tr, attn.query_input, Tq, in_symbols) or \
            _labels(Tq, tokens)
        same = attn.memory.shape == attn.x.shape and np.array_equal(attn.memory, attn.x)
        v.key_labels = _input_labels(tr, attn.key_input, Tk, in_symbols) or \
            (_labels(Tk, tokens) if same else [str(s) for s in range(Tk)])
    return v


class TopClasses:
    """``top[t]``: the (at most ``k``) classes of step ``t`` by probability, highest first
    (ties in class order), sorted when a step first asks. A step shows one row; sorting
    every row at each new trace cost ~0.3 ms at T=1000 and 27 classes, and grows with the
    vocabulary (T x C values)."""

    def __init__(self, probs: np.ndarray, k: int):
        self.probs, self.k = probs, k
        self._rows: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.probs)

    def __getitem__(self, t: int) -> np.ndarray:
        t = range(len(self.probs))[t]              # (an index error past either end)
        row = self._rows.get(t)
        if row is None:
            row = self._rows[t] = np.argsort(-self.probs[t], kind="stable")[:self.k]
        return row


def _norm_of(rec, name: str) -> np.ndarray:
    """||rec.<name>[0, t]|| over t, worked out once per record: a what-if's base and a view
    of another layer ask for norms a view of the same trace already made. (A record's
    arrays are never changed once traced.)"""
    cache = rec.__dict__.setdefault("_norms", {})
    if name not in cache:
        cache[name] = norm64(getattr(rec, name)[0])
        cache[name].setflags(write=False)
    return cache[name]


def _input_labels(tr: Trace, node: str, n: int, symbols) -> list[str]:
    """The symbols of input ``node``'s first sequence ([] unless it is n token ids)."""
    ids = tr.inputs.get(node) if node else None
    if ids is None or not symbols:
        return []
    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.dtype.kind not in "iu" or ids.shape[1] != n or \
            not ((ids[0] >= 0) & (ids[0] < len(symbols))).all():
        return []
    return [str(symbols[i]) for i in ids[0]]
