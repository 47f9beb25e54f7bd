"""Drive the app as a user would: open, type, step, what-if, train, save, reopen."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6 import QtCore

from playground.data import bind_inputs
from playground.files.experiment import Experiment
from playground.model.spec import chain
from playground.tracing import trace
from playground.train import TrainConfig
from ui.testing import close_window, make_window, no_running_qt  # noqa: F401

TEXT = "hello hello hello hello hello hello hello hello "
Key = QtCore.Qt.Key


def tiny_experiment(tmp_path, kind="lstm", name="tiny", **train):
    graph = chain(("x", "input", {"encoding": "onehot", "vocab_size": 5}),
                  ("cell", kind, {"hidden_size": 6}),
                  ("head", "linear", {"out_features": 5, "output": "softmax"}))
    cfg = {"steps": 40, "batch_size": 8, "lr": 0.05, "val_every": 10, **train}
    exp = Experiment(name=name, graph=graph,
                     data={"source": "text", "text": TEXT, "level": "char", "window": 8},
                     train=TrainConfig(**cfg), description="a tiny test model",
                     what_to_look_at="the forget gate")
    path = tmp_path / f"{name}.json"
    exp.save(path)
    return path


@pytest.fixture
def win(tmp_path, qtbot):
    w = make_window(tmp_path, str(tiny_experiment(tmp_path)))
    yield w
    close_window(w)


def reference(win):
    """An independent trace of the window's model on its current input."""
    s = win.controller
    b = s.batch
    return trace(s.model, bind_inputs(s.model, b), b.targets, b.mask)


def type_sequence(qtbot, win, text):
    edit = win.seq_input.edit
    edit.setFocus()
    edit.clear()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Key.Key_Return)


def assert_panels_at(win, ref, t):
    rec = ref.layer("cell")
    P = win.panels
    np.testing.assert_allclose(P["h"].bars.values, rec.h[0, t], rtol=1e-5, atol=1e-6)
    drawn = P["h"].bars.curve.heights()
    np.testing.assert_allclose(drawn, rec.h[0, t], rtol=1e-5, atol=1e-6)
    win.docks["c"].raise_()    # tabbed behind h: brought up to date when its tab is shown
    np.testing.assert_allclose(P["c"].bars.values, rec.c[0, t], rtol=1e-5, atol=1e-6)
    win.docks["h"].raise_()
    assert P["h"].heat.line.value() == t
    for r, k in enumerate("ifgo"):
        assert P["gates"].letters[r] == k
        bars = P["gates"].bars[r]
        np.testing.assert_allclose(bars.curve.heights(), rec.gates[k][0, t], rtol=1e-5,
                                   atol=1e-6)
    probs = ref.probs[0, t]
    top = np.sort(probs)[::-1][:len(P["output"].shown)]
    np.testing.assert_allclose([p for _, p, _ in P["output"].shown], top, rtol=1e-5)
    np.testing.assert_allclose(P["output"].net.opts["height"], top, rtol=1e-5)
    # each bar is named, under it, by the symbol the reference ranks there
    out = P["output"]
    order = np.argsort(-probs, kind="stable")[:len(out.shown)]
    names = out.names
    from ui.panels.io import _shown
    assert names.texts[:len(order)] == [_shown(s) for s, _, _ in out.shown]
    assert [out.symbols[i] for i in order] == [s for s, _, _ in out.shown]
    for j, item in enumerate(names.items[:len(order)]):
        assert item.isVisible() and item.text() == names.texts[j]
        centre = item.mapToScene(item.boundingRect().center()).x()
        bar = out.plot.vb.mapViewToScene(QtCore.QPointF(float(j), 0.0)).x()
        assert abs(centre - bar) <= 1.5
    loss_dot = P["loss"].dot.item
    if ref.mask[0, t] > 0:
        assert loss_dot.isVisible()
        np.testing.assert_allclose(loss_dot.pos().y(), ref.step_loss[0, t], rtol=1e-5,
                                   atol=1e-7)
        assert loss_dot.pos().x() == t
    else:  # a step with no target has no loss: no dot, not a loss of 0
        assert not loss_dot.isVisible()
    f_line = next(f for n, f, _ in P["equation"].lines if n == "f_t")
    assert f"{rec.gates['f'][0, t, 0]:.4f}" in f_line
    assert f"{rec.pre['f'][0, t, 0]:.4f}" in f_line
    assert "background:#d62728" in P["input"].strip.text()
    n = np.linalg.norm(rec.dh[0, t])
    gdot = P["gradient"].dot.item
    assert gdot.isVisible() == (n > 0)   # log axis: a zero gradient is not drawn
    if n > 0:
        np.testing.assert_allclose(10 ** gdot.pos().y(), n, rtol=1e-5)


