"""Views of the hidden states of issue 16, drawn from the Qt-free core:

* :class:`TrajectoryPanel`: the selected recurrent layer's h_t in its top two principal
  components (:func:`playground.tracing.trajectory.fit_pca`), points coloured by t and the
  current step marked, the validation sequences' paths faintly in the same basis (fitted
  on the traced sequence once per trace: stepping never moves it).
* :class:`NeuronSearchPanel`: the units on over a span of steps and the other spans where
  they are on together (:func:`playground.tracing.neurons.search`), in the traced sequence
  and the validation sequences; a match opens its sequence and moves the timeline there.

The validation sequences' states come from the controller's
:class:`~ui.validation.ValidationJob` (off the GUI thread, once per model and weights).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from .base import GATE_CMAP, Dot, Panel, Points, TraceView, cache_static, show_range

VALIDATION_RGB = (150, 150, 175)        # faint, behind the trace: fainter the more it draws
AXES = ((0, 1), (0, 2), (1, 2))          # the pairs of the top three components one can draw


def _h(view: TraceView | None) -> np.ndarray | None:
    """(T, H) states of sequence 0 of the selected recurrent layer."""
    rec = view.rec if view is not None else None
    return None if rec is None else np.asarray(rec.h[0])


def _validation(controller, view: TraceView | None, visible: bool):
    """The validation states of ``view``'s layer beside the traced sequence (a list of
    (T_i, H)), ``[]`` when there are none, or None while they are not known (asked for
    when ``visible``)."""
    if controller is None or view is None or view.rec is None:
        return []
    job = controller.validation
    if not job.available:
        return []
    states = job.current()
    if states is None:
        if visible:
            job.request()
        return None
    return states.besides(view.rec, view.rec.h[0])[1]


def _validation_note(controller, n) -> str:
    if controller is None or not controller.validation.available:
        return ""
    if n is None:
        if controller.validation.error:
            return controller.validation.error
        if controller.training.running:
            return "validation sequences: shown when training stops"
        return "tracing the validation sequences…"
    return f"{n} validation sequence{'' if n == 1 else 's'} in grey" if n else \
        "no validation sequence has this layer"


# -- trajectory --------------------------------------------------------------------------
class TrajectoryPanel(Panel):
    """h_t of the selected layer projected on its first two principal components; the
    validation sequences' paths faintly behind it, in the same basis."""

    title = "Trajectory"

    def __init__(self, controller=None, parent=None):
        super().__init__(parent)
        self.controller = controller
        p = self.add_plot(0, 0, "h_t in its top principal components", "PC2", "PC1")
        self.plot = p
        p.showGrid(x=True, y=True, alpha=0.2)
        self.validation_item = p.plot(pen=pg.mkPen((*VALIDATION_RGB, 80)), connect="finite")
        self.validation_item.setZValue(-10)     # behind the traced sequence
        self.path = p.plot(pen=pg.mkPen("#999999", width=1))
        # a third component without a 3-D view: any two of the top three, on flat axes
        self.axes = AXES[0]
        self.axes_box = QtWidgets.QComboBox()
        for a, b in AXES:
            self.axes_box.addItem(f"PC{a + 1} × PC{b + 1}")
        self.axes_box.setToolTip("Which two of the top three principal components are drawn")
        self.axes_box.currentIndexChanged.connect(self._axes_chosen)
        self.layout().itemAt(0).layout().insertWidget(1, self.axes_box)
        self.points = Points(size=7, pen=pg.mkPen(None))
        p.addItem(self.points)
        self.first = pg.TextItem("t=0", color="#555", anchor=(0, 1))
        self.last = pg.TextItem("", color="#555", anchor=(0, 1))
        p.addItem(self.first)
        p.addItem(self.last)
        cache_static(self.path, self.points, self.validation_item)
        self.marker = Dot(p, size=13)
        self.marker.item.setPen(pg.mkPen("#000", width=1))
        self.add_hover(p, self._hover)
        self.basis = None
        self.coords: np.ndarray | None = None     # (T, 2) the plotted points
        self.validation_paths: list[np.ndarray] = []   # (T_i, 2) each, in the same basis
        self._key = None
        self._drawn_validation = None             # (basis, states) drawn
        if controller is not None:
            controller.validation.changed.connect(self._validation_changed)

    def _axes_chosen(self, i: int) -> None:
        self.axes = AXES[max(i, 0)]
        self.basis = None                   # (the same basis again, other axes of it)
        if self.view is not None:
            self.set_view(self.view)

    def _validation_changed(self) -> None:
        if self.view is not None and self.isVisible():
            self.set_view(self.view)

    def set_view(self, view: TraceView | None) -> None:
        super().set_view(view)
        from playground.tracing.trajectory import fit_pca

        h = _h(view)
        if h is None:
            self.basis = self.coords = self._key = self._drawn_validation = None
            self.validation_paths = []
            self.points.clear()
            self.path.setData([], [])
            self.validation_item.setData([], [])
            self.marker.clear()
            self.caption.setText("select a recurrent layer")
            self.show_message("Select a recurrent layer (RNN, LSTM or GRU).")
            return
        self.show_message("")
        key = (view.trace, view.rec.node, view.rec.layer, view.rec.direction)
        old = self._key
        others = _validation(self.controller, view, self.isVisible())
        states = None if self.controller is None else self.controller.validation.current()
        if old is None or old[0] is not key[0] or old[1:] != key[1:] or self.basis is None:
            # fitted once per trace and layer, on the traced sequence: stepping never moves it
            self._key = key
            self.basis = fit_pca(h, dims=3)
            self.coords = self.basis.project(h)[:, list(self.axes)]
            self._drawn_validation = None
        drawn = (self.basis, None if others is None else len(others), id(states))
        if drawn != self._drawn_validation:
            self._drawn_validation = drawn
            self.validation_paths = [self.basis.project(o)[:, list(self.axes)]
                                     for o in others or ()]
            self._draw(view, others)
        self.set_step(self.step)

    def _draw(self, view: TraceView, others) -> None:
        xy, r = self.coords, self.basis.explained_ratio[list(self.axes)]
        a, b = (k + 1 for k in self.axes)
        T = len(xy)
        frac = np.linspace(0.0, 1.0, T) if T > 1 else np.zeros(T)
        colors = GATE_CMAP.map(frac, mode="qcolor")
        self.path.setData(xy[:, 0], xy[:, 1])
        self.points.setData(x=xy[:, 0], y=xy[:, 1], brush=colors)
        paths = self.validation_paths
        if paths:   # one item, the paths apart (NaN rows between them)
            gap = np.full((1, 2), np.nan)
            joined = np.concatenate([part for p in paths for part in (p, gap)])
            # a few short paths read as lines; thousands of steps as a faint haze
            alpha = int(np.clip(8000 / len(joined), 30, 90))
            self.validation_item.setPen(pg.mkPen((*VALIDATION_RGB, alpha)))
            self.validation_item.setData(joined[:, 0], joined[:, 1], connect="finite")
        else:
            self.validation_item.setData([], [])
        self.first.setPos(float(xy[0, 0]), float(xy[0, 1]))
        self.last.setText(f"t={T - 1}" if T > 1 else "")
        self.last.setPos(float(xy[-1, 0]), float(xy[-1, 1]))
        self.plot.setLabel("bottom", f"PC{a} ({100 * r[0]:.0f}%)")
        self.plot.setLabel("left", f"PC{b} ({100 * r[1]:.0f}%)")
        every = np.concatenate([xy, *paths]) if paths else xy
        every = every[np.isfinite(every).all(1)]
        lo, hi = every.min(0), every.max(0)
        pad = np.maximum((hi - lo) * 0.08, 1e-6)
        show_range(self.plot, (float(lo[0] - pad[0]), float(hi[0] + pad[0])),
                   (float(lo[1] - pad[1]), float(hi[1] + pad[1])))
        rec = view.rec
        note = _validation_note(self.controller, None if others is None else len(paths))
        self.caption.setText(f"{rec.label}: {100 * r.sum():.0f}% of the variance; "
                             f"colour: t" + (f"; {note}" if note else ""))
        self.caption.setToolTip("the basis is fitted on this trace's h_t once, so stepping "
                                "never moves it; the validation sequences (grey) are "
                                "projected into the same basis")

    def set_step(self, t: int) -> None:
        super().set_step(t)
        if self.coords is None or not len(self.coords):
            return
        t = min(max(t, 0), len(self.coords) - 1)
        self.marker.set(self.coords[t, 0], self.coords[t, 1])

    def _hover(self, x, y):
        if self.coords is None or not len(self.coords):
            return None
        (x0, x1), (y0, y1) = self.plot.vb.viewRange()
        d = ((self.coords[:, 0] - x) / (x1 - x0 or 1)) ** 2 + \
            ((self.coords[:, 1] - y) / (y1 - y0 or 1)) ** 2
        t = int(np.argmin(d))
        if d[t] > 0.02 ** 2:
            return None
        a, b = (k + 1 for k in self.axes)
        return f"t={t}: PC{a}={self.coords[t, 0]:.4g} PC{b}={self.coords[t, 1]:.4g}"

    def table(self):
        if self.coords is None:
            return [], np.zeros((0, 0))
        return (["t", *(f"pc{k + 1}" for k in self.axes)],
                np.column_stack([np.arange(len(self.coords)), self.coords]))


