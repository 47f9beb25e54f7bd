"""Side by side: two to four experiments of a comparison file on one input and one cursor.

:class:`CompareView` holds one :class:`~ui.controller.Controller` per member (so each
traces and trains exactly as the main window's does), a column of panels per member and
two overlays: ||dL/dh_t|| of every member on one log axis and the loss per step, one
colour per member. The window's :class:`~playground.timeline.Timeline` is the shared
cursor: moving it moves every column and both overlays. The view draws what the members'
controllers computed; it does no model math.

:func:`open_in` puts a comparison in the main window (its docks, except the step controls,
give way to the view; the layout comes back when an experiment is opened again:
:func:`leave`). :func:`run` is ``python main.py compare A B ...``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from playground.errors import PlaygroundError
from playground.files import comparison as C

from .controller import Controller
from .panels.base import StepLine, decade_labels
from .panels.recurrent import GradientPanel, StatePanel

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


class MemberColumn(QtWidgets.QWidget):
    """One member: its label, weights, a Train button, its hidden state and gradient."""

    def __init__(self, controller: Controller, label: str, color: str, parent=None):
        super().__init__(parent)
        self.controller, self.label = controller, label
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        head = QtWidgets.QHBoxLayout()
        self.title = QtWidgets.QLabel()
        self.title.setStyleSheet(f"color:{color}; font-weight:bold;")
        self.title.setWordWrap(True)
        head.addWidget(self.title, 1)
        self.train_btn = QtWidgets.QPushButton(f"Train {TRAIN_STEPS} steps")
        self.train_btn.setObjectName("compareTrain")
        self.train_btn.clicked.connect(self.train)
        head.addWidget(self.train_btn)
        lay.addLayout(head)
        self.panels = {"h": StatePanel("h"), "gradient": GradientPanel()}
        for p, height in zip(self.panels.values(), (260, 420)):
            p.setMinimumHeight(height)
            lay.addWidget(p, 1)
        controller.training.started.connect(lambda: self.train_btn.setEnabled(False))
        controller.training.finished.connect(lambda _: self.train_btn.setEnabled(True))
        self.update_title()

    def update_title(self) -> None:
        c = self.controller
        self.title.setText(f"{self.label}: {c.name} ({c.weights.label()})")

    def train(self) -> str:
        problem = self.controller.start_training(TRAIN_STEPS)
        if problem:
            self.title.setText(f"{self.label}: {problem}")
        return problem

    def set_view(self, view, step: int) -> None:
        for p in self.panels.values():
            p.set_view(view)
            p.set_step(step)
        self.update_title()


class CompareView(QtWidgets.QWidget):
    """The members' columns and the overlays; see the module docstring. ``curves`` holds
    the overlay items by member: ``("grad", i)`` and ``("loss", i)``."""

    def __init__(self, comp: C.Comparison, exps, batch, timeline, parent=None):
        super().__init__(parent)
        self.setObjectName("compareView")
        self.comparison, self.timeline, self.batch = comp, timeline, batch
        self.controllers: list[Controller] = []
        self.columns: list[MemberColumn] = []
        outer = QtWidgets.QVBoxLayout(self)
        head = QtWidgets.QLabel(f"<b>{comp.name}</b>: {comp.description}")
        head.setWordWrap(True)
        outer.addWidget(head)
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
        outer.addWidget(self.overlay, 2)
        cols = QtWidgets.QWidget()
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
            col = MemberColumn(c, C.label_of(comp, i), color)
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
            for p in col.panels.values():
                p.set_step(t)
        for ln in self.lines:
            ln.setValue(t)

    def shutdown(self) -> None:
        try:
            self.timeline.events.step.disconnect(self.set_step)
        except (TypeError, RuntimeError, ValueError):
            pass
        for c in self.controllers:
            c.shutdown()


def open_in(win, source) -> str:
    """Show the comparison ``source`` in the main window ``win``; ``""`` or the problem
    (then nothing changes)."""
    if win.controller is not None and win.controller.training.running:
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
    win.compare_view = view
    win.setCentralWidget(view)
    for name in ("save", "save_as", "export"):
        win.menus[name].setEnabled(False)
    win.setWindowTitle(f"{comp.name} — Sequence Playground")
    return ""


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
    for name in ("save", "save_as", "export"):
        win.menus[name].setEnabled(True)
    win._opened()


def run(names: list[str], started: float | None = None) -> int:
    """``python main.py compare A B ...``: a window comparing the experiments ``names``
    (preset names or experiment files), or one comparison file."""
    import sys

    from .app import make_app
    from .main_window import MainWindow

    try:
        one = len(names) == 1 and (C.is_comparison(names[0]) or names[0] in C.preset_names())
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