def test_type_a_sequence_and_step_through(win, qtbot):
    assert win.controller.name == "tiny"
    type_sequence(qtbot, win, "hello")
    assert win.controller.input_text == "hello"
    assert win.timeline.n_steps == 5
    ref = reference(win)
    win.activateWindow()
    win.panels["h"].setFocus()
    for _ in range(3):
        qtbot.keyClick(win, Key.Key_Right)
    assert win.timeline.step == 3
    assert_panels_at(win, ref, 3)
    qtbot.keyClick(win, Key.Key_Left)
    assert win.timeline.step == 2
    assert_panels_at(win, ref, 2)
    qtbot.keyClick(win, Key.Key_End)
    assert win.timeline.step == 4
    assert_panels_at(win, ref, 4)
    qtbot.keyClick(win, Key.Key_Home)
    assert win.timeline.step == 0
    assert_panels_at(win, ref, 0)
    assert "<span style='background:#d62728" in win.panels["input"].strip.text()
    # the scrubber moves the step too
    win.controls.slider.setValue(1)
    assert_panels_at(win, ref, 1)
    assert win.controls.label.text() == "t = 1 / 4"


def test_bad_input_is_shown_inline_and_the_trace_stays(win, qtbot):
    type_sequence(qtbot, win, "hel")
    before = win.controller.trace
    type_sequence(qtbot, win, "helxo")
    err = win.seq_input.error
    assert err.isVisibleTo(win.seq_input)
    assert "'x'" in err.text() and "position 4" in err.text()
    assert "Traceback" not in err.text()
    assert win.controller.trace is before
    type_sequence(qtbot, win, "hell")
    assert not err.isVisibleTo(win.seq_input)
    assert win.timeline.n_steps == 4


def test_hover_shows_exact_values(win, qtbot):
    type_sequence(qtbot, win, "hello")
    rec = reference(win).layer("cell")
    panel = win.panels["h"]
    pos = panel.heat.plot.vb.mapViewToScene(QtCore.QPointF(2.0, 3.0))
    panel._on_mouse(pos)
    assert f"{rec.h[0, 2, 3]:.6g}" in panel.hover_label.text()
    assert "t=2" in panel.hover_label.text() and "unit=3" in panel.hover_label.text()


def test_backward_mode_walks_from_last_to_first(win, qtbot):
    type_sequence(qtbot, win, "hello")
    seen = []
    win.timeline.events.step.connect(seen.append)
    win.timeline.speed = 200
    win.controls.back_btn.click()
    qtbot.waitUntil(lambda: not win.timeline.playing, timeout=5000)
    assert seen[0] == 4 and seen[-1] == 0
    assert seen == sorted(seen, reverse=True)
    win.controls.back_btn.click()  # back to forward mode
    assert win.timeline.direction == "forward"


