"""GraphModel (Qt-free): edits, refusals with reasons, events, analysis, weight carrying."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from playground.model.build import build
from playground.model.editing import EditError, GraphModel, analyze_graph, carry_weights
from playground.model.spec import EdgeSpec, GraphSpec, NodeSpec, chain


def hello_model():
    m = GraphModel()
    x = m.add_node("input", (0, 0), {"vocab_size": 4})
    r = m.add_node("rnn", (250, 0), {"hidden_size": 8})
    h = m.add_node("linear", (500, 0), {"out_features": 4})
    m.connect(x, r)
    m.connect(r, h)
    return m, x, r, h


def test_build_hello_and_events_in_order():
    m = GraphModel()
    log = []
    for name in GraphModel.EVENTS:
        getattr(m, name).connect(lambda *a, n=name: log.append((n, *a)))
    x = m.add_node("input", params={"vocab_size": 4})
    r = m.add_node("rnn", params={"hidden_size": 8})
    m.connect(x, r)
    m.set_param(r, "nonlinearity", "relu")
    m.move_node(r, (10, 20))
    m.remove_node(x)
    assert [e[0] for e in log if e[0] != "changed"] == [
        "node_added", "node_added", "edge_added", "param_changed", "node_moved",
        "edge_removed", "node_removed"]
    assert sum(e[0] == "changed" for e in log) == 6
    assert log[-2] == ("node_removed", x)
    assert m.node(r).pos == (10.0, 20.0) and m.node(r).params["nonlinearity"] == "relu"


def test_hello_validates_and_counts_parameters_like_torch():
    m, x, r, h = hello_model()
    info = m.analyze()
    assert info.ok, info.problems
    model = build(m.spec())
    assert info.total_params == model.parameter_count()
    for nid in (x, r, h):
        assert info.params[nid] == model.parameter_count(nid)
    assert info.shapes[r] == {"seq_in": "(B, T, 4)", "seq_out": "(B, T, 8)",
                              "state_out": "(1, B, 8)"}


@pytest.mark.parametrize("src,dst,port,reason", [
    ("rnn1", "x", "seq", "takes no input"),
    ("x", "head", "memory", "has no 'memory' input"),
    ("x", "head", "seq", "already takes 'rnn1'"),
    ("head", "rnn2", "seq", "nothing may follow it"),
    ("x", "rnn2", "state", "must come from a recurrent layer"),
    ("rnn2", "rnn1", "seq", "already takes"),
    ("rnn1", "rnn1", "state", "cannot feed itself"),
    ("nope", "rnn1", "seq", "no node 'nope'"),
])
def test_invalid_connections_are_refused_with_a_reason(src, dst, port, reason):
    m, x, r, h = hello_model()
    m.add_node("rnn")  # rnn2, unconnected
    before = m.graph.to_dict()
    assert reason in m.connection_problem(src, dst, port)
    with pytest.raises(EditError, match=reason):
        m.connect(src, dst, port)
    assert m.graph.to_dict() == before


def test_cycles_and_wrong_output_port_are_refused():
    m = GraphModel()
    a, b, c = (m.add_node("gru") for _ in range(3))
    m.connect(a, b)
    m.connect(b, c)
    with pytest.raises(EditError, match="would make a cycle"):
        m.connect(c, a)
    with pytest.raises(EditError, match="would make a cycle"):
        m.connect(c, a, "state")
    assert "state output" in m.connection_problem(a, c, "seq", from_output="state")
    assert m.connection_problem(a, c, "state", from_output="state") is None


def test_set_param_checks_schema():
    m, x, r, h = hello_model()
    with pytest.raises(EditError, match="Hidden size must be a positive integer"):
        m.set_param(r, "hidden_size", 0)
    with pytest.raises(EditError, match="has no parameter 'heads'"):
        m.set_param(r, "heads", 2)
    with pytest.raises(EditError, match="one of tanh, relu"):
        m.set_param(r, "nonlinearity", "sigmoid")
    assert m.set_param(r, "dropout", 0) == 0.0 and isinstance(m.node(r).params["dropout"], float)
    with pytest.raises(EditError, match="unknown layer kind"):
        m.add_node("conv")


def test_remove_and_restore_is_exact():
    m, x, r, h = hello_model()
    before = m.graph.to_dict()
    record = m.remove_node(r)
    assert [n.id for n in m.graph.nodes] == [x, h] and m.graph.edges == []
    m.restore_node(record[1], record[0], record[2])
    assert m.graph.to_dict() == before
    index = m.disconnect(x, r)
    m.restore_edge(EdgeSpec(x, r), index)
    assert m.graph.to_dict() == before


def test_duplicate_and_paste_copy_inner_edges_with_fresh_ids():
    m, x, r, h = hello_model()
    new = m.duplicate([x, r])
    assert len(new) == 2 and not set(new) & {x, r}
    assert EdgeSpec(new[0], new[1]) in m.graph.edges
    assert m.node(new[1]).params == m.node(r).params
    assert m.node(new[1]).pos == (280.0, 30.0)
    with pytest.raises(EditError, match="clipboard"):
        m.paste({"nodes": [{"id": "a"}], "edges": []})


def test_problems_and_widths_of_an_invalid_graph():
    m = GraphModel()
    x = m.add_node("input", params={"encoding": "embedding", "vocab_size": 10, "embed_dim": 6})
    a = m.add_node("self_attention", params={"num_heads": 4})
    m.connect(x, a)
    info = m.analyze()
    assert not info.ok
    assert any(p.node == a and "4 heads do not divide the width 6" in p.message
               for p in info.problems)
    assert any("no linear output head" in p.message for p in info.problems)
    assert info.params[x] == 60
    assert info.shapes[a]["seq_in"] == "(B, T, 6)"


recurrent = st.fixed_dictionaries({
    "hidden_size": st.integers(1, 6), "num_layers": st.integers(1, 3),
    "bias": st.booleans(), "bidirectional": st.booleans()})


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(["rnn", "lstm", "gru"]), params=recurrent,
       embed=st.booleans(), width=st.integers(1, 5),
       attention=st.sampled_from(["none", "self", "transformer", "learned"]),
       heads=st.sampled_from([1, 2]), mem=st.integers(1, 5))
def test_parameter_counts_match_built_models(kind, params, embed, width, attention, heads, mem):
    """The analytic counts equal torch's numel() sums for random graphs."""
    enc = {"encoding": "embedding", "vocab_size": 5, "embed_dim": width} if embed else \
        {"encoding": "onehot", "vocab_size": width}
    H = params["hidden_size"] * (2 if params["bidirectional"] else 1) * heads
    nodes = [NodeSpec("x", "input", enc), NodeSpec("rec", kind, {**params,
             "hidden_size": H // (2 if params["bidirectional"] else 1)}),
             NodeSpec("m", "input", {"encoding": "numeric", "features": mem}),
             NodeSpec("xa", "cross_attention", {"num_heads": heads}),
             NodeSpec("head", "linear", {"out_features": 3})]
    edges = [EdgeSpec("x", "rec"), EdgeSpec("rec", "xa"), EdgeSpec("m", "xa", "memory")]
    last = "xa"
    if attention != "none":
        kind2 = "self_attention" if attention == "self" else "transformer"
        extra = {"positions": "learned", "max_len": 7} if attention == "learned" else {}
        nodes.append(NodeSpec("att", kind2, {"num_heads": heads, **extra}))
        edges.append(EdgeSpec("xa", "att"))
        last = "att"
    edges.append(EdgeSpec(last, "head"))
    graph = GraphSpec(nodes, edges)
    info = analyze_graph(graph)
    assert info.ok, info.problems
    model = build(graph)
    for n in graph.nodes:
        assert info.params[n.id] == model.parameter_count(n.id), n.kind
    assert info.total_params == model.parameter_count()


def test_carry_weights_keeps_unchanged_layers():
    g1 = chain(("x", "input", {"encoding": "embedding", "vocab_size": 5, "embed_dim": 4}),
               ("l1", "lstm", {"hidden_size": 6}), ("l2", "gru", {"hidden_size": 5}),
               ("head", "linear", {"out_features": 5}))
    old = build(g1, seed=0)
    m = GraphModel(g1)
    m.set_param("l2", "hidden_size", 7)  # l2 changes, so does head's input width
    m.move_node("l1", (999, 999))        # moving is not a change
    g2 = m.spec()
    new = build(g2, seed=1)
    fresh = carry_weights(old, new, g1, g2)
    assert fresh == ["l2", "head"]
    for nid in ("x", "l1"):
        for k, v in old.layers[nid].state_dict().items():
            assert torch.equal(new.layers[nid].state_dict()[k], v), (nid, k)
    assert not torch.equal(new.layers["l2"].rnn.weight_ih_l0[:15],
                           old.layers["l2"].rnn.weight_ih_l0[:15])
    # A new node is re-initialised too; an unchanged model keeps everything.
    same = build(g1, seed=3)
    assert carry_weights(old, same, g1, g1) == []
    assert torch.equal(same.layers["head"].weight, old.layers["head"].weight)


def test_rebuild_reports_reinitialised_layers():
    from playground.model.editing import rebuild

    g1 = chain(("x", "input", {"vocab_size": 4}), ("r", "rnn", {"hidden_size": 8}),
               ("head", "linear", {"out_features": 4}))
    old = build(g1, seed=0).double()
    m = GraphModel(g1)
    m.set_param("head", "output", "identity")
    new, fresh = rebuild(old, m.spec(), seed=1)
    assert fresh == ["head"] and new.dtype == torch.float64
    assert torch.equal(new.layers["r"].rnn.weight_hh_l0, old.layers["r"].rnn.weight_hh_l0)
