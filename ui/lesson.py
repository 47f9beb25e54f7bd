"""The lesson in the window: the guide dock's numbered steps, and "Show me".

:class:`LessonView` is the "What to look at" dock: the experiment's name and description,
then its lesson (:mod:`playground.files.lessons`) as numbered steps, the one shown highlighted,
with Previous / Show me / Next under them; a file without a lesson shows its paragraph as
before. :class:`LessonWalker` shows a step as a user would find it: it raises the step's
dock, selects its layer (on the canvas and in the controller), moves the timeline to its
step, marks the steps and the gate or quantity in the panel (:meth:`ui.panels.base.Panel.
mark`) and runs its action by operating the control it stands for
(:data:`playground.files.lessons.ACTIONS`: the Train button, the What-if dock, ...). The
controller resolves the step (:meth:`ui.controller.Controller.lesson_stop`); this module
only drives widgets.
"""

from __future__ import annotations

import html
from typing import NamedTuple

from PySide6 import QtCore, QtWidgets

CURRENT = "#f3d1fb"     # the shown step's background (the marks' colour, light)


class PreviewStep(NamedTuple):
    """A lesson step as the guide shows it before the core (which parses and checks the
    lesson: :mod:`playground.files.lessons`, with torch) is loaded."""

    text: str
    panel: str


def preview_steps(raw) -> tuple[PreviewStep, ...]:
    """The steps of a lesson's raw JSON, for the guide to show while the core loads."""
    if not isinstance(raw, list):
        return ()
    return tuple(PreviewStep(str(d.get("text", "")), str(d.get("panel", "")))
                 for d in raw if isinstance(d, dict))


def plain(text: str) -> str:
    """A widget's text as read: without the & of its shortcut and a trailing '...'."""
    return text.replace("&", "").rstrip(".…").strip()


def find_control(root: QtWidgets.QWidget, text: str) -> QtWidgets.QAbstractButton | None:
    """The button (push button, check box, radio button, tool button) under ``root`` whose
    text is ``text``."""
    for b in root.findChildren(QtWidgets.QAbstractButton):
        if plain(b.text()) == text:
            return b
    return None


def guide_html(name: str, description: str, look_at: str, lesson, index: int = -1,
               titles: dict[str, str] | None = None) -> str:
    """The guide's text: name, description, and the lesson's steps (each a link that shows
    it; ``index`` highlighted) or the ``look_at`` paragraph."""
    titles = titles or {}
    p = "<p style='margin:0 0 6px 0'>"
    parts = [f"{p}<b>{html.escape(name)}</b></p>"]
    if description:
        parts.append(f"{p}{html.escape(description)}</p>")
    if lesson:
        items = []
        for i, s in enumerate(lesson):
            where = html.escape(titles.get(s.panel, s.panel))
            text = f"<a href='step:{i}'>{where}</a>: {html.escape(s.text)}"
            if i == index:
                text = f"<span style='background-color:{CURRENT}'><b>{text}</b></span>"
            items.append(f"<li style='margin-bottom:3px'>{text}</li>")
        parts.append(f"{p}<b>Look at</b> (Show me walks through the steps):</p>"
                     f"<ol style='margin:0'>{''.join(items)}</ol>")
    elif look_at:
        parts.append(f"{p}<b>Look at:</b> {html.escape(look_at)}</p>")
    return "".join(parts)


