"""Side by side: two to four experiments of a comparison file on one input and one cursor.

:class:`CompareView` holds one :class:`~ui.controller.Controller` per member (so each
traces and trains exactly as the main window's does), a column of panels per member and
two overlays: ||dL/dh_t|| of every member on one log axis and the loss per step, one
colour per member. "Columns show:" chooses the panels of :data:`KINDS` (h, c, gates,
gradient, output) every column shows, in one order, so that they line up. The window's
:class:`~playground.timeline.Timeline` is the shared cursor: moving it moves every column
and both overlays. The view draws what the members' controllers computed; it does no
model math.

:func:`open_in` puts a comparison in the main window (its docks, except the step controls,
give way to the view; the controls that act on the window's own experiment, such as the
layer box, are hidden or off; all comes back when an experiment is opened again:
:func:`leave`). File > Save comparison... is :func:`save_comparison`. :func:`run` is
``python main.py compare A B ...``.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from playground.errors import PlaygroundError
from playground.files import comparison as C

from .controller import Controller
from .panels.base import StepLine, decade_labels
from .panels.io import OutputPanel
from .panels.recurrent import GatesPanel, GradientPanel, StatePanel

COLORS = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b")   # none red: red is the cursor
TRAIN_STEPS = 200


def prepare(source) -> tuple[C.Comparison, list, list, object]:
    """A comparison (a path, a bundled name or a :class:`Comparison`) with its member
    experiments, their datasets and the shared batch; FileFormatError on any problem,
    before anything on screen changes."""
    comp = source if isinstance(source, C.Comparison) else C.load(C.resolve(source))
    exps = C.load_members(comp)
    datasets = [e.make_dataset() for e in exps]
    C.check_members(comp, datasets)
    return comp, exps, datasets, C.shared_batch(comp, datasets)


# what a column can show, in the order it shows it: key, the selector's word, its tooltip,
# the panel and its least height
KINDS = (("h", "h", "the hidden state h of each model's recurrent layer",
          lambda: StatePanel("h"), 260),
         ("c", "c", "the cell state c (an LSTM has one; other layers say so)",
          lambda: StatePanel("c"), 260),
         ("gates", "gates", "the gates over time (LSTM: i f g o; GRU: r z n)", GatesPanel, 420),
         ("gradient", "gradient", "||dL/dh_t|| on a log scale and dL/dh (BPTT)",
          GradientPanel, 420),
         ("output", "output", "each model's output at the step", OutputPanel, 260))
KIND_KEYS = tuple(k[0] for k in KINDS)
DEFAULT_KINDS = ("h", "gradient")


class MemberColumn(QtWidgets.QWidget):
    """One member: its label, weights, a Train button and its panels: those of
    :data:`KINDS` chosen (:meth:`show_kinds`; made when first chosen). ``panels`` holds the
    ones on screen, by key, in :data:`KINDS` order."""

    def __init__(self, controller: Controller, label: str, color: str, parent=None,
                 kinds=DEFAULT_KINDS):
        super().__init__(parent)
        self.controller, self.label = controller, label
        self.view, self.step = None, 0
        self._made: dict[str, QtWidgets.QWidget] = {}
        self._stale: set[str] = set()      # made, hidden and drawn from an older view
        self.panels: dict[str, QtWidgets.QWidget] = {}
        lay = self._lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        head = QtWidgets.QHBoxLayout()
        self.title = QtWidgets.QLabel()
        self.title.setStyleSheet(f"color:{color}; font-weight:bold;")
        self.title.setWordWrap(True)   # two lines high in every column: the panels align
        self.title.setFixedHeight(2 * self.title.fontMetrics().lineSpacing() + 4)
        head.addWidget(self.title, 1)
        self.train_btn = QtWidgets.QPushButton(f"Train {TRAIN_STEPS} steps")
        self.train_btn.setObjectName("compareTrain")
        self.train_btn.clicked.connect(self.train)
        head.addWidget(self.train_btn)
        lay.addLayout(head)
        self.show_kinds(kinds)
        controller.training.started.connect(lambda: self.train_btn.setEnabled(False))
        controller.training.finished.connect(lambda _: self.train_btn.setEnabled(True))
        self.update_title()

    def show_kinds(self, kinds) -> None:
        """Show the panels ``kinds`` (keys of :data:`KINDS`), in :data:`KINDS` order."""
        for key, _word, _tip, make, height in KINDS:
            panel = self._made.get(key)
            if key not in kinds:
                if panel is not None:
                    panel.hide()
                continue
            if panel is None:
                panel = self._made[key] = make()
                panel.setMinimumHeight(height)
                at = sum(1 for k in KIND_KEYS[:KIND_KEYS.index(key)] if k in self._made)
                self._lay.insertWidget(1 + at, panel, 1)
                self._stale.add(key)
            if key in self._stale:
                panel.set_view(self.view)
                self._stale.discard(key)
            panel.set_step(self.step)
            panel.show()
        self.panels = {k: self._made[k] for k in KIND_KEYS if k in kinds and k in self._made}

    def update_title(self) -> None:
        c = self.controller
        self.title.setText(f"{self.label}: {c.name} ({c.weights.label()})")

    def train(self) -> str:
        problem = self.controller.start_training(TRAIN_STEPS)
        if problem:
            self.title.setText(f"{self.label}: {problem}")
        return problem

    def set_view(self, view, step: int) -> None:
        self.view, self.step = view, step
        for key, p in self._made.items():
            if key in self.panels:
                p.set_view(view)
                p.set_step(step)
            else:                          # drawn when shown again
                self._stale.add(key)
        self.update_title()

    def set_step(self, t: int) -> None:
        self.step = t
        for p in self.panels.values():
            p.set_step(t)


class CompareView(QtWidgets.QWidget):
    """The members' columns and the overlays; see the module docstring. ``curves`` holds
    the overlay items by member: ``("grad", i)`` and ``("loss", i)``."""

    def __init__(self, comp: C.Comparison, exps, batch, timeline, parent=None):
        super().__init__(parent)
        self.setObjectName("compareView")
        self.comparison, self.timeline, self.batch = comp, timeline, batch
        self.controllers: list[Controller] = []
        self.columns: list[MemberColumn] = []
        self.kinds = DEFAULT_KINDS
        outer = QtWidgets.QVBoxLayout(self)
        head = QtWidgets.QLabel(f"<b>{html.escape(comp.name)}</b>"
                                + (f": {html.escape(comp.description)}"
                                   if comp.description else ""))
        head.setWordWrap(True)
        outer.addWidget(head)
        outer.addLayout(self._selector())
        self.overlay = pg.GraphicsLayoutWidget()
        self.overlay.setBackground("w")
        self.grad_plot = self.overlay.addPlot(0, 0, title="||dL/dh_t|| of every model (log)")
        self.grad_plot.setLogMode(y=True)
        decade_labels(self.grad_plot.getAxis("left"))
        self.loss_plot = self.overlay.addPlot(0, 1, title="loss per step")
        self.lines = []
        for p in (self.grad_plot, self.loss_plot):
            p.showGrid(y=True, alpha=0.25)
            p.addLegend(offset=(5, 5))
            p.setLabel("bottom", "time step t")
            self.lines.append(StepLine(p))
        self.overlay.setMinimumHeight(220)
        self.overlay_box = QtWidgets.QWidget()     # a widget to draw (render --panel compare)
        box = QtWidgets.QVBoxLayout(self.overlay_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.overlay)
        outer.addWidget(self.overlay_box, 2)
        cols = self.columns_widget = QtWidgets.QWidget()
        row = self._row = QtWidgets.QHBoxLayout(cols)
        row.setContentsMargins(0, 0, 0, 0)
        scroll = QtWidgets.QScrollArea()      # the columns keep room to read; they scroll
        scroll.setWidgetResizable(True)
        scroll.setWidget(cols)
        outer.addWidget(scroll, 5)
        self.curves: dict[tuple[str, int], pg.PlotDataItem] = {}
        try:
            self._add_members(comp, exps, batch)
        except Exception:
            self.shutdown()               # the members made so far
            raise

    def _add_members(self, comp, exps, batch) -> None:
        for i, exp in enumerate(exps):
            c = Controller(self)
            self.controllers.append(c)
            color = COLORS[i % len(COLORS)]
            problem = c.open(exp.path, as_copy=True)
            if problem:
                raise PlaygroundError(problem)
            if comp.members[i].weights == "untrained" and c.weights.shown:
                c.use_trained(False)
            c.use_batch(batch)
            col = MemberColumn(c, C.label_of(comp, i), color, kinds=self.kinds)
            self.columns.append(col)
            self._row.addWidget(col, 1)
            pen = pg.mkPen(color, width=2)
            self.curves[("grad", i)] = self.grad_plot.plot([], [], pen=pen, name=col.label)
            self.curves[("loss", i)] = self.loss_plot.plot([], [], pen=pen, name=col.label)
            c.traceChanged.connect(lambda i=i: self._traced(i))
            c.weightsChanged.connect(col.update_title)
        self.timeline.events.step.connect(self.set_step)
        self.timeline.n_steps = max((v.steps for v in self.views() if v is not None),
                                    default=1)
        self.timeline.step = 0
        for i in range(len(self.controllers)):
            self._traced(i)

    def _selector(self) -> QtWidgets.QHBoxLayout:
        """"Columns show:" and a button per kind of :data:`KINDS` (any of them, at least
        one): every column shows the same panels, in the same order."""
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Columns show:"))
        self.kind_buttons: dict[str, QtWidgets.QToolButton] = {}
        for key, word, tip, _make, _h in KINDS:
            b = QtWidgets.QToolButton(text=word)
            b.setObjectName(f"compareShow_{key}")
            b.setCheckable(True)
            b.setChecked(key in self.kinds)
            b.setToolTip(f"every column shows {tip}")
            b.toggled.connect(self._kind_toggled)
            row.addWidget(b)
            self.kind_buttons[key] = b
        row.addStretch(1)
        return row

    def _kind_toggled(self, _on: bool) -> None:
        kinds = tuple(k for k in KIND_KEYS if self.kind_buttons[k].isChecked())
        self.set_kinds(kinds or self.kinds)   # the last one stays: a column shows something

    def set_kinds(self, kinds) -> None:
        """Every column shows the panels ``kinds`` (keys of :data:`KINDS`)."""
        kinds = tuple(k for k in KIND_KEYS if k in kinds)
        if not kinds:
            raise ValueError(f"choose one or more of {', '.join(KIND_KEYS)}")
        self.kinds = kinds
        for key, b in self.kind_buttons.items():
            if b.isChecked() != (key in kinds):
                b.blockSignals(True)
                b.setChecked(key in kinds)
                b.blockSignals(False)
        for col in self.columns:
            col.show_kinds(kinds)

    def views(self) -> list:
        return [c.view() for c in self.controllers]

    def _traced(self, i: int) -> None:
        view = self.controllers[i].view()
        self.columns[i].set_view(view, self.timeline.step)
        grad = None if view is None else view.dh_norm
        loss = None if view is None else view.step_loss
        for key, y in (("grad", grad), ("loss", loss)):
            item = self.curves[(key, i)]
            if y is None:
                item.setData([], [])
                continue
            y = np.asarray(y, dtype=np.float64)
            if key == "grad":
                y = np.where(y > 0, y, np.nan)   # a log axis: zero has no place on it
            # a loss taken at one step only (the adding problem's answer) is a point, not a line
            few = np.isfinite(y).sum() <= 3
            item.setData(np.arange(len(y), dtype=np.float64), y, connect="finite",
                         symbol="o" if few else None, symbolSize=8,
                         symbolBrush=COLORS[i % len(COLORS)], symbolPen=None)
        self._loss_range()

    def _loss_range(self) -> None:
        """From 0 to the highest loss of any member (every member's point in view)."""
        tops = [np.nanmax(it.yData) for (k, _), it in self.curves.items()
                if k == "loss" and it.yData is not None and np.isfinite(it.yData).any()]
        n = max((len(it.yData) for it in self.curves.values() if it.yData is not None),
                default=1)
        self.loss_plot.setRange(xRange=(-0.5, n - 0.5), yRange=(0, max(tops or [1.0]) * 1.1),
                                padding=0.02)

    def set_step(self, t: int) -> None:
        for col in self.columns:
            col.set_step(t)
        for ln in self.lines:
            ln.setValue(t)

    def shutdown(self) -> None:
        try:
            self.timeline.events.step.disconnect(self.set_step)
        except (TypeError, RuntimeError, ValueError):
            pass
        for c in self.controllers:
            c.shutdown()


# the window's actions that act on its own (hidden) experiment: off in compare mode
OFF_IN_COMPARE = ("save", "save_as", "export", "undo", "redo", "copy", "paste", "duplicate",
                  "delete", "select_all", "reset_layout")
SAVE_FILTER = "Comparisons (*.comparison.json);;All files (*)"


def open_in(win, source) -> str:
    """Show the comparison ``source`` in the main window ``win``; ``""`` or the problem
    (then nothing changes)."""
    if win.controller is not None and win.controller.training.running or training(win):
        return "stop training first, then open a comparison"
    try:
        comp, exps, _datasets, batch = prepare(source)
    except (PlaygroundError, OSError) as e:
        return str(e)
    except (MemoryError, RuntimeError, ValueError) as e:   # a member too large, or torch's
        return f"cannot open the comparison: {type(e).__name__}: {e}"
    leave(win)
    win.controls.stop()
    state = win.saveState()
    for key, d in win.docks.items():
        if key != "controls":
            d.hide()
    try:
        view = CompareView(comp, exps, batch, win.timeline)
    except Exception as e:            # (the members made so far are shut down by the view)
        win.restoreState(state)
        return str(e) if isinstance(e, PlaygroundError) else \
            f"cannot open the comparison: {type(e).__name__}: {e}"
    view._saved_state = state
    view._saved_controls = _own_controls_off(win)
    win.compare_view = view
    win.setCentralWidget(view)
    win.menus["save_comparison"].setEnabled(True)
    win.setWindowTitle(f"{comp.name} — Sequence Playground")
    return ""


def _own_controls(win) -> list:
    """The window's controls that act on its own experiment: the layer box of the step
    controls (and its label), the actions of :data:`OFF_IN_COMPARE`, the View menu's dock
    entries (but the step controls')."""
    lay = win.controls.layout()
    at = lay.indexOf(win.layer_combo)
    label = lay.itemAt(at - 1).widget() if at > 0 else None
    widgets = [w for w in (label, win.layer_combo) if w is not None]
    actions = [win.menus[n] for n in OFF_IN_COMPARE if n in win.menus]
    actions += [d.toggleViewAction() for k, d in win.docks.items() if k != "controls"]
    return widgets + actions


def _own_controls_off(win) -> list:
    """Hide the layer box and turn off the actions of :func:`_own_controls`; returns
    (control, was visible or enabled) to put back (:func:`leave`)."""
    saved = []
    for w in _own_controls(win):
        if isinstance(w, QtWidgets.QWidget):
            saved.append((w, not w.isHidden()))
            w.hide()
        else:
            saved.append((w, w.isEnabled()))
            w.setEnabled(False)
    return saved


def _own_controls_back(win, saved) -> None:
    stack = win.canvas.undo_stack           # what undo and redo can do now, not then
    now = {id(win.menus.get("undo")): stack.canUndo(), id(win.menus.get("redo")):
           stack.canRedo()}
    for w, on in saved:
        on = now.get(id(w), on)
        if isinstance(w, QtWidgets.QWidget):
            w.setVisible(on)
        else:
            w.setEnabled(on)


def training(win) -> bool:
    """Whether a member of the comparison on screen is training (leaving would drop it)."""
    view = getattr(win, "compare_view", None)
    return view is not None and any(c.training.running for c in view.controllers)


def leave(win) -> None:
    """Back from a comparison to the window's own experiment and layout."""
    view = getattr(win, "compare_view", None)
    if view is None:
        return
    win.compare_view = None
    view.shutdown()
    win.takeCentralWidget()
    view.deleteLater()
    win.restoreState(view._saved_state)
    _own_controls_back(win, view._saved_controls)
    win.menus["save_comparison"].setEnabled(False)
    win._opened()


def save_comparison(win, path=None) -> bool:
    """File > Save comparison...: write the comparison on screen to ``path`` (default: ask;
    ``.comparison.json`` is added to a name without ``.json``). The members' experiment
    files are left as they are (a member trained here is not saved)."""
    view = getattr(win, "compare_view", None)
    if view is None or win.files is None:
        return False
    if path is None:
        path = win.files.ask_path("Save the comparison as", True, SAVE_FILTER)
        if not path:
            return False
    path = str(path)
    if not path.endswith(".json"):
        path += C.SUFFIX
    try:
        out = C.save(view.comparison, path)
    except (PlaygroundError, OSError) as e:
        win.files.show_error("Cannot save the comparison", str(e))
        return False
    win.statusBar().showMessage(f"saved the comparison {out.name} (the members' experiment "
                                "files are left as they are)", 15_000)
    return True


def run(names: list[str], started: float | None = None) -> int:
    """``python main.py compare A B ...``: a window comparing the experiments ``names``
    (preset names or experiment files), or one comparison file."""
    import sys

    from .app import make_app
    from .main_window import MainWindow

    try:
        one = len(names) == 1 and C.names_comparison(names[0])
        source = C.resolve(names[0]) if one else C.from_names(names)
        prepare(source)
    except (PlaygroundError, OSError) as e:
        print(f"sequence-playground compare: {e}", file=sys.stderr)
        return 2
    app = make_app()
    win = MainWindow()
    win.files.open_default()
    problem = open_in(win, source)
    if problem:
        print(f"sequence-playground compare: {problem}", file=sys.stderr)
        win.shutdown()
        return 2
    win.show()
    code = app.exec()
    leave(win)
    win.shutdown()
    return int(code)
