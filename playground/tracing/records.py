"""The records a trace is made of: plain numpy arrays, batch-first, no torch tensors.

A :class:`Trace` holds one record per traced layer (and layer and direction of a
recurrent node): :class:`RecurrentTrace` for RNN / LSTM / GRU, :class:`AttentionTrace`
for attention, :class:`OutputTrace` for a kind that records only its output (the
registry's ``trace="output"``), plus the model's outputs, losses and gradients.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

_serials = itertools.count(1)


def norm64(a: np.ndarray | None) -> np.ndarray | None:
    """Euclidean norm over the last axis, computed in float64: the squares summed by
    ``einsum`` in float64 as it reads the values, with no float64 copy of the array and no
    array of squares (``np.linalg.norm`` of a float64 copy made both: ~0.4 ms for a 1000 x
    256 gradient, ~3 ms where the fresh memory is faulted in, against ~0.2 ms)."""
    if a is None:
        return None
    a = np.asarray(a)
    return np.sqrt(np.einsum("...i,...i->...", a, a, dtype=np.float64))


@dataclass
class RecurrentTrace:
    """One layer (and direction) of an RNN / LSTM / GRU node over the whole sequence.

    LSTM: ``i, f, o = sigmoid(.)``, ``g = tanh(.)``, ``c_t = f*c_{t-1} + i*g``,
    ``h_t = o*tanh(c_t)``. GRU: ``r, z = sigmoid(.)``, ``n = tanh(W_in x + b_in +
    r*(W_hn h_{t-1} + b_hn))``, ``h_t = (1-z)*n + z*h_{t-1}``. RNN:
    ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, its pre-activation in ``pre["pre"]``.
    """

    node: str
    kind: str
    layer: int
    direction: int
    nonlinearity: str
    x: np.ndarray                       # (B, T, I)
    h: np.ndarray                       # (B, T, H)
    h0: np.ndarray                      # (B, H)
    c: np.ndarray | None                # (B, T, H), LSTM only
    c0: np.ndarray | None
    gates: dict[str, np.ndarray]        # letter -> (B, T, H) activation
    pre: dict[str, np.ndarray]          # letter -> (B, T, H) pre-activation
    dh: np.ndarray | None               # (B, T, H) total dL/dh_t; None without a loss
    dc: np.ndarray | None               # (B, T, H) total dL/dc_t (LSTM)
    dh_dropped: np.ndarray | None       # (B, T, H) gradient truncated BPTT did not pass on
    cut: np.ndarray                     # (T,) True where no gradient flows to the step before
    weight_grads: dict[str, np.ndarray]  # weight_ih, weight_hh, bias_ih, bias_hh
    call: int = 0                       # which call of the module (playground.inspect)
    # which record this is (unique in the process), and the record whose forward arrays
    # (x, h, c, gates, pre) this one repeats, bit for bit, over its first `prefix_steps`
    # steps (a trace that reused a base: a view redraws only what follows)
    serial: int = field(default_factory=lambda: next(_serials), compare=False, init=False)
    prefix_of: int | None = field(default=None, compare=False)
    prefix_steps: int = field(default=0, compare=False)

    @property
    def hidden_size(self) -> int:
        return self.h.shape[-1]

    @property
    def dh_norm(self) -> np.ndarray | None:
        """(B, T) ||dL/dh_t|| in float64: the curve that shows vanishing or exploding
        gradients (squared in float32, values near 1e-23 would underflow to 0)."""
        return norm64(self.dh)

    @property
    def dc_norm(self) -> np.ndarray | None:
        """(B, T) ||dL/dc_t|| in float64 (LSTM): the additive cell path's gradient."""
        return norm64(self.dc)

    @property
    def label(self) -> str:
        d = " (reverse)" if self.direction else ""
        return f"{self.node} layer {self.layer}{d}"


@dataclass
class AttentionTrace:
    """A self-attention, cross-attention or transformer node.

    ``weights[b, head, t, s]`` = softmax_s(q_t . k_s / sqrt(d_head)) (masked when causal).
    """

    node: str
    kind: str
    x: np.ndarray             # (B, Tq, E) queries' input
    memory: np.ndarray        # (B, Tk, Ek) keys/values' input (x itself for self-attention)
    q: np.ndarray             # (B, heads, Tq, d_head)
    k: np.ndarray             # (B, heads, Tk, d_head)
    v: np.ndarray             # (B, heads, Tk, d_head)
    weights: np.ndarray       # (B, heads, Tq, Tk)
    out: np.ndarray           # (B, Tq, E)
    dout: np.ndarray | None   # (B, Tq, E) dL/d out_t

    layer: int = 0
    direction: int = 0
    scores: np.ndarray | None = None  # (B, heads, Tq, Tk) q.k/sqrt(d_head), -inf if masked
    query_input: str = ""     # the input node whose steps the queries are ("" unknown)
    key_input: str = ""       # the input node whose steps the keys are
    call: int = 0             # which call of the module (playground.inspect)

    @property
    def num_heads(self) -> int:
        return self.weights.shape[1]

    @property
    def dout_norm(self) -> np.ndarray | None:
        return norm64(self.dout)

    @property
    def label(self) -> str:
        return self.node


@dataclass
class OutputTrace:
    """A node whose kind records only its output sequence and the gradient reaching it."""

    node: str
    kind: str
    out: np.ndarray             # (B, T, E)
    dout: np.ndarray | None     # (B, T, E) dL/d out_t

    layer: int = 0
    direction: int = 0

    dout_norm = AttentionTrace.dout_norm
    label = AttentionTrace.label


def record_key(rec) -> tuple:
    """What selects ``rec`` again (``trace.layer(*record_key(rec))``): ``(node, layer,
    direction)``, with the call appended when it is not the module's first call."""
    call = getattr(rec, "call", 0)
    return (rec.node, rec.layer, rec.direction) + ((call,) if call else ())


@dataclass
class Trace:
    """A model's run on one batch: per layer records plus outputs, losses and gradients."""

    layers: list
    inputs: dict[str, np.ndarray]
    outputs: np.ndarray               # (B, T, C) logits or values
    probs: np.ndarray | None          # (B, T, C) softmax heads
    targets: np.ndarray | None
    mask: np.ndarray | None           # (B, T) steps that carry loss
    step_loss: np.ndarray | None      # (B, T)
    loss: float | None
    param_grads: dict[str, np.ndarray]
    head_output: str
    tbptt: int | None = None
    interventions: tuple = field(default_factory=tuple)
    model_key: tuple | None = None    # which weights made it (a later trace may reuse it)
    time_steps: int | None = None     # steps when the output has no time axis (inspect)

    @property
    def steps(self) -> int:
        """The number of time steps (the output's second axis, batch first)."""
        return self.outputs.shape[1] if self.time_steps is None else self.time_steps

    def layer(self, node: str, layer: int = 0, direction: int = 0, call: int = 0):
        """The record of ``node``'s ``layer`` and ``direction`` in its ``call``-th call (0:
        the first; a module called more than once in one forward has a record per call)."""
        for rec in self.layers:
            if rec.node == node and rec.layer == layer and rec.direction == direction \
                    and getattr(rec, "call", 0) == call:
                return rec
        at = f" call {call}" if call else ""
        raise KeyError(f"no trace for node '{node}' layer {layer} direction {direction}{at}")

    def has_layer(self, node: str, layer: int = 0, direction: int = 0, call: int = 0) -> bool:
        return any(r.node == node and r.layer == layer and r.direction == direction
                   and getattr(r, "call", 0) == call for r in self.layers)

    def layers_of(self, node: str) -> list:
        return [r for r in self.layers if r.node == node]
