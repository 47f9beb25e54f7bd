"""Connectivity ||d y_t / d x_s|| against torch.autograd.functional.jacobian."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground.model.build import build
from playground.model.spec import chain
from playground.tracing.connectivity import connectivity


def _model(kind: str, **params):
    body = ({"hidden_size": 5, **params} if kind in ("rnn", "lstm", "gru")
            else {"num_heads": 1, **params})
    return build(chain(("x", "input", {"encoding": "numeric", "features": 3}),
                       ("r", kind, body),
                       ("y", "linear", {"out_features": 4, "output": "softmax"})),
                 seed=1).double()


def _reference(model, x):
    """(T, C, T, F) full Jacobian of the outputs of sequence 0 by the inputs."""
    J = torch.autograd.functional.jacobian(lambda v: model(v[None])[0], x[0])
    return J.numpy()


@pytest.mark.parametrize("kind,params", [("rnn", {}), ("lstm", {}), ("gru", {}),
                                         ("rnn", {"bidirectional": True}),
                                         ("self_attention", {"causal": True}),
                                         ("self_attention", {"causal": False})])
@pytest.mark.parametrize("row_steps", [1, 7, 10_000])
def test_matches_full_jacobian(kind, params, row_steps):
    model = _model(kind, **params)
    x = torch.randn(2, 9, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    J = _reference(model, x)                                   # (T, C, T, F)
    T = x.shape[1]
    got_all = connectivity(model, x, output="all", row_steps=row_steps)
    np.testing.assert_allclose(got_all, np.sqrt((J ** 2).sum(axis=(1, 3))), rtol=1e-9,
                               atol=1e-12)
    pred = model(x[:1])[0].argmax(-1).numpy()
    got_pred = connectivity(model, x, output="predicted", row_steps=row_steps)
    want = np.linalg.norm(J[np.arange(T), pred], axis=-1)      # (T, T)
    np.testing.assert_allclose(got_pred, want, rtol=1e-9, atol=1e-12)
    got_unit = connectivity(model, x, output=2, row_steps=row_steps)
    np.testing.assert_allclose(got_unit, np.linalg.norm(J[:, 2], axis=-1), rtol=1e-9,
                               atol=1e-12)


def test_causal_upper_triangle_is_zero_and_second_sequence():
    model = _model("lstm")
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    got = connectivity(model, x, batch=2, output="all")
    assert np.all(np.triu(got, 1) == 0) and np.all(np.diag(got) > 0)
    J = _reference(model, x[2:])
    np.testing.assert_allclose(got, np.sqrt((J ** 2).sum(axis=(1, 3))), rtol=1e-9)


def test_token_inputs_use_the_embedding_output():
    model = build(chain(("x", "input", {"encoding": "embedding", "vocab_size": 6,
                                        "embed_dim": 4}),
                        ("r", "gru", {"hidden_size": 5}),
                        ("y", "linear", {"out_features": 6})), seed=2).double()
    ids = torch.tensor([[1, 4, 2, 0, 5, 3]])
    e = model.layers["x"].embedding(ids).detach()[0]
    def from_embedding(v):
        out, _ = model.layers["r"](v[None])
        return model.layers["y"](out)[0]

    J = torch.autograd.functional.jacobian(from_embedding, e).numpy()
    np.testing.assert_allclose(connectivity(model, ids, output="all"),
                               np.sqrt((J ** 2).sum(axis=(1, 3))), rtol=1e-9, atol=1e-12)


def test_should_stop_cancels():
    model = _model("rnn")
    x = torch.randn(1, 8, 3, dtype=torch.float64)
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 2

    assert connectivity(model, x, row_steps=1, should_stop=stop) is None
    assert len(calls) == 3


# -- the hand-written chain path (playground.tracing.connectivity_fast) ----------------------
def _chain_model(layers, out_features=4, dtype=torch.float64):
    """numeric input (3 features) -> recurrent nodes ``[(kind, params), ...]`` -> head."""
    nodes = [("x", "input", {"encoding": "numeric", "features": 3})]
    nodes += [(f"r{i}", kind, {"hidden_size": 5, **params})
              for i, (kind, params) in enumerate(layers)]
    nodes.append(("y", "linear", {"out_features": out_features, "output": "softmax"}))
    return build(chain(*nodes), seed=5).to(dtype)


def _no_autograd(monkeypatch):
    import playground.tracing.connectivity as conn

    def fail(*args, **kwargs):
        raise AssertionError("the autograd fallback ran where the fast path applies")

    monkeypatch.setattr(conn, "_autograd_rows", fail)


FAST_CASES = [
    [("rnn", {})], [("lstm", {})], [("gru", {})],
    [("rnn", {"nonlinearity": "relu"})], [("gru", {"bias": False})],
    [("rnn", {"num_layers": 2})], [("lstm", {"num_layers": 2})], [("gru", {"num_layers": 2})],
    [("rnn", {"bidirectional": True})], [("lstm", {"bidirectional": True})],
    [("gru", {"bidirectional": True, "num_layers": 2})],
    [("lstm", {}), ("gru", {})],                                  # two recurrent nodes
    [("gru", {"bidirectional": True}), ("lstm", {})],             # causal above bidirectional
    [("lstm", {"num_layers": 2}), ("rnn", {"bidirectional": True})],
]


@pytest.mark.parametrize("layers", FAST_CASES, ids=lambda ls: "+".join(
    k + "".join(f"-{p}" for p in params) for k, params in ls))
@pytest.mark.parametrize("row_steps", [1, 10_000])
def test_fast_path_matches_full_jacobian(layers, row_steps, monkeypatch):
    _no_autograd(monkeypatch)
    model = _chain_model(layers)
    x = torch.randn(2, 9, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    J = _reference(model, x)                                    # (T, C, T, F)
    T = x.shape[1]
    np.testing.assert_allclose(connectivity(model, x, output="all", row_steps=row_steps),
                               np.sqrt((J ** 2).sum(axis=(1, 3))), rtol=1e-9, atol=1e-12)
    pred = model(x[:1])[0].argmax(-1).numpy()
    np.testing.assert_allclose(connectivity(model, x, output="predicted", row_steps=row_steps),
                               np.linalg.norm(J[np.arange(T), pred], axis=-1), rtol=1e-9,
                               atol=1e-12)
    np.testing.assert_allclose(connectivity(model, x, output=1, row_steps=row_steps),
                               np.linalg.norm(J[:, 1], axis=-1), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_fast_path_more_outputs_than_hidden_units(bidirectional, monkeypatch):
    """``output="all"`` with a head wider than its input goes through the head's R factor."""
    _no_autograd(monkeypatch)
    model = _chain_model([("gru", {"bidirectional": bidirectional})], out_features=13)
    x = torch.randn(1, 7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    J = _reference(model, x)
    np.testing.assert_allclose(connectivity(model, x, output="all"),
                               np.sqrt((J ** 2).sum(axis=(1, 3))), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("layers", [[("gru", {})], [("lstm", {"bidirectional": True})],
                                    [("rnn", {"num_layers": 2})]])
def test_fast_path_one_output_unit(layers, monkeypatch):
    """A regression head of one value (the adding problem, a sine): every output."""
    _no_autograd(monkeypatch)
    model = _chain_model(layers, out_features=1)
    x = torch.randn(1, 8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    J = _reference(model, x)
    np.testing.assert_allclose(connectivity(model, x, output="all"),
                               np.sqrt((J ** 2).sum(axis=(1, 3))), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_fast_path_float32_model(kind, monkeypatch):
    """A float32 model sweeps in float32; against the float64 Jacobian of the same weights."""
    _no_autograd(monkeypatch)
    model = _chain_model([(kind, {"hidden_size": 16, "num_layers": 2})], out_features=6,
                         dtype=torch.float32)
    x = torch.randn(1, 60, 3, generator=torch.Generator().manual_seed(7))
    got = connectivity(model, x, output="all")
    ref = _reference(model.double(), x.double())
    want = np.sqrt((ref ** 2).sum(axis=(1, 3)))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7 * want.max())


def test_fast_path_token_inputs_use_the_embedding_output(monkeypatch):
    _no_autograd(monkeypatch)
    test_token_inputs_use_the_embedding_output()


def test_which_models_take_the_fast_path():
    from playground.tracing.connectivity_fast import fast_chain

    rnns, head = fast_chain(_chain_model([("lstm", {}), ("gru", {})]), "x")
    assert [type(r).__name__ for r in rnns] == ["LSTM", "GRU"] and type(head).__name__ == "Linear"
    for kind in ("self_attention",):
        assert fast_chain(_model(kind), "x") is None


def test_fast_path_should_stop_inside_a_sweep():
    """One chunk of rows, stopped between steps of its sweep."""
    model = _chain_model([("gru", {})])
    x = torch.randn(1, 300, 3, dtype=torch.float64)
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 1

    assert connectivity(model, x, should_stop=stop) is None
    assert len(calls) == 2
