"""A user's ``torch.nn.Module`` as a canvas graph, where it is a plain chain of layers.

:func:`from_module` reads a model whose layers are, in registration order, an optional
``nn.Embedding``, one or more ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (batch first) and one
``nn.Linear`` (containers such as ``nn.Sequential`` are walked; leaves without parameters
or buffers, such as a ``Dropout`` or a module that picks the output of a tuple, are passed
over). It builds the graph (:func:`playground.model.spec.chain`), copies the weights into
the built model under shape checks, and then runs both on example inputs: the graph is
returned only when the built model's outputs equal the user's (``1e-5``), since a
``forward`` can do more than chain its children (a residual, a second input). Everything
else is refused with :class:`DoesNotFit`, whose message names the module and the reason.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import PlaygroundError
from ..model.build import SequenceModel, build
from ..model.spec import GraphSpec, chain, node_id_problem

TOLERANCE = 1e-5
_RNN = {nn.RNN: "rnn", nn.LSTM: "lstm", nn.GRU: "gru"}


class DoesNotFit(PlaygroundError):
    """The model is not a plain chain of layers the canvas has; the message says why."""


def _leaves(model: nn.Module, prefix: str = ""):
    """``(qualified name, module)`` of the leaf modules in registration order: a module with
    parameters or buffers of its own is a leaf, whatever it holds (nn.MultiheadAttention)."""
    for name, child in model.named_children():
        full = f"{prefix}{name}"
        if type(child) in _RNN or isinstance(child, (nn.Embedding, nn.Linear)) \
                or not list(child.children()) or not _passive(child):
            yield full, child
        else:
            yield from _leaves(child, full + ".")


def _passive(module: nn.Module) -> bool:
    return not list(module.parameters(recurse=False)) and not list(module.buffers(recurse=False))


def _where(name: str, module: nn.Module) -> str:
    return f"{name}: nn.{type(module).__name__}" if type(module).__module__.startswith(
        "torch.nn") else f"{name}: {type(module).__name__}"


def _layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The chain's modules, checked one by one (DoesNotFit names the first that is not)."""
    found = []
    for name, mod in _leaves(model):
        if isinstance(mod, (nn.Embedding, nn.Linear)) or type(mod) in _RNN:
            found.append((name, mod))
        elif not _passive(mod):
            raise DoesNotFit(f"{_where(name, mod)} is not a layer of a plain chain "
                             "(Embedding -> RNN/LSTM/GRU ... -> Linear)")
    own = [n for n, _ in model.named_parameters(recurse=False)] + \
        [n for n, _ in model.named_buffers(recurse=False)]
    if own:
        raise DoesNotFit(f"{type(model).__name__} has tensors of its own ({', '.join(own[:3])}) "
                         "besides its layers: not a plain chain")
    seen: dict[int, str] = {}
    for name, mod in found:
        for pname, p in mod.named_parameters():
            other = seen.setdefault(id(p), f"{name}.{pname}")
            if other != f"{name}.{pname}":
                raise DoesNotFit(f"{name}.{pname} is the same tensor as {other} (tied "
                                 "weights); the canvas's layers each have their own")
    if not found:
        raise DoesNotFit(f"{type(model).__name__} has no layers the canvas knows "
                         "(Embedding, RNN, LSTM, GRU, Linear)")
    for i, (name, mod) in enumerate(found):
        if isinstance(mod, nn.Embedding) and i != 0:
            raise DoesNotFit(f"{_where(name, mod)} is not at the start of the chain")
        if isinstance(mod, nn.Linear) and i != len(found) - 1:
            raise DoesNotFit(f"{_where(name, mod)} is followed by {found[i + 1][0]}: a Linear "
                             "is only the chain's output head")
    if not isinstance(found[-1][1], nn.Linear):
        raise DoesNotFit(f"{_where(*found[-1])} is last: the chain ends in an nn.Linear head")
    if not any(type(m) in _RNN for _, m in found):
        raise DoesNotFit(f"{type(model).__name__} has no RNN, LSTM or GRU between its input "
                         "and its head")
    return found


def _check_layer(name: str, mod: nn.Module) -> None:
    where = _where(name, mod)
    if isinstance(mod, nn.Embedding):
        if mod.max_norm is not None:
            raise DoesNotFit(f"{where} has max_norm, which the canvas's embedding lacks")
    elif type(mod) in _RNN:
        if not mod.batch_first:
            raise DoesNotFit(f"{where} has batch_first=False; the canvas's layers are batch "
                             "first (B, T, ...)")
        if getattr(mod, "proj_size", 0):
            raise DoesNotFit(f"{where} has proj_size={mod.proj_size}, which the canvas lacks")


def _node_ids(names: list[str], defaults: list[str]) -> list[str]:
    """The user's module names where they are valid, unique node ids, else the defaults."""
    ids: list[str] = []
    for name, default in zip(names, defaults):
        nid = name.replace(".", "_")
        if node_id_problem(nid) or nid in ids:
            nid, i = default, 2
            while nid in ids:
                nid, i = f"{default}{i}", i + 1
        ids.append(nid)
    return ids


