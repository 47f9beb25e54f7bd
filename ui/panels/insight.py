"""Views of issue 16's insight tools, drawn from the Qt-free core:

* :class:`ConnectivityPanel`: ``||dy_t/dx_s||`` for every output step t and input step s
  (:func:`playground.tracing.connectivity.connectivity`) on a log colour scale, and the row
  of the current step; computed off the GUI thread on a copy of the model
  (:class:`ConnectivityJob`), dropped when a new trace arrives.
* :class:`HorizonPanel`: the gradient horizon recorded while training.

The hidden-state views (:class:`TrajectoryPanel`, :class:`NeuronSearchPanel`, with the
validation sequences) live in :mod:`ui.panels.states`; they are imported here too.
"""

from __future__ import annotations

import copy

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from ..jobs import LatestCall
from .base import GATE_CMAP, Bars, Heatmap, Panel, StepLine, TraceView, show_range
from .io import _shown
from .states import NeuronSearchPanel, TrajectoryPanel

__all__ = ["ConnectivityJob", "ConnectivityPanel", "HorizonPanel", "NeuronSearchPanel",
           "TrajectoryPanel"]

AUTO_STEPS = 200     # connectivity is computed without asking up to this many steps
FLOOR_DECADES = 6    # the log colour scale spans this many decades below the largest value
TOKEN_TICKS = 48     # the strip names its steps by their tokens up to this many
TOKEN_CHARS = 120    # ... and while their labels fit (not a row of long numbers)


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
        self.row_line = StepLine(hp, pen=pg.mkPen("#d62728", width=1), axis="y")  # row t
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
        self.heat.set(np.full((1, 1), np.nan, np.float32))      # blank: nothing computed
        self.strip.set(np.zeros(1))
        self._token_ticks(-1)                                   # not the last trace's tokens

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
        # no path at all from x_s to y_t (s after t): blank, not the smallest colour
        with np.errstate(divide="ignore"):
            logm = np.where(self.matrix > 0, np.log10(np.maximum(self.matrix, 10.0 ** lo)),
                            np.nan)
        self.heat.set(logm, (lo, hi))
        T_out, T_in = self.matrix.shape
        self.caption.setText(f"largest {top:.3g}; colours: log10 over {FLOOR_DECADES} "
                             "decades; blank: y_t does not depend on x_s")
        self._token_ticks(T_in)
        self.caption.setToolTip(f"||dy_t/dx_s|| for {T_out} output steps t and {T_in} input "
                                "steps s; y_t: the predicted output (largest logit) or every "
                                "output for values")
        self.set_step(self.step)

    def _token_ticks(self, T_in: int) -> None:
        """The strip's steps named by the input tokens while they fit (else numbers)."""
        tokens = list(self.view.tokens) if self.view is not None else []
        axis = self.strip_plot.getAxis("bottom")
        fits = sum(len(_shown(tok)) + 1 for tok in tokens) <= TOKEN_CHARS
        if len(tokens) == T_in and 0 < T_in <= TOKEN_TICKS and fits:
            axis.setTicks([[(float(s), _shown(tok)) for s, tok in enumerate(tokens)]])
            axis.setLabel("input token x_s")
        else:
            axis.setTicks(None)
            axis.setLabel("input step s")

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
        steps, rows, svs = (np.zeros(0, np.int64), None, None) if i is None else \
            hz.snapshot(i)
        if rows is None or not len(steps):
            self.rows = self.svs = None
            self.steps = np.zeros(0, np.int64)
            why = ("Train the model: the gradient horizon is recorded while it trains "
                   "(and saved with the experiment).")
            self.caption.setText("nothing recorded yet")
            self.show_message(why)
            return
        self.show_message("")
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
