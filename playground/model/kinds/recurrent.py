"""RNN, LSTM and GRU: PyTorch's own ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``, batch first.

Each takes a sequence and, optionally, the final state of another recurrent layer as its
initial state (encoder -> decoder), and gives its output sequence and its final state.
"""

from __future__ import annotations

from ...errors import SHAPE_MISMATCH
from ...schema import Param
from ..registry import ExportCode, LayerKind, Port, get, register

_LIBRARY = (("recurrent", '''
class Recurrent(nn.Module):
    """nn.RNN / nn.LSTM / nn.GRU, batch first: (B, T, I) -> (B, T, D*H), final state."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, state=None):
        return self.rnn(x, state)
'''),)

_PORTS = (Port("seq"),
          Port("state", required=False, takes="state", what="the initial state",
               source="a recurrent layer"))


def _params(extra: tuple[Param, ...] = ()) -> tuple[Param, ...]:
    return (
        Param("hidden_size", int, 32, 1, 8192, label="Hidden size"),
        Param("num_layers", int, 1, 1, 16, label="Layers"),
        *extra,
        Param("bias", bool, True, label="Bias"),
        Param("dropout", float, 0.0, 0.0, 0.95, label="Dropout between layers"),
        Param("bidirectional", bool, False, label="Bidirectional"),
    )


def _width(p, _seq_width):
    return p["hidden_size"] * (2 if p["bidirectional"] else 1)


def _build(node, widths):
    from ..layers import RecurrentLayer

    return RecurrentLayer(node, widths["seq"])


def _state_problem(node, sources) -> list[tuple[str, str, str]]:
    """An initial-state edge must come from a recurrent layer of the same cell family and
    the same size, neither of them bidirectional."""
    src = sources.get("state")
    if src is None:
        return []
    sk = src.kind
    decl = get(sk)
    if decl is None or "state" not in decl.outputs:
        return [(SHAPE_MISMATCH, f"initial state must come from a recurrent layer, not a {sk} "
                 f"('{src.id}')", "state")]
    if (decl.cell == "lstm") != (node.kind == "lstm"):
        return [(SHAPE_MISMATCH, f"an {node.kind.upper()} cannot start from the final state of "
                 f"an {sk.upper()} ('{src.id}'): LSTM state is (h, c)", "state")]
    sp, dp = src.params, node.params
    if sp["bidirectional"] or dp["bidirectional"]:
        return [(SHAPE_MISMATCH, "state edges between bidirectional layers are not supported",
                 "state")]
    if sp["hidden_size"] != dp["hidden_size"]:
        return [(SHAPE_MISMATCH, f"hidden size {dp['hidden_size']} does not match the state of "
                 f"'{src.id}' (hidden size {sp['hidden_size']})", "state")]
    if sp["num_layers"] != dp["num_layers"]:
        return [(SHAPE_MISMATCH, f"{dp['num_layers']} layer(s) do not match the state of "
                 f"'{src.id}' ({sp['num_layers']} layers)", "state")]
    return []


def _check(node, widths, sources):
    return _state_problem(node, sources)


def _count(kind: str):
    G = len(_GATES[kind]) or 1

    def count(p, widths):
        """Per layer and direction: ``G*H*(I + H)`` weights and ``2*G*H`` biases."""
        E = widths.get("seq")
        if E is None:
            return None
        H, D = p["hidden_size"], 2 if p["bidirectional"] else 1
        total = 0
        for layer in range(p["num_layers"]):
            inp = E if layer == 0 else H * D
            total += D * (G * H * (inp + H) + (2 * G * H if p["bias"] else 0))
        return total
    return count


def _window(node, ports):
    if node.params["bidirectional"]:
        return (f"node '{node.id}' is bidirectional: its reverse direction needs the rest of "
                "the sequence")
    if "state" in ports:
        return f"node '{node.id}' starts from another layer's final state"
    return None


def _state_shape(kind: str):
    def shape(p):
        n = p["num_layers"] * (2 if p["bidirectional"] else 1)
        s = f"({n}, B, {p['hidden_size']})"
        return f"h, c {s}" if kind == "lstm" else s
    return shape


def _constructor(kind: str):
    cls = {"rnn": "nn.RNN", "lstm": "nn.LSTM", "gru": "nn.GRU"}[kind]

    def code(p, widths):
        extra = f", nonlinearity={p['nonlinearity']!r}" if kind == "rnn" else ""
        drop = p["dropout"] if p["num_layers"] > 1 else 0.0
        return (f"Recurrent({cls}({widths['seq']}, {p['hidden_size']}, "
                f"num_layers={p['num_layers']}, bias={p['bias']}, dropout={drop!r}, "
                f"bidirectional={p['bidirectional']}, batch_first=True{extra}))")
    return code


def _summary(kind: str):
    def text(p):
        s = f"hidden {p['hidden_size']} x {p['num_layers']} layer(s)"
        if kind == "rnn":
            s += f", {p['nonlinearity']}"
        return s + (", bidir" if p["bidirectional"] else "")
    return text


# Gate letters in the order of the weight blocks PyTorch stacks (W_ih is (G*H, I)).
_GATES = {"rnn": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
_INFO = {
    "rnn": ("RNN", "Elman RNN: h_t = tanh(W_ih x_t + W_hh h_{t-1} + b)", "#3a7ca5"),
    "lstm": ("LSTM", "LSTM: gates i, f, g, o and a cell state c", "#2f6690"),
    "gru": ("GRU", "GRU: reset and update gates", "#16425b"),
}
_EXTRA = {"rnn": (Param("nonlinearity", str, "tanh", choices=("tanh", "relu"),
                        label="Activation"),)}

for _kind, (_label, _doc, _color) in _INFO.items():
    register(LayerKind(
        name=_kind, label=_label, description=_doc, color=_color, cell=_kind,
        gates=_GATES[_kind], params=_params(_EXTRA.get(_kind, ())), inputs=_PORTS,
        outputs=("seq", "state"), trace="recurrent", width=_width, build=_build,
        check=_check, param_count=_count(_kind), summary=_summary(_kind), window=_window,
        state_shape=_state_shape(_kind),
        export=ExportCode(_constructor(_kind), _LIBRARY),
    ))
