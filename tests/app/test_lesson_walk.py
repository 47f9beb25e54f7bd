"""Show me: walking a preset's lesson in the window. Each step raises its dock, selects
its layer, moves the timeline to its step and marks its steps and quantity in the panel;
walking two presets in one window ends as a fresh window walking only the second. The
lessons' registry (playground.files.lessons) is checked against the real window: each panel's
quantities are ones the panel marks, each action's control a real widget. And the texts a
student reads name the window's docks, buttons and menus only by their real titles."""

from __future__ import annotations

import html
import re

import pytest
from PySide6 import QtWidgets
from test_workflow import diff, settle, state

from playground.files import lessons
from playground.files.experiment import PRESETS_DIR, load, preset_names
from playground.model import registry
from playground.tracing import RecurrentTrace
from ui.gallery import GalleryDialog, preset_entries
from ui.lesson import find_control, plain
from ui.panels.base import Panel
from ui.testing import close_window, make_window, no_running_qt  # noqa: F401


@pytest.fixture
def win(tmp_path, qtbot):
    w = make_window(tmp_path, str(PRESETS_DIR / "hello_rnn.json"))
    w.resize(1600, 1000)
    qtbot.waitExposed(w)
    yield w
    close_window(w)


def open_preset(win, name: str) -> None:
    assert win.files.open_path(str(PRESETS_DIR / f"{name}.json"), as_copy=True, ask=False), \
        win.errors
    settle(win)


def wait_traced(win, qtbot) -> None:
    """Until no trace (a what-if) runs in the background and training has stopped."""
    c = win.controller
    qtbot.waitUntil(lambda: c.tracer.latest() is None and not c.training.running,
                    timeout=60_000)
    settle(win)


def layer_steps(c, node: str | None) -> int:
    if node is None:
        return c.trace.steps
    rec = c.trace.layer(node)
    return rec.h.shape[1] if isinstance(rec, RecurrentTrace) else rec.weights.shape[2]


def show(win, qtbot, i: int):
    win.walker.show(i)
    wait_traced(win, qtbot)
    return win.controller.lesson[i]


def check_shown(win, i: int, name: str) -> None:
    """Step ``i`` is on screen as its lesson says."""
    c = win.controller
    s = c.lesson[i]
    where = f"{name} step {i}"
    dock = win.docks[s.panel]
    assert dock.isVisible() and not dock.visibleRegion().isEmpty(), f"{where}: not raised"
    if s.layer is not None:
        assert s.layer in (c.attn_sel, c.rec_sel and c.rec_sel[0]), f"{where}: layer"
        assert win.canvas.selected_node() == s.layer, f"{where}: not selected on the canvas"
    n = layer_steps(c, s.layer)
    t, span = s.steps_in(n)
    if s.step is not None or s.span is not None:
        assert win.timeline.step == t, f"{where}: timeline at {win.timeline.step}, not {t}"
    panel = dock.widget()
    if isinstance(panel, Panel):
        want = span if lessons.PANELS[s.panel].timed else None
        what = s.what if s.action != "clamp" or s.what in panel.marks else None
        assert panel.marked == (want, what), f"{where}: marked {panel.marked}"
        bands = [it.span() for it in panel._mark_items if it.span() is not None]
        if want is not None and panel.time_axes():
            assert bands and all(b == want for b in bands), f"{where}: bands {bands}"
        if what is not None:
            assert any(it.span() is None for it in panel._mark_items), f"{where}: no frame"
    others = [k for k, d in win.docks.items() if k != s.panel and
              isinstance(d.widget(), Panel) and d.widget().marked is not None]
    assert not others, f"{where}: still marked: {others}"
    assert win.lesson_view.index == i and "background-color" in win.guide.widget().text()
    current = win.lesson_view.current
    assert current.isVisible() and html.escape(s.text) in current.text(), where


PASSIVE = (None, "clamp", "restore", "trained", "untrained")   # what the walk tests take