def _graph(layers: list[tuple[str, nn.Module]]) -> GraphSpec:
    first = layers[0][1]
    token = isinstance(first, nn.Embedding)
    recurrent = layers[1:-1] if token else layers[:-1]
    defaults = ["x"] + [_RNN[type(m)] for _, m in recurrent] + ["head"]
    names = ([layers[0][0]] if token else ["x"]) + [n for n, _ in recurrent] + [layers[-1][0]]
    ids = _node_ids(names, defaults)
    if token:
        inp = {"encoding": "embedding", "vocab_size": first.num_embeddings,
               "embed_dim": first.embedding_dim}
    else:
        inp = {"encoding": "numeric", "features": first.input_size}
    nodes = [(ids[0], "input", inp)]
    for nid, (_, m) in zip(ids[1:-1], recurrent):
        params = {"hidden_size": m.hidden_size, "num_layers": m.num_layers, "bias": m.bias,
                  "dropout": float(m.dropout), "bidirectional": m.bidirectional}
        if isinstance(m, nn.RNN):
            params["nonlinearity"] = m.nonlinearity
        nodes.append((nid, _RNN[type(m)], params))
    head = layers[-1][1]
    nodes.append((ids[-1], "linear", {"out_features": head.out_features,
                                      "output": "softmax" if token else "identity"}))
    return chain(*nodes)


def _copy_weights(built: SequenceModel, layers, ids: list[str]) -> dict[str, torch.Tensor]:
    token = isinstance(layers[0][1], nn.Embedding)
    pairs = list(zip(ids if token else ids[1:], layers))
    state = {k: v.detach().clone() for k, v in built.state_dict().items()}
    for nid, (name, mod) in pairs:
        if isinstance(mod, nn.Embedding):
            src = {f"layers.{nid}.embedding.weight": mod.weight}
        elif isinstance(mod, nn.Linear):
            bias = mod.bias if mod.bias is not None else torch.zeros(mod.out_features)
            src = {f"layers.{nid}.weight": mod.weight, f"layers.{nid}.bias": bias}
        else:
            src = {f"layers.{nid}.rnn.{k}": v for k, v in mod.named_parameters()}
        for key, value in src.items():
            if key not in state or state[key].shape != value.shape:
                have = None if key not in state else tuple(state[key].shape)
                raise DoesNotFit(f"{name}: weight {key.rsplit('.', 1)[-1]} of shape "
                                 f"{tuple(value.shape)} does not fit the layer built for it "
                                 f"({have})")
            state[key] = value.detach().to("cpu", state[key].dtype).clone()
    built.load_state_dict(state)
    return state


def example_for(graph: GraphSpec, batch: int = 3, steps: int = 9) -> torch.Tensor:
    """Inputs the check runs on: random token ids of the input's vocabulary, or values."""
    p = graph.nodes[0].params
    gen = torch.Generator().manual_seed(0)
    if p["encoding"] == "numeric":
        return torch.randn(batch, steps, p["features"], generator=gen)
    return torch.randint(0, p["vocab_size"], (batch, steps), generator=gen)


def _output(value, who: str) -> torch.Tensor:
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
        value = value[0]
    if not isinstance(value, torch.Tensor):
        raise DoesNotFit(f"{who} returned {type(value).__name__}, not a tensor of outputs")
    return value


def verify(model: nn.Module, built: SequenceModel, inputs) -> float:
    """The largest difference between the user's outputs and the built model's (both in eval
    mode, the user's mode restored); DoesNotFit when they differ by more than the tolerance."""
    x = inputs[0] if isinstance(inputs, (tuple, list)) and len(inputs) == 1 else inputs
    if not isinstance(x, torch.Tensor):
        raise DoesNotFit("the example inputs must be one tensor: a plain chain reads one "
                         "sequence")
    device = next(model.parameters()).device
    x = x.to(device)
    was = model.training
    model.eval()
    built.eval().to(device)
    try:
        with torch.no_grad():
            try:
                want = _output(model(x), type(model).__name__)
            except DoesNotFit:
                raise
            except Exception as e:
                raise DoesNotFit(f"{type(model).__name__} fails on the example inputs of shape "
                                 f"{tuple(x.shape)} ({type(e).__name__}: "
                                 f"{' '.join(str(e).split())[:200]})") from None
            got = built(x)
    finally:
        model.train(was)
    if got.shape != want.shape:
        raise DoesNotFit(f"forward does more than chain its children: it gives outputs of "
                         f"shape {tuple(want.shape)}, the chain {tuple(got.shape)}")
    diff = float((got - want.to(got.dtype)).abs().max()) if got.numel() else 0.0
    scale = float(want.abs().max()) if want.numel() else 0.0
    if not diff <= TOLERANCE * (1.0 + scale):
        raise DoesNotFit(f"forward does more than chain its children: outputs differ by "
                         f"{diff:.3g}")
    return diff


def from_module(model: nn.Module, example_inputs=None) -> tuple[GraphSpec, dict]:
    """``(graph, state dict for build(graph))`` of a plain chain of supported layers, checked
    numerically on ``example_inputs`` (random ones of the right vocabulary or width when not
    given). Raises DoesNotFit with the module and the reason otherwise."""
    if not isinstance(model, nn.Module):
        raise DoesNotFit(f"expected a torch.nn.Module, got {type(model).__name__}")
    layers = _layers(model)
    for name, mod in layers:
        _check_layer(name, mod)
    graph = _graph(layers)
    try:
        built = build(graph, seed=0)
    except PlaygroundError as e:
        raise DoesNotFit(f"the chain does not build: {e}") from None
    state = _copy_weights(built, layers, [n.id for n in graph.nodes])
    inputs = example_for(graph) if example_inputs is None else example_inputs
    verify(model, built, inputs)
    return graph, state
