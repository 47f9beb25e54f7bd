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
