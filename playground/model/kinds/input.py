"""The sequence input: token ids to one-hot or embedded vectors, or numbers as they are."""

from __future__ import annotations

from ...schema import Param
from ..registry import ExportCode, LayerKind, register

ENCODINGS = ("onehot", "embedding", "numeric")

_ONEHOT = '''
class OneHot(nn.Module):
    """Token ids (B, T) -> one-hot vectors (B, T, V)."""

    def __init__(self, vocab_size):
        super().__init__()
        self.vocab_size = vocab_size

    def forward(self, ids):
        return F.one_hot(ids, self.vocab_size).float()
'''
_EMBED = '''
class Embed(nn.Module):
    """Token ids (B, T) -> learned vectors (B, T, E)."""

    def __init__(self, vocab_size, dim):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim)

    def forward(self, ids):
        return self.embedding(ids)
'''
_NUMERIC = '''
class Numeric(nn.Module):
    """Values (B, T, F), used as they are."""

    def forward(self, x):
        return x.float()
'''


_HELPERS = {"onehot": _ONEHOT, "embedding": _EMBED, "numeric": _NUMERIC}


def _width(p, _seq_width):
    return {"onehot": p["vocab_size"], "embedding": p["embed_dim"],
            "numeric": p["features"]}.get(p["encoding"])


def _build(node, _widths):
    from ..layers import InputLayer

    return InputLayer(node)


def _constructor(p, _widths):
    return {"onehot": f"OneHot({p['vocab_size']})",
            "embedding": f"Embed({p['vocab_size']}, {p['embed_dim']})",
            "numeric": "Numeric()"}[p["encoding"]]


def _summary(p):
    enc = p["encoding"]
    if enc == "numeric":
        return f"numeric, {p['features']} features"
    extra = f", dim {p['embed_dim']}" if enc == "embedding" else ""
    return f"{enc}, vocab {p['vocab_size']}{extra}"


INPUT = register(LayerKind(
    name="input", label="Sequence input", role="input", trace="none", id_prefix="x",
    description="Token ids (one-hot or embedding) or numbers per step",
    color="#5c6b7a", inputs=(),
    params=(
        Param("encoding", str, "onehot", choices=ENCODINGS, label="Encoding"),
        Param("vocab_size", int, 8, 1, 1_000_000, label="Vocabulary size",
              only_if=("encoding", ("onehot", "embedding"))),
        Param("embed_dim", int, 16, 1, 8192, label="Embedding size",
              only_if=("encoding", ("embedding",))),
        Param("features", int, 1, 1, 8192, label="Features per step",
              only_if=("encoding", ("numeric",))),
    ),
    width=_width, build=_build, summary=_summary,
    param_count=lambda p, _w: p["vocab_size"] * p["embed_dim"] if p["encoding"] == "embedding"
    else 0,
    window=lambda node, ports: None,
    # only the helper of the node's own encoding is written out
    export=ExportCode(_constructor, lambda p: ((p["encoding"], _HELPERS[p["encoding"]]),)),
))
