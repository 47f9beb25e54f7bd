"""Attention per head: the weights, the scaled scores before the softmax, or Q, K and V,
the current query row highlighted and the steps named by their tokens."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from .base import (
    GATE_CMAP,
    STATE_CMAP,
    Heatmap,
    Panel,
    TraceView,
    axis_label,
    set_title,
    symmetric_levels,
)
from .io import _shown

MAX_HEADS = 8

# what the heatmaps can show: key, menu text, value name, rows (y), columns (x)
SHOWS = (
    ("weights", "weights softmax(q·k/√d)", "weight", "query t", "key s"),
    ("scores", "scores q·k/√d (before the softmax)", "score", "query t", "key s"),
    ("q", "queries Q (step × dimension)", "q", "query t", "dimension"),
    ("k", "keys K (step × dimension)", "k", "key s", "dimension"),
    ("v", "values V (step × dimension)", "v", "key s", "dimension"),
)


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
    marks = tuple(k for k, *_ in SHOWS)

    def __init__(self, parent=None):
        super().__init__(parent)
        row = QtWidgets.QHBoxLayout()
        self.show_label = QtWidgets.QLabel("show")
        row.addWidget(self.show_label)
        self.show_box = QtWidgets.QComboBox()
        for key, text, *_ in SHOWS:
            self.show_box.addItem(text, key)
        self.show_box.setToolTip("what the heatmaps show for each head: the attention "
                                 "weights, the scaled scores q·k/√d that the softmax turns "
                                 "into them, or the queries, keys and values")
        self.show_box.currentIndexChanged.connect(lambda _: self._draw())
        row.addWidget(self.show_box)
        row.addStretch(1)
        self.layout().insertLayout(1, row)
        self.attn = None
        self.shown: np.ndarray | None = None     # (heads, rows, cols): what is drawn
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
            self.time_plots.append((p, "y"))            # query steps run down
            for key in self.marks:
                self.quantity_plots.setdefault(key, []).append(p)
            self.heats.append(hm)
            self.rows.append(region)
        self.weights: np.ndarray | None = None   # (heads, Tq, Tk)

    def _make_hover(self, h: int):
        def hover(x: float, y: float):
            if self.shown is None or h >= len(self.shown):
                return None
            c, r = int(np.floor(x + 0.5)), int(np.floor(y + 0.5))
            w = self.shown[h]
            if not (0 <= r < w.shape[0] and 0 <= c < w.shape[1]):
                return None
            key = self.show_key()
            if key in ("weights", "scores"):
                name = "weight" if key == "weights" else "score"
                v = w[r, c]
                val = f"{v:.6g}" if np.isfinite(v) else "masked (-inf: a future key)"
                return f"head {h}: query t={r} -> key s={c}: {name}={val}"
            step = "query t" if key == "q" else "key s"
            return f"head {h}: {step}={r}, dimension {c}: {key}={w[r, c]:.6g}"
        return hover

    def show_key(self) -> str:
        return self.show_box.currentData()

    def mark(self, span, quantity=None) -> None:
        """A lesson step about the scores, Q, K or V shows them first."""
        i = self.show_box.findData(quantity) if quantity else -1
        if i >= 0 and i != self.show_box.currentIndex():
            self.show_box.setCurrentIndex(i)
        super().mark(span, quantity)

    def set_view(self, view: TraceView | None) -> None:
        super().set_view(view)
        a = view.attn if view else None
        self.attn = a
        self.weights = None if a is None else a.weights[0]
        for w in (self.show_label, self.show_box):   # nothing to choose without attention
            w.setVisible(a is not None)
        self._draw()
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

    def _draw(self) -> None:
        """Draw the chosen quantity of every head (the trace's numbers, as recorded)."""
        a, view = self.attn, self.view
        key = self.show_key()
        _, _, value_name, rows_name, cols_name = next(x for x in SHOWS if x[0] == key)
        shown = None
        if a is not None:
            if key == "weights":
                shown = a.weights[0]
            elif key == "scores":
                shown = None if a.scores is None else a.scores[0]
            else:
                shown = getattr(a, key)[0]
        self.shown = None if shown is None else np.asarray(shown)
        n = 0 if self.shown is None else min(len(self.shown), MAX_HEADS)
        weights = key == "weights"
        if self.shown is None:
            levels = (0.0, 1.0)
        elif weights:
            levels = (0.0, 1.0)
        else:   # one diverging scale for every head; masked scores (-inf) left blank
            levels = symmetric_levels(np.where(np.isfinite(self.shown), self.shown, np.nan))
        query_rows = key in ("weights", "scores", "q")
        for h, r in enumerate(self.rows):
            r.setVisible(h < n and query_rows)
        for h, hm in enumerate(self.heats):
            hm.plot.setVisible(h < n)
            if h >= n:
                continue
            hm.set_colormap(GATE_CMAP if weights else STATE_CMAP)
            hm.value_name = value_name
            data = self.shown[h]
            hm.set(np.where(np.isfinite(data), data, np.nan), levels)
            set_title(hm.plot, f"head {h}")
            labels_x = view.key_labels if cols_name == "key s" else []
            labels_y = view.query_labels if rows_name == "query t" else view.key_labels
            hm.plot.getAxis("bottom").setTicks(_ticks(labels_x))
            hm.plot.getAxis("left").setTicks(_ticks(labels_y))
            axis_label(hm.plot, "bottom", cols_name)
            axis_label(hm.plot, "left", rows_name if h % 4 == 0 else "")
        if a is not None and key == "scores" and a.scores is None:
            self.caption.setText("this trace has no scores recorded")

    def set_step(self, t: int) -> None:
        super().set_step(t)
        if self.weights is None:
            return
        t = min(t, self.weights.shape[1] - 1)
        for r in self.rows[:len(self.weights)]:
            r.setRegion((t - 0.5, t + 0.5))

    def table(self):
        """What the heatmaps show, a row per head and step (masked scores: -inf)."""
        if self.shown is None:
            return [], np.zeros((0, 0))
        H, R, C = self.shown.shape
        key = self.show_key()
        rows = [[h, t, *self.shown[h, t]] for h in range(H) for t in range(R)]
        first = "query" if key in ("weights", "scores", "q") else "key"
        cols = [f"key{s}" for s in range(C)] if key in ("weights", "scores") else \
            [f"{key}{j}" for j in range(C)]
        return ["head", first] + cols, np.array(rows, np.float64)


def _ticks(labels: list[str], most: int = 24):
    """The steps named by their symbols (every k-th when there are many), or None for
    pyqtgraph's numbered ticks."""
    if not labels or all(lab == str(i) for i, lab in enumerate(labels)):
        return None
    k = max(1, -(-len(labels) // most))
    return [[(float(i), _shown(labels[i])) for i in range(0, len(labels), k)]]
