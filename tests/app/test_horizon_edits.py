"""The gradient horizon along a user's path: train, switch the weights, edit the model,
save; and a read while the trainer adds rows."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from playground.files.experiment import Experiment, load
from playground.model.spec import chain
from playground.train import TrainConfig
from playground.train.horizon import GradientHorizon
from ui.testing import close_window, make_window, no_running_qt  # noqa: F401


@pytest.fixture
def win(tmp_path, qtbot):
    graph = chain(("x", "input", {"encoding": "onehot", "vocab_size": 5}),
                  ("cell", "gru", {"hidden_size": 6}),
                  ("head", "linear", {"out_features": 5, "output": "softmax"}))
    exp = Experiment(name="tiny gru", graph=graph,
                     data={"source": "text", "text": "hello " * 8, "level": "char",
                           "window": 8},
                     train=TrainConfig(steps=6, batch_size=8, lr=0.05))
    exp.save(tmp_path / "tiny.json")
    w = make_window(tmp_path, str(tmp_path / "tiny.json"))
    yield w
    close_window(w)


def test_switching_weights_keeps_the_horizon_and_an_edit_clears_it(win, qtbot, tmp_path,
                                                                    monkeypatch):
    from ui import horizon_recorder

    monkeypatch.setattr(horizon_recorder, "BUDGET", None)
    c = win.controller
    panel = win.dock_widget("horizon", show=True)
    assert c.start_training(6) == ""
    qtbot.waitUntil(lambda: not c.training.running, timeout=60_000)
    qtbot.wait(50)
    steps, rows = c.horizon.horizon.rows(0)
    assert len(steps) >= 3
    assert c.use_trained(False) == ""          # the untrained weights, then back
    assert c.use_trained(True) == ""
    win.dock_widget("horizon", show=True)
    qtbot.wait(20)
    np.testing.assert_array_equal(panel.steps, steps)
    np.testing.assert_allclose(panel.rows, rows, rtol=1e-5)

    win.canvas.set_param("cell", "hidden_size", 9)     # another model: not its horizon
    qtbot.wait(20)
    win.dock_widget("horizon", show=True)
    qtbot.wait(20)
    assert c.horizon.horizon is None and panel.rows is None
    assert not panel.message.isHidden()
    out = tmp_path / "edited.json"
    assert c.save(str(out)) == ""
    assert load(out).horizon is None
    assert c.open(str(out)) == ""
    assert c.horizon.horizon is None


def test_a_snapshot_read_while_rows_are_added_is_consistent():
    hz = GradientHorizon(every=1, top_k=2, max_rows=10_000)
    hz.layers = [("cell", 0, 0)]
    hz.steps, hz._norms, hz._sv = [], [[]], [[]]
    stop = threading.Event()

    def add():
        k = 0
        while not stop.is_set() and k < 3000:
            hz._keep([("cell", 0, 0)], k, [np.full(5, k + 1.0)], [np.array([2.0, 1.0])])
            k += 1

    t = threading.Thread(target=add)
    t.start()
    try:
        while t.is_alive():
            steps, rows, svs = hz.snapshot(0)
            assert len(steps) == len(rows) == len(svs)
            if len(steps):
                np.testing.assert_array_equal(rows[:, 0], steps + 1.0)
    finally:
        stop.set()
        t.join()
