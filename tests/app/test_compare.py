"""Side by side in the window: a comparison's members share the input and the cursor, the
overlaid ||dL/dh_t|| and loss curves are each member's own trace (checked against
playground.trace run on each member's model independently), a member trains on its own,
and a window that went preset -> comparison -> preset shows what a fresh window shows."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

import playground as pg
from playground.files import comparison as C
from playground.files.experiment import PRESETS_DIR, load
from playground.tracing import RecurrentTrace
from ui import compare
from ui.compare import open_in
from ui.testing import close_window, make_window, no_running_qt  # noqa: F401

RNN_LSTM = C.resolve("rnn_vs_lstm_adding")


def independent(comp_path):
    """Per member: (||dL/dh_t||, loss per step) of playground.trace on its own model, on
    the first member's example input."""
    comp = C.load(comp_path)
    out = []
    exps = C.load_members(comp)
    batch = exps[0].make_dataset().example()
    for m, exp in zip(comp.members, exps):
        model = exp.build_model(weights=m.weights == "trained")
        tr = pg.trace(model, pg.bind_inputs(model, batch), batch.targets, batch.mask)
        rec = next(r for r in tr.layers if isinstance(r, RecurrentTrace))
        out.append((np.asarray(rec.dh_norm[0], np.float64), tr))
    return out


@pytest.mark.parametrize("name", ["rnn_vs_lstm_adding", "init_orthogonal_vs_normal"])
def test_overlaid_gradients_are_each_members_own_trace(tmp_path, name):
    win = make_window(tmp_path)
    try:
        assert open_in(win, C.resolve(name)) == ""
        view = win.compare_view
        for i, (norms, tr) in enumerate(independent(C.resolve(name))):
            item = view.curves[("grad", i)]   # the data, not its log10 on screen
            x, y = item.xData, item.yData
            np.testing.assert_allclose(y, np.where(norms > 0, norms, np.nan), rtol=1e-4)
            np.testing.assert_array_equal(x, np.arange(len(norms)))
            loss = view.curves[("loss", i)].yData
            own = view.controllers[i].view().step_loss
            np.testing.assert_allclose(loss, own, rtol=1e-6)
            assert np.nanmean(loss) == pytest.approx(tr.loss, rel=1e-4)
            if C.load(C.resolve(name)).members[i].weights == "untrained":
                assert not view.controllers[i].weights.shown
    finally:
        close_window(win)


def test_the_cursor_moves_every_model(tmp_path):
    win = make_window(tmp_path)
    try:
        assert open_in(win, RNN_LSTM) == ""
        view = win.compare_view
        assert win.timeline.n_steps == 40
        for t in (5, 17, 39):
            win.timeline.step = t
            for col in view.columns:
                assert all(p.step == t for p in col.panels.values())
            assert all(ln.value() == t for ln in view.lines) if hasattr(
                view.lines[0], "value") else True
        win.timeline.next()
        assert all(p.step == 39 for c in view.columns for p in c.panels.values())
    finally:
        close_window(win)


def flat(model) -> np.ndarray:
    return np.concatenate([v.detach().cpu().numpy().ravel()
                           for v in model.state_dict().values()])


def test_each_member_trains_on_its_own(tmp_path, qtbot, monkeypatch):
    win = make_window(tmp_path)
    try:
        assert open_in(win, RNN_LSTM) == ""
        view = win.compare_view
        before = [flat(c.model) for c in view.controllers]
        monkeypatch.setattr(compare, "TRAIN_STEPS", 5)
        c0 = view.controllers[0]
        assert view.columns[0].train() == ""
        qtbot.waitUntil(lambda: not c0.training.running, timeout=60_000)
        qtbot.wait(50)
        after = [flat(c.model) for c in view.controllers]
        assert not np.allclose(before[0], after[0])     # the one trained moved
        assert np.array_equal(before[1], after[1])      # the other did not
        norms = c0.view().dh_norm
        y = view.curves[("grad", 0)].yData
        np.testing.assert_allclose(y, np.where(norms > 0, norms, np.nan), rtol=1e-6)
    finally:
        close_window(win)


def test_errors_are_reported_and_the_window_stays(tmp_path):
    bad = tmp_path / "bad.comparison.json"
    bad.write_text('{"format": "sequence-playground-comparison", "version": 1, "name": "b",'
                   ' "members": [{"file": "adding_rnn"}, {"file": "hello_rnn"}]}')
    win = make_window(tmp_path, str(PRESETS_DIR / "adding_rnn.json"))
    try:
        assert not win.files.open_path(str(bad), ask=False)
        assert len(win.errors) == 1 and "hello_rnn" in win.errors[0]
        assert "\n" not in win.errors[0]
        assert getattr(win, "compare_view", None) is None
        assert win.docks["h"].isVisible()
    finally:
        close_window(win)


