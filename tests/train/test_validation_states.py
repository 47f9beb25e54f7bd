"""The validation sequences' hidden states against plain torch.nn forwards and real traces."""

from __future__ import annotations

import numpy as np
import torch

from playground.data import bind_inputs, make_dataset
from playground.files import experiment as X
from playground.model.build import build
from playground.model.spec import chain
from playground.tracing import trace
from playground.tracing.neurons import search
from playground.train.validation import valid_length, validation_states


def _preset(name):
    exp = X.load(X.resolve(f"presets/{name}.json"))
    return exp.build_model(), exp.make_dataset()


def _torch_h(model, node, ids, bidirectional=False):
    """h of ``node``'s torch.nn RNN module on the one-hot input, (T, H) per direction."""
    rnn = model.layers[node].rnn
    x = torch.nn.functional.one_hot(torch.as_tensor(ids).long(),
                                    model.graph.node("x").params["vocab_size"])
    with torch.no_grad():
        out = rnn(x.to(next(rnn.parameters()).dtype)[None])[0][0].numpy()
    H = rnn.hidden_size
    return [out[:, :H], out[:, H:]] if bidirectional else [out]


def test_padded_sequences_are_cut_and_equal_torch_and_the_real_trace():
    model, ds = _preset("spell_one_to_many")       # words of different lengths: padding
    assert model.graph.node("x").params["encoding"] == "onehot"
    v = validation_states(model, ds)
    batch = ds.validation()
    assert v.indices == tuple(range(batch.size))
    assert len(set(v.lengths)) > 1                  # the test means something
    for i, T in enumerate(v.lengths):
        assert T == valid_length(batch.mask[i], batch.steps)
        assert T == int(batch.mask[i].sum())         # one_to_many: every valid step
        ids = batch.inputs["x"][i, :T]
        ref = _torch_h(model, "gru", ids)[0]
        got = v.of(("gru", 0, 0))[i]
        assert got.shape == (T, 32)
        np.testing.assert_allclose(got, ref, atol=2e-6)
        row = v.rows[i]
        tr = trace(model, bind_inputs(model, row), row.targets, row.mask)   # with gradients
        np.testing.assert_allclose(got, tr.layer("gru").h[0], atol=1e-6)
    padded = v.padded(tr.layer("gru"))
    assert padded.shape == (len(v), max(v.lengths), 32)
    assert np.isnan(padded[np.argmin(v.lengths), -1]).all()


def test_bidirectional_states_and_the_caps():
    model, ds = _preset("tagger_bidirectional")
    v = validation_states(model, ds, limit=5, max_steps=9)
    assert len(v) == 5 and v.lengths == (9,) * 5
    assert set(v.states) == {("lstm", 0, 0), ("lstm", 0, 1)}
    for i in range(5):
        ids = ds.validation().inputs["x"][i, :9]
        fwd, rev = _torch_h(model, "lstm", ids, bidirectional=True)
        np.testing.assert_allclose(v.of(("lstm", 0, 0))[i], fwd, atol=2e-6)
        np.testing.assert_allclose(v.of(("lstm", 0, 1))[i], rev, atol=2e-6)
    assert v.of(("nothing", 0, 0)) == []


def test_numeric_inputs_and_stopping():
    ds = make_dataset({"source": "task", "task": "sine", "params": {"length": 30}})
    graph = chain(("x", "input", {"encoding": "numeric", "features": ds.input_features}),
                  ("rnn", "rnn", {"hidden_size": 5}),
                  ("head", "linear", {"out_features": ds.output_size, "output": "identity"}))
    model = build(graph, seed=3)
    v = validation_states(model, ds, limit=3)
    rnn = model.layers["rnn"].rnn
    for i in range(3):
        x = torch.as_tensor(ds.validation().inputs["x"][i:i + 1], dtype=model.dtype)
        with torch.no_grad():
            ref = rnn(x)[0][0].numpy()
        np.testing.assert_allclose(v.of(("rnn", 0, 0))[i], ref, atol=2e-6)
    assert validation_states(model, ds, should_stop=lambda: True) is None


def test_neuron_search_finds_a_pattern_planted_in_a_validation_sequence():
    model, ds = _preset("tagger_bidirectional")
    v = validation_states(model, ds, limit=6)
    key = ("lstm", 0, 0)
    val = [np.array(h) for h in v.of(key)]
    rng = np.random.default_rng(0)
    h = rng.uniform(-1, 0.2, size=(20, 32))
    h[4:7, [3, 17]] = 0.95                                      # the query span
    for o in val:                                               # nothing else on
        o[:, [3, 17]] = np.minimum(o[:, [3, 17]], 0.2)
    val[4][8:12, [3, 17]] = 0.9                                 # planted in validation #4
    res = search(h, 4, 6, 0.5, others=val)
    got = [(m.sequence, m.start, m.end) for m in res.matches]
    assert list(res.units) == [3, 17] and got == [(5, 8, 11)]   # others[4]: sequence 5
    assert v.indices[got[0][0] - 1] == 4


def test_besides_leaves_out_copies_of_the_traced_sequence():
    from playground.train.validation import ValidationStates

    rng = np.random.default_rng(0)
    h = rng.standard_normal((6, 4))
    other, longer = rng.standard_normal((6, 4)), rng.standard_normal((9, 4))
    key = ("cell", 0, 0)
    vs = ValidationStates((3, 5, 8, 9), (6, 6, 6, 9), (None,) * 4,
                          {key: [other, h.copy(), h + 1e-9, longer]})
    pos, states = vs.besides(key, h)
    assert pos == [0, 3] and [vs.indices[i] for i in pos] == [3, 9]
    assert states[0] is other and states[1] is longer
    assert vs.besides(("none", 0, 0), h) == ([], [])
