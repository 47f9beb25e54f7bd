"""playground.inspect: an intervention on one call of a module called more than once, a
classifier's probabilities, and the steps of an output without a time axis. References:
the float64 cell unroll (tests/probe/reference.py) and torch's own softmax."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import playground as pg
from playground.errors import SequenceError
from playground.probe.display import per_step

from . import models
from .test_models import compare


def sq(o, t):
    return ((o - t) ** 2).mean()


def siamese():
    torch.manual_seed(4)
    return models.Siamese(), torch.randn(3, 5, 4), torch.randn(3, 7, 4), torch.ones(3)


@pytest.mark.parametrize("call", [0, 1])
def test_an_intervention_on_one_call_leaves_the_other_alone(call):
    model, a, b, y = siamese()
    plain = pg.inspect(model, (a, b), y, sq)
    iv = pg.Intervention(node="lstm", step=2, target="f", value=0.0, call=call)
    tr = pg.inspect(model, (a, b), y, sq, [iv])
    compare(tr, model, (a, b), y, sq, [iv])        # the unroll clamps that call only
    other = 1 - call
    np.testing.assert_array_equal(tr.layer("lstm", call=other).h,
                                  plain.layer("lstm", call=other).h)
    assert np.all(tr.layer("lstm", call=call).gates["f"][:, 2] == 0.0)
    assert np.abs(tr.layer("lstm", call=call).h[:, 3:] -
                  plain.layer("lstm", call=call).h[:, 3:]).max() > 1e-4
    # call=None: every call, as before
    every = pg.inspect(model, (a, b), y, sq, [pg.Intervention("lstm", 2, "f", 0.0)])
    for k in (0, 1):
        assert np.all(every.layer("lstm", call=k).gates["f"][:, 2] == 0.0)


def test_a_call_that_does_not_exist_is_named():
    model, a, b, y = siamese()
    with pytest.raises(SequenceError, match=r"call 2 does not exist \(the module was called 2"):
        pg.inspect(model, (a, b), y, sq, [pg.Intervention("lstm", 1, "f", 0.0, call=2)])
    with pytest.raises(SequenceError, match="calls count from 0"):
        pg.inspect(model, (a, b), y, sq, [pg.Intervention("lstm", 1, "f", 0.0, call=-1)])


def test_a_cells_calls_are_its_steps():
    cell = nn.GRUCell(3, 4)

    class Loop(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = cell

        def forward(self, x):
            h = x.new_zeros(x.shape[0], 4)
            for t in range(x.shape[1]):
                h = self.cell(x[:, t], h)
            return h

    with pytest.raises(SequenceError, match="a cell's calls are its steps"):
        pg.inspect(Loop(), torch.randn(1, 5, 3),
                   interventions=[pg.Intervention("cell", 1, "z", 0.0, call=1)])


def test_a_playground_layer_has_one_call():
    from playground.model.build import build
    from playground.model.spec import chain

    model = build(chain(("x", "input", {"encoding": "onehot", "vocab_size": 4}),
                        ("rec", "lstm", {"hidden_size": 3}),
                        ("head", "linear", {"out_features": 4})), seed=0)
    x = torch.tensor([[0, 1, 2, 3, 0]])
    tr = pg.trace(model, x, interventions=[pg.Intervention("rec", 1, "f", 0.0, call=0)])
    assert np.all(tr.layer("rec").gates["f"][:, 1] == 0.0)
    with pytest.raises(SequenceError, match="call 1 does not exist"):
        pg.trace(model, x, interventions=[pg.Intervention("rec", 1, "f", 0.0, call=1)])


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 6, batch_first=True)
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        return self.fc(self.gru(x)[0][:, -1])          # (B, C): one output per sequence


@pytest.mark.parametrize("loss", [F.cross_entropy, nn.CrossEntropyLoss()])
def test_cross_entropy_makes_the_output_logits(loss):
    torch.manual_seed(2)
    model, x, y = Classifier(), torch.randn(2, 9, 3), torch.tensor([1, 3])
    tr = pg.inspect(model, x, y, loss)
    with torch.no_grad():
        logits = model(x).double()
    assert tr.head_output == "softmax" and tr.probs.shape == (2, 4)
    np.testing.assert_allclose(tr.probs, torch.softmax(logits, -1).numpy(), rtol=1e-6,
                               atol=1e-7)
    np.testing.assert_allclose(tr.outputs, logits.numpy(), rtol=1e-5, atol=1e-6)
    assert tr.steps == 9                               # the GRU's steps, not the classes
    # the window's form: the output and its classes at the last step, no target before it
    shown = per_step(tr)
    assert shown.outputs.shape == (2, 9, 4) and shown.steps == 9
    assert np.isnan(shown.probs[:, :-1]).all()
    np.testing.assert_allclose(shown.probs[:, -1], tr.probs, rtol=0, atol=0)
    assert shown.targets.tolist() == [[-1] * 8 + [1], [-1] * 8 + [3]]


def test_values_unless_told_or_cross_entropy():
    torch.manual_seed(3)
    model = models.CharLM()
    x = torch.randint(0, 12, (2, 7))
    tr = pg.inspect(model, x, x.roll(-1, 1), models.lm_loss)        # a loss of its own
    assert tr.probs is None and tr.head_output == "identity" and tr.steps == 7
    tr = pg.inspect(model, x, x.roll(-1, 1), models.lm_loss, output="logits")
    with torch.no_grad():
        want = torch.softmax(model(x)[0].double(), -1).numpy()
    np.testing.assert_allclose(tr.probs, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(tr.probs.sum(-1), 1.0, atol=1e-6)
    with pytest.raises(SequenceError, match="unknown output 'probs'"):
        pg.inspect(model, x, output="probs")


def test_steps_of_an_output_without_a_time_axis():
    class Score(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(2, 3, batch_first=True)

        def forward(self, x):
            return self.rnn(x)[1][0, :, 0]              # (B,): one number per sequence

    tr = pg.inspect(Score(), torch.randn(4, 6, 2))
    assert tr.outputs.shape == (4,) and tr.steps == 6
    shown = per_step(tr)
    assert shown.outputs.shape == (4, 6, 1) and shown.steps == 6
    np.testing.assert_allclose(shown.outputs[:, -1, 0], tr.outputs, rtol=1e-6)
