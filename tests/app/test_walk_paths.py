"""Paths a new user walked (issue 16's views), each ending where a fresh window would be."""

from __future__ import annotations

import numpy as np

from playground.files import comparison as C
from playground.files import experiment as X
from ui.compare import open_in
from ui.panels.states import SEARCHED
from ui.testing import close_window, make_window, no_running_qt  # noqa: F401


def test_connectivity_of_a_token_model_then_a_value_model(tmp_path, qtbot):
    win = make_window(tmp_path, str(X.resolve("lstm_forget_gate")))
    try:
        panel = win.dock_widget("connectivity", show=True)
        qtbot.waitUntil(lambda: panel.matrix is not None, timeout=30_000)
        axis = panel.strip_plot.getAxis("bottom")
        assert axis._tickLevels is not None                    # the tokens name the steps
        assert win.files.open_path(X.resolve("gru_sine"), as_copy=True, ask=False)
        win.dock_widget("connectivity", show=True)
        assert axis._tickLevels is None and axis.labelText == "input step s"
        qtbot.waitUntil(lambda: panel.matrix is not None, timeout=30_000)
        assert "cannot" not in panel.caption.text()
        T = win.controller.view().steps
        assert panel.matrix.shape == (T, T) and np.isfinite(panel.matrix).all()
        assert (np.diag(panel.matrix) > 0).all()           # y_t depends on x_t
        own = [(float(s), t) for s, t in enumerate(win.controller.view().tokens)]
        assert axis._tickLevels is None or [list(map(tuple, axis._tickLevels[0]))] == [own]
    finally:
        close_window(win)


def test_the_traced_sequence_is_not_found_again_among_the_validation_ones(tmp_path, qtbot):
    win = make_window(tmp_path, str(X.resolve("hello_rnn")))
    try:
        c = win.controller
        traj = win.dock_widget("trajectory", show=True)
        qtbot.waitUntil(lambda: c.validation.current() is not None, timeout=30_000)
        h = np.asarray(c.view().rec.h[0])
        states = c.validation.current().of(c.view().rec)
        copies = [o for o in states if o.shape == h.shape and np.allclose(o, h, atol=1e-6)]
        assert copies, "hello's example is one of its validation sequences"
        win.dock_widget("trajectory", show=True)
        assert len(traj.validation_paths) == len(states) - len(copies)
        panel = win.dock_widget("neurons", show=True)
        panel.start_box.setValue(0)
        panel.end_box.setValue(1)
        panel.threshold_box.setValue(0.5)
        panel.run_search()
        assert panel.result is not None and len(panel.result.units)
        indices = list(c.validation.current().indices)
        for _m, where, _batch in panel.found:
            if where != SEARCHED:
                o = states[indices.index(where)]
                assert not (o.shape == h.shape and np.allclose(o, h, atol=1e-6))
    finally:
        close_window(win)


def test_a_member_training_keeps_the_comparison_until_it_stops(tmp_path, qtbot):
    win = make_window(tmp_path)
    try:
        assert open_in(win, C.resolve("rnn_vs_lstm_adding")) == ""
        view = win.compare_view
        c0 = view.controllers[0]
        assert c0.start_training(100_000) == ""
        qtbot.waitUntil(lambda: c0.training.running, timeout=10_000)
        assert "stop training first" in open_in(win, C.resolve("activation_tanh_vs_relu"))
        assert not win.files.open_path(X.resolve("hello_rnn"), as_copy=True, ask=False)
        assert "training" in win.errors[-1]
        assert not win.files.new()
        assert win.compare_view is view and c0.training.running      # nothing was dropped
        c0.training.stop()
        qtbot.waitUntil(lambda: not c0.training.running, timeout=30_000)
        assert win.files.open_path(X.resolve("hello_rnn"), as_copy=True, ask=False)
        assert win.compare_view is None
    finally:
        close_window(win)
