"""Model description: a graph of layer nodes, as plain, versioned JSON data.

A node is ``(id, kind, params, pos)``; an edge ``(src, dst, port)`` feeds the
output of ``src`` into the input port ``port`` of ``dst``. Ports:

* ``seq``    -- the sequence a layer reads, ``(B, T, width)``;
* ``state``  -- the initial state of a recurrent layer, taken from another
  recurrent layer's final state (encoder -> decoder);
* ``memory`` -- the keys/values sequence of a cross-attention layer.

``PARAMS`` describes every kind's parameters (type, default, range), and is the
single source for validation, file parsing and the property editor.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from torch import nn

GRAPH_VERSION = 1

RECURRENT_KINDS = ("rnn", "lstm", "gru")
ATTENTION_KINDS = ("self_attention", "cross_attention", "transformer")
KINDS = ("input", *RECURRENT_KINDS, *ATTENTION_KINDS, "linear")

KIND_LABELS = {
    "input": "Sequence input",
    "rnn": "RNN",
    "lstm": "LSTM",
    "gru": "GRU",
    "self_attention": "Self-attention",
    "cross_attention": "Cross-attention",
    "transformer": "Transformer block",
    "linear": "Linear head",
}

# Input ports each kind accepts, with whether the port is required.
INPUT_PORTS: dict[str, dict[str, bool]] = {
    "input": {},
    "rnn": {"seq": True, "state": False},
    "lstm": {"seq": True, "state": False},
    "gru": {"seq": True, "state": False},
    "self_attention": {"seq": True},
    "cross_attention": {"seq": True, "memory": True},
    "transformer": {"seq": True},
    "linear": {"seq": True},
}
PORTS = ("seq", "state", "memory")


@dataclass(frozen=True)
class Param:
    """Schema of one node parameter: its type, default and allowed values."""

    name: str
    type: type
    default: Any
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    label: str = ""
    only_if: tuple[str, tuple] | None = None  # (other param, values) for which it applies

    def check(self, value: Any) -> str | None:
        """Return what is wrong with ``value``, or None when it is fine."""
        if self.type is bool:
            if not isinstance(value, bool):
                return f"must be true or false, got {value!r}"
            return None
        if self.type is int:
            if isinstance(value, bool) or not isinstance(value, int):
                return f"must be an integer, got {value!r}"
        elif self.type is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"must be a number, got {value!r}"
            if value != value:  # NaN
                return "must be a number, got NaN"
        elif self.type is str:
            if not isinstance(value, str):
                return f"must be a string, got {value!r}"
        if self.choices is not None and value not in self.choices:
            return f"must be one of {', '.join(map(str, self.choices))}, got {value!r}"
        if self.min is not None and value < self.min:
            if self.type is int and self.min == 1:
                return f"must be a positive integer, got {value!r}"
            return f"must be >= {self.min}, got {value!r}"
        if self.max is not None and value > self.max:
            return f"must be <= {self.max}, got {value!r}"
        return None


def _recurrent(extra: tuple[Param, ...] = ()) -> tuple[Param, ...]:
    return (
        Param("hidden_size", int, 32, 1, 8192, label="Hidden size"),
        Param("num_layers", int, 1, 1, 16, label="Layers"),
        *extra,
        Param("bias", bool, True, label="Bias"),
        Param("dropout", float, 0.0, 0.0, 0.95, label="Dropout between layers"),
        Param("bidirectional", bool, False, label="Bidirectional"),
    )


_POSITIONS = Param("positions", str, "none", choices=("none", "sinusoidal", "learned"),
                   label="Positions")
_MAX_LEN = Param("max_len", int, 512, 1, 100_000, label="Max length (learned positions)")

PARAMS: dict[str, tuple[Param, ...]] = {
    "input": (
        Param("encoding", str, "onehot", choices=("onehot", "embedding", "numeric"),
              label="Encoding"),
        Param("vocab_size", int, 8, 1, 1_000_000, label="Vocabulary size",
              only_if=("encoding", ("onehot", "embedding"))),
        Param("embed_dim", int, 16, 1, 8192, label="Embedding size",
              only_if=("encoding", ("embedding",))),
        Param("features", int, 1, 1, 8192, label="Features per step",
              only_if=("encoding", ("numeric",))),
    ),
    "rnn": _recurrent((Param("nonlinearity", str, "tanh", choices=("tanh", "relu"),
                             label="Activation"),)),
    "lstm": _recurrent(),
    "gru": _recurrent(),
    "self_attention": (
        Param("num_heads", int, 1, 1, 64, label="Heads"),
        Param("causal", bool, True, label="Causal mask"),
        _POSITIONS,
        _MAX_LEN,
        Param("dropout", float, 0.0, 0.0, 0.95, label="Dropout"),
    ),
    "cross_attention": (
        Param("num_heads", int, 1, 1, 64, label="Heads"),
        Param("dropout", float, 0.0, 0.0, 0.95, label="Dropout"),
    ),
    "transformer": (
        Param("num_heads", int, 2, 1, 64, label="Heads"),
        Param("ff_dim", int, 64, 1, 65536, label="Feed-forward size"),
        Param("causal", bool, True, label="Causal mask"),
        _POSITIONS,
        _MAX_LEN,
        Param("activation", str, "relu", choices=("relu", "gelu"), label="Activation"),
        Param("dropout", float, 0.0, 0.0, 0.95, label="Dropout"),
    ),
    "linear": (
        Param("out_features", int, 8, 1, 1_000_000, label="Outputs"),
        Param("output", str, "softmax", choices=("softmax", "identity"), label="Output"),
    ),
}


_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
# Names nn.ModuleDict already uses: a layer cannot be registered under them.
_RESERVED = frozenset(n for n in dir(nn.ModuleDict()) if not n.startswith("__")) | {"type"}


def node_id_problem(node_id: object) -> str | None:
    """What is wrong with a node id, or None. Ids are letters, digits, ``_`` and ``-``
    (starting with a letter or ``_``), and not a name PyTorch's modules reserve."""
    if not isinstance(node_id, str) or not _ID.match(node_id):
        return (f"{node_id!r} is not a valid id: use letters, digits, _ and -, starting with a "
                "letter (at most 64)")
    if node_id in _RESERVED:
        return f"{node_id!r} is reserved by PyTorch; choose another id"
    return None


