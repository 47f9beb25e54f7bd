"""Open a user's model, or this project's own export, as an editable experiment.

* :func:`experiment_from_module` -- a plain chain of layers (:func:`playground.probe.tocanvas.
  from_module`, checked numerically) with its weights, and a data section that fits it, so
  the window can open, train and edit it;
* :func:`from_export` -- ``NAME.py`` + ``NAME.pt`` written by
  :func:`playground.files.export.export_pytorch`. The ``.pt`` holds only the state dict; the
  graph is read back from the script's ``Model`` (its ``nn.ModuleDict`` of constructors and
  its ``forward``) with :mod:`ast`, never by running it.

Anything that does not fit raises :class:`~playground.probe.tocanvas.DoesNotFit`, one line
saying why.
"""

from __future__ import annotations

import ast
from pathlib import Path

import torch

from ..data.fit import check_model
from ..errors import FileFormatError, PlaygroundError
from ..model import registry
from ..model.build import build
from ..model.spec import EdgeSpec, GraphSpec, NodeSpec, graph_from_dict
from ..probe.tocanvas import DoesNotFit, from_module
from ..train.config import TrainConfig
from .experiment import Experiment

MAX_VOCAB = 5000      # a typed text over more symbols than this is not a sensible data set


def data_for(graph: GraphSpec) -> tuple[dict, str]:
    """A data section the chain's model trains on, and a sentence about it: next-token
    prediction on a typed word text over the input's vocabulary (``t0 t1 ...``, counting
    on), or next-value prediction on a typed sine for one value in and out."""
    inp = next(n for n in graph.nodes if registry.kind_of(n.kind).role == "input").params
    head = next(n for n in graph.nodes if registry.kind_of(n.kind).role == "head").params
    if inp["encoding"] != "numeric":
        V = inp["vocab_size"]
        if head["out_features"] != V:
            raise DoesNotFit(f"no data section fits: the head gives {head['out_features']} "
                             f"outputs for a vocabulary of {V} (next-token prediction needs "
                             "them equal)")
        if V > MAX_VOCAB:
            raise DoesNotFit(f"no data section fits: a vocabulary of {V:,} symbols is more than "
                             f"a typed text covers ({MAX_VOCAB:,})")
        width = len(str(V - 1))
        words = [f"t{i:0{width}d}" for i in range(V)]
        text = " ".join(words[i % V] for i in range(max(3 * V, 240)))
        return ({"source": "text", "text": text, "level": "word", "window": 16},
                f"Typed placeholder text over the model's {V} token ids (t0 is id 0), counting "
                "up: put your own data in the experiment file's data section.")
    if inp["features"] != 1 or head["out_features"] != 1:
        raise DoesNotFit(f"no data section fits: {inp['features']} values in and "
                         f"{head['out_features']} out (a typed series gives one in, one out)")
    import math

    values = ", ".join(f"{math.sin(0.3 * t):.4f}" for t in range(200))
    return ({"source": "numbers", "text": values, "window": 16},
            "A typed sine as placeholder values: replace it with your own data.")


def _experiment(graph: GraphSpec, state: dict, name: str, origin: str) -> Experiment:
    data, about = data_for(graph)
    exp = Experiment(name=name, graph=graph, data=data, train=TrainConfig(), seed=0,
                     description=f"{origin} {about}")
    problems = check_model(exp.make_dataset(), graph)
    if problems:
        raise DoesNotFit(f"the data section does not fit: {problems[0]}")
    exp.weights = {k: v.detach().cpu().clone() for k, v in state.items()}
    return exp


def experiment_from_module(model, example_inputs=None, name: str | None = None) -> Experiment:
    """An experiment of ``model`` (a plain chain, see :func:`from_module`) with its weights."""
    graph, state = from_module(model, example_inputs)
    title = name or type(model).__name__
    return _experiment(graph, state, title, f"Read from the PyTorch model {title}: "
                       f"{' -> '.join(n.kind for n in graph.nodes)}, outputs checked equal.")


# -- this project's export ---------------------------------------------------------------------
def _literal(node, where: str):
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise DoesNotFit(f"{where}: {ast.unparse(node)[:60]} is not a plain value") from None


def _call(node) -> tuple[str, list, dict] | None:
    if not isinstance(node, ast.Call):
        return None
    return ast.unparse(node.func), node.args, {k.arg: k.value for k in node.keywords}


_INPUTS = {"Embed": "embedding", "OneHot": "onehot", "Numeric": "numeric"}
_RNNS = {"nn.RNN": "rnn", "nn.LSTM": "lstm", "nn.GRU": "gru"}


def _node(nid: str, ctor) -> tuple[str, dict, int | None]:
    """``(kind, params, input width or None)`` of one constructor of the exported ModuleDict."""
    where = f"node {nid!r}"
    fn, args, kw = _call(ctor) or ("", [], {})
    vals = [] if fn == "Recurrent" else [_literal(a, where) for a in args]
    if fn in _INPUTS and len(vals) == {"Embed": 2, "OneHot": 1, "Numeric": 0}[fn]:
        enc = _INPUTS[fn]
        p = {"encoding": enc}
        if enc != "numeric":
            p["vocab_size"] = vals[0]
        if enc == "embedding":
            p["embed_dim"] = vals[1]
        return "input", p, None
    if fn == "nn.Linear" and len(vals) == 2:
        return "linear", {"out_features": vals[1]}, vals[0]
    inner = _call(args[0]) if fn == "Recurrent" and len(args) == 1 else None
    if inner is not None and inner[0] in _RNNS and len(inner[1]) == 2:
        width, hidden = (_literal(a, where) for a in inner[1])
        p = {"hidden_size": hidden, **{k: _literal(v, where) for k, v in inner[2].items()}}
        p.pop("batch_first", None)
        return _RNNS[inner[0]], p, width
    raise DoesNotFit(f"{where}: {ast.unparse(ctor)[:70]} is not read back from an export "
                     "(inputs, RNN/LSTM/GRU and linear heads are)")


