"""Views of issue 16's insight tools, drawn from the Qt-free core:

* :class:`TrajectoryPanel`: the selected recurrent layer's h_t in its top two principal
  components (:func:`playground.tracing.trajectory.fit_pca`), points coloured by t and the
  current step marked. The basis is fitted once per trace, so stepping never moves it.
* :class:`ConnectivityPanel`: ``||dy_t/dx_s||`` for every output step t and input step s
  (:func:`playground.tracing.connectivity.connectivity`) on a log colour scale, and the row
  of the current step; computed off the GUI thread on a copy of the model
  (:class:`ConnectivityJob`), dropped when a new trace arrives.
* :class:`NeuronSearchPanel`: the units on over a span of steps and the other spans where
  they are on together (:func:`playground.tracing.neurons.search`); a match moves the
  timeline to its start.

Only the traced sequence is shown and searched: the window traces no validation sequences.
"""

from __future__ import annotations

import copy

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ..jobs import LatestCall
from .base import (
    GATE_CMAP,
    Bars,
    Dot,
    Heatmap,
    Panel,
    TraceView,
    cache_static,
    show_range,
)

AUTO_STEPS = 200     # connectivity is computed without asking up to this many steps
FLOOR_DECADES = 6    # the log colour scale spans this many decades below the largest value


def _h(view: TraceView | None) -> np.ndarray | None:
    """(T, H) states of sequence 0 of the selected recurrent layer."""
    rec = view.rec if view is not None else None
    return None if rec is None else np.asarray(rec.h[0])


# -- trajectory --------------------------------------------------------------------------
class TrajectoryPanel(Panel):
    """h_t of the selected layer projected on its first two principal components."""

    title = "Trajectory"

    def __init__(self, parent=None):
        super().__init__(parent)
        p = self.add_plot(0, 0, "h_t in its top two principal components", "PC2", "PC1")
        self.plot = p
        p.showGrid(x=True, y=True, alpha=0.2)
        self.path = p.plot(pen=pg.mkPen("#bbbbbb", width=1))
        self.points = pg.ScatterPlotItem(size=7, pen=pg.mkPen(None))
        p.addItem(self.points)
        self.first = pg.TextItem("t=0", color="#555", anchor=(0, 1))
        self.last = pg.TextItem("", color="#555", anchor=(0, 1))
        p.addItem(self.first)
        p.addItem(self.last)
        cache_static(self.path, self.points)   # fixed per trace: the marker blits them
        self.marker = Dot(p, size=13)
        self.marker.item.setPen(pg.mkPen("#000", width=1))
        self.add_hover(p, self._hover)
        self.basis = None
        self.coords: np.ndarray | None = None     # (T, 2) the plotted points
        self._key = None

    def set_view(self, view: TraceView | None) -> None:
        super().set_view(view)
        from playground.tracing.trajectory import fit_pca

        h = _h(view)
        if h is None:
            self.basis = self.coords = self._key = None
            self.points.clear()
            self.path.setData([], [])
            self.marker.clear()
            self.caption.setText("select a recurrent layer")
            self.show_message("Select a recurrent layer (RNN, LSTM or GRU).")
            return
        self.show_message("")
        key = (view.trace, view.rec.node, view.rec.layer, view.rec.direction)
        old = self._key
        if old is None or old[0] is not key[0] or old[1:] != key[1:] or self.basis is None:
            # fitted once per trace and layer: stepping never moves it
            self._key = key
            self.basis = fit_pca(h, dims=2)
            self.coords = self.basis.project(h)
            self._draw(view)
        self.set_step(self.step)

    def _draw(self, view: TraceView) -> None:
        xy, r = self.coords, self.basis.explained_ratio
        T = len(xy)
        frac = np.linspace(0.0, 1.0, T) if T > 1 else np.zeros(T)
        colors = GATE_CMAP.map(frac, mode="qcolor")
        self.path.setData(xy[:, 0], xy[:, 1])
        self.points.setData(x=xy[:, 0], y=xy[:, 1], brush=colors)
        self.first.setPos(float(xy[0, 0]), float(xy[0, 1]))
        self.last.setText(f"t={T - 1}" if T > 1 else "")
        self.last.setPos(float(xy[-1, 0]), float(xy[-1, 1]))
        self.plot.setLabel("bottom", f"PC1 ({100 * r[0]:.0f}%)")
        self.plot.setLabel("left", f"PC2 ({100 * r[1]:.0f}%)")
        lo, hi = xy.min(0), xy.max(0)
        pad = np.maximum((hi - lo) * 0.08, 1e-6)
        show_range(self.plot, (float(lo[0] - pad[0]), float(hi[0] + pad[0])),
                   (float(lo[1] - pad[1]), float(hi[1] + pad[1])))
        rec = view.rec
        self.caption.setText(f"{rec.label}: {100 * r[:2].sum():.0f}% of the variance; "
                             "colour: t")
        self.caption.setToolTip("the basis is fitted on this trace's h_t once, so stepping "
                                "never moves it; only the traced sequence is drawn (the "
                                "window traces no validation sequences)")

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
        return f"t={t}: PC1={self.coords[t, 0]:.4g} PC2={self.coords[t, 1]:.4g}"

    def table(self):
        if self.coords is None:
            return [], np.zeros((0, 0))
        return ["t", "pc1", "pc2"], np.column_stack([np.arange(len(self.coords)),
                                                     self.coords])


