"""The defects a new user found in the window, one test each (numbers as in the issue
"The window is right after every open, edit and switch")."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from playground.data.dataset import format_value
from playground.files.experiment import PRESETS_DIR
from ui.testing import close_window, make_window, no_running_qt  # noqa: F401

Key = QtCore.Qt.Key
Mod = QtCore.Qt.KeyboardModifier


@pytest.fixture
def win(tmp_path, qtbot):
    w = make_window(tmp_path, str(PRESETS_DIR / "hello_rnn.json"))
    w.resize(1600, 1000)
    qtbot.waitExposed(w)
    yield w
    close_window(w)


def preset(win, name):
    assert win.files.open_path(str(PRESETS_DIR / f"{name}.json"), as_copy=True, ask=False)
    QtWidgets.QApplication.processEvents()


# 8 --------------------------------------------------------------------------------------
def test_undo_redo_keys_work_from_the_canvas_without_ambiguity(win, qtbot):
    canvas = win.canvas
    n = len(canvas.model.graph.nodes)
    canvas.add_node("gru")
    canvas.view.setFocus()
    qtbot.keyClick(canvas.view, Key.Key_Z, Mod.ControlModifier)
    assert len(canvas.model.graph.nodes) == n
    qtbot.keyClick(canvas.view, Key.Key_Z, Mod.ControlModifier | Mod.ShiftModifier)
    assert len(canvas.model.graph.nodes) == n + 1
    qtbot.keyClick(canvas.view, Key.Key_Z, Mod.ControlModifier)
    qtbot.keyClick(canvas.view, Key.Key_Y, Mod.ControlModifier)
    assert len(canvas.model.graph.nodes) == n + 1
    # each key belongs to one action of the window: none is ambiguous
    keys = {}
    for act in win.findChildren(QtGui.QAction):
        if act.isEnabled() or act in win.menus.values():
            for k in act.shortcuts():
                if act.shortcutContext() != QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut:
                    keys.setdefault(k.toString(), set()).add(act)
    assert all(len(a) == 1 for k, a in keys.items() if k in ("Ctrl+Z", "Ctrl+Shift+Z",
                                                             "Ctrl+Y")), keys


def test_the_edit_menu_shows_its_shortcuts_and_ctrl_a_selects_every_node(win, qtbot):
    m = win.menus
    for name in ("undo", "redo", "copy", "paste", "delete", "select_all", "new", "open",
                 "save", "quit", "shortcuts"):
        assert m[name].shortcuts(), name
    canvas = win.canvas
    canvas.view.setFocus()
    qtbot.keyClick(canvas.view, Key.Key_A, Mod.ControlModifier)
    assert set(canvas.scene.selected_node_ids()) == {n.id for n in canvas.model.graph.nodes}


def test_file_new_opens_an_empty_canvas(win):
    assert win.files.new()
    assert win.canvas.model.graph.nodes == [] and win.controller.model is None
    assert win.controller.trace is None and win.windowTitle().startswith("untitled")
    assert "Drag layers" in win.guide.widget().text()
    assert not win.training.start_btn.isEnabled()


# 9 --------------------------------------------------------------------------------------
def test_a_log_axis_over_a_narrow_range_keeps_its_labels(qtbot):
    from ui.panels.base import Panel, decade_labels

    p = Panel()
    qtbot.addWidget(p)
    plot = p.add_plot(0, 0, "norms")
    plot.setLogMode(y=True)
    decade_labels(plot.getAxis("left"))
    plot.setRange(yRange=(np.log10(0.2), np.log10(0.5)), padding=0)
    axis = plot.getAxis("left")
    values = [v for _, vs in axis.tickValues(*axis.range, 200) for v in vs]
    assert any(s for s in axis.tickStrings(values, 1.0, 0.1))
    plot.setRange(yRange=(-8, 0), padding=0)   # many decades: only decades are named
    strings = axis.tickStrings([-8.0, -7.5, -7.0], 1.0, 0.5)
    assert strings[1] == "" and strings[0] and strings[2]


# 10 -------------------------------------------------------------------------------------
def test_numbers_in_the_input_strip_stay_apart_and_read_cleanly(win):
    from ui.panels.io import token_strip

    strip = token_strip(["0.5", "1", "0.5", "0", "-0.5"], 0)
    assert "1</span> <span" in strip                 # "1" is not glued to the next "0.5"
    chars = token_strip(list("hello"), 0)
    assert "e</span><span" in chars                  # characters stay side by side
    assert [format_value(v) for v in (-4.9e-16, -0.0, 0.25, -1.5, 3e5)] == \
        ["0", "0", "0.25", "-1.5", "3e+05"]
    preset(win, "gru_sine")
    assert not any("e-1" in t or t == "-0" for t in win.controller.tokens)


# 12 -------------------------------------------------------------------------------------
def test_a_step_without_a_target_is_no_loss_not_zero(win):
    preset(win, "adding_rnn")                      # many-to-one: only the last step counts
    loss = win.panels["loss"]
    assert np.isnan(loss.loss[:-1]).all() and np.isfinite(loss.loss[-1])
    win.timeline.step = 3
    assert not loss.dot.item.isVisible()
    assert "carry no loss" in loss.caption.text()


# 13 -------------------------------------------------------------------------------------
def test_paused_training_says_so_and_the_end_disables_pause_and_stop(win, qtbot):
    tp = win.training
    assert tp.start(100_000)
    qtbot.waitUntil(lambda: win.curves.points > 0, timeout=30_000)
    tp.pause_btn.click()
    assert "paused" in tp.status.text()
    qtbot.wait(600)                                 # progress batches keep coming
    assert "paused" in tp.status.text() and "steps/s" not in tp.status.text()
    tp.pause_btn.click()
    tp.stop()
    qtbot.waitUntil(lambda: not tp.running, timeout=30_000)
    assert not tp.pause_btn.isEnabled() and not tp.stop_btn.isEnabled()
    assert tp.start_btn.isEnabled()


# 14 -------------------------------------------------------------------------------------
def test_stale_panels_say_so(win):
    h = win.panels["h"]
    assert not h.stale_label.isVisibleTo(h)
    win.seq_input.edit.setText("hex")              # 'x' is not in hello's vocabulary
    win.seq_input.apply()
    assert h.stale_label.isVisibleTo(h) and "sequence" in h.stale_label.text()
    win.seq_input.set_text("hel")
    assert not h.stale_label.isVisibleTo(h)
    canvas = win.canvas
    canvas.set_param("rnn", "hidden_size", 12)    # fine: rebuilt, current
    assert not h.stale_label.isVisibleTo(h)
    canvas.model.disconnect("x", "rnn")            # invalid: the old model stays shown
    assert h.stale_label.isVisibleTo(h) and "problem" in h.stale_label.text()
    canvas.undo_stack.undo() if canvas.undo_stack.canUndo() else None
    canvas.model.connect("x", "rnn")
    assert not h.stale_label.isVisibleTo(h)


# 5 --------------------------------------------------------------------------------------
def test_an_attention_only_model_shows_no_leftover_gradient_axes(win):
    preset(win, "lstm_forget_gate")
    preset(win, "toy_attention_heads")
    g = win.panels["gradient"]
    assert not g.layout_widget.isVisibleTo(g)
    assert "no recurrent layer" in g.message.text()
    for p in g.plots:   # nothing of the LSTM's 40 steps is left in view
        (x0, x1), _ = p.vb.viewRange()
        assert x1 <= 1
        assert not p.getAxis("left").autoSIPrefix and not p.getAxis("bottom").autoSIPrefix


# 16 -------------------------------------------------------------------------------------
def test_png_export_at_two_and_four_times_the_screen_size(win, tmp_path):
    panel = win.panels["h"]
    for scale in (1, 2, 4):
        out = tmp_path / f"h{scale}.png"
        panel.export(str(out), scale)
        img = QtGui.QImage(str(out))
        assert (img.width(), img.height()) == (panel.width() * scale, panel.height() * scale)
    big = QtGui.QImage(str(tmp_path / "h4.png"))
    colours = {big.pixelColor(x, y).name() for x in range(0, big.width(), 37)
               for y in range(0, big.height(), 37)}
    assert len(colours) > 10                      # the heatmap is drawn, not a blank page


# 17 -------------------------------------------------------------------------------------
def test_help_lists_the_real_shortcuts_and_has_an_about_box(win):
    from ui.menus import shortcut_rows, show_about, show_shortcuts

    rows = dict(shortcut_rows(win))
    texts = {a.text().replace("&", "").rstrip(".") for a in win.menus.values()}
    for keys, what in rows.items():
        assert what in texts or keys in ("Left / Right", "Space", "Home / End",
                                         "Drag output → input", "Wheel", "Middle-drag", "F")
    assert any("Undo" in w for w in rows.values()) and "Space" in rows
    box = show_shortcuts(win)
    assert "Ctrl+Shift+Z" in box.text() and "Ctrl+Y" in box.text()
    box.close()
    about = show_about(win)
    assert "Sequence Playground" in about.text() and "PyTorch" in about.text()
    about.close()
    win.docks["h"].close()
    win.menus["reset_layout"].trigger()
    assert win.docks["h"].isVisible()


# 15 -------------------------------------------------------------------------------------
def test_heatmaps_have_colour_bars_with_their_levels(win):
    h = win.panels["h"].heat
    assert h.bar is not None and tuple(h.bar.levels()) == tuple(h.levels) == (-1.0, 1.0)
    preset(win, "lstm_forget_gate")
    gates = win.panels["gates"]
    assert [tuple(gates.heats[r].bar.levels()) for r in range(4)] == \
        [(0.0, 1.0), (0.0, 1.0), (-1.0, 1.0), (0.0, 1.0)]     # i, f, g (tanh), o


def test_relu_states_use_a_sequential_map_with_zero_at_one_end(win):
    from ui.panels.base import GATE_CMAP, STATE_CMAP

    preset(win, "exploding_relu")
    heat = win.panels["h"].heat
    assert heat.levels[0] == 0.0 and heat.item.getColorMap() is GATE_CMAP
    preset(win, "hello_rnn")                       # tanh again: diverging, centred on 0
    assert heat.item.getColorMap() is STATE_CMAP


def test_attention_axes_name_the_tokens(win):
    preset(win, "toy_attention_heads")
    att, tokens = win.panels["attention"], win.controller.tokens
    win.docks["attention"].raise_()
    QtWidgets.QApplication.processEvents()
    ticks = att.heats[0].plot.getAxis("bottom")._tickLevels
    assert ticks is not None
    named = dict(ticks[0])
    assert len(named) >= min(len(tokens), 12)
    from ui.panels.io import _shown
    assert all(named[float(i)] == _shown(tokens[i]) for i in map(int, named))


def test_a_large_vocabulary_names_every_kth_input_symbol(win):
    preset(win, "tbptt_long_text")                 # ~40 symbols
    syms = win.controller.dataset.vocab.symbols
    assert len(syms) > 30
    ticks = win.panels["input"].plot.getAxis("bottom")._tickLevels
    assert 8 <= len(ticks[0]) <= 16 and len(ticks[1]) == len(syms)


# 11 -------------------------------------------------------------------------------------
def test_long_texts_scroll_or_show_in_full_instead_of_being_cut(win, qtbot):
    preset(win, "lstm_forget_gate")
    QtWidgets.QApplication.processEvents()
    guide = win.guide                              # the lesson scrolls to its last line
    assert isinstance(guide, QtWidgets.QScrollArea)
    label = guide.widget()
    assert label.height() >= label.heightForWidth(label.width()) - 2
    eq = win.panels["equation"]                    # the equation's last line is reachable
    eq.scroll.resize(eq.scroll.width(), 60)
    QtWidgets.QApplication.processEvents()
    assert eq.text.minimumHeight() > 60 and eq.scroll.verticalScrollBar().maximum() > 0
    h = win.panels["h"]                            # a caption takes its panel's width
    assert h.caption.width() >= h.width() - 120
    shown = []
    monkeypatch_tip = QtWidgets.QToolTip.showText
    try:
        QtWidgets.QToolTip.showText = lambda pos, text, w=None: shown.append(text)
        QtWidgets.QApplication.sendEvent(h.caption, QtGui.QHelpEvent(
            QtCore.QEvent.Type.ToolTip, QtCore.QPoint(2, 2), h.caption.mapToGlobal(
                QtCore.QPoint(2, 2))))
    finally:
        QtWidgets.QToolTip.showText = monkeypatch_tip
    assert shown == [h.caption.text()]
    win.seq_input.edit.setText("zz")               # the error shows under the text field
    win.seq_input.apply()
    QtWidgets.QApplication.processEvents()
    err, edit = win.seq_input.error, win.seq_input.edit
    assert err.isVisibleTo(win.seq_input) and err.y() > edit.y()
    assert err.y() < win.seq_input.example_btn.y()


# the analysis runs off the GUI thread -------------------------------------------------
def test_the_jacobian_analysis_runs_in_a_thread_with_a_busy_mark(win, qtbot, monkeypatch):
    import threading

    from playground.tracing import analysis
    from ui import jobs

    threads, plain = [], jobs.jacobian_analysis

    def recorded(model, rec):
        threads.append(threading.current_thread())
        return plain(model, rec)

    monkeypatch.setattr(jobs, "jacobian_analysis", recorded)
    panel = win.panels["jacobian"]
    busy = []
    win.controller.analysis.busy.connect(busy.append)
    win.docks["jacobian"].raise_()
    QtWidgets.QApplication.processEvents()
    panel.compute()
    assert busy and busy[-1] is True and "computing" in panel.caption.text()
    qtbot.waitUntil(lambda: panel.norms is not None, timeout=30_000)
    assert threads and threads[0] is not threading.main_thread()
    rec = win.controller.view().rec
    ref = analysis.jacobian_norms(win.controller.model, rec)["h"]
    np.testing.assert_allclose(panel.norms, ref, rtol=1e-10)
    assert busy[-1] is False


def test_raster_fills_stay_on_the_gui_thread_unless_the_user_says_otherwise(monkeypatch):
    import os

    from ui.qtfixes import serial_raster_fills

    monkeypatch.delenv("QT_NO_GUI_THREADPOOL", raising=False)
    serial_raster_fills()
    assert os.environ["QT_NO_GUI_THREADPOOL"] == "1"
    monkeypatch.setenv("QT_NO_GUI_THREADPOOL", "0")
    serial_raster_fills()
    assert os.environ["QT_NO_GUI_THREADPOOL"] == "0"


def test_both_training_curves_fit_their_narrow_dock(win):
    win.docks["curves"].raise_()
    QtWidgets.QApplication.processEvents()
    curves = win.curves
    view = curves.layout_widget
    for p in (curves.loss_plot, curves.grad_plot):   # stacked: neither is cut off
        r = p.sceneBoundingRect()
        assert r.right() <= view.width() + 1 and r.bottom() <= view.height() + 1
        assert p.getAxis("left").isVisible() and p.vb.sceneBoundingRect().width() > 60