def state(win):
    """What the window shows of its experiment: the trace, the step, visible docks, title,
    the menu entries on, the layer box (shown, its choices) and the View menu's dock
    entries on."""
    c = win.controller
    rec = c.view().rec
    combo = win.layer_combo
    return (c.name, win.windowTitle(), win.timeline.n_steps, win.timeline.step,
            sorted(k for k, d in win.docks.items() if d.isVisible()),
            rec.h.copy(), c.view().dh_norm.copy(), win.menus["save"].isEnabled(),
            {n: a.isEnabled() for n, a in win.menus.items()},
            (not combo.isHidden(), [combo.itemText(i) for i in range(combo.count())]),
            [d.toggleViewAction().isEnabled() for d in win.docks.values()],
            win.centralWidget() is None)


def layer_label(win):
    lay = win.controls.layout()
    return lay.itemAt(lay.indexOf(win.layer_combo) - 1).widget()


def assert_as_a_fresh_window(got, tmp_path, path: str) -> None:
    """``got`` (a :func:`state`) is what a fresh window that opens ``path`` shows."""
    (tmp_path / "b").mkdir()
    fresh = make_window(tmp_path / "b", path)
    try:
        want = state(fresh)
    finally:
        close_window(fresh)
    assert got[:5] == want[:5] and got[7:] == want[7:]
    np.testing.assert_array_equal(got[5], want[5])
    np.testing.assert_array_equal(got[6], want[6])


def test_path_preset_then_comparison_then_preset_is_a_fresh_window(tmp_path):
    path = str(PRESETS_DIR / "adding_lstm.json")
    win = make_window(tmp_path / "a", str(PRESETS_DIR / "hello_rnn.json"))
    try:
        win.timeline.step = 2
        assert win.files.open_path(str(RNN_LSTM), ask=False)
        assert win.compare_view is not None and not win.docks["h"].isVisible()
        assert not win.menus["save"].isEnabled()
        win.timeline.step = 7
        assert win.files.open_path(path, ask=False)
        assert win.compare_view is None and win.centralWidget() is None
        got = state(win)
    finally:
        close_window(win)
    assert_as_a_fresh_window(got, tmp_path, path)
    assert load(path).name == got[0]


def test_path_preset_comparison_cursor_save_leave_preset_is_a_fresh_window(tmp_path):
    path = str(PRESETS_DIR / "adding_lstm.json")
    win = make_window(tmp_path / "a", str(PRESETS_DIR / "hello_rnn.json"))
    saved = tmp_path / "mine"
    try:
        assert not win.menus["save_comparison"].isEnabled()
        assert win.files.open_path(str(C.resolve("init_orthogonal_vs_normal")), ask=False)
        view = win.compare_view
        win.timeline.step = 9
        win.timeline.next()
        assert all(p.step == 10 for col in view.columns for p in col.panels.values())
        win.files.ask_path = lambda title, save, flt: str(saved)
        win.menus["save_comparison"].trigger()
        assert win.errors == []
        compare.leave(win)
        assert win.compare_view is None and not win.menus["save_comparison"].isEnabled()
        assert win.files.open_path(path, ask=False)
        got = state(win)
    finally:
        close_window(win)
    assert_as_a_fresh_window(got, tmp_path, path)
    again = C.load(str(saved) + C.SUFFIX)       # the suffix added to a bare name
    assert again.members == C.load(C.resolve("init_orthogonal_vs_normal")).members


