"""Self-attention, cross-attention and the pre-norm transformer block.

Attention keeps ``nn.MultiheadAttention``'s parameter layout. A trace records every head's
queries, keys, values and weights (the modules' ``with_weights``).
"""

from __future__ import annotations

from ...errors import HEADS_NOT_DIVIDING
from ...schema import Param
from ..registry import ExportCode, LayerKind, Port, register

_POSITIONS_SRC = '''
def sinusoidal(T, width, device, dtype):
    """PE[t, 2i] = sin(t / 10000^(2i/d)), PE[t, 2i+1] = cos(t / 10000^(2i/d))."""
    pos = torch.arange(T, device=device, dtype=torch.float64).unsqueeze(1)
    i = torch.arange(0, width, 2, device=device, dtype=torch.float64)
    angle = pos / torch.pow(10000.0, i / width)
    pe = torch.zeros(T, width, device=device, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : width // 2])
    return pe.to(dtype)


class Positions(nn.Module):
    """Adds sinusoidal or learned positions ("none": nothing)."""

    def __init__(self, kind, width, max_len):
        super().__init__()
        self.kind = kind
        if kind == "learned":
            self.table = nn.Parameter(torch.zeros(max_len, width))

    def forward(self, x):
        if self.kind == "sinusoidal":
            return x + sinusoidal(x.shape[1], x.shape[2], x.device, x.dtype)
        if self.kind == "learned":
            return x + self.table[: x.shape[1]]
        return x


def causal_mask(T, device):
    """True where query t may not look (keys after t)."""
    return torch.ones(T, T, dtype=torch.bool, device=device).triu(1)
'''
_SELF_SRC = '''
class SelfAttention(nn.Module):
    """softmax(Q K^T / sqrt(d) + mask) V over heads, then W_o."""

    def __init__(self, width, heads, causal, positions, max_len, dropout):
        super().__init__()
        self.causal = causal
        self.positions = Positions(positions, width, max_len)
        self.attn = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)

    def forward(self, x):
        x = self.positions(x)
        mask = causal_mask(x.shape[1], x.device) if self.causal else None
        return self.attn(x, x, x, attn_mask=mask, need_weights=False)[0]
'''
_CROSS_SRC = '''
class CrossAttention(nn.Module):
    """Queries from the sequence (B, T, E), keys and values from memory (B, S, M)."""

    def __init__(self, width, memory_width, heads, dropout):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads, dropout=dropout, kdim=memory_width,
                                          vdim=memory_width, batch_first=True)

    def forward(self, x, memory):
        return self.attn(x, memory, memory, need_weights=False)[0]
'''
_BLOCK_SRC = '''
class TransformerBlock(nn.Module):
    """Pre-norm: x + SelfAttn(LN(x)), then x + W2 act(W1 LN(x))."""

    def __init__(self, width, heads, ff_dim, causal, positions, max_len, activation, dropout):
        super().__init__()
        self.causal = causal
        self.positions = Positions(positions, width, max_len)
        self.self_attn = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(width, ff_dim)
        self.linear2 = nn.Linear(ff_dim, width)
        self.norm1 = nn.LayerNorm(width)
        self.norm2 = nn.LayerNorm(width)
        self.dropout = nn.Dropout(dropout)
        self.activation = F.relu if activation == "relu" else F.gelu

    def forward(self, x):
        x = self.positions(x)
        n1 = self.norm1(x)
        mask = causal_mask(x.shape[1], x.device) if self.causal else None
        a = self.self_attn(n1, n1, n1, attn_mask=mask, need_weights=False)[0]
        x = x + self.dropout(a)
        ff = self.linear2(self.dropout(self.activation(self.linear1(self.norm2(x)))))
        return x + self.dropout(ff)
'''
_POSITIONS = Param("positions", str, "none", choices=("none", "sinusoidal", "learned"),
                   label="Positions")
_MAX_LEN = Param("max_len", int, 512, 1, 100_000, label="Max length (learned positions)")
_DROPOUT = Param("dropout", float, 0.0, 0.0, 0.95, label="Dropout")


def _same_width(_p, seq_width):
    return seq_width


def _heads_divide(node, widths, sources):
    heads, width = node.params["num_heads"], widths.get("seq")
    if width is not None and width % heads:
        return [(HEADS_NOT_DIVIDING, f"{heads} heads do not divide the width {width} of its "
                 f"input '{sources['seq'].id}'", "seq")]
    return []


