"""Learning-rate schedules and the LSTM forget-gate bias, against PyTorch's own schedulers
(``torch.optim.lr_scheduler``) and ``nn.LSTM``'s bias layout."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_train import TextTask
from torch.optim import lr_scheduler as S

from playground.files.experiment import load as load_experiment
from playground.model.build import build
from playground.model.spec import chain
from playground.train import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("one_thread")


def torch_rates(lr, steps, schedule, warmup=0, step_every=1000, step_factor=0.5):
    """The rate of each step, as PyTorch's schedulers give it."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    main = {"constant": lambda o: S.ConstantLR(o, factor=1.0, total_iters=0),
            "step": lambda o: S.StepLR(o, step_size=step_every, gamma=step_factor),
            "cosine": lambda o: S.CosineAnnealingLR(o, T_max=steps - warmup, eta_min=0.0)}
    if warmup:
        sched = S.SequentialLR(opt, [S.LinearLR(opt, 1 / warmup, 1.0, total_iters=warmup - 1),
                                     main[schedule](opt)], milestones=[warmup])
    else:
        sched = main[schedule](opt)
    rates = []
    for _ in range(steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return rates


def model():
    g = chain(("x", "input", {"encoding": "onehot", "vocab_size": 5}),
              ("rec", "lstm", {"hidden_size": 6}), ("head", "linear", {"out_features": 5}))
    return build(g, seed=0)


@pytest.mark.parametrize("schedule,warmup", [("constant", 0), ("step", 0), ("step", 5),
                                             ("cosine", 0), ("cosine", 5), ("constant", 5)])
def test_rates_match_torch_schedulers(schedule, warmup):
    cfg = TrainConfig(lr=0.02, steps=40, batch_size=4, val_every=0, schedule=schedule,
                      warmup=warmup, step_every=7, step_factor=0.5)
    tr = Trainer(model(), TextTask(), cfg)
    tr.run()
    ref = torch_rates(0.02, 40, schedule, warmup, 7, 0.5)
    np.testing.assert_allclose(tr.history["lr"], ref, rtol=1e-9, atol=1e-15)
    if schedule != "constant" or warmup:
        assert len(set(np.round(ref, 12))) > 3   # the schedule really moves the rate


def test_setting_the_rate_moves_the_base_the_schedule_scales():
    cfg = TrainConfig(lr=0.02, steps=20, batch_size=4, val_every=0, schedule="step",
                      step_every=5, step_factor=0.5)
    tr = Trainer(model(), TextTask(), cfg)
    tr.run(8)
    tr.set_lr(0.1)
    tr.run(8)
    ref = torch_rates(1.0, 16, "step", 0, 5, 0.5)
    expected = [0.02 * f for f in ref[:8]] + [0.1 * f for f in ref[8:]]
    np.testing.assert_allclose(tr.history["lr"], expected, rtol=1e-12)


def test_forget_bias_sets_the_forget_block_only():
    plain = model()
    g = chain(("x", "input", {"encoding": "onehot", "vocab_size": 4}),
              ("rec", "lstm", {"hidden_size": 6, "num_layers": 2}),
              ("head", "linear", {"out_features": 4}))
    two = build(g, seed=0, forget_bias=1.0)
    rnn = two.layers["rec"].rnn
    for l in range(2):
        b_ih, b_hh = getattr(rnn, f"bias_ih_l{l}"), getattr(rnn, f"bias_hh_l{l}")
        assert torch.all(b_ih[6:12] == 1.0) and torch.all(b_hh[6:12] == 0.0)
    # nn.LSTM's gate order is i, f, g, o: the forget gate of the built module starts open
    lstm = torch.nn.LSTM(4, 6, batch_first=True)
    lstm.load_state_dict({k: v for k, v in rnn.state_dict().items() if k.endswith("_l0")})
    x = torch.zeros(1, 1, 4)
    z = lstm.weight_ih_l0 @ x[0, 0] + lstm.bias_ih_l0 + lstm.bias_hh_l0
    assert torch.allclose(torch.sigmoid(z[6:12]), torch.sigmoid(torch.tensor(1.0)))
    other = build(g, seed=0)
    for name, p in other.named_parameters():   # everything else is the plain init
        q = dict(two.named_parameters())[name]
        if "bias" in name:
            keep = torch.ones_like(p, dtype=torch.bool)
            keep[6:12] = False
            assert torch.equal(p[keep], q[keep]), name
        else:
            assert torch.equal(p, q), name
    assert plain.layers["rec"].rnn.bias_ih_l0[6:12].ne(1.0).any()


def _file(tmp_path, **train):
    src = json.loads((ROOT / "presets" / "hello_rnn.json").read_text())
    src["train"].update(train)
    p = tmp_path / "exp.json"
    p.write_text(json.dumps(src))
    return p


def test_experiment_files_carry_the_schedule_and_name_a_bad_one(tmp_path):
    exp = load_experiment(_file(tmp_path, schedule="cosine", warmup=10))
    assert exp.train.schedule == "cosine" and exp.train.warmup == 10
    from playground.errors import FileFormatError

    with pytest.raises(FileFormatError, match=r"train\.step_factor.*\(0, 1\]"):
        load_experiment(_file(tmp_path, schedule="step", step_factor=2.0))
    with pytest.raises(FileFormatError, match=r"train\.schedule.*constant, step, cosine"):
        load_experiment(_file(tmp_path, schedule="exponential"))


def _cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_the_command_line_sets_the_schedule_and_refuses_a_bad_flag(tmp_path):
    r = _cli("train", _file(tmp_path), "--steps", 12, "--lr", 0.05, "--schedule", "step",
             "--step-every", 4, "--step-factor", 0.5, "--quiet")
    assert r.returncode == 0, r.stderr
    r = _cli("train", _file(tmp_path), "--steps", 3, "--step-factor", 3, "--quiet")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == ["error: --step-factor: must be a number in "
                                             "(0, 1], got 3.0"]