# -- the registry against the window ----------------------------------------------------
def test_every_quantity_of_the_registry_is_one_its_panel_marks(win):
    gates = {g for k in registry.kinds() if k.trace == "recurrent" for g in k.gates}
    missing = []
    for key, decl in lessons.PANELS.items():
        if key not in win.docks:
            missing.append(f"no dock '{key}'")
            continue
        widget = win.dock_widget(key)
        if not decl.quantities:
            continue
        marks = set(getattr(widget, "marks", ()))
        for q in decl.quantities:
            need = gates if q == lessons.GATE else {q}
            if not need <= marks:
                missing.append(f"panel '{key}' does not mark {sorted(need - marks)}")
    assert not missing, "; ".join(missing)


def test_every_action_operates_a_real_control(win):
    missing = []
    for name, act in lessons.ACTIONS.items():
        assert act.operate in win.walker.operate, name
        if act.dock not in win.docks:
            missing.append(f"{name}: no dock '{act.dock}'")
        elif find_control(win.dock_widget(act.dock), act.control) is None:
            missing.append(f"{name}: no control '{act.control}' in the {act.dock} dock")
    assert not missing, "; ".join(missing)


# -- walking ----------------------------------------------------------------------------
def test_show_me_in_the_gallery_opens_the_preset_and_shows_its_first_step(win, qtbot):
    dlg = GalleryDialog(win, {k: d.windowTitle() for k, d in win.docks.items()})
    qtbot.addWidget(dlg)
    assert dlg.select("hello_rnn")
    shown = dlg.text.toPlainText()
    assert "What to look at" in shown and "Output: At step 2" in shown   # by the docks' titles
    dlg.show_btn.click()
    assert dlg.chosen and dlg.show_me
    assert win.files.open_chosen(dlg)
    c = win.controller
    assert c.name == load(PRESETS_DIR / "hello_rnn.json").name
    settle(win)
    check_shown(win, 0, "hello_rnn")
    train = next(i for i, s in enumerate(c.lesson) if s.action == "train")
    win.walker.show(train - 1)                                 # the untrained weights, ...
    assert not c.weights.shown
    win.walker.show(train)                                     # ... trained from there
    assert c.training.running
    wait_traced(win, qtbot)
    assert win.training.status.text().startswith("done"), win.training.status.text()
    check_shown(win, train, "hello_rnn")
    assert win.training.curves.series.n >= 1      # the curves it points at were drawn


@pytest.mark.parametrize("name", preset_names())
def test_show_me_walks_every_step(win, qtbot, name):
    open_preset(win, name)
    view = win.lesson_view
    n = len(win.controller.lesson)
    assert view.show_btn.isVisible() and view.counter.text() == f"{n} steps"
    for i, s in enumerate(win.controller.lesson):
        if s.action not in PASSIVE:
            continue
        show(win, qtbot, i)
        check_shown(win, i, name)
        if s.action == "clamp":
            ivs = win.controller.interventions
            assert len(ivs) == 1 and ivs[0].target == s.what and ivs[0].value == s.value
            assert ivs[0].step == win.timeline.step and ivs[0].node == s.layer
        if s.action in ("trained", "untrained"):
            assert win.controller.weights.shown == (s.action == "trained"), f"{name} {i}"
            assert win.training.weights_btn.isChecked() == (s.action == "trained")


def test_next_and_previous_walk_from_the_guide(win, qtbot):
    open_preset(win, "classify_order")
    view = win.lesson_view
    view.show_btn.click()
    wait_traced(win, qtbot)
    assert view.index == 0 and not view.prev_btn.isEnabled()
    view.next_btn.click()
    wait_traced(win, qtbot)
    check_shown(win, 1, "classify_order")
    clamp = next(i for i, s in enumerate(win.controller.lesson) if s.action == "clamp")
    view.label.linkActivated.emit(f"step:{clamp}")        # a click on a step's link
    wait_traced(win, qtbot)
    assert win.controller.interventions
    view.prev_btn.click()
    view.prev_btn.click()                     # before the lesson's what-if: the original
    wait_traced(win, qtbot)
    assert view.index == clamp - 2 and not win.controller.interventions


def walk(win, qtbot, name: str, upto: int | None = None) -> None:
    for i, s in enumerate(win.controller.lesson[:upto]):
        if s.action in PASSIVE:
            show(win, qtbot, i)


@pytest.mark.parametrize("first, second, upto", [("lstm_forget_gate", "classify_order", 5),
                                                 ("reverse_attention", "adding_lstm", 4)])