def test_whatif_changes_the_rest_and_restores(win, qtbot):
    type_sequence(qtbot, win, "hello")
    orig = reference(win).layer("cell")
    win.timeline.step = 2
    w = win.whatif
    w.target.setCurrentIndex(w.target.findData("f"))
    w.value.setValue(0.0)
    w.span.setCurrentIndex(w.span.findData(None))
    w.apply_btn.click()
    s = win.controller
    assert s.base_trace is not None and len(s.interventions) == 1
    new = s.trace.layer("cell")
    np.testing.assert_allclose(new.gates["f"][0, 2:], 0.0)
    np.testing.assert_allclose(new.h[0, :2], orig.h[0, :2], rtol=1e-5, atol=1e-6)
    assert not np.allclose(new.h[0, 3], orig.h[0, 3])
    win.timeline.step = 3
    bars = win.panels["h"].bars
    assert bars.ghost.isVisible()
    np.testing.assert_allclose(bars.values, new.h[0, 3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bars.ghost.heights(), orig.h[0, 3], rtol=1e-5, atol=1e-6)
    assert "Active" in w.state.text()
    f_line = next(f for n, f, _ in win.panels["equation"].lines if n == "f_t")
    assert "forced by what-if" in f_line and "= <b style='color:#1f4e9c'>0.0000</b>" in f_line
    w.restore_btn.click()
    assert s.base_trace is None and not s.interventions
    assert not bars.ghost.isVisible()
    np.testing.assert_allclose(bars.values, orig.h[0, 3], rtol=1e-5, atol=1e-6)


def test_train_stop_save_reopen(win, qtbot, tmp_path):
    tp = win.training
    assert tp.start(40)
    qtbot.waitUntil(lambda: not tp.running, timeout=60_000)
    assert win.curves.points == 40
    x, y = win.curves.loss.getData()
    assert len(x) == 40 and np.all(np.isfinite(y))
    assert y[-5:].mean() < y[:5].mean()          # it learned something
    assert win.controller.dirty and win.controller.trace is not None
    # a long run, stopped by the user
    assert tp.start(100_000)
    qtbot.waitUntil(lambda: win.curves.points > 45, timeout=60_000)
    tp.stop_btn.click()
    qtbot.waitUntil(lambda: not tp.running, timeout=10_000)
    assert "stopped" in tp.status.text()
    steps = win.curves.points
    assert 45 < steps < 100_040
    out = tmp_path / "trained.json"
    assert win.files.save_to(str(out))
    assert not win.controller.dirty
    weights = {k: v.clone() for k, v in win.controller.model.state_dict().items()}
    ref = reference(win)
    assert win.files.open_path(str(out))
    assert win.controller.path == str(out)
    for k, v in win.controller.model.state_dict().items():
        torch.testing.assert_close(v, weights[k])
    np.testing.assert_allclose(reference(win).layer("cell").h, ref.layer("cell").h, rtol=1e-5)


def test_panels_follow_training_live(win, qtbot):
    tp = win.training
    traces = []
    win.controller.traceChanged.connect(lambda: traces.append(win.controller.trace))
    assert tp.start(60)
    qtbot.waitUntil(lambda: not tp.running, timeout=60_000)
    assert len(traces) >= 2   # at least one live trace during training, and the final one
    assert win.panels["h"].array is not None


def test_divergence_arrives_as_a_message(tmp_path, qtbot):
    path = tiny_experiment(tmp_path, kind="rnn", name="boom", lr=1e12, optimizer="sgd",
                           explode_threshold=1e-3)
    w = make_window(tmp_path, str(path))
    try:
        assert w.training.start(20)
        qtbot.waitUntil(lambda: not w.training.running, timeout=30_000)
        assert w.training.error.isVisibleTo(w.training)
        assert "training stopped" in w.training.error.text()
    finally:
        close_window(w)


def test_closing_during_training_stops_the_worker(tmp_path, qtbot):
    w = make_window(tmp_path, str(tiny_experiment(tmp_path)))
    assert w.training.start(1_000_000)
    job = w.controller.training
    qtbot.waitUntil(lambda: bool(w.curves.points or job._pending), timeout=30_000)
    thread = job.runner.thread
    close_window(w)
    assert thread is None or not thread.isRunning()
    assert not w.training.running


def test_quitting_during_training_asks_first_and_cancel_keeps_it_running(tmp_path, qtbot):
    w = make_window(tmp_path, str(tiny_experiment(tmp_path)))
    asked = []
    w.files.ask_stop_training = lambda: asked.append(w.controller.training.trainer.step) or False
    try:
        assert w.training.start(1_000_000)
        qtbot.waitUntil(lambda: w.curves.points > 0, timeout=30_000)
        w.close()                                 # as Ctrl+Q does
        assert asked and w.isVisible() and w.training.running
    finally:
        close_window(w)
    assert not w.controller.training.running


def test_bad_file_keeps_the_current_experiment(win, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1, "name": "x", "graph": {"nodes": 3}, "data": {}}')
    before = (win.controller.name, win.controller.trace)
    assert not win.files.open_path(str(bad))
    assert win.errors and "graph.nodes" in win.errors[-1]
    assert (win.controller.name, win.controller.trace) == before
    (tmp_path / "junk.json").write_text("{ not json")
    assert not win.files.open_path(str(tmp_path / "junk.json"))
    assert "not valid JSON" in win.errors[-1]


def test_unsaved_changes_are_asked_about(win, tmp_path):
    win.controller.set_dirty(True)
    asked = []
    win.files.ask_unsaved = lambda: asked.append(1) or "cancel"
    assert not win.files.new()
    assert asked and win.controller.name == "tiny"
    win.files.ask_unsaved = lambda: "discard"
    assert win.files.new()
    assert not win.controller.dirty


def test_layout_and_recent_files_are_remembered(tmp_path, qtbot):
    path = str(tiny_experiment(tmp_path))
    w = make_window(tmp_path, path)
    w.docks["equation"].hide()
    close_window(w)
    w2 = make_window(tmp_path)
    try:
        assert not w2.docks["equation"].isVisible()
        assert w2.docks["h"].isVisible()
        assert w2.files.recent()[0].endswith("tiny.json")
    finally:
        close_window(w2)


def test_no_stray_tab_bar_over_the_docks(win):
    """Qt leaves copies of dock tab bars at stale places (drawn over the sequence input);
    the window moves them away, and keeps the real ones beside their docks."""
    from PySide6 import QtWidgets

    def check():
        QtWidgets.QApplication.processEvents()
        docks = {d.windowTitle(): d.geometry() for d in win.docks.values()
                 if d.isVisible() and not d.isFloating()}
        inside = win.rect()
        bars = [b for b in win.findChildren(QtWidgets.QTabBar,
                                            options=QtCore.Qt.FindChildOption.FindDirectChildrenOnly)
                if b.isVisible() and b.geometry().intersects(inside)]
        over = [(b.tabText(0), b.geometry()) for b in bars
                if any(b.geometry().intersects(r) for r in docks.values())]
        assert not over
        titles = {tuple(b.tabText(i) for i in range(b.count())) for b in bars}
        for group in (("Hidden state h", "Cell state c", "Neuron search"),
                      ("Gates", "Attention"),
                      ("Gradient (BPTT)", "Jacobian norms", "Trajectory", "Connectivity"),
                      ("Loss per step", "Training curves", "Gradient horizon")):
            assert group in titles            # the group's own bar is still on screen

    check()
    win.reset_layout()
    check()


def test_every_panel_exports_png_svg_csv(win, tmp_path):
    type_sequence_plain(win, "hello")
    for key, panel in win.panels.items():
        for ext in ("png", "svg", "csv"):
            out = tmp_path / f"{key}.{ext}"
            panel.export(str(out))
            assert out.exists() and out.stat().st_size > 0, (key, ext)
    rows = (tmp_path / "h.csv").read_text().splitlines()
    assert rows[0].startswith("t,h[0]")
    h = reference(win).layer("cell").h[0]
    assert len(rows) == 1 + len(h)
    np.testing.assert_allclose([float(v) for v in rows[3].split(",")[1:]], h[2], rtol=1e-3)


def type_sequence_plain(win, text):
    assert win.seq_input.set_text(text)


def test_editing_the_graph_on_the_canvas_rebuilds_the_model(win):
    canvas = win.canvas
    if not hasattr(canvas, "set_param"):
        pytest.skip("the canvas editor is not there")
    type_sequence_plain(win, "hello")
    canvas.set_param("cell", "hidden_size", 7)
    s = win.controller
    assert s.graph.node("cell").params["hidden_size"] == 7
    assert s.trace.layer("cell").h.shape == (1, 5, 7)
    assert win.panels["h"].array.shape == (5, 7) and s.dirty
    assert "re-initialised" in win.statusBar().currentMessage()
    canvas.undo_stack.undo()
    assert s.trace.layer("cell").h.shape == (1, 5, 6)


def test_space_plays_to_the_end(win, qtbot):
    type_sequence_plain(win, "hello")
    win.timeline.speed = 200
    win.panels["h"].setFocus()
    qtbot.keyClick(win, Key.Key_Space)
    assert win.timeline.playing
    qtbot.waitUntil(lambda: not win.timeline.playing, timeout=5000)
    assert win.timeline.step == 4
    np.testing.assert_allclose(win.panels["h"].bars.values, reference(win).layer("cell").h[0, 4],
                               rtol=1e-5, atol=1e-6)


def test_output_legend_and_names_follow_the_user(win, qtbot):
    """A click on the legend's "network" entry hides those bars (and shows them again);
    zoomed in, the names of bars out of view are not drawn over the axis."""
    from PySide6 import QtWidgets

    type_sequence_plain(win, "hello")
    out = win.panels["output"]
    win.docks["output"].show()
    QtWidgets.QApplication.processEvents()
    view = out.layout_widget
    sample = next(s for s, label in out.legend.items if label.text == "network")

    def click_sample():
        pos = view.mapFromScene(sample.sceneBoundingRect().center())
        qtbot.mouseClick(view.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)
        QtWidgets.QApplication.processEvents()

    assert out.net.isVisible()
    click_sample()
    assert not out.net.isVisible()
    win.timeline.step = 1                     # stays hidden at the next step
    assert not out.net.isVisible()
    click_sample()
    assert out.net.isVisible()

    n = len(out.shown)
    assert all(it.isVisible() for it in out.names.items[:n])
    out.plot.vb.setXRange(1.6, n - 1 + 0.4, padding=0)
    QtWidgets.QApplication.processEvents()
    seen = [it.isVisible() for it in out.names.items[:n]]
    assert seen == [False, False] + [True] * (n - 2)
