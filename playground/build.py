"""Spec to ``torch.nn.Module``.

:func:`build` validates a :class:`~playground.spec.GraphSpec` (raising
:class:`~playground.errors.GraphError` with every problem) and returns a
:class:`SequenceModel` whose layers are kept in a ``ModuleDict`` keyed by node id.
"""

from __future__ import annotations

import torch
from torch import nn

from .errors import SequenceError
from .layers import (
    CrossAttentionLayer,
    InputLayer,
    RecurrentLayer,
    SelfAttentionLayer,
    TransformerBlock,
)
from .spec import RECURRENT_KINDS, GraphSpec
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
        for nid in self.info.order:
            node = self.graph.node(nid)
            src = self.graph.inputs_of(nid)
            in_w = width.get(src["seq"]) if "seq" in src else None
            if node.kind == "input":
                layer = InputLayer(node)
            elif node.kind in RECURRENT_KINDS:
                layer = RecurrentLayer(node, in_w)
            elif node.kind == "self_attention":
                layer = SelfAttentionLayer(node, in_w)
            elif node.kind == "cross_attention":
                layer = CrossAttentionLayer(node, in_w, width[src["memory"]])
            elif node.kind == "transformer":
                layer = TransformerBlock(node, in_w)
            else:
                layer = nn.Linear(in_w, node.params["out_features"])
            self.layers[nid] = layer

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
        inputs = self.as_inputs(inputs)
        seq: dict[str, torch.Tensor] = {}
        final: dict[str, object] = {}
        for nid in self.info.order:
            node = self.graph.node(nid)
            layer = self.layers[nid]
            src = self.graph.inputs_of(nid)
            if node.kind == "input":
                seq[nid] = self.embed(nid, inputs[nid])
            elif node.kind in RECURRENT_KINDS:
                seq[nid], final[nid] = layer(seq[src["seq"]], final.get(src.get("state")))
            elif node.kind == "cross_attention":
                seq[nid], _ = layer(seq[src["seq"]], seq[src["memory"]])
            elif node.kind in ("self_attention", "transformer"):
                seq[nid], _ = layer(seq[src["seq"]])
            else:
                seq[nid] = layer(seq[src["seq"]])
        return seq[self.info.output]


def build(graph: GraphSpec, seed: int | None = None, init: str = "default",
          init_scale: float = 1.0) -> SequenceModel:
    """Validate ``graph`` and build its model; ``seed`` makes the initial weights repeatable."""
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = SequenceModel(graph)
            initialize(model, init, init_scale)
        return model
    model = SequenceModel(graph)
    initialize(model, init, init_scale)
    return model


@torch.no_grad()
def initialize(model: SequenceModel, scheme: str = "default", scale: float = 1.0) -> None:
    """Re-initialise recurrent weights.

    * ``default``: PyTorch's U(-1/sqrt(H), 1/sqrt(H)).
    * ``orthogonal``: each gate block of W_hh orthogonal (times ``scale``), W_ih Xavier, biases 0.
    * ``identity``: W_hh = ``scale`` * I per gate block, biases 0 (the IRNN of Le et al. 2015).
    * ``normal``: every recurrent weight ~ N(0, scale^2 / fan_in), biases 0.
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
                if scheme == "normal":
                    p.normal_(0.0, scale / p.shape[1] ** 0.5)
                else:
                    nn.init.xavier_uniform_(p)
