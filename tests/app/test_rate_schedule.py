"""The Training dock's learning rate and schedule: what it sets is what the trainer uses
(the curves' rate against PyTorch's own schedulers), what a save writes, and a preset opened
afterwards shows its own settings, as in a fresh window."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PySide6 import QtWidgets

from playground.files.experiment import PRESETS_DIR, load
from ui.testing import close_window, make_window, no_running_qt  # noqa: F401

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from test_schedule import torch_rates  # noqa: E402


def rate_form(win) -> tuple:
    t = win.training
    return (t.lr.value(), t.schedule.currentData(), t.warmup.value(), t.step_every.value(),
            t.step_factor.value(), t.step_every.isEnabled())


def train(win, qtbot, steps: int) -> None:
    t = win.training
    t.steps.setValue(steps)
    t.start_btn.click()
    qtbot.waitUntil(lambda: not t.running, timeout=60_000)
    QtWidgets.QApplication.processEvents()


def test_the_schedule_set_in_the_dock_trains_saves_and_resets(tmp_path, qtbot):
    win = make_window(tmp_path, str(PRESETS_DIR / "hello_rnn.json"))
    try:
        t = win.training
        exp = load(PRESETS_DIR / "hello_rnn.json")
        assert rate_form(win)[:2] == (exp.train.lr, exp.train.schedule)
        assert not t.step_every.isEnabled()           # only the step schedule cuts
        t.lr.setValue(0.02)
        t.schedule.setCurrentIndex(t.schedule.findData("step"))
        t.step_every.setValue(7)
        t.step_factor.setValue(0.5)
        assert t.step_every.isEnabled() and win.controller.dirty
        train(win, qtbot, 20)
        train(win, qtbot, 10)                         # continues: the schedule goes on
        _, rates = win.curves.rate.getOriginalDataset()
        np.testing.assert_allclose(rates, torch_rates(0.02, 30, "step", 0, 7, 0.5), rtol=1e-9)
        t.warmup.setValue(4)                          # changed between runs: taken up
        t.schedule.setCurrentIndex(t.schedule.findData("constant"))
        train(win, qtbot, 3)
        _, rates = win.curves.rate.getOriginalDataset()
        assert len(rates) == 33 and rates[-1] == 0.02   # warm-up is over at step 30
        out = tmp_path / "mine.json"
        assert win.files.save_to(str(out)), win.errors
        saved = load(out).train
        assert (saved.lr, saved.schedule, saved.warmup, saved.step_every, saved.step_factor) \
            == (0.02, "constant", 4, 7, 0.5)
        t.lr.setValue(0.0)                            # the spin box's floor: still positive
        assert not t.error.isVisible()
        win.files.open_path(str(PRESETS_DIR / "gru_sine.json"), as_copy=True, ask=False)
        QtWidgets.QApplication.processEvents()
        walked = rate_form(win)
    finally:
        close_window(win)
    fresh = make_window(tmp_path, str(PRESETS_DIR / "gru_sine.json"))
    try:
        assert walked == rate_form(fresh)
        g = load(PRESETS_DIR / "gru_sine.json").train
        assert rate_form(fresh)[:5] == (g.lr, g.schedule, g.warmup, g.step_every, g.step_factor)
    finally:
        close_window(fresh)


def test_the_forget_gate_bias_set_in_the_dock_remakes_the_untrained_lstm(tmp_path, qtbot):
    """The Training dock's forget-gate bias: with the untrained weights on view they are made
    again with it (the forget slice of b_ih set, of b_hh zero, every other weight the seed's),
    the trace's forget gate at step 0 is sigmoid of it plus the input terms, a save writes it;
    the trained weights on view are left alone; it is off for a model without an LSTM."""
    import torch

    win = make_window(tmp_path, str(PRESETS_DIR / "lstm_forget_gate.json"))
    try:
        t, c = win.training, win.controller
        assert t.forget_on.isEnabled()
        trained = {k: v.clone() for k, v in c.model.state_dict().items()}
        t.forget_on.setChecked(True)                  # trained on view: nothing rebuilt
        t.forget_bias.setValue(2.0)
        assert all(torch.equal(v, c.model.state_dict()[k]) for k, v in trained.items())
        t.forget_on.setChecked(False)
        assert c.use_trained(False) == ""
        plain = {k: v.clone() for k, v in c.model.state_dict().items()}
        t.forget_on.setChecked(True)                  # 2.0 from before
        qtbot.waitUntil(lambda: c.trace is not None and c.model.state_dict() is not None)
        now = c.model.state_dict()
        lstm = [k for k in now if k.endswith("bias_ih_l0")]
        assert lstm
        for k, v in now.items():
            if k.endswith(("bias_ih_l0", "bias_hh_l0")):
                H = v.numel() // 4
                want = plain[k].clone()
                want[H:2 * H] = 2.0 if "ih" in k else 0.0
                torch.testing.assert_close(v, want, rtol=0, atol=0)
            else:
                assert torch.equal(v, plain[k]), k
        out = tmp_path / "fb.json"
        assert win.files.save_to(str(out)), win.errors
        assert load(out).train.forget_bias == 2.0
        assert win.files.open_path(str(PRESETS_DIR / "hello_rnn.json"), as_copy=True,
                                   ask=False), win.errors
        QtWidgets.QApplication.processEvents()
        assert not t.forget_on.isEnabled() and not t.forget_bias.isEnabled()
    finally:
        close_window(win)
