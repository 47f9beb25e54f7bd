"""Paths a user takes through one window: open one preset after another (alternating model
kinds), step, play backward, type; edit the model on the canvas into another kind. After
each, the window must look exactly like a fresh window that opened only that experiment.

The checks walk the widgets (every visible plot of every visible dock), not the panels'
internals: each plot is at least 20 px in both directions, its view covers its data, and
plot sizes, view ranges, captions, the step, the direction, the input and the lesson equal
those of the fresh window.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtCore, QtWidgets

from playground.files.experiment import PRESETS_DIR, preset_names
from ui.testing import close_window, make_window, no_running_qt  # noqa: F401

# RNN, LSTM, GRU, attention, LSTM, encoder-decoder, RNN, GRU, LSTM, RNN, LSTM, RNN, then
# every other bundled preset (the comparisons, taggers, initialisations...) in name order
FIRST = ["hello_rnn", "lstm_forget_gate", "gru_sine", "toy_attention_heads", "adding_lstm",
         "reverse_attention", "adding_rnn", "spell_one_to_many", "classify_order",
         "exploding_relu", "tbptt_long_text", "exploding_relu_clipped"]
ORDER = FIRST + sorted(n for n in preset_names() if n not in FIRST)
Key = QtCore.Qt.Key


def settle(win) -> None:
    for _ in range(4):
        QtWidgets.QApplication.processEvents()
        QtCore.QThread.msleep(5)


def visible_plots(win):
    """(dock key, plot item) for every plot the user can see."""
    out = []
    for key, dock in sorted(win.docks.items()):
        if not dock.isVisible() or dock.visibleRegion().isEmpty():
            continue
        for lw in dock.findChildren(pg.GraphicsLayoutWidget):
            if not lw.isVisible():
                continue
            items = [it for it in lw.scene().items() if isinstance(it, pg.PlotItem)
                     and not isinstance(it, pg.ColorBarItem)   # a scale, not a plot
                     and it.isVisible()]
            items.sort(key=lambda p: (round(p.sceneBoundingRect().top() / 4),
                                      round(p.sceneBoundingRect().left() / 4)))
            out += [(key, p) for p in items]
    return out


def data_extent(plot):
    """The x and y extent of what the plot draws (curves, images, bar polygons)."""
    xs, ys = [], []
    for it in plot.vb.addedItems:
        if not it.isVisible():
            continue
        if isinstance(it, pg.PlotDataItem):
            x, y = it.getData()
            if x is None or not len(x):
                continue
            fin = np.isfinite(x) & np.isfinite(y)
            if fin.any():
                xs += [x[fin].min(), x[fin].max()]
                ys += [y[fin].min(), y[fin].max()]
        elif isinstance(it, pg.ImageItem) and it.image is not None:
            r = it.mapRectToParent(it.boundingRect())
            xs += [r.left(), r.right()]
            ys += [r.top(), r.bottom()]
        elif isinstance(it, (QtWidgets.QGraphicsPolygonItem, QtWidgets.QGraphicsPathItem)):
            r = it.boundingRect()
            if r.width() > 0:
                xs += [r.left(), r.right()]
    return xs, ys


def check_plots(win, where: str) -> None:
    for key, p in visible_plots(win):
        r = p.vb.sceneBoundingRect()
        title = f"{where}: {key} '{p.titleLabel.text}'"
        assert r.width() >= 20 and r.height() >= 20, f"{title} is {r.width()}x{r.height()} px"
        xs, ys = data_extent(p)
        (x0, x1), (y0, y1) = p.vb.viewRange()
        tol_x = 0.02 * (x1 - x0) + 1e-9
        tol_y = 0.02 * (y1 - y0) + 1e-9
        if xs:
            assert min(xs) >= x0 - tol_x and max(xs) <= x1 + tol_x, \
                f"{title}: x view {x0:.3g}..{x1:.3g} does not cover the data " \
                f"{min(xs):.3g}..{max(xs):.3g}"
        if ys:
            assert min(ys) >= y0 - tol_y and max(ys) <= y1 + tol_y, \
                f"{title}: y view {y0:.3g}..{y1:.3g} does not cover the data " \
                f"{min(ys):.3g}..{max(ys):.3g}"


def state(win) -> dict:
    """What a user sees, for comparing two windows."""
    plots = []
    for key, p in visible_plots(win):
        r = p.vb.sceneBoundingRect()
        (x0, x1), (y0, y1) = p.vb.viewRange()
        plots.append((key, p.titleLabel.text, round(r.width()), round(r.height()),
                      *(round(float(v), 3) for v in (x0, x1, y0, y1))))
    shown = {k for k, _ in visible_plots(win)} | {k for k, d in win.docks.items()
                                                   if not d.visibleRegion().isEmpty()}
    captions = {k: p.caption.text() for k, p in win.panels.items() if k in shown}
    c, tl = win.controller, win.timeline
    return {"plots": plots, "captions": captions, "step": tl.step, "steps": tl.n_steps,
            "direction": tl.direction, "playing": tl.playing,
            "back_mode": win.controls.back_btn.isChecked(),
            "input": win.seq_input.edit.text(), "input_error": win.seq_input.error.text(),
            "lesson": win.guide.widget().text(), "title": win.windowTitle(),
            "layers": [win.layer_combo.itemText(i) for i in range(win.layer_combo.count())],
            "stale": c.stale}


def diff(a: dict, b: dict) -> list[str]:
    out = [f"{k}: {a[k]!r} != fresh {b[k]!r}" for k in a if k not in ("plots", "captions")
           and a[k] != b[k]]
    out += [f"caption of {k}: {a['captions'].get(k)!r} != fresh {b['captions'].get(k)!r}"
            for k in set(a["captions"]) | set(b["captions"])
            if a["captions"].get(k) != b["captions"].get(k)]
    pa, pb = a["plots"], b["plots"]
    if [p[:2] for p in pa] != [p[:2] for p in pb]:
        out.append(f"plots shown {[p[:2] for p in pa]} != fresh {[p[:2] for p in pb]}")
    else:
        for x, y in zip(pa, pb):
            # (within 6 px: after an edit from LSTM to GRU the gate grid's two columns
            # split a few pixels differently than in a fresh window)
            size_off = max(abs(x[2] - y[2]), abs(x[3] - y[3])) > 6
            range_off = any(not math.isclose(u, v, rel_tol=1e-3, abs_tol=1e-3)
                            for u, v in zip(x[4:], y[4:]))
            if size_off or range_off:
                out.append(f"plot {x[:2]}: {x[2:]} != fresh {y[2:]}")
    return out


def fresh_state(tmp_path, path) -> dict:
    w = make_window(tmp_path, str(path))
    try:
        w.resize(1600, 1000)
        settle(w)
        check_plots(w, f"fresh {path.name}")
        return state(w)
    finally:
        close_window(w)


def fiddle(qtbot, win) -> None:
    """What a user does before opening the next experiment: step on, play backward, type."""
    win.activateWindow()
    for _ in range(2):
        qtbot.keyClick(win, Key.Key_Right)
    win.controls.back_btn.click()            # backward (BPTT) mode, playing
    win.controls.stop()
    ds = win.controller.dataset
    if ds is not None and ds.vocab is not None:
        win.seq_input.edit.setText("".join(ds.vocab.symbols[:3]) + "\x07")  # unreadable
        win.seq_input.apply()


# The walk in two parts that can run side by side; the second starts where the first ends,
# so every switch between neighbours of ORDER is walked once.
WALKS = {"first twelve": ORDER[:len(FIRST)], "the rest": ORDER[len(FIRST) - 1:]}


@pytest.mark.slow
@pytest.mark.parametrize("walk", WALKS)
def test_opening_every_preset_in_one_window_equals_a_fresh_window(walk, tmp_path, qtbot):
    names = WALKS[walk]
    win = make_window(tmp_path / "main", str(PRESETS_DIR / f"{names[0]}.json"))
    win.resize(1600, 1000)
    problems = []
    try:
        for i, name in enumerate(names):
            path = PRESETS_DIR / f"{name}.json"
            if i:
                fiddle(qtbot, win)
                assert win.files.open_path(str(path), as_copy=True, ask=False), win.errors
            settle(win)
            check_plots(win, f"after opening {name}")
            problems += [f"{name}: {d}" for d in diff(state(win),
                                                      fresh_state(tmp_path / name, path))]
    finally:
        close_window(win)
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_canvas_edits_that_change_the_model_kind_equal_a_fresh_window(tmp_path, qtbot):
    """RNN -> LSTM -> GRU on the canvas of one window; after each edit, saved and opened in
    a fresh window, the two look the same (the lesson included)."""
    win = make_window(tmp_path / "main", str(PRESETS_DIR / "hello_rnn.json"))
    win.resize(1600, 1000)
    problems = []
    try:
        canvas = win.canvas
        old = "rnn"
        for kind in ("lstm", "gru", "rnn"):
            x, head = "x", "head"
            canvas.select_node(old)
            canvas.delete_selected()
            new = canvas.add_node(kind, params={"hidden_size": 8})
            assert canvas.connect_nodes(x, new) is None
            assert canvas.connect_nodes(new, head) is None
            settle(win)
            assert win.controller.model.graph.node(new).kind == kind
            check_plots(win, f"after the edit to {kind}")
            path = tmp_path / f"edited_{kind}.json"
            assert win.files.save_to(str(path)), win.errors
            settle(win)
            problems += [f"{kind}: {d}" for d in diff(state(win),
                                                      fresh_state(tmp_path / kind, path))]
            old = new
    finally:
        close_window(win)
    assert not problems, "\n".join(problems)
