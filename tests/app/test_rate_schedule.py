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
