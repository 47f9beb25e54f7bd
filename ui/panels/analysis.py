"""Why gradients vanish or explode: ||dh_t/dh_{t-1}|| per step and the singular values of
W_hh, from :mod:`playground.tracing.analysis`. The controller computes them off the GUI
thread (an SVD per step); the panel says so while it waits and never blocks a step."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from .base import (
    CURVE_PEN,
    Panel,
    StepLine,
    TraceView,
    cache_static,
    decade_labels,  # noqa: I001
)

AUTO_LIMIT = 4_000_000  # T * H^2 below which the norms are computed without asking


class JacobianPanel(Panel):
    """Step Jacobian norms over t (log scale, 1 dashed: above it gradients grow) and the
    singular values of each recurrent weight block."""

    title = "Jacobian norms"

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.compute_btn = QtWidgets.QPushButton("Compute")
        self.compute_btn.setToolTip("compute ||dh_t/dh_(t-1)|| for every step (an SVD each)")
        self.compute_btn.clicked.connect(self.compute)
        self.layout().itemAt(0).layout().insertWidget(1, self.compute_btn)
        jp = self.add_plot(0, 0, "||dh_t / dh_(t-1)||  (log)", "norm", "time step t",
                           auto=True)
        jp.setLogMode(y=True)
        decade_labels(jp.getAxis("left"))
        jp.getAxis("left").enableAutoSIPrefix(False)
        jp.showGrid(y=True, alpha=0.25)
        jp.addLine(y=0.0, pen=pg.mkPen("#888", style=pg.QtCore.Qt.PenStyle.DashLine))
        self.curve = jp.plot(pen=CURVE_PEN)
        self.curve_c = jp.plot(pen=pg.mkPen("#2ca02c", width=1))
        cache_static(self.curve, self.curve_c)
        self.line = StepLine(jp)
        sp = self.add_plot(0, 1, "singular values of W_hh", "σ", "index", auto=True)
        self.sv_plot = sp
        self.sv_curves: list[pg.PlotDataItem] = []
        self.add_hover(jp, self._hover)
        self.norms: np.ndarray | None = None
        self.svs: dict[str, np.ndarray] = {}
        self.busy = False
        job = controller.analysis
        job.busy.connect(self._busy)
        job.ready.connect(self._ready)
        job.failed.connect(self.caption.setText)

    def _clear(self) -> None:
        self.norms, self.svs = None, {}
        self.curve.setData([], [])
        self.curve_c.setData([], [])
        for cv in self.sv_curves:
            self.sv_plot.removeItem(cv)
        self.sv_curves = []

    def set_view(self, view: TraceView | None) -> None:
        super().set_view(view)
        self._clear()
        rec = view.rec if view else None
        if rec is None:
            self.caption.setText("select a recurrent layer")
            self.compute_btn.setEnabled(False)
            return
        self.compute_btn.setEnabled(True)
        T, H = rec.h.shape[1], rec.hidden_size
        if T * H * H <= AUTO_LIMIT and self.isVisible() and not self.controller.training.running:
            self.compute()
        else:
            self.caption.setText(f"{rec.label}: press Compute")

    def compute(self) -> None:
        if not self.controller.analyse():
            self.caption.setText("stop training to compute the Jacobians"
                                 if self.controller.training.running else
                                 "select a recurrent layer")

    def _busy(self, on: bool) -> None:
        self.busy = on
        self.compute_btn.setEnabled(not on)
        if on:
            self.caption.setText("computing the step Jacobians… (the window stays usable)")

    def _ready(self, result: dict) -> None:
        rec = self.view.rec if self.view else None
        if rec is None or result["key"] != (rec.node, rec.layer, rec.direction):
            return   # computed for a layer that is no longer shown
        self._clear()
        self.norms, self.svs = result["norms"], result["svs"]
        x = np.arange(len(self.norms), dtype=np.float64)
        self.curve.setData(x, np.maximum(self.norms, 1e-30))
        c = result["cell"]
        if c is not None:
            self.curve_c.setData(x, np.maximum(c, 1e-30))
        for i, (k, s) in enumerate(self.svs.items()):
            cv = self.sv_plot.plot(np.arange(len(s), dtype=np.float64), s,
                                   pen=pg.intColor(i, 4, maxValue=200), name=k)
            self.sv_curves.append(cv)
        top = ", ".join(f"{k}: {s[0]:.3g}" for k, s in self.svs.items())
        self.caption.setText(f"{result['label']}: mean ||J|| {self.norms.mean():.3g}; largest "
                             f"σ {top}" + ("; green: max f_t (cell path)" if c is not None
                                          else ""))
        self.set_step(self.step)

    def set_step(self, t: int) -> None:
        super().set_step(t)
        self.line.setValue(t)

    def _hover(self, x, y):
        if self.norms is None:
            return None
        t = int(round(x))
        return f"t={t}: ||J||={self.norms[t]:.6g}" if 0 <= t < len(self.norms) else None

    def table(self):
        if self.norms is None:
            return [], np.zeros((0, 0))
        return ["t", "jacobian_norm"], np.column_stack([np.arange(len(self.norms)), self.norms])