class LessonView(QtWidgets.QWidget):
    """The guide dock's widget: ``guide`` (the scrolling text label of
    :func:`ui.widgets.guide_label`) and the walk's buttons. ``showRequested(i)``: the
    user asked for step ``i``."""

    showRequested = QtCore.Signal(int)

    def __init__(self, guide: QtWidgets.QScrollArea, parent=None):
        super().__init__(parent)
        self.guide = guide
        self.label: QtWidgets.QLabel = guide.widget()
        self.label.setOpenExternalLinks(False)
        self.label.linkActivated.connect(self._link)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 2)
        lay.setSpacing(2)
        lay.addWidget(guide, 1)
        # the step shown, always in view however long the lesson above it
        self.current = QtWidgets.QLabel()
        self.current.setObjectName("lessonCurrent")
        self.current.setWordWrap(True)
        self.current.setStyleSheet(f"background:{CURRENT}; padding:3px 6px;")
        self.current.hide()
        lay.addWidget(self.current)
        row = QtWidgets.QHBoxLayout()
        row.setContentsMargins(6, 0, 6, 0)
        self.prev_btn = QtWidgets.QPushButton("Previous")
        self.show_btn = QtWidgets.QPushButton("Show me")
        self.show_btn.setObjectName("lessonShowMe")
        self.show_btn.setToolTip("show this step of the lesson: its panel, layer and steps")
        self.next_btn = QtWidgets.QPushButton("Next")
        self.counter = QtWidgets.QLabel("")
        self.counter.setStyleSheet("color:#555;")
        for w in (self.prev_btn, self.show_btn, self.next_btn):
            row.addWidget(w)
        row.addWidget(self.counter, 1)
        lay.addLayout(row)
        self.prev_btn.clicked.connect(lambda: self.showRequested.emit(max(self.index - 1, 0)))
        self.show_btn.clicked.connect(lambda: self.showRequested.emit(max(self.index, 0)))
        self.next_btn.clicked.connect(lambda: self.showRequested.emit(self.index + 1))
        self.texts: tuple = ("", "", "", ())
        self.titles: dict[str, str] = {}
        self.index = -1
        self.ready = False           # the core is loaded: steps can be shown
        self._update_buttons()

    def set_texts(self, name: str, description: str, look_at: str, lesson,
                  titles: dict[str, str]) -> None:
        """A new text (a new experiment, or an edit that left its lesson behind): the walk
        starts before its first step."""
        texts = (name, description, look_at, tuple(lesson))
        if texts != self.texts:
            self.index = -1
        self.texts, self.titles = texts, titles
        self._render()

    def set_index(self, i: int) -> None:
        self.index = i
        self._render()

    def _render(self) -> None:
        self.label.setText(guide_html(*self.texts, index=self.index, titles=self.titles))
        lesson = self.texts[3]
        shown = 0 <= self.index < len(lesson)
        if shown:
            s = lesson[self.index]
            self.current.setText(f"<b>{self.index + 1}. "
                                 f"{html.escape(self.titles.get(s.panel, s.panel))}:</b> "
                                 f"{html.escape(s.text)}")
        self.current.setVisible(shown)
        self._update_buttons()

    def _update_buttons(self) -> None:
        n = len(self.texts[3])
        for w in (self.prev_btn, self.show_btn, self.next_btn, self.counter):
            w.setVisible(n > 0)
        self.prev_btn.setEnabled(self.ready and self.index > 0)
        self.show_btn.setEnabled(self.ready and n > 0)
        self.next_btn.setEnabled(self.ready and self.index < n - 1)
        self.counter.setText(f"step {self.index + 1} of {n}" if self.index >= 0 else
                             f"{n} steps")

    def _link(self, href: str) -> None:
        if href.startswith("step:") and self.ready:
            self.showRequested.emit(int(href[5:]))


