"""The gradient horizon: rows against an independent autograd unroll, and the file round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground.errors import FileFormatError
from playground.files import experiment
from playground.model.losses import mean_loss, step_losses
from playground.train import TrainConfig, Trainer
from playground.train.horizon import GradientHorizon


def _unrolled(model, batch):
    """||dL/dh_t|| (T,) and the singular values of dh_T/dh_0, by a hand unroll of the
    model's one tanh RNN layer with torch autograd (the model's own forward is not used)."""
    rnn = model.layers["rnn"].rnn
    head = [m for n, m in model.layers.items() if n not in ("x", "rnn")][0]
    V = model.layers["x"].vocab_size
    x = torch.nn.functional.one_hot(torch.as_tensor(batch.inputs["x"]), V).double()[0]
    W_ih, W_hh = rnn.weight_ih_l0.double(), rnn.weight_hh_l0.double()
    b = (rnn.bias_ih_l0 + rnn.bias_hh_l0).double()

    def run(h0):
        hs, h = [], h0
        for t in range(x.shape[0]):
            h = torch.tanh(x[t] @ W_ih.T + b + h @ W_hh.T)
            hs.append(h)
        return hs

    hs = run(torch.zeros(rnn.hidden_size, dtype=torch.float64))
    for h in hs:
        h.retain_grad()
    out = head.double()(torch.stack(hs)[None])
    head.float()
    targets = torch.as_tensor(batch.targets)
    mask = torch.as_tensor(batch.mask, dtype=torch.float64)
    mean_loss(step_losses(out, targets, mask, model.head_output), mask).backward()
    norms = np.array([h.grad.norm().item() for h in hs])
    J = torch.autograd.functional.jacobian(lambda h0: run(h0)[-1],
                                           torch.zeros(rnn.hidden_size, dtype=torch.float64))
    return norms, np.linalg.svd(J.detach().numpy(), compute_uv=False)


def test_rows_match_an_independent_unroll_and_round_trip(tmp_path):
    exp = experiment.load(experiment.resolve("hello_rnn"), weights=False)
    model, data = exp.build_model(), exp.make_dataset()
    trainer = Trainer(model, data, TrainConfig(steps=12, lr=0.05, batch_size=4, seed=0),
                      device="cpu")
    batch = data.example()
    horizon = GradientHorizon(batch, every=4, top_k=3).attach(trainer)
    saved = {}
    trainer.add_callback("on_step_end", lambda s: saved.setdefault(
        s.step, {k: v.detach().clone() for k, v in model.state_dict().items()}))
    trainer.run()
    steps, rows = horizon.rows(0)
    _, sv = horizon.singular_values(0)
    assert list(steps) == [4, 8, 12] and rows.shape == (3, batch.targets.shape[1])
    assert rows.dtype == np.float64 and horizon.layers == [("rnn", 0, 0)]
    check = exp.build_model(weights=False)
    for i, step in enumerate(steps):
        check.load_state_dict(saved[int(step)])
        norms, s = _unrolled(check, batch)
        np.testing.assert_allclose(rows[i], norms, rtol=1e-4, atol=1e-9)
        np.testing.assert_allclose(sv[i], s[:3], rtol=1e-4)
    # saved with the experiment, read back (6 significant digits)
    exp.horizon = horizon.to_dict()
    path = exp.save(tmp_path / "h.json", model=model)
    again = experiment.load(path)
    back = GradientHorizon.from_dict(again.horizon)
    np.testing.assert_array_equal(back.rows(0)[0], steps)
    np.testing.assert_allclose(back.rows(0)[1], rows, rtol=1e-5)
    np.testing.assert_allclose(back.singular_values(0)[1], sv, rtol=1e-5)
    assert path.read_text() == again.to_json()   # load -> save gives the same bytes
    old = experiment.load(experiment.resolve("hello_rnn"))
    assert old.horizon is None and "horizon" not in old.to_dict()


def test_bounded_rows_thin_evenly():
    h = GradientHorizon(None, every=3, max_rows=8)
    for step in range(1, 400):
        if h.due(step):
            h._keep([("r", 0, 0)], step, [np.full(5, float(step))], [np.ones(3)])
    steps, rows = h.rows()
    assert 4 <= len(steps) < 8 and h.stride == 3 * 2 ** 5
    assert steps[0] == 3 and np.all(np.diff(steps) == h.stride)
    np.testing.assert_array_equal(rows[:, 0], steps)


def test_bad_horizon_in_a_file_names_the_field():
    h = GradientHorizon(None, every=2)
    h.layers, h.steps, h._norms, h._sv = [("r", 0, 0)], [2], [[np.ones(4)]], [[np.ones(3)]]
    d = h.to_dict()
    d["layers"][0]["norms"] = [[1.0, "x"]]
    with pytest.raises(FileFormatError, match=r"horizon.layers\[0\].norms\[0\]"):
        GradientHorizon.from_dict(d)
    exp = experiment.load(experiment.resolve("hello_rnn"), weights=False)
    raw = exp.to_dict()
    raw["horizon"] = d
    with pytest.raises(FileFormatError, match="horizon"):
        experiment.Experiment.from_dict(raw)


@pytest.mark.parametrize("budget", [None, 1e-6])
def test_a_budget_makes_rows_sparser_and_keeps_them_evenly_spaced(budget):
    """With a budget, a row that costs more than that share of the training time between
    rows makes rows half as frequent (the kept ones thinned); without one, every due step
    gets its row."""
    exp = experiment.load(experiment.resolve("hello_rnn"), weights=False)
    model, data = exp.build_model(), exp.make_dataset()
    trainer = Trainer(model, data, TrainConfig(steps=40, lr=0.05, batch_size=4, seed=0),
                      device="cpu")
    horizon = GradientHorizon(data.example(), every=1, budget=budget).attach(trainer)
    trainer.run(40)
    steps = np.asarray(horizon.steps)
    if budget is None:
        assert steps.tolist() == list(range(1, 41)) and horizon.stride == 1
    else:
        assert horizon.stride >= 8 and 1 <= len(steps) <= 40 // 8 + 1
        gaps = np.diff(steps)
        assert len(set(gaps.tolist())) <= 1 and (not gaps.size or gaps[0] == horizon.stride)
