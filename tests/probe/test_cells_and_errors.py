"""Cells called in a loop, and what inspect refuses (with the module's name)."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import playground as pg
from playground.errors import SequenceError

from .reference import rel


class LoopLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.LSTMCell(3, 5)
        self.out = nn.Linear(5, 2)

    def forward(self, x):                        # x (B, T, 3)
        h = c = x.new_zeros(x.shape[0], 5)
        ys = []
        for t in range(x.shape[1]):
            h, c = self.cell(x[:, t], (h, c))
            ys.append(self.out(h))
        return torch.stack(ys, 1)


class Kept(nn.Module):
    """Reference: the torch cell itself, its outputs kept with retain_grad."""

    def __init__(self, cell):
        super().__init__()
        self.cell, self.h, self.c = cell, [], []

    def forward(self, x, hc):
        h, c = self.cell(x, hc)
        h.retain_grad()
        c.retain_grad()
        self.h.append(h)
        self.c.append(c)
        return h, c


def test_an_lstm_cell_in_a_python_loop_is_one_step_per_call():
    torch.manual_seed(0)
    model = LoopLM()
    x, y = torch.randn(2, 6, 3), torch.randn(2, 6, 2)
    tr = pg.inspect(model, x, y, F.mse_loss)
    ref = copy.deepcopy(model).double()
    params = dict(ref.named_parameters())
    ref.cell = Kept(ref.cell)
    F.mse_loss(ref(x.double()), y.double()).backward()
    r = tr.layers[0]
    assert (r.node, r.kind, r.h.shape) == ("cell", "lstm", (2, 6, 5))
    errs = [rel(r.h, torch.stack(ref.cell.h, 1).detach().numpy()),
            rel(r.c, torch.stack(ref.cell.c, 1).detach().numpy()),
            rel(r.dh, torch.stack([h.grad for h in ref.cell.h], 1).numpy()),
            rel(r.dc, torch.stack([c.grad for c in ref.cell.c], 1).numpy())]
    errs += [rel(r.weight_grads[w], params[f"cell.{w}"].grad.numpy())
             for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert max(errs) < 2e-5, errs
    np.testing.assert_allclose(tr.outputs, model(x).detach().numpy(), rtol=1e-5, atol=1e-6)
    tr2 = pg.inspect(model, x, y, F.mse_loss, [pg.Intervention("cell", 2, "h", 0.0)])
    assert np.all(tr2.layers[0].h[:, 2] == 0)
    np.testing.assert_array_equal(tr2.outputs[:, :2], tr.outputs[:, :2])
    assert not np.allclose(tr2.outputs[:, 3:], tr.outputs[:, 3:])


def test_without_a_loss_there_are_no_gradients_and_model_mode_stays():
    model = nn.GRU(2, 3, num_layers=2, dropout=0.5).train()
    tr = pg.inspect(model.eval(), torch.randn(4, 1, 2))
    assert tr.loss is None and tr.layers[0].dh is None and len(tr.layers) == 2
    assert not model.training


@pytest.mark.parametrize("module, words", [
    (nn.LSTM(3, 4, proj_size=2), "proj_size > 0"),
    (nn.LSTM(3, 4, num_layers=2, dropout=0.3).train(), "dropout between layers"),
])
def test_unsupported_modules_are_named(module, words):
    holder = nn.Sequential()
    holder.add_module("body", module)
    with pytest.raises(SequenceError, match=f"'body'.*{words}"):
        pg.inspect(holder, torch.randn(5, 2, 3))
    assert "forward" not in vars(module)


def test_bad_interventions_are_refused():
    model = nn.Sequential()
    model.add_module("rnn", nn.LSTM(3, 4, batch_first=True))
    x = torch.randn(2, 5, 3)
    for iv, words in [(pg.Intervention("rnn", 9, "h", 0.0), "outside the sequence"),
                      (pg.Intervention("rnn", 1, "z", 0.0), "has no 'z'"),
                      (pg.Intervention("rnn", 1, "h", 0.0, layer=1), "layer 1"),
                      (pg.Intervention("nope", 1, "h", 0.0), "no recurrent module")]:
        with pytest.raises(SequenceError, match=words):
            pg.inspect(model, x, interventions=[iv])
    assert "forward" not in vars(model.rnn)
