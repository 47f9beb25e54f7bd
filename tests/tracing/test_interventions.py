"""What-if interventions: clamping a gate or editing a state at step t recomputes the rest.

References come from PyTorch's own cells, run one step per call, with the equivalent change
made to the state they are fed (e.g. forget gate 0 at step t == feeding c_{t-1} = 0 there).
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from playground.model.build import build
from playground.model.spec import chain
from playground.tracing import Intervention, trace

V, H, T = 4, 5, 8
PATHS = ["compiled", "fused", "stepwise"]


@pytest.fixture(params=PATHS)
def path(request):
    return request.param


def setup(kind):
    g = chain(("x", "input", {"encoding": "onehot", "vocab_size": V}),
              ("rec", kind, {"hidden_size": H}), ("head", "linear", {"out_features": V}))
    model = build(g, seed=4).double()
    cls = nn.LSTMCell if kind == "lstm" else nn.GRUCell
    cell = cls(V, H).double()
    cell.load_state_dict({k[:-3]: v for k, v in model.layers["rec"].rnn.state_dict().items()})
    x = torch.tensor([[0, 1, 2, 3, 0, 1, 2, 3]])
    y = torch.tensor([[1, 2, 3, 0, 1, 2, 3, 0]])
    return model, cell, x, y


def run_cells(model, cell, x, y, change):
    """Step nn cells; ``change(t, state) -> state`` edits what step t is fed / produces."""
    xs = F.one_hot(x[0], V).double()
    head = model.layers["head"]
    state = None
    hs, outs = [], []
    for t in range(T):
        state = change(t, "before", state)
        state = cell(xs[t][None], state)
        state = change(t, "after", state)
        h = state[0] if isinstance(state, tuple) else state
        h.retain_grad()
        hs.append(h)
        outs.append(head(h))
    logits = torch.stack(outs, 1)
    loss = F.cross_entropy(logits.transpose(1, 2), y)
    loss.backward()
    return (torch.cat([h.detach() for h in hs]).numpy(), torch.cat([h.grad for h in hs]).numpy(),
            float(loss.detach()))


def test_forget_gate_zero_is_forgetting_the_cell(path):
    model, cell, x, y = setup("lstm")
    t0 = 3
    tr = trace(model, x, y, interventions=[Intervention("rec", t0, "f", 0.0)], path=path)
    rec = tr.layer("rec")

    def change(t, when, state):
        if t == t0 and when == "before":
            h, c = state
            return h, torch.zeros_like(c)
        return state

    h_ref, dh_ref, loss_ref = run_cells(model, cell, x, y, change)
    np.testing.assert_allclose(rec.h[0], h_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rec.dh[0], dh_ref, rtol=1e-9, atol=1e-12)
    assert abs(tr.loss - loss_ref) < 1e-10
    assert np.all(rec.gates["f"][0, t0] == 0) and not np.all(rec.gates["f"][0, t0 + 1] == 0)
    base = trace(model, x, y, path=path).layer("rec")
    np.testing.assert_array_equal(base.h[0, :t0], rec.h[0, :t0])  # the past is untouched
    assert np.abs(base.h[0, t0:] - rec.h[0, t0:]).max() > 1e-3   # the future changed


def test_editing_hidden_units_after_a_step(path):
    model, cell, x, y = setup("lstm")
    t0, value = 2, 0.7
    tr = trace(model, x, y, interventions=[Intervention("rec", t0, "h", value, units=(1, 3))],
               path=path)

    def change(t, when, state):
        if t == t0 and when == "after":
            h, c = state
            h = h.clone()
            h[:, [1, 3]] = value
            return h, c
        return state

    h_ref, dh_ref, _ = run_cells(model, cell, x, y, change)
    np.testing.assert_allclose(tr.layer("rec").h[0], h_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tr.layer("rec").dh[0], dh_ref, rtol=1e-9, atol=1e-12)


def test_gru_update_gate_one_copies_the_state_for_a_span(path):
    model, cell, x, y = setup("gru")
    t0 = 2
    tr = trace(model, x, y, interventions=[Intervention("rec", t0, "z", 1.0, span=3)], path=path)
    h = tr.layer("rec").h[0]
    for t in range(t0, t0 + 3):
        np.testing.assert_array_equal(h[t], h[t0 - 1])  # z = 1: h_t = h_{t-1}

    def change(t, when, state):
        if t0 <= t < t0 + 3 and when == "after":
            return state_before[0]
        if when == "before":
            state_before[0] = state if state is not None else torch.zeros(1, H).double()
        return state

    state_before = [None]
    h_ref, dh_ref, _ = run_cells(model, cell, x, y, change)
    np.testing.assert_allclose(h, h_ref, rtol=1e-10, atol=1e-12)


def test_restoring_gives_the_original_trace(path):
    model, _, x, y = setup("lstm")
    base = trace(model, x, y, path=path)
    changed = trace(model, x, y, interventions=[Intervention("rec", 1, "c", 0.0)], path=path)
    again = trace(model, x, y, path=path)
    assert np.abs(changed.layer("rec").c - base.layer("rec").c).max() > 0
    np.testing.assert_array_equal(again.layer("rec").h, base.layer("rec").h)
