"""Step Jacobians against autograd through PyTorch's own cells (nn.RNNCell/LSTMCell/GRUCell)."""

import numpy as np
import pytest
import torch
from torch import nn

from playground.model.build import build
from playground.model.spec import chain
from playground.tracing import trace
from playground.tracing.analysis import jacobian_norms, recurrent_singular_values, step_jacobians

CELLS = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}


def model_of(kind, H=5, V=4, **extra):
    g = chain(("x", "input", {"encoding": "onehot", "vocab_size": V}),
              ("rec", kind, {"hidden_size": H, **extra}), ("head", "linear", {"out_features": V}))
    return build(g, seed=2).double()


@pytest.mark.parametrize("kind,extra", [("rnn", {}), ("rnn", {"nonlinearity": "relu"}),
                                        ("lstm", {}), ("gru", {})])
def test_step_jacobians_match_autograd_through_torch_cells(kind, extra):
    model = model_of(kind, **extra)
    x = torch.tensor([[0, 1, 2, 3, 1, 0]])
    rec = trace(model, x).layer("rec")
    rnn = model.layers["rec"].rnn
    kw = {"nonlinearity": rnn.nonlinearity} if kind == "rnn" else {}
    cell = CELLS[kind](rnn.input_size, rnn.hidden_size, **kw).double()
    cell.load_state_dict({k[:-3]: v for k, v in rnn.state_dict().items()})
    J = step_jacobians(model, rec)
    xs = torch.nn.functional.one_hot(x[0], 4).double()
    for t in range(x.shape[1]):
        h_prev = torch.from_numpy(rec.h0[0] if t == 0 else rec.h[0, t - 1]).double()
        if kind == "lstm":
            c_prev = torch.from_numpy(rec.c0[0] if t == 0 else rec.c[0, t - 1]).double()
            ref = torch.autograd.functional.jacobian(
                lambda h, t=t, c=c_prev: cell(xs[t][None], (h[None], c[None]))[0][0], h_prev)
        else:
            ref = torch.autograd.functional.jacobian(lambda h, t=t: cell(xs[t][None], h[None])[0],
                                                     h_prev)
        np.testing.assert_allclose(J[t], ref.numpy(), rtol=1e-9, atol=1e-12)


def test_norms_and_singular_values():
    model = model_of("lstm")
    rec = trace(model, torch.tensor([[0, 1, 2, 3]])).layer("rec")
    norms = jacobian_norms(model, rec)
    J = step_jacobians(model, rec)
    np.testing.assert_allclose(norms["h"], [np.linalg.norm(j, 2) for j in J], rtol=1e-9)
    np.testing.assert_allclose(norms["c"], rec.gates["f"][0].max(-1), rtol=1e-6)
    sv = recurrent_singular_values(model, "rec")
    W = model.layers["rec"].rnn.weight_hh_l0.detach().numpy()
    assert set(sv) == set("ifgo")
    np.testing.assert_allclose(sv["f"], np.linalg.svd(W[5:10], compute_uv=False), rtol=1e-9)


def test_identity_rnn_has_unit_singular_values():
    g = chain(("x", "input", {"encoding": "onehot", "vocab_size": 3}),
              ("rec", "rnn", {"hidden_size": 4, "nonlinearity": "relu"}),
              ("head", "linear", {"out_features": 3}))
    model = build(g, seed=0, init="identity")
    np.testing.assert_allclose(recurrent_singular_values(model, "rec")["W_hh"], 1.0, rtol=1e-6)