def _positions(p, E):
    return p["max_len"] * E if p.get("positions") == "learned" else 0


def _self_count(p, widths):
    """``4E^2 + 4E`` (Q, K, V and output projections), plus a learned position table."""
    E = widths.get("seq")
    return None if E is None else 4 * E * E + 4 * E + _positions(p, E)


def _cross_count(p, widths):
    """``2E^2 + 2E*M + 4E``: queries and output from E, keys and values from M."""
    E, M = widths.get("seq"), widths.get("memory")
    return None if E is None or M is None else 2 * E * E + 2 * E * M + 4 * E


def _block_count(p, widths):
    """Attention ``4E^2 + 4E``, feed-forward ``2*E*F + F + E``, two LayerNorms ``4E``."""
    E = widths.get("seq")
    if E is None:
        return None
    F = p["ff_dim"]
    return 4 * E * E + 4 * E + 2 * E * F + F + E + 4 * E + _positions(p, E)


def _build(cls_name: str):
    def build(node, widths):
        from .. import layers

        cls = getattr(layers, cls_name)
        if cls_name == "CrossAttentionLayer":
            return cls(node, widths["seq"], widths["memory"])
        return cls(node, widths["seq"])
    return build


def _heads(p):
    return f"{p['num_heads']} head(s)" + (", causal" if p.get("causal") else "")


register(LayerKind(
    name="self_attention", label="Self-attention", id_prefix="attn", color="#7b4b94",
    description="Multi-head self-attention (optionally causal)", trace="attention",
    params=(Param("num_heads", int, 1, 1, 64, label="Heads"),
            Param("causal", bool, True, label="Causal mask"), _POSITIONS, _MAX_LEN, _DROPOUT),
    width=_same_width, check=_heads_divide, param_count=_self_count, summary=_heads,
    build=_build("SelfAttentionLayer"),
    export=ExportCode(
        lambda p, w: (f"SelfAttention({w['seq']}, {p['num_heads']}, causal={p['causal']}, "
                      f"positions={p['positions']!r}, max_len={p['max_len']}, "
                      f"dropout={p['dropout']!r})"),
        (("positions", _POSITIONS_SRC), ("self_attention", _SELF_SRC))),
))

register(LayerKind(
    name="cross_attention", label="Cross-attention", id_prefix="xattn", color="#5e3c99",
    description="Queries from seq, keys/values from memory", trace="attention",
    inputs=(Port("seq"), Port("memory", what="the keys and values",
                              source="a sequence")),
    params=(Param("num_heads", int, 1, 1, 64, label="Heads"), _DROPOUT),
    width=_same_width, check=_heads_divide, param_count=_cross_count, summary=_heads,
    build=_build("CrossAttentionLayer"),
    export=ExportCode(
        lambda p, w: (f"CrossAttention({w['seq']}, {w['memory']}, {p['num_heads']}, "
                      f"dropout={p['dropout']!r})"),
        (("cross_attention", _CROSS_SRC),)),
))

register(LayerKind(
    name="transformer", label="Transformer block", id_prefix="block", color="#8c4c7e",
    description="Pre-norm transformer block: attention + feed-forward", trace="attention",
    params=(Param("num_heads", int, 2, 1, 64, label="Heads"),
            Param("ff_dim", int, 64, 1, 65536, label="Feed-forward size"),
            Param("causal", bool, True, label="Causal mask"), _POSITIONS, _MAX_LEN,
            Param("activation", str, "relu", choices=("relu", "gelu"), label="Activation"),
            _DROPOUT),
    width=_same_width, check=_heads_divide, param_count=_block_count,
    summary=lambda p: _heads(p) + f", ff {p['ff_dim']}",
    build=_build("TransformerBlock"),
    export=ExportCode(
        lambda p, w: (f"TransformerBlock({w['seq']}, {p['num_heads']}, {p['ff_dim']}, "
                      f"causal={p['causal']}, positions={p['positions']!r}, "
                      f"max_len={p['max_len']}, activation={p['activation']!r}, "
                      f"dropout={p['dropout']!r})"),
        (("positions", _POSITIONS_SRC), ("transformer", _BLOCK_SRC))),
))