def _model_class(tree: ast.Module):
    consts = {}
    for st in tree.body:
        if isinstance(st, ast.Assign) and len(st.targets) == 1 \
                and isinstance(st.targets[0], ast.Name):
            consts[st.targets[0].id] = st.value
        if isinstance(st, ast.ClassDef) and st.name == "Model":
            methods = {f.name: f for f in st.body if isinstance(f, ast.FunctionDef)}
            if "__init__" in methods and "forward" in methods:
                return consts, methods
    raise DoesNotFit("no class Model with __init__ and forward: not a script this project "
                     "exported")


def graph_of_script(source: str) -> GraphSpec:
    """The graph an exported script's ``Model`` describes (read with :mod:`ast`)."""
    try:
        return _graph_of_script(source)
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as e:
        raise DoesNotFit("the script is not one this project exported (its Model does not "
                         f"read back: {type(e).__name__})") from None


def _graph_of_script(source: str) -> GraphSpec:
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise DoesNotFit(f"the script does not parse (line {e.lineno})") from None
    consts, methods = _model_class(tree)
    head_output = _literal(consts["HEAD_OUTPUT"], "HEAD_OUTPUT") if "HEAD_OUTPUT" in consts \
        else "softmax"
    table = next((c for c in ast.walk(methods["__init__"]) if isinstance(c, ast.Call)
                  and ast.unparse(c.func) == "nn.ModuleDict" and c.args
                  and isinstance(c.args[0], ast.Dict)), None)
    if table is None:
        raise DoesNotFit("Model.__init__ has no nn.ModuleDict of layers")
    order, kinds, in_width = [], {}, {}
    for key, ctor in zip(table.args[0].keys, table.args[0].values):
        nid = _literal(key, "a layer's name")
        kind, params, width = _node(nid, ctor)
        if kind == "linear":
            params["output"] = head_output
        order.append(nid)
        kinds[nid] = (kind, params)
        in_width[nid] = width
    seq_of, state_of, edges = {}, {}, []
    for st in methods["forward"].body:
        call = st.value if isinstance(st, ast.Assign) else None
        sub = call.func if isinstance(call, ast.Call) else None
        if not (isinstance(sub, ast.Subscript) and ast.unparse(sub.value) == "L"):
            continue
        nid = _literal(sub.slice, "forward")
        names = st.targets[0].elts if isinstance(st.targets[0], ast.Tuple) else [st.targets[0]]
        seq_of[names[0].id] = nid
        if len(names) > 1:
            state_of[names[1].id] = nid
        if kinds.get(nid, ("input",))[0] == "input":
            continue
        ports = registry.kind_of(kinds[nid][0]).inputs
        for port, arg in zip(ports, call.args):
            if isinstance(arg, ast.Name):
                src = (state_of if port.takes == "state" else seq_of).get(arg.id)
                if src is None:
                    raise DoesNotFit(f"forward: {arg.id!r} feeds {nid!r} before it is set")
                edges.append(EdgeSpec(src, nid, port.name))
    for nid, (kind, params) in kinds.items():   # a numeric input's width: its reader's
        if kind == "input" and params["encoding"] == "numeric":
            params["features"] = next((in_width[e.dst] for e in edges if e.src == nid
                                       and in_width.get(e.dst)), 1)
    nodes = [NodeSpec(nid, kinds[nid][0], kinds[nid][1], (i * 220.0, 0.0))
             for i, nid in enumerate(order)]
    try:   # every field checked as a file's would be
        return graph_from_dict(GraphSpec(nodes, edges).to_dict())
    except FileFormatError as e:
        raise DoesNotFit(f"the graph read back is not valid: {e}") from None


def from_export(path) -> tuple[GraphSpec, dict]:
    """``(graph, state dict)`` of ``NAME.pt`` (or ``NAME.py``) written by export_pytorch: the
    graph from the script beside the weights, the weights loaded into it by their keys."""
    path = Path(path)
    script, weights = path.with_suffix(".py"), path.with_suffix(".pt")
    for f in (script, weights):
        if not f.is_file():
            raise DoesNotFit(f"no file {f}: an export is NAME.py and NAME.pt side by side "
                             "(the .pt holds only the weights, the graph is in the .py)")
    if script.stat().st_size > 2_000_000:
        raise DoesNotFit(f"{script} is too large to be an exported script")
    graph = graph_of_script(script.read_text(encoding="utf-8", errors="replace"))
    try:
        model = build(graph, seed=0)
    except PlaygroundError as e:
        raise DoesNotFit(f"{script}: the graph read back does not build: {e}") from None
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as e:
        raise DoesNotFit(f"{weights} does not fit the graph of {script.name} "
                         f"({' '.join(str(e).split())[:200]})") from None
    return graph, {k: v.detach().clone() for k, v in model.state_dict().items()}


def experiment_from_export(path, name: str | None = None) -> Experiment:
    """An experiment of an export (:func:`from_export`) with its weights."""
    graph, state = from_export(path)
    title = name or Path(path).stem
    return _experiment(graph, state, title, f"Read back from the export {Path(path).name}.")