# -- neuron search -----------------------------------------------------------------------
SEARCHED = -1     # a match's validation index when it is in the searched sequence


class NeuronSearchPanel(Panel):
    """Pick a span and a threshold; the units above it over the whole span and the other
    spans where they are all on, in the traced sequence and the validation sequences,
    longest first. Clicking a match opens its sequence and moves the timeline there."""

    title = "Neuron search"

    def __init__(self, controller=None, timeline=None, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.timeline = timeline
        row = QtWidgets.QHBoxLayout()
        self.start_box, self.end_box = QtWidgets.QSpinBox(), QtWidgets.QSpinBox()
        self.threshold_box = QtWidgets.QDoubleSpinBox()
        self.threshold_box.setRange(-100.0, 100.0)
        self.threshold_box.setDecimals(2)
        self.threshold_box.setSingleStep(0.05)
        self.threshold_box.setValue(0.5)
        self.search_btn = QtWidgets.QPushButton("Search")
        self.search_btn.setToolTip("the units above the threshold at every step of the span, and "
                                   "where else they are all above it (also in validation)")
        self.search_btn.clicked.connect(self.run_search)
        for text, w in (("steps", self.start_box), ("to", self.end_box),
                        ("h >", self.threshold_box)):
            row.addWidget(QtWidgets.QLabel(text))
            row.addWidget(w)
        row.addWidget(self.search_btn)
        row.addStretch(1)
        outer = self.layout()
        outer.insertLayout(2, row)
        self.summary = QtWidgets.QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("color:#444;")
        outer.insertWidget(3, self.summary)
        self.list = QtWidgets.QListWidget()
        self.list.setObjectName("neuronMatches")
        self.list.itemClicked.connect(self._clicked)
        outer.insertWidget(4, self.list, 1)
        self.layout_widget.hide()
        self.hover_label.hide()
        self.result = None         # the last Search
        self.found: list[tuple] = []    # (Match, validation index or SEARCHED, batch)
        self._h: np.ndarray | None = None
        self._seeking = False
        self._opened = None        # (batch, step) a click opened, until its trace is shown
        self._keep_for = None      # that batch: its trace keeps the list of matches
        if controller is not None:
            controller.traceChanged.connect(self._trace_shown)
            controller.validation.changed.connect(self._validation_changed)

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.list.setVisible(not text)
        self.summary.setVisible(not text)

    def _validation_changed(self) -> None:
        if self.view is not None and self.view.rec is not None and self.result is None:
            self._say_searched(_validation(self.controller, self.view, self.isVisible()))

    def set_view(self, view: TraceView | None) -> None:
        old = self.view
        super().set_view(view)
        h = _h(view)
        c = self.controller
        batch = None if c is None else c.batch
        same = (old is not None and view is not None and old.trace is view.trace
                and old.rec is view.rec)
        kept = (not same and old is not None and view is not None and old.rec is not None
                and view.rec is not None and old.rec.label == view.rec.label
                and batch is not None and batch is self._keep_for)
        if kept:
            self._keep_for = None       # once: a later trace of it is a new one
        elif not same:
            self.list.clear()
            self.found = []
            self.summary.setText("")
            self.result = None
        self._h = h
        if h is None:
            self.search_btn.setEnabled(False)
            self.caption.setText("select a recurrent layer")
            self.show_message("Select a recurrent layer (RNN, LSTM or GRU).")
            return
        self.show_message("")
        self.search_btn.setEnabled(True)
        T = h.shape[0]
        for box in (self.start_box, self.end_box):
            box.setRange(0, max(T - 1, 0))
        others = _validation(c, view, self.isVisible())
        if not same and not kept:
            self.caption.setText(f"{view.rec.label}: choose a span and press Search")
            self._say_searched(others)
            self._follow(self.step)

    def _say_searched(self, others) -> None:
        text = "Searched: this sequence"
        if others:
            text += f" and {len(others)} validation sequence{'' if len(others) == 1 else 's'}"
        elif others is None:
            text += f" ({_validation_note(self.controller, None)})"
        self.summary.setText(text + ".")

    def _follow(self, t: int) -> None:
        """The span as the current step..step+2 (within the sequence)."""
        if self._h is None:
            return
        T = self._h.shape[0]
        a = min(max(t, 0), T - 1)
        self.start_box.setValue(a)
        self.end_box.setValue(min(a + 2, T - 1))

    def set_step(self, t: int) -> None:
        super().set_step(t)
        if not self._seeking:
            self._follow(t)

    def run_search(self) -> None:
        from playground.tracing.neurons import search

        self.list.clear()
        self.result, self.found = None, []
        if self._h is None:
            return
        c = self.controller
        a, b = self.start_box.value(), self.end_box.value()
        if b < a:
            a, b = b, a
        thr = float(self.threshold_box.value())
        states = None if c is None else c.validation.current()
        keep, others = ([], []) if states is None else states.besides(self.view.rec, self._h)
        self.result = res = search(self._h, a, b, thr, others=others)
        searched_batch = None if c is None else c.batch
        for m in res.matches:
            if m.sequence == 0:
                where, batch, label = SEARCHED, searched_batch, "searched sequence"
            else:
                i = keep[m.sequence - 1]
                where = states.indices[i]
                batch, label = states.rows[i], f"validation #{where}"
            self.found.append((m, where, batch))
            item = QtWidgets.QListWidgetItem(
                f"{label}, steps {m.start}-{m.end}, {m.extra} extra "
                f"unit{'' if m.extra == 1 else 's'}")
            item.setData(QtCore.Qt.ItemDataRole.UserRole, len(self.found) - 1)
            self.list.addItem(item)
        units = ", ".join(str(int(u)) for u in res.units[:20]) + "…" * (len(res.units) > 20)
        n_val = sum(1 for _, w, _ in self.found if w != SEARCHED)
        searched = "this sequence" + (f" and {len(others)} validation sequence"
                                      f"{'s' * (len(others) != 1)}" if others else "")
        self.caption.setText(f"steps {a}-{b}, h > {thr:g}: {len(res.units)} unit(s), "
                             f"{len(res.matches)} other span(s), {n_val} of them in "
                             "validation sequences")
        if not len(res.units):
            self.summary.setText(f"No unit stays above {thr:g} over all of steps {a}-{b}: "
                                 "try a shorter span or a lower threshold.")
        elif not res.matches:
            self.summary.setText(f"Units {units} are above {thr:g} over steps {a}-{b}; "
                                 f"no other span has them all on together (searched: "
                                 f"{searched}).")
        else:
            self.summary.setText(f"Units {units} are above {thr:g} over steps {a}-{b}. "
                                 "Where else they are all on, longest first (searched: "
                                 f"{searched}; click one to open it there):")

    def _clicked(self, item: QtWidgets.QListWidgetItem) -> None:
        i = item.data(QtCore.Qt.ItemDataRole.UserRole)
        if i is None or not 0 <= i < len(self.found):
            return
        m, _, batch = self.found[i]
        c = self.controller
        if c is not None and batch is not None and batch is not c.batch:
            self._opened = (batch, m.start)      # moved there once its trace is shown
            self._keep_for = batch
            if not c.use_batch(batch, wait=False):
                self._opened = self._keep_for = None
            return
        self._go(m.start)

    def _go(self, t: int) -> None:
        if self.timeline is None:
            return
        self._seeking = True      # keep the searched span in the boxes
        try:
            self.timeline.step = t
        finally:
            self._seeking = False

    def _trace_shown(self) -> None:
        """The trace a click opened goes to its match once the window took its steps."""
        if self._opened is not None:
            QtCore.QTimer.singleShot(0, self, self._arrived)

    def _arrived(self) -> None:
        if self._opened is not None and self.controller.batch is self._opened[0]:
            t, self._opened = self._opened[1], None
            self._go(t)

    def table(self):
        if self.result is None:
            return [], np.zeros((0, 0))
        rows = [(w, m.start, m.end, m.extra) for m, w, _ in self.found]
        return (["validation_sequence", "start", "end", "extra_units"],
                np.array(rows, dtype=np.float64).reshape(-1, 4))
