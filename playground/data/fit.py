"""Does a model fit a dataset? Input-node and head parameters that fit, and every mismatch
as a sentence (vocabulary size vs one-hot size, head outputs vs classes, softmax vs values).
"""

from __future__ import annotations

from ..model import registry
from ..model.validate import analyze
from .dataset import Dataset


def suggest_input(dataset: Dataset, role: str = "x") -> dict:
    """Input-node parameters that fit ``dataset``: one-hot (or an embedding for more than 64
    symbols) with the vocabulary's size, or numeric with its features per step."""
    if dataset.vocab is not None:
        V = len(dataset.vocab)
        if V > 64:
            return {"encoding": "embedding", "vocab_size": V, "embed_dim": 32}
        return {"encoding": "onehot", "vocab_size": V}
    return {"encoding": "numeric", "features": int(dataset.input_features or 1)}


def suggest_head(dataset: Dataset) -> dict:
    """Linear-head parameters that fit ``dataset``."""
    return {"out_features": int(dataset.output_size), "output": dataset.head_output}


def check_model(dataset: Dataset, graph) -> list[str]:
    """Every way ``graph`` (a GraphSpec or built model) does not fit ``dataset``, as sentences;
    empty when it fits. Graph problems of its own are left to :func:`playground.model.validate`."""
    graph = getattr(graph, "graph", graph)
    info = analyze(graph)
    found: list[str] = []
    inputs = [n for n in graph.nodes if _role(n.kind) == "input"]
    if len(dataset.roles) == 1:
        if len(inputs) > 1:
            found.append(f"the model has {len(inputs)} input nodes "
                         f"({', '.join(n.id for n in inputs)}) but {dataset.name} gives one "
                         "sequence")
        pairs = [(dataset.roles[0], n) for n in inputs[:1]]
    else:
        by_id = {n.id: n for n in inputs}
        pairs = []
        for role in dataset.roles:
            if role in by_id:
                pairs.append((role, by_id[role]))
            else:
                found.append(f"{dataset.name} is encoder-decoder: it needs an input node named "
                             f"'{role}'")
    for role, node in pairs:
        p = node.params
        want = suggest_input(dataset, role)
        if dataset.vocab is not None:
            V = len(dataset.vocab)
            if p.get("encoding") == "numeric":
                found.append(f"input node '{node.id}' is numeric but {dataset.name} gives "
                             f"symbols; use one-hot with vocabulary size {V}")
            elif p.get("vocab_size") != V:
                what = "too small" if p.get("vocab_size", 0) < V else "larger than needed"
                found.append(f"input node '{node.id}': vocabulary size {p.get('vocab_size')} is "
                             f"{what}; the data has {V} symbols ({dataset.vocab.preview(8)})")
        else:
            if p.get("encoding") != "numeric":
                found.append(f"input node '{node.id}' takes symbols ({p.get('encoding')}) but "
                             f"{dataset.name} gives {want['features']} number(s) per step; set "
                             "its encoding to numeric")
            elif p.get("features") != want["features"]:
                found.append(f"input node '{node.id}' expects {p.get('features')} feature(s) per "
                             f"step but the data has {want['features']}")
    heads = [n for n in graph.nodes if _role(n.kind) == "head"]
    head = next((n for n in heads if n.id == info.output), heads[0] if heads else None)
    if head is None:
        found.append("the model has no linear output head")
        return found
    hp = head.params
    if hp.get("out_features") != dataset.output_size:
        what = (f"{dataset.output_size} classes" if dataset.output == "classes"
                else f"{dataset.output_size} value(s) per step")
        found.append(f"head '{head.id}' has {hp.get('out_features')} outputs but "
                     f"{dataset.name} needs {what}")
    if hp.get("output") != dataset.head_output:
        if dataset.output == "classes":
            found.append(f"head '{head.id}' outputs values (identity) but {dataset.name} "
                         "predicts classes: use softmax (cross-entropy loss)")
        else:
            found.append(f"head '{head.id}' outputs class probabilities (softmax) but "
                         f"{dataset.name} predicts values: use identity (squared-error loss)")
    return found


def _role(kind: str) -> str | None:
    decl = registry.get(kind)
    return None if decl is None else decl.role
