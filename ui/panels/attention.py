"""Attention weights per head, the current query row highlighted."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from .base import GATE_CMAP, Heatmap, Panel, TraceView
from .io import _shown

MAX_HEADS = 8


class QueryRow(QtWidgets.QGraphicsRectItem):
    """The current query row outlined: a C++ rectangle item spanning every key."""

    def __init__(self, plot: pg.PlotItem):
        super().__init__(-1e6, -0.5, 2e6, 1.0)
        self.setPen(pg.mkPen("#d62728", width=2))
        self.setBrush(pg.mkBrush(214, 39, 40, 40))
        plot.addItem(self, ignoreBounds=True)

    def setRegion(self, region) -> None:
        self.setPos(0.0, (region[0] + region[1]) / 2)

    def getRegion(self) -> tuple[float, float]:
        y = self.pos().y()
        return (y - 0.5, y + 0.5)


class AttentionPanel(Panel):
    """``weights[head, t, s]``: how much query step t attends to key step s, one heatmap
    per head (rows: queries, columns: keys), the row of the current step outlined."""

    title = "Attention"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.heats: list[Heatmap] = []
        self.rows: list[QueryRow] = []
        for h in range(MAX_HEADS):
            p = self.add_plot(h // 4, h % 4, f"head {h}", "query t" if h % 4 == 0 else "",
                              "key s")
            p.invertY(True)
            hm = Heatmap(self, p, GATE_CMAP, (0.0, 1.0), row_name="query", value_name="weight",
                         colorbar=h == 0)   # one scale for every head: all in [0, 1]
            hm.line.setVisible(False)
            hm.hover = self._make_hover(h)
            self._hovers[-1] = (p, hm.hover)
            region = QueryRow(p)
            self.heats.append(hm)
            self.rows.append(region)
        self.weights: np.ndarray | None = None   # (heads, Tq, Tk)

    def _make_hover(self, h: int):
        def hover(x: float, y: float):
            if self.weights is None or h >= len(self.weights):
                return None
            s, t = int(np.floor(x + 0.5)), int(np.floor(y + 0.5))
            w = self.weights[h]
            if 0 <= t < w.shape[0] and 0 <= s < w.shape[1]:
                return f"head {h}: query t={t} -> key s={s}: weight={w[t, s]:.6g}"
            return None
        return hover

    def set_view(self, view: TraceView | None) -> None:
        super().set_view(view)
        a = view.attn if view else None
        self.weights = None if a is None else a.weights[0]
        n = 0 if self.weights is None else min(len(self.weights), MAX_HEADS)
        for h, r in enumerate(self.rows):
            r.setVisible(h < n)
        for h, hm in enumerate(self.heats):
            hm.plot.setVisible(h < n)
            if h < n:
                hm.set(self.weights[h])
                hm.plot.setTitle(f"head {h}", size="9pt")
                hm.plot.getAxis("bottom").setTicks(_ticks(view.key_labels))
                hm.plot.getAxis("left").setTicks(_ticks(view.query_labels))
        if a is None:
            none = view is None or not view.has_attention
            msg = "This model has no attention layer." if none else \
                "Select an attention node on the canvas."
            self.caption.setText(msg)
            self.show_message(msg)
        else:
            self.show_message("")
            more = f" (first {MAX_HEADS} shown)" if a.num_heads > MAX_HEADS else ""
            self.caption.setText(f"{a.node} ({a.kind}): {a.num_heads} head(s){more}; "
                                 "rows = queries, columns = keys")
        self.set_step(self.step)

    def set_step(self, t: int) -> None:
        super().set_step(t)
        if self.weights is None:
            return
        t = min(t, self.weights.shape[1] - 1)
        for r in self.rows[:len(self.weights)]:
            r.setRegion((t - 0.5, t + 0.5))

    def table(self):
        if self.weights is None:
            return [], np.zeros((0, 0))
        H, Tq, Tk = self.weights.shape
        rows = [[h, t, *self.weights[h, t]] for h in range(H) for t in range(Tq)]
        return ["head", "query"] + [f"key{s}" for s in range(Tk)], np.array(rows, np.float64)


def _ticks(labels: list[str], most: int = 24):
    """The steps named by their symbols (every k-th when there are many), or None for
    pyqtgraph's numbered ticks."""
    if not labels or all(lab == str(i) for i, lab in enumerate(labels)):
        return None
    k = max(1, -(-len(labels) // most))
    return [[(float(i), _shown(labels[i])) for i in range(0, len(labels), k)]]
