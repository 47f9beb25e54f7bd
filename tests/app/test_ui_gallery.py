"""The preset gallery, and every bundled preset opening in the window."""

from __future__ import annotations

import numpy as np
import pytest

from playground.files import experiment
from ui.gallery import GalleryDialog, preset_entries
from ui.testing import close_window, make_window, no_running_qt  # noqa: F401


def test_gallery_lists_every_preset_with_its_texts(qtbot):
    entries = preset_entries()
    assert len(entries) == len(experiment.preset_names()) >= 10
    assert all(e["name"] and e["description"] and e["look_at"] and not e["error"]
               for e in entries)
    dlg = GalleryDialog()
    qtbot.addWidget(dlg)
    hello = next(e for e in entries if e["path"].endswith("hello_rnn.json"))
    assert dlg.select("hello_rnn")
    shown = dlg.text.toPlainText()
    assert hello["name"] in shown and "What to look at" in shown
    dlg._accept()
    assert dlg.chosen == hello["path"]


@pytest.fixture(scope="module")
def presets():
    return experiment.preset_names()


def test_every_preset_opens_traces_and_steps(tmp_path, qtbot, presets):
    win = make_window(tmp_path)
    try:
        assert win.controller.name == experiment.load(
            experiment.resolve(experiment.DEFAULT_PRESET)).name
        for name in presets:
            assert win.files.open_path(experiment.resolve(name), as_copy=True, ask=False), \
                (name, win.errors)
            s = win.controller
            assert s.trace is not None and s.path is None, name
            win.timeline.last()
            view = s.view()
            if view.rec is not None:
                t = min(win.timeline.step, view.rec.h.shape[1] - 1)  # encoder may be shorter
                np.testing.assert_allclose(win.panels["h"].bars.values, view.rec.h[0, t],
                                           rtol=1e-6, err_msg=name)
            if view.attn is not None:   # behind the Gates tab when there are gates: brought
                win.docks["attention"].raise_()          # up to date when its tab is shown
                assert win.panels["attention"].weights is not None, name
                if view.rec is not None:
                    win.docks["gates"].raise_()
            # typing something the data cannot read is shown inline, never raised
            win.seq_input.set_text("\u2603\u2603")
            assert win.seq_input.error.text(), name
    finally:
        close_window(win)


def test_the_gallery_follows_the_class_notes_and_lists_every_preset():
    from pathlib import Path

    from playground.files.experiment import PRESETS_DIR, preset_names
    from ui.gallery import CURRICULUM, preset_entries

    shown = [Path(e["path"]).stem for e in preset_entries()]
    assert sorted(shown) == sorted(preset_names())           # every preset, once
    assert shown[0] == "hello_rnn"                           # the notes start there
    assert all((PRESETS_DIR / f"{n}.json").exists() for n in CURRICULUM)  # no stale names
    known = [n for n in shown if n in CURRICULUM]
    assert known == [n for n in CURRICULUM if n in shown]
