"""Spec to ``torch.nn.Module``.

:func:`build` validates a :class:`~playground.model.spec.GraphSpec` (raising
:class:`~playground.errors.GraphError` with every problem) and returns a
:class:`SequenceModel` whose layers are kept in a ``ModuleDict`` keyed by node id. Each
layer is built by its kind's declaration (:mod:`playground.model.registry`), and
:meth:`SequenceModel.run` is the one walk over the graph: the forward pass, windows of
steps with carried state (truncated BPTT, generation) and traces all go through it.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import SequenceError
from . import registry
from .layers import RecurrentLayer
from .spec import GraphSpec
from .validate import GraphInfo, validate

INIT_SCHEMES = ("default", "orthogonal", "identity", "normal")


class SequenceModel(nn.Module):
    """The model a graph describes. ``forward(inputs) -> (B, T, C)`` head outputs (logits
    for a softmax head, values for an identity head)."""

    def __init__(self, graph: GraphSpec, info: GraphInfo | None = None):
        super().__init__()
        self.graph = graph.copy()
        self.info = info or validate(self.graph)
        self.layers = nn.ModuleDict()
        width = self.info.width
        # (node id, kind, [(port's source, takes "state"?) in port order]): the walk's plan
        self.plan: list[tuple[str, registry.LayerKind, list[tuple[str | None, bool]]]] = []
        for nid in self.info.order:
            node = self.graph.node(nid)
            decl = registry.kind_of(node.kind)
            src = self.graph.inputs_of(nid)
            widths = {port: width[s] for port, s in src.items() if s in width}
            self.layers[nid] = decl.build(node, widths)
            self.plan.append((nid, decl, [(src.get(p.name), p.takes == "state")
                                          for p in decl.inputs]))

    # -- facts about the model -------------------------------------------------------------
    @property
    def output_id(self) -> str:
        return self.info.output

    @property
    def head_output(self) -> str:
        """``softmax`` (classes) or ``identity`` (values)."""
        return self.graph.node(self.info.output).params["output"]

    @property
    def input_ids(self) -> list[str]:
        return list(self.info.inputs)

    @property
    def dtype(self) -> torch.dtype:
        return self._first_parameter().dtype

    @property
    def device(self) -> torch.device:
        return self._first_parameter().device

    def _first_parameter(self) -> torch.Tensor:
        # Module.to() converts parameters in place, so the object found once stays valid;
        # walking the module tree on every call showed up in trace profiles.
        p = self.__dict__.get("_first_param")
        if p is None:
            p = next(self.parameters())
            self.__dict__["_first_param"] = p
        return p

    def trainable(self) -> list[tuple[str, torch.nn.Parameter]]:
        """``(name, parameter)`` pairs that require grad (cached; refreshed on change)."""
        cached = self.__dict__.get("_trainable")
        if cached is None or any(not p.requires_grad for _, p in cached):
            cached = [(n, p) for n, p in self.named_parameters() if p.requires_grad]
            self.__dict__["_trainable"] = cached
        return cached

    @property
    def has_dropout(self) -> bool:
        """Whether train and eval mode differ (some layer drops out). The model keeps its own
        copy of the graph, so this is worked out once."""
        known = self.__dict__.get("_has_dropout")
        if known is None:
            known = any(n.params.get("dropout", 0.0) > 0 for n in self.graph.nodes)
            self.__dict__["_has_dropout"] = known
        return known

    @property
    def state_sources(self) -> frozenset[str]:
        """Recurrent nodes whose final state starts another layer (encoder -> decoder)."""
        known = self.__dict__.get("_state_sources")
        if known is None:
            known = frozenset(s for nid in self.info.order
                              if (s := self.graph.inputs_of(nid).get("state")) is not None)
            self.__dict__["_state_sources"] = known
        return known

    def parameter_count(self, node_id: str | None = None) -> int:
        mod = self if node_id is None else self.layers[node_id]
        return sum(p.numel() for p in mod.parameters())

    # -- running -----------------------------------------------------------------------------
    def as_inputs(self, inputs) -> dict[str, torch.Tensor]:
        """Accept a tensor for a single-input model, or a dict keyed by input node id."""
        if not isinstance(inputs, dict):  # a tensor, array or nested list
            if len(self.input_ids) != 1:
                raise SequenceError(f"this model has {len(self.input_ids)} inputs "
                                    f"({', '.join(self.input_ids)}); pass a dict")
            return {self.input_ids[0]: inputs}
        missing = [i for i in self.input_ids if i not in inputs]
        if missing:
            raise SequenceError(f"no sequence given for input node(s) {', '.join(missing)}")
        return dict(inputs)

    def embed(self, nid: str, x: torch.Tensor) -> torch.Tensor:
        layer = self.layers[nid]
        if layer.encoding == "numeric":
            return x.to(self.dtype)
        return layer(x, self.dtype)

    def forward(self, inputs) -> torch.Tensor:
        return self.run(self.as_inputs(inputs))[0]

    def run(self, inputs: dict[str, torch.Tensor], carry: dict | None = None, visit=None):
        """The one walk over the graph, in topological order; returns ``(head outputs,
        final states by node)``.

        Each layer gets its input ports' values (a source's sequence, or its final state for a
        port that takes one). With ``carry`` (node -> state from the previous window, for
        graphs :func:`window_problem` allows) a layer with a state output starts from its own
        carried state. ``visit(nid, kind, layer, args)``, when given, is called in place of
        ``layer(*args)`` and returns what the layer would (a trace records as it goes)."""
        seq: dict[str, torch.Tensor] = {}
        final: dict[str, object] = {}
        for nid, decl, ports in self.plan:
            if decl.role == "input":
                seq[nid] = self.embed(nid, inputs[nid])
                continue
            args = [None if s is None else (final.get(s) if takes_state else seq[s])
                    for s, takes_state in ports]
            has_state = "state" in decl.outputs
            if carry is not None and has_state:
                args = [args[0], carry.get(nid), *args[2:]]
            out = visit(nid, decl, self.layers[nid], args) if visit is not None \
                else self.layers[nid](*args)
            if has_state:
                seq[nid], final[nid] = out
            else:
                seq[nid] = out
        return seq[self.info.output], final

    def window_problem(self) -> str | None:
        """Why this model cannot run a window of steps at a time with carried state, or None.

        That needs one input and layers that each see only the steps so far (each kind
        says: recurrent layers when not bidirectional and not started from another layer's
        state; attention sees the whole sequence at once)."""
        if len(self.input_ids) != 1:
            return f"it has {len(self.input_ids)} inputs ({', '.join(self.input_ids)})"
        for nid, decl, _ in self.plan:
            node = self.graph.node(nid)
            if decl.window is None:
                return f"node '{nid}' ({node.kind}) looks at the whole sequence at once"
            why = decl.window(node, self.graph.inputs_of(nid))
            if why:
                return why
        return None


def build(graph: GraphSpec, seed: int | None = None, init: str = "default",
          init_scale: float = 1.0, forget_bias: float | None = None) -> SequenceModel:
    """Validate ``graph`` and build its model; ``seed`` makes the initial weights repeatable.
    ``forget_bias`` (LSTMs): the forget gate's total bias, see :func:`set_forget_bias`.
    A model too large for this machine's free memory raises GraphError before anything is
    allocated (:mod:`.budget`)."""
    from .budget import check_memory

    check_memory(graph, validate(graph))
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = SequenceModel(graph)
            initialize(model, init, init_scale)
    else:
        model = SequenceModel(graph)
        initialize(model, init, init_scale)
    if forget_bias is not None:
        set_forget_bias(model, forget_bias)
    return model


def set_forget_bias(model: SequenceModel, value: float) -> None:
    """Every LSTM layer's forget gate starts with bias ``value`` (``b_ih`` holds it,
    ``b_hh`` 0 there): the cell keeps what it holds until it learns to forget, which
    lets a gradient travel far back from the start (Gers et al. 2000; Jozefowicz et al.
    2015 found 1.0 helps on most tasks). Layers without biases are left as they are."""
    for layer in model.layers.values():
        rnn = getattr(layer, "rnn", None)
        if not isinstance(rnn, torch.nn.LSTM) or not rnn.bias:
            continue
        H = rnn.hidden_size
        with torch.no_grad():
            for name, p in rnn.named_parameters():
                if name.startswith("bias_ih"):
                    p[H:2 * H] = value
                elif name.startswith("bias_hh"):
                    p[H:2 * H] = 0.0


@torch.no_grad()
def initialize(model: SequenceModel, scheme: str = "default", scale: float = 1.0) -> None:
    """Re-initialise recurrent weights.

    * ``default``: PyTorch's U(-1/sqrt(H), 1/sqrt(H)).
    * ``orthogonal``: each gate block of W_hh orthogonal (times ``scale``), W_ih Xavier, biases 0.
    * ``identity``: W_hh = ``scale`` * I per gate block, biases 0 (the IRNN of Le et al. 2015).
    * ``normal``: each gate block of W_hh ~ N(0, scale^2 / H), W_ih Xavier, biases 0 (so
      ``scale = 0.1 * sqrt(H)`` gives W_hh ~ N(0, 0.1^2) whatever H is).

    The schemes other than ``default`` differ only in W_hh, so comparing two of them compares
    recurrent initialisations with everything else equal.
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; expected one of {INIT_SCHEMES}")
    if scheme == "default":
        return
    for layer in model.layers.values():
        if not isinstance(layer, RecurrentLayer):
            continue
        H = layer.rnn.hidden_size
        for name, p in layer.rnn.named_parameters():
            if name.startswith("bias"):
                p.zero_()
            elif name.startswith("weight_hh"):
                for block in p.split(H, 0):  # one (H, H) block per gate
                    if scheme == "orthogonal":
                        nn.init.orthogonal_(block, gain=scale)
                    elif scheme == "identity":
                        block.copy_(torch.eye(H, dtype=p.dtype) * scale)
                    else:
                        block.normal_(0.0, scale / H ** 0.5)
            elif name.startswith("weight_ih"):
                nn.init.xavier_uniform_(p)