# -- connectivity ------------------------------------------------------------------------
class ConnectivityJob(LatestCall):
    """:func:`~playground.tracing.connectivity.connectivity` in a thread of its own on a
    model nobody else changes; a newer call or :meth:`cancel` stops the running one between
    chunks (its result is dropped)."""

    NAME = "connectivity"

    def start(self, model, inputs, key) -> None:
        from playground.tracing.connectivity import connectivity

        gen = self._generation + 1      # the generation _start gives this call

        def run():
            m = connectivity(model, inputs, should_stop=lambda: self._generation != gen)
            return {"key": key, "matrix": m}

        self._start(run, describe=lambda e: f"cannot compute the connectivity: {e}")


def _nice_top(x: float) -> float:
    """The smallest 1, 2 or 5 x 10^k at least ``x`` (1.0 for nothing positive)."""
    if not np.isfinite(x) or x <= 0:
        return 1.0
    k = np.floor(np.log10(x))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * 10.0 ** k >= x * (1 - 1e-12):
            return float(m * 10.0 ** k)
    return float(10.0 ** (k + 1))


class ConnectivityPanel(Panel):
    """``||dy_t/dx_s||`` (rows: output step t, columns: input step s, log colours) and the
    row of the current step over the input steps."""

    title = "Connectivity"

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.compute_btn = QtWidgets.QPushButton("Compute")
        self.compute_btn.setToolTip("compute ||dy_t/dx_s|| for every output step t and input "
                                    "step s (exact gradients)")
        self.compute_btn.clicked.connect(self.compute)
        self.layout().itemAt(0).layout().insertWidget(1, self.compute_btn)
        hp = self.add_plot(0, 0, "log10 ||dy_t / dx_s||", "output step t", "input step s")
        self.heat = Heatmap(self, hp, GATE_CMAP, levels=(-FLOOR_DECADES, 0.0),
                            row_name="t", value_name="log10 norm")
        self.heat.line.setVisible(False)
        self.row_line = pg.InfiniteLine(angle=0, pen=pg.mkPen("#d62728", width=1))
        hp.addItem(self.row_line, ignoreBounds=True)
        sp = self.add_plot(1, 0, "||dy_t / dx_s|| at the current step t", "norm",
                           "input step s")
        self.strip_plot = sp
        self.strip = Bars(self, sp, name="s", value_name="||dy_t/dx_s||")
        self.layout_widget.ci.layout.setRowStretchFactor(0, 3)
        self.layout_widget.ci.layout.setRowStretchFactor(1, 1)
        self.matrix: np.ndarray | None = None     # (T_out, T_in)
        self._strip_top: float | None = None      # the strip's y range shown
        self.busy = False
        self.job = ConnectivityJob(self)
        self.job.busy.connect(self._busy)
        self.job.ready.connect(self._ready)
        self.job.failed.connect(self.caption.setText)

    def _clear(self) -> None:
        self.matrix = None
        self._strip_top = None
        self.heat.set(np.full((1, 1), -FLOOR_DECADES, np.float32))
        self.strip.set(np.zeros(1))

    def _key(self, view: TraceView | None):
        return None if view is None else view.trace

    def set_view(self, view: TraceView | None) -> None:
        old = self.view
        super().set_view(view)
        if old is not None and view is not None and old.trace is view.trace and \
                self.matrix is not None:
            self.set_step(self.step)    # the same trace (another layer): still right
            return
        self.job.cancel()               # a new trace: what runs is for the last one
        self._clear()
        c = self.controller
        if view is None or c.model is None or c.batch is None:
            self.caption.setText("trace a sequence first")
            self.compute_btn.setEnabled(False)
            return
        self.compute_btn.setEnabled(True)
        if view.steps <= AUTO_STEPS and self.isVisible() and not c.training.running:
            self.compute()
        else:
            self.caption.setText(f"{view.steps} steps: press Compute")

    def compute(self) -> None:
        c = self.controller
        if c.training.running:
            self.caption.setText("stop training to compute the connectivity")
            return
        if self.view is None or c.model is None or c.batch is None:
            self.caption.setText("trace a sequence first")
            return
        from playground.data import bind_inputs

        model = copy.deepcopy(c.model).cpu()
        try:
            inputs = bind_inputs(model, c.batch)
        except Exception as e:  # noqa: BLE001 - said in the caption
            self.caption.setText(f"cannot compute the connectivity: {e}")
            return
        self.job.start(model, inputs, self._key(self.view))

    def _busy(self, on: bool) -> None:
        self.busy = on
        self.compute_btn.setEnabled(not on)
        if on:
            self.caption.setText("computing ||dy_t/dx_s||… (the window stays usable)")

    def _ready(self, result: dict) -> None:
        m = result["matrix"]
        if m is None or result["key"] is not self._key(self.view):
            return     # stopped, or computed for a trace that is no longer shown
        self.matrix = np.asarray(m, dtype=np.float64)
        top = float(self.matrix.max()) if self.matrix.size else 0.0
        hi = np.log10(top) if top > 0 else 0.0
        lo = hi - FLOOR_DECADES
        logm = np.log10(np.maximum(self.matrix, 10.0 ** lo))
        self.heat.set(logm, (lo, hi))
        T_out, T_in = self.matrix.shape
        self.caption.setText(f"largest {top:.3g}; colours: log10 over {FLOOR_DECADES} "
                             "decades")
        self.caption.setToolTip(f"||dy_t/dx_s|| for {T_out} output steps t and {T_in} input "
                                "steps s; y_t: the predicted output (largest logit) or every "
                                "output for values")
        self.set_step(self.step)

    def set_step(self, t: int) -> None:
        super().set_step(t)
        self.row_line.setValue(t)
        if self.matrix is None or not len(self.matrix):
            return
        t = min(max(t, 0), len(self.matrix) - 1)
        row = self.matrix[t]
        self.strip.set(row)
        top = float(row.max()) if row.size else 0.0   # each row at its own scale (a far
        ylim = _nice_top(top * 1.05)                  # one is small), snapped to 1-2-5 x 10^k:
        if ylim != self._strip_top:                   # a new range re-plans the axis (~4 ms),
            self._strip_top = ylim                    # so only when the row needs one
            self.strip_plot.setYRange(0.0, ylim, padding=0)

    def shutdown(self) -> None:
        self.job.cancel(wait=True)

    def table(self):
        if self.matrix is None:
            return [], np.zeros((0, 0))
        T_out, T_in = self.matrix.shape
        return (["t"] + [f"s{s}" for s in range(T_in)],
                np.column_stack([np.arange(T_out), self.matrix]))