def test_walking_two_presets_in_one_window_equals_a_fresh_window(tmp_path, qtbot, first,
                                                                  second, upto):
    one = make_window(tmp_path / "one", str(PRESETS_DIR / f"{first}.json"))
    one.resize(1600, 1000)
    try:
        walk(one, qtbot, first)
        open_preset(one, second)
        walk(one, qtbot, second, upto)
        a = state(one)
        a["marks"] = {k: d.widget().marked for k, d in one.docks.items()
                      if isinstance(d.widget(), Panel)}
        a["whatif"] = one.controller.interventions
    finally:
        close_window(one)
    fresh = make_window(tmp_path / "fresh", str(PRESETS_DIR / f"{second}.json"))
    fresh.resize(1600, 1000)
    try:
        walk(fresh, qtbot, second, upto)
        b = state(fresh)
        b["marks"] = {k: d.widget().marked for k, d in fresh.docks.items()
                      if isinstance(d.widget(), Panel)}
        b["whatif"] = fresh.controller.interventions
    finally:
        close_window(fresh)
    assert not diff(a, b), "\n".join(diff(a, b))


def test_a_file_without_a_lesson_shows_its_paragraph(win, tmp_path):
    exp = load(PRESETS_DIR / "hello_rnn.json", weights=False)
    exp.lesson, exp.what_to_look_at = (), "the two columns of h at the two l steps"
    path = tmp_path / "old.json"
    exp.save(path)
    assert win.files.open_path(str(path), ask=False)
    text = win.guide.widget().text()
    assert "Look at:</b> the two columns" in text and "<ol" not in text
    assert not win.lesson_view.show_btn.isVisibleTo(win) and not win.walker.show(0)


# -- texts ------------------------------------------------------------------------------
UI_NOUNS = "panel|dock|button|toggle|menu|box|field|tab"
# "the <Name> panel": a capitalised name of up to four words before a word for a control
NAMED = re.compile(rf"\bthe ((?:[A-Z][\w\-()|/]*)(?: [\w\-()|/]+){{0,3}}?) (?:{UI_NOUNS})s?\b")
MENU_PATH = re.compile(r"\b([A-Z]\w*) > ([A-Z][\w ]*\w)")
# what earlier lesson texts asked for that the app has no control for
MISSING = (r"\bplot\s+\|\|", r"trajector", r"free-run")


def real_names(win) -> set[str]:
    names = {d.windowTitle() for d in win.docks.values()}
    names |= {plain(b.text()) for b in win.findChildren(QtWidgets.QAbstractButton)}
    names |= {plain(a.text()) for a in win.menus.values()}
    return {n for n in names if n}


def texts(win) -> list[tuple[str, str]]:
    out = []
    for e in preset_entries():
        name = e["path"].rsplit("/", 1)[-1]
        out += [(f"{name} description", e["description"]), (f"{name} outcome", e["outcome"])]
        out += [(f"{name} lesson[{i}]", s.text) for i, s in enumerate(e["lesson"])]
    out += [(f"tooltip of {type(w).__name__}", w.toolTip())
            for w in win.findChildren(QtWidgets.QWidget) if w.toolTip()]
    return out


def test_texts_name_docks_buttons_and_menus_only_by_their_real_titles(win):
    for key in lessons.PANELS:
        if key in win.docks:
            win.dock_widget(key)                      # every dock's widget is made
    names = real_names(win)
    menus = {plain(m.title()): {plain(a.text()) for a in m.actions()}
             for m in win.menuBar().findChildren(QtWidgets.QMenu)}
    wrong, found = [], 0
    for where, text in texts(win):
        for m in NAMED.finditer(text):
            found += 1
            if m.group(1) not in names:
                wrong.append(f"{where}: {m.group(0)!r} names no dock, button or menu")
        for m in MENU_PATH.finditer(text):
            found += 1
            if m.group(2) not in menus.get(m.group(1), ()):
                wrong.append(f"{where}: no menu item {m.group(0)!r}")
        wrong += [f"{where}: {pat!r} describes a feature the app does not have"
                  for pat in MISSING if re.search(pat, text)]
    assert found >= 20        # the lessons do name what they point at
    assert not wrong, "\n".join(wrong)