class LessonWalker(QtCore.QObject):
    """Shows the steps of the open experiment's lesson in ``window`` (a MainWindow)."""

    def __init__(self, window):
        super().__init__(window)
        from playground.files import lessons  # (with the core: it reads the registry)

        self.lessons = lessons
        self.window = window
        self.controller = c = window.controller
        c.walk.shown.connect(window.lesson_view.set_index)
        # how each kind of action operates its control (playground.files.lessons.ActionDecl)
        self.operate = {"click": self._click, "check": self._check, "uncheck": self._uncheck,
                        "raise": self._raise, "clamp": self._clamp}
        self._before: list[str] | None = None   # the docks on screen before the walk

    def forget(self) -> None:
        """A new experiment: the docks the walk raised give their place back to those on
        screen before it (nothing of one lesson's walk stays for the next)."""
        before, self._before = self._before, None
        for key in before or ():
            self.window.docks[key].raise_()

    def show(self, i: int) -> bool:
        """Show step ``i`` (clamped into the lesson); False without a lesson."""
        win, c = self.window, self.controller
        stop = c.lesson_stop(i)
        if stop is None:
            return False
        step, t, span = stop
        timed = self.lessons.PANELS[step.panel].timed
        if self._before is None:
            self._before = [k for k, d in win.docks.items()
                            if d.isVisible() and not d.visibleRegion().isEmpty()]
        if step.panel in win.docks:
            win.dock_widget(step.panel, show=True)
        else:
            win.statusBar().showMessage(f"this lesson step needs a '{step.panel}' dock, "
                                        "which this version does not have", 10_000)
        if step.layer is not None and step.layer in win.canvas.scene.nodes:
            win.canvas.select_node(step.layer)
        if timed and (step.step is not None or step.span is not None):
            win.timeline.step = t
        self._undo_later(c.walk.index)
        if step.action is not None:    # before the marks: new weights reset the panels
            decl = self.lessons.ACTIONS[step.action]
            self.operate[decl.operate](decl, step)
        for d in win.docks.values():
            panel = d.widget()
            if hasattr(panel, "clear_mark"):
                panel.clear_mark()
        panel = win.docks[step.panel].widget() if step.panel in win.docks else None
        if hasattr(panel, "mark"):     # a clamp's gate, where this panel shows it
            what = step.what if step.action != "clamp" or step.what in panel.marks else None
            panel.mark(span if timed else None, what)
        return True

    def _undo_later(self, index: int) -> None:
        """Back before the lesson's first what-if, or its first switch to the untrained
        weights: the original run, the trained weights (as the walk found them)."""
        c, lesson = self.controller, self.controller.lesson

        def first(action):
            return next((k for k, s in enumerate(lesson) if s.action == action), len(lesson))

        if index < first("clamp") and c.interventions:
            c.clear_whatif()
        if index < first("untrained") and not c.weights.shown and c.weights.can_switch:
            self._check(self.lessons.ACTIONS["trained"], None)

    # -- actions ----------------------------------------------------------------------------
    def _button(self, decl) -> QtWidgets.QAbstractButton | None:
        win = self.window
        b = find_control(win.dock_widget(decl.dock), decl.control) \
            if decl.dock in win.docks else None
        if b is None:
            win.statusBar().showMessage(f"this lesson step needs the {decl.control} control, "
                                        "which this version does not have", 10_000)
        return b

    def _click(self, decl, step) -> None:
        b = self._button(decl)
        if b is not None and b.isEnabled():
            b.click()

    def _check(self, decl, step, on: bool = True) -> None:
        b = self._button(decl)
        if b is not None and b.isEnabled() and b.isChecked() != on:
            b.click()

    def _uncheck(self, decl, step) -> None:
        self._check(decl, step, False)

    def _raise(self, decl, step) -> None:
        if decl.dock in self.window.docks:
            self.window.dock_widget(decl.dock, show=True)

    def _clamp(self, decl, step) -> None:
        """Fill in the What-if dock (target, value, all units, this step or to the end) and
        apply it at the timeline's step, as a user would."""
        w = self.window.dock_widget(decl.dock)
        i = w.target.findData(step.what)
        if i < 0:
            return
        w.target.setCurrentIndex(i)
        w.value.setValue(float(step.value))
        w.all_units.setChecked(True)
        w.span.setCurrentIndex(w.span.findData(None if step.span is not None else 1))
        b = find_control(w, decl.control)
        if b is not None and b.isEnabled():
            b.click()