def default_params(kind: str) -> dict[str, Any]:
    """Every parameter of ``kind`` at its default value."""
    return {p.name: p.default for p in PARAMS[kind]}


def param_applies(p: Param, params: dict[str, Any]) -> bool:
    if p.only_if is None:
        return True
    other, values = p.only_if
    return params.get(other) in values


@dataclass
class NodeSpec:
    """One layer on the canvas. ``params`` holds every parameter of its kind."""

    id: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    pos: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        if self.kind in PARAMS:
            full = default_params(self.kind)
            full.update(self.params)
            self.params = full

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "params": dict(self.params),
                "pos": [float(self.pos[0]), float(self.pos[1])]}


@dataclass(frozen=True)
class EdgeSpec:
    """``src``'s output feeds ``dst``'s input port ``port``."""

    src: str
    dst: str
    port: str = "seq"

    def to_dict(self) -> dict[str, str]:
        return {"src": self.src, "dst": self.dst, "port": self.port}


@dataclass
class GraphSpec:
    """A model: nodes and edges. ``to_dict``/``from_dict`` round-trip exactly."""

    nodes: list[NodeSpec] = field(default_factory=list)
    edges: list[EdgeSpec] = field(default_factory=list)
    version: int = GRAPH_VERSION

    def node(self, node_id: str) -> NodeSpec:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def inputs_of(self, node_id: str) -> dict[str, str]:
        """Port -> source node id, for the edges into ``node_id`` (last edge wins)."""
        return {e.port: e.src for e in self.edges if e.dst == node_id}

    def copy(self) -> GraphSpec:
        return copy.deepcopy(self)

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "nodes": [n.to_dict() for n in self.nodes],
                "edges": [e.to_dict() for e in self.edges]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GraphSpec:
        """Build from plain data. Structural problems raise FileFormatError with a field path;
        semantic problems (sizes, cycles) are left to :func:`playground.validate.validate`."""
        from .serialize import graph_from_dict

        return graph_from_dict(data)


def chain(*nodes: tuple[str, str, dict[str, Any]]) -> GraphSpec:
    """A linear stack ``nodes[0] -> nodes[1] -> ...`` (each ``(id, kind, params)``),
    laid out left to right. Handy for presets, tests and the command line."""
    specs = [NodeSpec(nid, kind, dict(params), (i * 220.0, 0.0))
             for i, (nid, kind, params) in enumerate(nodes)]
    edges = [EdgeSpec(a.id, b.id, "seq") for a, b in zip(specs, specs[1:])]
    return GraphSpec(specs, edges)
