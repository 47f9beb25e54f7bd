"""Validation reports every problem with the node, its kind and what is wrong."""

import json

import pytest
import torch

from playground import errors as E
from playground.errors import FileFormatError, GraphError, SequenceError
from playground.model.build import build
from playground.model.spec import EdgeSpec, GraphSpec, NodeSpec, chain
from playground.model.validate import analyze, validate


def hello(**rnn):
    return chain(("x", "input", {"encoding": "onehot", "vocab_size": 4}),
                 ("rnn", "rnn", {"hidden_size": 8, **rnn}),
                 ("head", "linear", {"out_features": 4}))


def codes(info):
    return sorted(p.code for p in info.problems)


def test_valid_graph_infers_widths():
    info = validate(hello())
    assert info.order == ["x", "rnn", "head"]
    assert info.width == {"x": 4, "rnn": 8, "head": 4}
    assert info.output == "head" and info.inputs == ["x"]


def test_bidirectional_doubles_width():
    g = hello(bidirectional=True)
    assert analyze(g).width["rnn"] == 16
    assert build(g)(torch.zeros(2, 3, dtype=torch.long)).shape == (2, 3, 4)


def test_all_problems_reported_at_once():
    g = GraphSpec(
        [NodeSpec("x", "input", {"encoding": "onehot", "vocab_size": 4}),
         NodeSpec("a", "lstm", {"hidden_size": -3}),
         NodeSpec("att", "self_attention", {"num_heads": 3}),
         NodeSpec("weird", "conv"),
         NodeSpec("head", "linear", {"out_features": 4})],
        [EdgeSpec("x", "att"), EdgeSpec("att", "head"), EdgeSpec("x", "x")])
    info = analyze(g)
    by = {(p.node, p.code) for p in info.problems}
    assert ("a", E.BAD_PARAMETER) in by
    assert ("att", E.HEADS_NOT_DIVIDING) in by
    assert ("weird", E.UNKNOWN_KIND) in by
    assert ("x", E.EXTRA_INPUT) in by  # an input node takes no input
    typed = {type(p) for p in info.problems}
    assert {E.BadParameter, E.HeadsNotDividing, E.UnknownKind, E.ExtraInput} <= typed
    assert ("a", E.MISSING_INPUT) in by
    msg = next(str(p) for p in info.problems if p.code == E.BAD_PARAMETER)
    assert msg == "node 'a' (lstm): hidden_size: must be a positive integer, got -3"
    heads = next(str(p) for p in info.problems if p.code == E.HEADS_NOT_DIVIDING)
    assert "3 heads do not divide the width 4" in heads
    with pytest.raises(GraphError) as exc:
        validate(g)
    assert len(exc.value.problems) == len(info.problems) >= 5


def test_cycle_is_named():
    g = GraphSpec(
        [NodeSpec("x", "input", {"encoding": "onehot", "vocab_size": 4}),
         NodeSpec("a", "cross_attention", {"num_heads": 1}),
         NodeSpec("b", "self_attention", {"num_heads": 1}),
         NodeSpec("head", "linear", {"out_features": 4})],
        [EdgeSpec("x", "a"), EdgeSpec("b", "a", "memory"), EdgeSpec("a", "b"),
         EdgeSpec("b", "head")])
    info = analyze(g)
    assert {p.node for p in info.problems if p.code == E.CYCLE} == {"a", "b"}


def test_state_edge_checks_sizes_and_kinds():
    nodes = [NodeSpec("src", "input", {"encoding": "onehot", "vocab_size": 4}),
             NodeSpec("tgt", "input", {"encoding": "onehot", "vocab_size": 4}),
             NodeSpec("enc", "lstm", {"hidden_size": 8}),
             NodeSpec("dec", "lstm", {"hidden_size": 6}),
             NodeSpec("head", "linear", {"out_features": 4})]
    edges = [EdgeSpec("src", "enc"), EdgeSpec("tgt", "dec"), EdgeSpec("enc", "dec", "state"),
             EdgeSpec("dec", "head")]
    info = analyze(GraphSpec(nodes, edges))
    [p] = info.problems
    assert p.code == E.SHAPE_MISMATCH and p.node == "dec" and p.port == "state"
    assert "hidden size 6 does not match the state of 'enc' (hidden size 8)" in p.message
    nodes[3] = NodeSpec("dec", "gru", {"hidden_size": 8})
    [p] = analyze(GraphSpec(nodes, edges)).problems
    assert "LSTM state is (h, c)" in p.message
    nodes[3] = NodeSpec("dec", "lstm", {"hidden_size": 8})
    model = build(GraphSpec(nodes, edges), seed=0)
    out = model({"src": torch.zeros(1, 5, dtype=torch.long),
                 "tgt": torch.ones(1, 3, dtype=torch.long)})
    assert out.shape == (1, 3, 4)


def test_port_taken_twice_and_missing_head():
    g = GraphSpec([NodeSpec("x", "input"), NodeSpec("y", "input"), NodeSpec("r", "gru")],
                  [EdgeSpec("x", "r"), EdgeSpec("y", "r")])
    assert E.EXTRA_INPUT in codes(analyze(g))
    assert E.NO_OUTPUT in codes(analyze(g))


def test_file_parsing_names_field_path():
    data = hello().to_dict()
    data["nodes"][1]["params"]["hidden_size"] = -3
    with pytest.raises(FileFormatError) as exc:
        GraphSpec.from_dict(data)
    assert str(exc.value) == "graph.nodes[1].params.hidden_size: must be a positive integer, got -3"
    data = hello().to_dict()
    data["edges"][0]["dst"] = "nope"
    with pytest.raises(FileFormatError, match=r"graph.edges\[0\].dst: no node with id 'nope'"):
        GraphSpec.from_dict(data)
    data = hello().to_dict()
    data["version"] = 99
    with pytest.raises(FileFormatError, match="newer than this program"):
        GraphSpec.from_dict(data)


def test_graph_round_trips_through_json():
    g = hello(num_layers=2, dropout=0.1)
    g.nodes[1].pos = (12.5, -3.0)
    text = json.dumps(g.to_dict(), sort_keys=True)
    again = GraphSpec.from_dict(json.loads(text))
    assert json.dumps(again.to_dict(), sort_keys=True) == text


@pytest.mark.parametrize("x,match", [
    (torch.zeros(1, 0, dtype=torch.long), "the sequence is empty"),
    (torch.tensor([[0, 1, 7]]), "symbol id 7 at step 2 is outside the vocabulary of 4"),
    (torch.tensor([[0.5, 1.0]]), "whole numbers"),
])
def test_bad_token_sequences(x, match):
    from playground.tracing import trace

    with pytest.raises(SequenceError, match=match):
        trace(build(hello()), x)


def test_bad_numeric_sequences():
    from playground.tracing import trace

    g = chain(("x", "input", {"encoding": "numeric", "features": 2}), ("g", "gru", {}),
              ("head", "linear", {"out_features": 1, "output": "identity"}))
    model = build(g)
    with pytest.raises(SequenceError, match="step 1, feature 0 is nan"):
        trace(model, [[0.0, 1.0], [float("nan"), 2.0]])
    with pytest.raises(SequenceError, match="expects 2 feature"):
        trace(model, [[0.0, 1.0, 2.0]])
    tr = trace(model, [[0.0, 1.0], [0.5, 2.0]], targets=[[0.1, 0.2]])
    assert tr.outputs.shape == (1, 2, 1) and tr.layer("g").dh.shape == (1, 2, 32)