# -- neuron search -----------------------------------------------------------------------
class NeuronSearchPanel(Panel):
    """Pick a span and a threshold; the units above it over the whole span and the other
    spans where they are all on, longest first. Clicking a match moves the timeline."""

    title = "Neuron search"

    def __init__(self, timeline, parent=None):
        super().__init__(parent)
        self.timeline = timeline
        row = QtWidgets.QHBoxLayout()
        self.start_box, self.end_box = QtWidgets.QSpinBox(), QtWidgets.QSpinBox()
        self.threshold_box = QtWidgets.QDoubleSpinBox()
        self.threshold_box.setRange(-100.0, 100.0)
        self.threshold_box.setDecimals(2)
        self.threshold_box.setSingleStep(0.05)
        self.threshold_box.setValue(0.5)
        self.search_btn = QtWidgets.QPushButton("Search")
        self.search_btn.setToolTip("the units above the threshold at every step of the span, "
                                   "and the other spans where they are all above it")
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
        self._h: np.ndarray | None = None
        self._seeking = False

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.list.setVisible(not text)
        self.summary.setVisible(not text)

    def set_view(self, view: TraceView | None) -> None:
        old = self.view
        super().set_view(view)
        h = _h(view)
        same = (old is not None and view is not None and old.trace is view.trace
                and old.rec is view.rec)
        if not same:
            self.list.clear()
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
        if not same:
            self.caption.setText(f"{view.rec.label}: choose a span and press Search")
            self.summary.setText("Only the traced sequence is searched (the window traces "
                                 "no validation sequences).")
            self._follow(self.step)

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
        self.result = None
        if self._h is None:
            return
        a, b = self.start_box.value(), self.end_box.value()
        if b < a:
            a, b = b, a
        thr = float(self.threshold_box.value())
        self.result = res = search(self._h, a, b, thr)
        for m in res.matches:
            item = QtWidgets.QListWidgetItem(
                f"sequence {m.sequence}, steps {m.start}-{m.end}, {m.extra} extra "
                f"unit{'' if m.extra == 1 else 's'}")
            item.setData(QtCore.Qt.ItemDataRole.UserRole, m)
            self.list.addItem(item)
        units = ", ".join(str(int(u)) for u in res.units[:20])
        more = "…" if len(res.units) > 20 else ""
        self.caption.setText(f"steps {a}-{b}, h > {thr:g}: {len(res.units)} unit(s), "
                             f"{len(res.matches)} other span(s)")
        if not len(res.units):
            self.summary.setText(f"No unit stays above {thr:g} over all of steps {a}-{b}: "
                                 "try a shorter span or a lower threshold.")
        elif not res.matches:
            self.summary.setText(f"Units {units}{more} are above {thr:g} over steps {a}-{b}; "
                                 "no other span of this sequence has them all on together.")
        else:
            self.summary.setText(f"Units {units}{more} are above {thr:g} over steps {a}-{b}. "
                                 "Where else they are all on, longest first (click one to "
                                 "go there; only the traced sequence is searched):")

    def _clicked(self, item: QtWidgets.QListWidgetItem) -> None:
        m = item.data(QtCore.Qt.ItemDataRole.UserRole)
        if m is None or m.sequence != 0:
            return
        self._seeking = True      # keep the searched span in the boxes
        try:
            self.timeline.step = m.start
        finally:
            self._seeking = False

    def table(self):
        if self.result is None:
            return [], np.zeros((0, 0))
        rows = [(m.sequence, m.start, m.end, m.extra) for m in self.result.matches]
        return ["sequence", "start", "end", "extra_units"], np.array(rows, dtype=np.float64
                                                                   ).reshape(-1, 4)



