"""Typing and what-if as a user does them: a cheap trace redraws at once, a long one runs in
the background (the last trace stays, marked busy) and the newest input wins."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

import ui.tracejob as tracejob
from playground.data import bind_inputs
from playground.files.experiment import Experiment
from playground.model.spec import chain
from playground.tracing import Intervention, trace
from playground.train import TrainConfig
from ui.testing import close_window, make_window, no_running_qt  # noqa: F401

TEXT = "hello hello hello hello hello hello hello hello "


def tiny(tmp_path, name="tiny"):
    graph = chain(("x", "input", {"encoding": "onehot", "vocab_size": 5}),
                  ("cell", "lstm", {"hidden_size": 6}),
                  ("head", "linear", {"out_features": 5, "output": "softmax"}))
    exp = Experiment(name=name, graph=graph,
                     data={"source": "text", "text": TEXT, "level": "char", "window": 8},
                     train=TrainConfig(steps=20, batch_size=4, val_every=10))
    path = tmp_path / f"{name}.json"
    exp.save(path)
    return str(path)


@pytest.fixture
def win(tmp_path, qtbot):
    w = make_window(tmp_path, tiny(tmp_path))
    yield w
    close_window(w)


@pytest.fixture
def background(monkeypatch):
    """Every trace that may run in the background does (as a long one would)."""
    monkeypatch.setattr(tracejob, "BACKGROUND_S", 0.0)


def reference(win, text, ivs=()):
    s = win.controller
    b = s.dataset.encode_input(text)
    return trace(s.model, bind_inputs(s.model, b), b.targets, b.mask, interventions=ivs)


def busy(win) -> bool:
    return win.seq_input.busy.isVisibleTo(win.seq_input)


def settle(qtbot, win) -> None:
    """Wait (no time limit asserted) until no trace is running or waiting."""
    qtbot.waitUntil(lambda: not win.controller.tracer.running and not busy(win),
                    timeout=30_000)
    QtWidgets.QApplication.processEvents()


def shown(win) -> dict:
    """What the panels on screen draw."""
    P = win.panels
    return {"h": P["h"].heat.data.copy(), "h_bars": P["h"].bars.values.copy(),
            "loss": P["loss"].plot.vb.viewRange()[0], "steps": win.timeline.n_steps,
            "input": P["input"].strip.text()}


def assert_shows(win, text, ivs=()):
    s = win.controller
    ref = reference(win, text, ivs).layer("cell")
    assert s.input_text == text
    assert win.timeline.n_steps == len(text)
    np.testing.assert_allclose(s.trace.layer("cell").h, ref.h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(win.panels["h"].heat.data, ref.h[0].T, rtol=1e-5, atol=1e-6)


def test_a_keystroke_on_a_cheap_model_redraws_without_a_timer(win, qtbot):
    s = win.controller
    edit = win.seq_input.edit
    edit.setFocus()
    edit.setText("hel")
    assert s.set_input_text("hel")              # at once: no timer, no event loop
    assert_shows(win, "hel")
    before = s.trace
    qtbot.keyClick(edit, "l")
    QtWidgets.QApplication.processEvents()       # one turn: the keys of that turn, applied
    assert s.trace is not before
    assert_shows(win, "hell")
    assert not busy(win)
    # keys typed within one turn of the event loop are traced once, together
    seen = []
    s.traceChanged.connect(lambda: seen.append(s.input_text))
    qtbot.keyClicks(edit, "oh")
    QtWidgets.QApplication.processEvents()
    assert seen == ["helloh"], (seen, s.input_text, win.seq_input.error.text(), s.tracer.running)


def test_a_long_trace_runs_in_the_background_and_the_last_text_wins(win, qtbot, background):
    s = win.controller
    s.set_input_text("hel")
    settle(qtbot, win)
    before, drawn = s.trace, shown(win)
    seen = []
    s.traceChanged.connect(lambda: seen.append(s.input_text))
    assert s.set_input_text("hell")
    assert s.trace is before and busy(win)       # the old trace stays, marked busy
    assert s.set_input_text("hello")             # supersedes the run in flight
    assert s.trace is before and s.input_text == "hel"
    after = shown(win)
    np.testing.assert_array_equal(after["h"], drawn["h"])
    assert after["steps"] == 3
    settle(qtbot, win)
    assert seen == ["hello"]                     # the result for "hell" was dropped
    assert_shows(win, "hello")
    assert not win.seq_input.error.isVisibleTo(win.seq_input)


def test_a_keystroke_while_a_long_trace_runs_drops_its_result(win, qtbot, monkeypatch):
    s = win.controller
    seen = []
    s.traceChanged.connect(lambda: seen.append(s.input_text))
    monkeypatch.setattr(tracejob, "BACKGROUND_S", 0.0)
    s.set_input_text("hel")
    assert busy(win)
    monkeypatch.setattr(tracejob, "BACKGROUND_S", float("inf"))
    s.set_input_text("hello")                    # cheap again: at once
    assert seen == ["hello"] and not busy(win)
    settle(qtbot, win)
    assert seen == ["hello"]
    assert_shows(win, "hello")


def test_whatif_goes_the_same_way_and_reuses_the_original(win, qtbot, background):
    s = win.controller
    s.set_input_text("hello")
    settle(qtbot, win)
    plain = s.trace
    iv = Intervention(node="cell", step=2, target="f", value=0.0, span=None)
    assert s.apply_interventions([iv])
    assert s.trace is plain and busy(win)
    assert "Tracing the what-if" in win.whatif.state.text()
    settle(qtbot, win)
    assert s.interventions == (iv,) and s.base_trace is plain   # not traced again
    ref = reference(win, "hello", [iv]).layer("cell")
    np.testing.assert_allclose(s.trace.layer("cell").h, ref.h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s.trace.layer("cell").gates["f"][0, 2:], 0.0)
    assert "Active" in win.whatif.state.text()
    s.clear_whatif()
    settle(qtbot, win)
    assert s.trace is plain and s.base_trace is None and not s.interventions


def test_an_error_in_a_background_trace_is_shown_as_the_input_error(win, qtbot, background,
                                                                     monkeypatch):
    s = win.controller
    s.set_input_text("hel")
    settle(qtbot, win)
    before = s.trace
    bad = Intervention(node="cell", step=7, target="f", value=0.0)   # past the 3 steps
    assert s.apply_interventions([bad])
    settle(qtbot, win)
    err = win.seq_input.error
    assert err.isVisibleTo(win.seq_input) and "outside the sequence" in err.text()
    assert s.trace is before and not s.interventions
    assert "no what-if active" in win.whatif.state.text()

    def broken(*a, **kw):
        raise RuntimeError("out of memory")

    monkeypatch.setattr("playground.tracing.trace", broken)
    assert s.set_input_text("hello")
    settle(qtbot, win)
    assert "out of memory" in err.text() and "Traceback" not in err.text()
    assert s.trace is before and s.input_text == "hel"


@pytest.mark.parametrize("mode", ["at once", "background"])
def test_typing_in_one_window_equals_a_fresh_window(tmp_path, qtbot, monkeypatch, mode):
    if mode == "background":
        monkeypatch.setattr(tracejob, "BACKGROUND_S", 0.0)
    path = tiny(tmp_path)
    win = make_window(tmp_path / "a", path)
    try:
        edit = win.seq_input.edit
        edit.setFocus()
        edit.clear()
        for text in ("h", "he", "hel", "hell", "hello"):   # A, B, C...: typed, key by key
            qtbot.keyClick(edit, text[-1])
            QtWidgets.QApplication.processEvents()
        settle(qtbot, win)
        typed, state = win.controller.trace, shown(win)
    finally:
        close_window(win)
    fresh = make_window(tmp_path / "b", path)
    try:
        assert fresh.seq_input.set_text("hello")
        settle(qtbot, fresh)
        ref, expect = fresh.controller.trace, shown(fresh)
    finally:
        close_window(fresh)
    for a, b in zip(typed.layers, ref.layers):
        np.testing.assert_allclose(a.h, b.h, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a.dh, b.dh, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(typed.loss, ref.loss, rtol=1e-6)
    np.testing.assert_allclose(state.pop("h"), expect.pop("h"), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state.pop("h_bars"), expect.pop("h_bars"), rtol=1e-5,
                               atol=1e-6)
    assert state == expect


def test_a_new_experiment_drops_a_trace_still_running(tmp_path, qtbot, background):
    win = make_window(tmp_path, tiny(tmp_path))
    try:
        win.controller.set_input_text("hello")
        assert busy(win)
        assert win.files.open_path(tiny(tmp_path, "other"), ask=False)
        settle(qtbot, win)
        s = win.controller
        assert s.name == "other" and s.input_text == s.input_as_text() != "hello"
        assert s.trace.inputs["x"].shape[1] == win.timeline.n_steps == 8
    finally:
        close_window(win)


def test_closing_waits_for_a_background_trace(tmp_path, qtbot, background):
    win = make_window(tmp_path, tiny(tmp_path))
    win.controller.set_input_text("hello")
    assert win.controller.tracer.running or busy(win)
    close_window(win)            # no_running_qt: the thread has finished


def test_hidden_tabs_are_brought_up_to_date_when_shown(win):
    s = win.controller
    s.set_input_text("hello")
    c = win.panels["c"]
    assert "c" in win.refresher.stale          # tabbed behind h: not redrawn for nothing
    win.docks["c"].raise_()
    np.testing.assert_allclose(c.heat.data, s.trace.layer("cell").c[0].T, rtol=1e-6)
    win.docks["h"].raise_()
    QtCore.QCoreApplication.processEvents()


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_the_ngram_baseline_reuses_its_rows_up_to_the_first_change(order):
    from playground.data.ngram import NGramModel
    from playground.data.sources import TextDataset

    ds = TextDataset("the cat sat on the mat; the dog sat on the log. " * 4, window=16)
    ngram = NGramModel.from_dataset(ds, order=order, k=0.1)
    last = None
    for text in ("the cat sat on the log", "the cat sat on the log.", "the cat sat on the lo",
                 "the dog sat on the lo", "he dog", "he dog",
                 "the cat sat on the mat; the dog sat", "t"):
        b = ds.encode_input(text)
        got = tracejob.ngram_probs(ngram, b, last)
        np.testing.assert_array_equal(got, ngram.probs_for(b), err_msg=text)
        last = (np.asarray(b.inputs["x"])[0], got)


def _maps(win):
    """The pixels of the hidden-state and gate heatmaps as drawn now."""
    win.grab()                          # drawn (each map rendered for its view)
    out = []
    for hm in [win.panels["h"].heat, *win.panels["gates"].heats]:
        q = hm.item.qimage
        out.append(None if q is None or not hm.item.isVisible() else
                   (bytes(q.constBits())[:q.sizeInBytes()], q.width(), q.height()))
    return out


def test_typing_on_and_a_what_if_draw_the_maps_of_a_fresh_window(tmp_path, qtbot, win):
    """Typing at the end reuses the last trace's first steps (their map columns are not
    summed again) and a what-if reuses the steps before it: after typing on, deleting,
    a what-if and restoring, the maps are those of a fresh window shown the same."""
    texts = [TEXT[:30], TEXT[:31], TEXT[:32], TEXT[:29], TEXT[:40]]
    iv = Intervention("cell", 20, "f", 0.0)
    for text in texts:
        win.seq_input.set_text(text)
        settle(qtbot, win)
        win.grab()
    rec = win.controller.trace.layer("cell")
    assert rec.prefix_steps == 29              # the forward steps of TEXT[:29], reused
    plain_maps = _maps(win)
    assert win.controller.apply_interventions([iv])
    settle(qtbot, win)
    assert win.controller.trace.layer("cell").prefix_steps == 20
    shown_what_if = _maps(win)
    fresh = make_window(tmp_path, tiny(tmp_path, "fresh"))
    try:
        fresh.resize(win.size())
        for hm in [fresh.panels["h"].heat, *fresh.panels["gates"].heats]:
            hm.item.keep_columns = lambda n: None      # every map of it drawn in full
        fresh.seq_input.set_text(texts[-1])
        settle(qtbot, fresh)
        assert fresh.controller.apply_interventions([iv])
        settle(qtbot, fresh)
        assert _maps(fresh) == shown_what_if
        np.testing.assert_array_equal(win.panels["h"].array, fresh.panels["h"].array)
        for w in (win, fresh):                  # restored: the plain trace's maps again
            w.controller.clear_whatif()
            settle(qtbot, w)
        assert not win.controller.interventions and not fresh.controller.interventions
        assert _maps(win) == _maps(fresh) == plain_maps
    finally:
        close_window(fresh)