def test_the_column_selector_switches_every_column_in_line(tmp_path, qapp):
    win = make_window(tmp_path)
    try:
        assert open_in(win, RNN_LSTM) == ""
        view = win.compare_view
        assert view.kinds == compare.DEFAULT_KINDS
        assert all(list(col.panels) == ["h", "gradient"] for col in view.columns)
        view.kind_buttons["h"].click()                      # off
        view.kind_buttons["gates"].click()                  # on
        view.kind_buttons["output"].click()
        view.kind_buttons["c"].click()
        want = ["c", "gates", "gradient", "output"]
        assert view.kinds == tuple(want)
        win.timeline.step = 12
        qapp.processEvents()
        for col in view.columns:
            assert list(col.panels) == want
            assert all(p.isVisible() and p.step == 12 for p in col.panels.values())
            assert all(not p.isVisible() for k, p in col._made.items() if k not in want)
        rnn, lstm = view.columns
        # the same panel at the same height in every column
        for k in want:
            ys = [col.panels[k].mapTo(view, QtCore.QPoint(0, 0)).y() for col in view.columns]
            assert len(set(ys)) == 1, (k, ys)
        # each column drew its own model: the LSTM has c and gates, the RNN says it has none
        lrec, rrec = lstm.controller.view().rec, rnn.controller.view().rec
        np.testing.assert_allclose(lstm.panels["c"].array, lrec.c[0])
        assert rnn.panels["c"].message.isVisibleTo(rnn.panels["c"])
        assert "only an LSTM" in rnn.panels["c"].message.text()
        assert not lstm.panels["c"].message.isVisibleTo(lstm.panels["c"])
        np.testing.assert_allclose(lstm.panels["c"].bars.values, lrec.c[0, 12], rtol=1e-6)
        for b in want:                                      # the last one stays on
            view.kind_buttons[b].click()
        assert view.kinds == ("output",) and view.kind_buttons["output"].isChecked()
        view.kind_buttons["h"].click()                     # shown again: drawn up to date
        np.testing.assert_allclose(rnn.panels["h"].bars.values, rrec.h[0, 12], rtol=1e-6)
    finally:
        close_window(win)


def test_compare_mode_hides_the_layer_box_turns_off_own_actions_and_leave_restores(
        tmp_path):
    win = make_window(tmp_path, str(PRESETS_DIR / "adding_lstm.json"))
    try:
        before = state(win)
        label = layer_label(win)
        assert not win.layer_combo.isHidden() and label.text() == "layer"
        assert open_in(win, RNN_LSTM) == ""
        assert win.layer_combo.isHidden() and label.isHidden()
        for name in compare.OFF_IN_COMPARE:
            assert not win.menus[name].isEnabled(), name
        assert win.menus["save_comparison"].isEnabled()
        assert not any(d.toggleViewAction().isEnabled() for k, d in win.docks.items()
                       if k != "controls")
        win.menus["delete"].trigger()                       # off: the hidden graph stays
        assert win.canvas.model.graph.nodes
        compare.leave(win)
        after = state(win)
        assert after[:5] == before[:5] and after[7:] == before[7:]
        assert not win.layer_combo.isHidden() and not label.isHidden()
    finally:
        close_window(win)


def test_save_comparison_writes_a_file_that_loads_back_and_says_a_failure(tmp_path,
                                                                        monkeypatch):
    win = make_window(tmp_path)
    try:
        assert not compare.save_comparison(win, tmp_path / "none.comparison.json")
        assert not (tmp_path / "none.comparison.json").exists()     # not in compare mode
        comp = C.from_names(["adding_rnn", "adding_lstm"])
        assert open_in(win, comp) == ""
        out = tmp_path / "pair.comparison.json"
        assert compare.save_comparison(win, out)
        again = C.load(out)
        assert again.members == comp.members and again.name == comp.name
        assert out.name in win.statusBar().currentMessage()
        win.files.ask_path = lambda title, save, flt: None       # cancelled
        assert not compare.save_comparison(win)
        assert compare.save_comparison(win, tmp_path / "no" / "x.comparison.json") is False
        assert len(win.errors) == 1 and "x.comparison.json" in win.errors[0]
        assert "cannot save it" in win.errors[0] and "\n" not in win.errors[0]
    finally:
        close_window(win)


def test_the_gallery_offers_the_comparisons_and_opens_one(tmp_path):
    from ui.gallery import GalleryDialog

    win = make_window(tmp_path)
    try:
        dlg = GalleryDialog(win)
        names = [e["name"] for e in dlg.entries]
        assert any("RNN vs LSTM" in n for n in names)
        assert any("orthogonal" in n.lower() and n.startswith("Side by side") for n in names)
        row = next(i for i, e in enumerate(dlg.entries) if e["path"] == str(RNN_LSTM))
        dlg.list.setCurrentRow(row)
        dlg._accept()
        assert win.files.open_chosen(dlg)
        assert win.compare_view is not None and len(win.compare_view.controllers) == 2
        dlg.deleteLater()
    finally:
        close_window(win)


def test_main_compare_says_what_is_wrong_in_one_line(capsys):
    import main

    assert main.main(["compare", "adding_rnn", "hello_rnn"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "one shared input" in err and "hello_rnn" in err
    assert main.main(["compare", "adding_rnn"]) == 2
    assert "2 to 4" in capsys.readouterr().err
    assert main.main(["compare", "adding_rnn", "no_such_preset"]) == 2
    assert "no_such_preset" in capsys.readouterr().err
