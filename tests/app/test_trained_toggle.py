"""Trained and untrained weights in the window: a preset opens trained and says so, one click
shows the seed's untrained initialisation and another brings the trained weights back; each
time the window shows what a fresh window shows for those weights."""

from __future__ import annotations

import numpy as np
import torch
from PySide6 import QtWidgets

from playground.cli import flatten_trace
from playground.files.experiment import PRESETS_DIR, load, read_weights_file, weights_path
from playground.files.trained import describe
from ui.gallery import GalleryDialog, preset_entries
from ui.testing import close_window, make_window, no_running_qt  # noqa: F401


def same_trace(a, b, where: str) -> None:
    fa, fb = flatten_trace(a), flatten_trace(b)
    assert fa.keys() == fb.keys(), where
    for k in fa:
        if fa[k].dtype.kind in "fc":
            np.testing.assert_allclose(fa[k], fb[k], rtol=1e-5, atol=1e-7,
                                       err_msg=f"{where}: {k}")
        else:
            assert np.array_equal(fa[k], fb[k]), f"{where}: {k}"


def fresh(tmp_path, path):
    """What a fresh window that opened only ``path`` shows: its trace and weights label."""
    w = make_window(tmp_path, str(path))
    try:
        return w.controller.trace, w.training.weights_state.text()
    finally:
        close_window(w)


def test_switch_between_trained_and_untrained_weights(tmp_path, qtbot):
    name = "lstm_forget_gate"
    preset = PRESETS_DIR / f"{name}.json"
    untrained = tmp_path / f"{name}.json"          # the same file without its weights
    untrained.write_bytes(preset.read_bytes())
    win = make_window(tmp_path / "main", str(PRESETS_DIR / "hello_rnn.json"))
    try:
        c, tp = win.controller, win.training
        assert win.files.open_path(str(preset), as_copy=True, ask=False), win.errors
        assert tp.weights_btn.isChecked() and tp.weights_btn.isEnabled()
        assert tp.weights_state.text().startswith("trained: 1000 steps, accuracy 1.0")
        assert tp.weights_state.text() in win.statusBar().currentMessage()
        trained_trace = c.trace
        ref_trace, ref_label = fresh(tmp_path / "fresh", preset)
        same_trace(trained_trace, ref_trace, "opened trained")
        assert tp.weights_state.text() == ref_label

        tp.weights_btn.click()                         # -> untrained
        assert not tp.weights_btn.isChecked() and not c.weights.shown
        assert tp.weights_state.text() == "untrained"
        init = load(preset, weights=False).build_model(weights=False).state_dict()
        for k, v in c.model.state_dict().items():
            assert torch.equal(v, init[k]), k
        ref_trace, ref_label = fresh(tmp_path / "fresh_untrained", untrained)
        same_trace(c.trace, ref_trace, "untrained")
        assert ref_label == "untrained"
        assert not np.allclose(c.trace.outputs, trained_trace.outputs, atol=1e-3)
        np.testing.assert_allclose(win.panels["h"].bars.values,
                                   c.view().rec.h[0, win.timeline.step], rtol=1e-6)
        # saving while the untrained weights are on view keeps the trained ones in the file
        out = tmp_path / "saved.json"
        assert win.files.save_to(str(out)), win.errors
        state, record = read_weights_file(weights_path(out))
        shipped, shipped_record = read_weights_file(weights_path(preset))
        assert record == shipped_record and all(torch.equal(state[k], v)
                                                for k, v in shipped.items())

        tp.weights_btn.click()                         # -> trained again
        assert tp.weights_btn.isChecked() and c.weights.shown
        same_trace(c.trace, trained_trace, "trained again")
        assert tp.weights_state.text() == ref_label_trained(preset)

        other = PRESETS_DIR / "gru_sine.json"          # the next preset: as a fresh window
        assert win.files.open_path(str(other), as_copy=True, ask=False), win.errors
        ref_trace, ref_label = fresh(tmp_path / "fresh_other", other)
        same_trace(c.trace, ref_trace, "the next preset")
        assert tp.weights_state.text() == ref_label and ref_label.startswith("trained: 800")
        assert tp.weights_btn.isChecked()
    finally:
        close_window(win)


def ref_label_trained(preset) -> str:
    return describe(read_weights_file(weights_path(preset))[1])


def test_the_gallery_says_which_weights_each_preset_opens_with(qtbot):
    entries = preset_entries()
    for e in entries:
        assert e["weights"] == ref_label_trained(e["path"]) and e["weights"].startswith(
            "trained: "), e["name"]
    dlg = GalleryDialog()
    qtbot.addWidget(dlg)
    assert dlg.select("hello_rnn")
    hello = next(e for e in entries if e["path"].endswith("hello_rnn.json"))
    assert hello["weights"].startswith("trained: 300 steps, accuracy 1.0")
    assert hello["weights"] in dlg.text.toPlainText()
    assert dlg.list.currentItem().text().endswith("trained: 300 steps")


def test_training_here_says_so_and_saves_its_record(tmp_path, qtbot):
    preset = PRESETS_DIR / "hello_rnn.json"
    win = make_window(tmp_path, str(preset))
    try:
        c, tp = win.controller, win.training
        tp.weights_btn.click()                         # from the seed's initialisation
        assert c.weights.shown is False
        assert tp.start(20)
        assert not tp.weights_btn.isEnabled()          # no switching while it trains
        qtbot.waitUntil(lambda: not tp.running, timeout=60_000)
        QtWidgets.QApplication.processEvents()
        assert tp.weights_state.text().startswith("trained here: 20 steps, accuracy")
        assert tp.weights_btn.isChecked() and tp.weights_btn.isEnabled()
        out = tmp_path / "mine.json"
        assert win.files.save_to(str(out)), win.errors
        record = read_weights_file(weights_path(out))[1]
        assert record["steps"] == 20 and record["status"] == "done"
        assert load(out).trained == record
        tp.weights_btn.click()                         # the untrained once more, then back
        assert tp.weights_state.text() == "untrained"
        tp.weights_btn.click()
        assert tp.weights_state.text().startswith("trained here: 20 steps")
        assert tp.start(5)                             # 5 more on top of the 20
        qtbot.waitUntil(lambda: not tp.running, timeout=60_000)
        QtWidgets.QApplication.processEvents()
        assert tp.weights_state.text().startswith("trained here: 25 steps")
    finally:
        close_window(win)
