"""``playground.show`` beyond one call per module: a what-if that runs in a thread (the last
trace stays drawn meanwhile, the newest what-if wins), each call of an attention module
called twice shown on its own, and a classifier's classes. References: ``playground.inspect``
run directly, and torch's own softmax."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PySide6 import QtWidgets
from test_show import (
    Classifier,
    gru_case,
    opened,  # noqa: F401 - the fixture
)
from torch import nn

import playground as pg
import ui.controller_module
from ui.testing import no_running_qt  # noqa: F401


def test_a_slow_whatif_runs_in_a_thread_and_the_newest_wins(opened, qtbot, monkeypatch):  # noqa: F811
    monkeypatch.setattr(ui.controller_module, "AT_ONCE_S", -1.0)    # every what-if: thread
    win, model, x, y, loss, _ = opened(gru_case)
    c = win.controller
    before = c.trace
    busy = []
    c.traceBusy.connect(busy.append)
    first = pg.Intervention("gru", step=2, target="z", value=1.0)
    newest = pg.Intervention("gru", step=4, target="z", value=0.0, span=None, call=0)
    assert c.apply_interventions([first])
    assert c.apply_interventions([newest])          # while the first one runs
    assert c.trace is before                        # the last trace stays drawn meanwhile
    assert "Tracing the what-if" in win.whatif.state.text()
    qtbot.waitUntil(lambda: c.trace is not before and busy and busy[-1] is False,
                    timeout=60_000)
    assert busy[0] is True
    assert c.interventions == (newest,) and c.base_trace is before
    want = pg.inspect(model, x, y, loss, [newest]).layer("gru")
    np.testing.assert_allclose(c.trace.layer("gru").h, want.h, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(win.panels["h"].heat.data, want.h[0].T, rtol=1e-6, atol=1e-7)
    assert "Active" in win.whatif.state.text()
    # an error of the run in the thread is said, and the trace stays
    shown = c.trace
    monkeypatch.setattr(model.head, "forward", lambda t: 1 / 0)
    assert c.apply_interventions([first])
    qtbot.waitUntil(lambda: busy[-1] is False, timeout=20_000)
    assert c.trace is shown
    assert "ZeroDivisionError" in win.statusBar().currentMessage()


class TwiceAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 8)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        e = self.emb(x)
        a, _ = self.attn(e, e, e)
        b, _ = self.attn(a, a, a)                    # the same module again, on its output
        return self.fc(b)


def test_each_call_of_a_twice_called_attention_is_shown(opened):  # noqa: F811
    torch.manual_seed(6)
    x = torch.randint(0, 10, (1, 6))
    win, model, *_ = opened(lambda: (TwiceAttention(), x, x,
                                     lambda o, y: F.cross_entropy(o[0], y[0])))
    c, tree = win.controller, win.module_tree
    ref = pg.inspect(model, x, x, lambda o, y: F.cross_entropy(o[0], y[0]))
    calls = [r for r in ref.layers if r.node == "attn"]
    assert [r.call for r in calls] == [0, 1]
    assert np.abs(calls[0].weights - calls[1].weights).max() > 1e-3
    item = tree.items["attn"]
    rows = [item.child(k) for k in range(item.childCount())
            if item.child(k).text(0).startswith("call")]     # (beside its out_proj)
    assert [r.text(0) for r in rows] == ["call 1 of 2", "call 2 of 2"]
    panel = win.panels["attention"]
    for k in (1, 0):
        tree.tree.itemClicked.emit(rows[k], 0)
        QtWidgets.QApplication.processEvents()
        assert c.view().attn.call == k
        np.testing.assert_allclose(panel.shown, calls[k].weights[0], rtol=1e-6, atol=1e-7)


def test_a_classifier_shows_its_classes_at_the_last_step(opened):  # noqa: F811
    torch.manual_seed(3)
    x, y = torch.randn(2, 9, 3), torch.tensor([1, 2])
    win, model, *_ = opened(lambda: (Classifier(), x, y, F.cross_entropy))
    panel = win.panels["output"]
    with torch.no_grad():
        probs = torch.softmax(model(x).double(), -1).numpy()
    assert panel.mode == "classes" and win.timeline.n_steps == 9
    win.controls.last_btn.click()
    QtWidgets.QApplication.processEvents()
    best = int(probs[0].argmax())
    assert panel.shown[0][0] == panel.symbols[best]
    assert abs(panel.shown[0][1] - probs[0, best]) < 1e-6
    assert f"target '{panel.symbols[1]}' gets {probs[0, 1]:.3f}" in panel.caption.text()
    win.controls.first_btn.click()
    QtWidgets.QApplication.processEvents()
    assert "no output at this step" in panel.caption.text() and panel.shown == []
