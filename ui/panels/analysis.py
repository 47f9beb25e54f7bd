"""Why gradients vanish or explode: ||dh_t/dh_{t-1}|| per step and the singular values of
W_hh, from :mod:`playground.tracing.analysis` (computed on demand: an SVD per step)."""

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

    def __init__(self, model_getter, parent=None):
        super().__init__(parent)
        self.model_getter = model_getter
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

    def set_view(self, view: TraceView | None) -> None:
        super().set_view(view)
        self.norms = None
        self.curve.setData([], [])
        self.curve_c.setData([], [])
        rec = view.rec if view else None
        if rec is None:
            self.caption.setText("select a recurrent layer")
            return
        T, H = rec.h.shape[1], rec.hidden_size
        if T * H * H <= AUTO_LIMIT and self.isVisible():
            self.compute()
        else:
            self.caption.setText(f"{rec.label}: press Compute")

    def compute(self) -> None:
        rec = self.view.rec if self.view else None
        model = self.model_getter()
        if rec is None or model is None:
            return
        from playground.tracing import analysis

        try:
            norms = analysis.jacobian_norms(model, rec)
            self.svs = analysis.recurrent_singular_values(model, rec.node, rec.layer,
                                                          rec.direction)
        except (RuntimeError, ValueError, KeyError) as e:
            self.caption.setText(f"cannot compute: {e}")
            return
        self.norms = norms["h"]
        x = np.arange(len(self.norms), dtype=np.float64)
        self.curve.setData(x, np.maximum(self.norms, 1e-30))
        c = norms.get("c")
        self.curve_c.setData(x, np.maximum(c, 1e-30)) if c is not None else \
            self.curve_c.setData([], [])
        for cv in self.sv_curves:
            self.sv_plot.removeItem(cv)
        self.sv_curves = []
        for i, (k, s) in enumerate(self.svs.items()):
            cv = self.sv_plot.plot(np.arange(len(s), dtype=np.float64), s,
                                   pen=pg.intColor(i, 4, maxValue=200), name=k)
            self.sv_curves.append(cv)
        top = ", ".join(f"{k}: {s[0]:.3g}" for k, s in self.svs.items())
        self.caption.setText(f"{rec.label}: mean ||J|| {self.norms.mean():.3g}; largest σ {top}"
                             + ("; green: max f_t (cell path)" if c is not None else ""))
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
