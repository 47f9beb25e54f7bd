"""Cells called in a Python loop (``nn.LSTMCell``, ``nn.GRUCell``, ``nn.RNNCell``: one call
is one step) and ``nn.MultiheadAttention`` (also inside ``nn.TransformerEncoderLayer``),
computed as the modules compute them and recorded.

A cell's step adds a zero probe to ``h_t`` (and ``c_t``) so that the gradient BPTT delivers
there can be read; interventions name the step by the call's index.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SequenceError
from ..tracing.interventions import apply

CELLS = {nn.LSTMCell: "lstm", nn.GRUCell: "gru", nn.RNNCell: "rnn"}


@dataclass
class CellSteps:
    """Every call of one cell in one forward pass, a step each."""

    node: str
    kind: str
    nonlinearity: str
    x: list = field(default_factory=list)          # (B, I) per step
    h0: torch.Tensor | None = None
    c0: torch.Tensor | None = None
    h: list = field(default_factory=list)
    c: list = field(default_factory=list)
    gates: list = field(default_factory=list)      # {letter: (B, H)} per step
    pre: list = field(default_factory=list)
    probe_h: list = field(default_factory=list)    # zero tensors on h_t, c_t
    probe_c: list = field(default_factory=list)


def cell_kind(module: nn.Module) -> str:
    return CELLS[type(module)] if type(module) in CELLS else next(
        k for c, k in CELLS.items() if isinstance(module, c))


def cell_forward(rec, name: str, module, input, hx=None):
    """One step of the cell, as ``module(input, hx)`` computes it."""
    kind = cell_kind(module)
    steps = rec.cells.get(name)
    if steps is None:
        nl = getattr(module, "nonlinearity", "tanh")
        steps = rec.cells[name] = CellSteps(name, kind, nl)
    t = len(steps.x)
    unbatched = input.dim() == 1
    x = input.unsqueeze(0) if unbatched else input
    B, H = x.shape[0], module.hidden_size
    if hx is None:
        h = x.new_zeros(B, H)
        c = h if kind == "lstm" else None
    else:
        h, c = hx if kind == "lstm" else (hx, None)
        if unbatched:
            h, c = h.unsqueeze(0), None if c is None else c.unsqueeze(0)
    if steps.x and steps.x[0].shape[0] != B:
        raise SequenceError(f"{type(module).__name__} '{name}': the batch size changed from "
                            f"{steps.x[0].shape[0]} to {B} between calls; a cell is traced "
                            "as one sequence of steps")
    if t == 0:
        steps.h0, steps.c0 = h, c
    ivs = [iv for iv in rec.interventions if iv.node == name and iv.covers(t)]
    xp = F.linear(x, module.weight_ih, module.bias_ih)
    hp = F.linear(h, module.weight_hh, module.bias_hh)
    if kind == "lstm":
        pre = dict(zip("ifgo", (xp + hp).chunk(4, -1)))
        vals = {k: (torch.tanh if k == "g" else torch.sigmoid)(v) for k, v in pre.items()}
        vals = {k: apply(ivs, k, v) for k, v in vals.items()}
        c = vals["f"] * c + vals["i"] * vals["g"]
        pc = x.new_zeros(B, H).requires_grad_()
        c = apply(ivs, "c", c) + pc
        h = vals["o"] * torch.tanh(c)
        steps.probe_c.append(pc)
        steps.c.append(c)
    elif kind == "gru":
        x_r, x_z, x_n = xp.chunk(3, -1)
        h_r, h_z, h_n = hp.chunk(3, -1)
        pre = {"r": x_r + h_r, "z": x_z + h_z}
        r = apply(ivs, "r", torch.sigmoid(pre["r"]))
        z = apply(ivs, "z", torch.sigmoid(pre["z"]))
        pre["n"] = x_n + r * h_n
        n = apply(ivs, "n", torch.tanh(pre["n"]))
        vals = {"r": r, "z": z, "n": n}
        h = (1 - z) * n + z * h
    else:
        pre = {"pre": xp + hp}
        h = torch.relu(pre["pre"]) if steps.nonlinearity == "relu" else torch.tanh(pre["pre"])
        vals = {}
    ph = x.new_zeros(B, H).requires_grad_()
    h = apply(ivs, "h", h) + ph
    steps.probe_h.append(ph)
    steps.x.append(x)
    steps.h.append(h)
    steps.gates.append({k: v.detach() for k, v in vals.items()})
    steps.pre.append({k: v.detach() for k, v in pre.items()})
    if unbatched:
        return (h[0], c[0]) if kind == "lstm" else h[0]
    return (h, c) if kind == "lstm" else h


@dataclass
class AttentionCall:
    node: str
    call: int
    x: torch.Tensor          # (B, Tq, E) batch-first
    memory: torch.Tensor     # (B, Tk, E)
    q: torch.Tensor          # (B, heads, Tq, d)
    k: torch.Tensor
    v: torch.Tensor
    weights: torch.Tensor    # (B, heads, Tq, Tk)
    out: torch.Tensor        # the tensor the module returned (its own layout)
    batch_first: bool
    self_attention: bool


def _heads(t: torch.Tensor, n: int) -> torch.Tensor:
    B, T, E = t.shape
    return t.reshape(B, T, n, E // n).transpose(1, 2)   # (B, heads, T, d)


def attention_forward(rec, name: str, module: nn.MultiheadAttention, original, query, key,
                      value, key_padding_mask=None, need_weights=True, attn_mask=None,
                      average_attn_weights=True, is_causal=False):
    """``module(query, key, value, ...)`` with its per-head weights recorded."""
    if module.bias_k is not None or module.add_zero_attn:
        raise SequenceError(f"MultiheadAttention '{name}': add_bias_kv and add_zero_attn are "
                            "not supported")
    if query.dim() != 3:
        raise SequenceError(f"MultiheadAttention '{name}': unbatched (2-D) inputs are not "
                            "supported")
    out, w = original(query, key, value, key_padding_mask=key_padding_mask, need_weights=True,
                      attn_mask=attn_mask, average_attn_weights=False, is_causal=is_causal)
    bf = module.batch_first
    qb, kb, vb = (t if bf else t.transpose(0, 1) for t in (query, key, value))
    E, n = module.embed_dim, module.num_heads
    if module._qkv_same_embed_dim:
        Wq, Wk, Wv = module.in_proj_weight.chunk(3)
    else:
        Wq, Wk, Wv = module.q_proj_weight, module.k_proj_weight, module.v_proj_weight
    bq, bk, bv = (None,) * 3 if module.in_proj_bias is None else module.in_proj_bias.chunk(3)
    with torch.no_grad():
        q = _heads(F.linear(qb, Wq, bq), n)
        k = _heads(F.linear(kb, Wk, bk), n)
        v = _heads(F.linear(vb, Wv, bv), n)
    assert E % n == 0
    rec.attention.append(AttentionCall(
        name, rec.next_call(name), qb.detach(), kb.detach(), q, k, v, w.detach(), out, bf,
        query is key))
    if not need_weights:
        return out, None
    return out, (w.mean(1) if average_attn_weights else w)