# -- gradient horizon --------------------------------------------------------------------
class _IterationMap(Heatmap):
    """A heatmap with iterations on y (row i drawn at iteration ``steps[i]``)."""

    steps = np.zeros(0, np.int64)

    def hover(self, x: float, y: float) -> str | None:
        if not len(self.steps):
            return None
        r = int(np.argmin(np.abs(self.steps - y)))
        c = int(np.floor(x + 0.5))
        if 0 <= c < self.data.shape[1]:
            return f"iteration {self.steps[r]} t={c}: log10 ||dL/dh_t||={self.data[r, c]:.4g}"
        return None


class HorizonPanel(Panel):
    """The gradient horizon recorded while training (:mod:`ui.horizon_recorder`):
    ``||dL/dh_t||`` over t for each recorded iteration (log colours) and the largest
    singular values of ``dh_T/dh_0`` over the iterations."""

    title = "Gradient horizon"

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.controller = controller
        hp = self.add_plot(0, 0, "log10 ||dL/dh_t|| per recorded iteration", "iteration",
                           "time step t")
        self.heat = _IterationMap(self, hp, GATE_CMAP, levels=(-FLOOR_DECADES, 0.0),
                                  row_name="iteration", value_name="log10 ||dL/dh_t||")
        sp = self.add_plot(1, 0, "largest singular values of dh_T / dh_0  (log)", "σ",
                           "iteration", auto=True)
        sp.setLogMode(y=True)
        sp.getAxis("left").enableAutoSIPrefix(False)
        sp.showGrid(y=True, alpha=0.25)
        self.sv_plot = sp
        self.sv_curves: list = []
        self.layout_widget.ci.layout.setRowStretchFactor(0, 3)
        self.layout_widget.ci.layout.setRowStretchFactor(1, 2)
        self.steps = np.zeros(0, np.int64)
        self.rows: np.ndarray | None = None     # (R, T) as recorded
        self.svs: np.ndarray | None = None      # (R, k)
        controller.horizon.changed.connect(self._changed)

    def _changed(self) -> None:
        if self.isVisible():
            self.set_view(self.view)

    def _layer(self, hz, view) -> int | None:
        if not hz.layers:
            return None
        rec = view.rec if view is not None else None
        key = None if rec is None else (rec.node, rec.layer, rec.direction)
        return hz.layers.index(key) if key in hz.layers else 0

    def set_view(self, view: TraceView | None) -> None:
        super().set_view(view)
        hz = self.controller.horizon.horizon
        i = None if hz is None else self._layer(hz, view)
        steps, rows = (np.zeros(0, np.int64), None) if i is None else hz.rows(i)
        if rows is None or not len(steps):
            self.rows = self.svs = None
            self.steps = np.zeros(0, np.int64)
            why = ("Train the model: the gradient horizon is recorded while it trains "
                   "(and saved with the experiment).")
            self.caption.setText("nothing recorded yet")
            self.show_message(why)
            return
        self.show_message("")
        _, svs = hz.singular_values(i)
        self.steps, self.rows, self.svs = steps, rows, svs
        finite = rows[np.isfinite(rows) & (rows > 0)]
        hi = float(np.log10(finite.max())) if finite.size else 0.0
        lo = hi - FLOOR_DECADES
        logr = np.log10(np.maximum(np.nan_to_num(rows, nan=0.0), 10.0 ** lo))
        self.heat.steps = steps
        self.heat.set(logr, (lo, hi))
        R, T = rows.shape
        step = int(steps[1] - steps[0]) if R > 1 else 1
        y0, y1 = float(steps[0]) - step / 2, float(steps[-1]) + step / 2
        self.heat.item.setRect(QtCore.QRectF(-0.5, y0, T, y1 - y0))
        show_range(self.heat.plot, (-0.5, T - 0.5), (y0, y1))
        for cv in self.sv_curves:
            self.sv_plot.removeItem(cv)
        self.sv_curves = []
        x = steps.astype(np.float64)
        for k in range(svs.shape[1]):
            s = svs[:, k]
            ok = np.isfinite(s) & (s > 0)
            if ok.any():
                cv = self.sv_plot.plot(x[ok], s[ok], pen=pg.intColor(k, svs.shape[1] + 1,
                                                                     maxValue=200),
                                       symbol="o" if R < 30 else None, symbolSize=4)
                self.sv_curves.append(cv)
        node, layer, d = hz.layers[i]
        self.caption.setText(f"{node}: {R} row(s), iterations {steps[0]}-{steps[-1]}")
        self.caption.setToolTip("each row: ||dL/dh_t|| of one fixed sequence at that "
                                "iteration; below: the top singular values of the whole "
                                "sequence's state map dh_T/dh_0")

    def set_step(self, t: int) -> None:
        super().set_step(t)
        self.heat.set_step(t)

    def table(self):
        if self.rows is None:
            return [], np.zeros((0, 0))
        T = self.rows.shape[1]
        return (["iteration"] + [f"t{t}" for t in range(T)] +
                [f"sigma{k + 1}" for k in range(self.svs.shape[1])],
                np.column_stack([self.steps, self.rows, self.svs]))
