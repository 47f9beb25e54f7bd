"""Torch modules of the built-in layer kinds (declared in :mod:`playground.model.kinds`).

Recurrent layers are PyTorch's own ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``
(batch-first), so training runs on the fused kernels (cuDNN, oneDNN). Attention
keeps ``nn.MultiheadAttention``'s parameter layout and computes the same math,
through ``scaled_dot_product_attention`` in ``forward`` and explicitly in
``with_weights``, which a trace calls for the per-head weights. Every module follows
the registry's calling convention (:mod:`playground.model.registry`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SequenceError
from .registry import kind_of
from .spec import NodeSpec


class InputLayer(nn.Module):
    """Token ids ``(B, T)`` to one-hot or embedded vectors, or numeric ``(B, T, F)`` as is."""

    def __init__(self, node: NodeSpec):
        super().__init__()
        p = node.params
        self.encoding = p["encoding"]
        self.vocab_size = p["vocab_size"]
        if self.encoding == "embedding":
            self.embedding = nn.Embedding(p["vocab_size"], p["embed_dim"])

    def forward(self, x: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        if self.encoding == "onehot":
            return F.one_hot(x, self.vocab_size).to(dtype)  # (B, T, V)
        if self.encoding == "embedding":
            return self.embedding(x)  # (B, T, E)
        return x  # (B, T, F)


class RecurrentLayer(nn.Module):
    """``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` with a batch-first sequence in and out."""

    def __init__(self, node: NodeSpec, in_width: int):
        super().__init__()
        p = node.params
        self.kind = node.kind
        cell = kind_of(node.kind).cell
        cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
        kw = {"nonlinearity": p["nonlinearity"]} if cell == "rnn" else {}
        self.rnn = cls(in_width, p["hidden_size"], num_layers=p["num_layers"], bias=p["bias"],
                       dropout=p["dropout"] if p["num_layers"] > 1 else 0.0,
                       bidirectional=p["bidirectional"], batch_first=True, **kw)

    @property
    def nonlinearity(self) -> str:
        return getattr(self.rnn, "nonlinearity", "tanh")

    def forward(self, x: torch.Tensor, state=None):
        out, final = self.rnn(x, state)  # out (B, T, D*H); final (L*D, B, H) or a pair
        return out, final


def sinusoidal_positions(T: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Fixed positions (Vaswani et al.): PE[t, 2i] = sin(t / 10000^(2i/d)), PE[t, 2i+1] = cos."""
    pos = torch.arange(T, device=device, dtype=torch.float64).unsqueeze(1)
    i = torch.arange(0, width, 2, device=device, dtype=torch.float64)
    angle = pos / torch.pow(10000.0, i / width)  # (T, ceil(d/2))
    pe = torch.zeros(T, width, device=device, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : width // 2])
    return pe.to(dtype)


class Positions(nn.Module):
    """Adds sinusoidal or learned positions to a sequence (nothing for ``none``)."""

    def __init__(self, kind: str, width: int, max_len: int, node: str = ""):
        super().__init__()
        self.kind = kind
        self.node = node
        self.max_len = max_len
        if kind == "learned":
            self.table = nn.Parameter(torch.randn(max_len, width) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[1]
        if self.kind == "sinusoidal":
            return x + sinusoidal_positions(T, x.shape[2], x.device, x.dtype)
        if self.kind == "learned":
            if T > self.max_len:
                raise SequenceError(f"node '{self.node}': a sequence of {T} steps is longer than "
                                    f"its learned positions (max_len {self.max_len})")
            return x + self.table[:T]
        return x


def mha_projections(mha: nn.MultiheadAttention):
    """(W_q, b_q, W_k, b_k, W_v, b_v) of an ``nn.MultiheadAttention``, whichever layout it has."""
    E = mha.embed_dim
    if mha._qkv_same_embed_dim:
        W = mha.in_proj_weight
        Wq, Wk, Wv = W[:E], W[E:2 * E], W[2 * E:]
    else:
        Wq, Wk, Wv = mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight
    b = mha.in_proj_bias
    if b is None:
        return Wq, None, Wk, None, Wv, None
    return Wq, b[:E], Wk, b[E:2 * E], Wv, b[2 * E:]


def causal_mask(Tq: int, Tk: int, device=None) -> torch.Tensor:
    """True where query t may *not* look (keys after t)."""
    return torch.ones(Tq, Tk, dtype=torch.bool, device=device).triu(1)


def attention(mha: nn.MultiheadAttention, query: torch.Tensor, memory: torch.Tensor,
              causal: bool, need_weights: bool = False):
    """Multi-head scaled dot-product attention with ``mha``'s parameters.

    ``softmax(Q K^T / sqrt(d_head) + mask) V``, heads concatenated, then ``W_o``.
    Returns ``(out (B, Tq, E), parts)`` where ``parts`` is None or a dict of
    ``q, k, v (B, heads, T, d_head)``, ``scores (B, heads, Tq, Tk)`` (q.k / sqrt(d_head)
    before the softmax; -inf where the causal mask hides a key) and ``weights``.
    """
    B, Tq, E = query.shape
    Tk = memory.shape[1]
    h = mha.num_heads
    d = E // h
    Wq, bq, Wk, bk, Wv, bv = mha_projections(mha)
    q = F.linear(query, Wq, bq).view(B, Tq, h, d).transpose(1, 2)  # (B, h, Tq, d)
    k = F.linear(memory, Wk, bk).view(B, Tk, h, d).transpose(1, 2)  # (B, h, Tk, d)
    v = F.linear(memory, Wv, bv).view(B, Tk, h, d).transpose(1, 2)  # (B, h, Tk, d)
    p_drop = mha.dropout if mha.training else 0.0
    if not need_weights:
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p_drop,
                                           is_causal=causal and Tq == Tk)
        parts = None
    else:
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(d)  # (B, h, Tq, Tk)
        if causal:
            scores = scores.masked_fill(causal_mask(Tq, Tk, query.device), float("-inf"))
        weights = scores.softmax(-1)
        y = F.dropout(weights, p_drop, mha.training) @ v  # (B, h, Tq, d)
        parts = {"q": q, "k": k, "v": v, "scores": scores, "weights": weights}
    y = y.transpose(1, 2).reshape(B, Tq, E)
    return mha.out_proj(y), parts


class SelfAttentionLayer(nn.Module):
    """Multi-head self-attention, optionally causal, with optional positions."""

    def __init__(self, node: NodeSpec, width: int):
        super().__init__()
        p = node.params
        self.causal = p["causal"]
        self.positions = Positions(p["positions"], width, p["max_len"], node.id)
        self.attn = nn.MultiheadAttention(width, p["num_heads"], dropout=p["dropout"],
                                          batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.with_weights(x, need_weights=False)[0]

    def with_weights(self, x: torch.Tensor, need_weights: bool = True):
        x = self.positions(x)
        return attention(self.attn, x, x, self.causal, need_weights)


class CrossAttentionLayer(nn.Module):
    """Queries from ``seq``, keys and values from ``memory`` (encoder-decoder attention)."""

    def __init__(self, node: NodeSpec, width: int, memory_width: int):
        super().__init__()
        p = node.params
        self.attn = nn.MultiheadAttention(width, p["num_heads"], dropout=p["dropout"],
                                          kdim=memory_width, vdim=memory_width, batch_first=True)

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        return attention(self.attn, x, memory, False, need_weights=False)[0]

    def with_weights(self, x: torch.Tensor, memory: torch.Tensor, need_weights: bool = True):
        return attention(self.attn, x, memory, False, need_weights)


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + SelfAttn(LN(x))``, then ``x + W2 act(W1 LN(x))``.

    Submodule names match ``nn.TransformerEncoderLayer(norm_first=True)`` so its
    state dict loads into PyTorch's layer unchanged.
    """

    def __init__(self, node: NodeSpec, width: int):
        super().__init__()
        p = node.params
        self.causal = p["causal"]
        self.positions = Positions(p["positions"], width, p["max_len"], node.id)
        self.self_attn = nn.MultiheadAttention(width, p["num_heads"], dropout=p["dropout"],
                                               batch_first=True)
        self.linear1 = nn.Linear(width, p["ff_dim"])
        self.linear2 = nn.Linear(p["ff_dim"], width)
        self.norm1 = nn.LayerNorm(width)
        self.norm2 = nn.LayerNorm(width)
        self.dropout = nn.Dropout(p["dropout"])
        self.activation = F.relu if p["activation"] == "relu" else F.gelu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.with_weights(x, need_weights=False)[0]

    def with_weights(self, x: torch.Tensor, need_weights: bool = True):
        x = self.positions(x)
        n1 = self.norm1(x)
        a, parts = attention(self.self_attn, n1, n1, self.causal, need_weights)
        x = x + self.dropout(a)
        ff = self.linear2(self.dropout(self.activation(self.linear1(self.norm2(x)))))
        return x + self.dropout(ff), parts
