"""Input, output and loss panels."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from playground.tracing.views import TOP_K

from ..widgets import TokenStrip
from .bars import BarItem
from .base import (
    CURVE_PEN,
    GHOST_PEN,
    Bars,
    Curve,
    Dot,
    Panel,
    StepLine,
    TickLabels,
    TraceView,
    axis_label,
    set_range,
    set_title,
    steady_top,
    time_extent,
)

TOKEN_WINDOW = 40  # tokens shown either side of the current one
MAX_VALUE_CURVES = 4   # output features drawn over time


_VISIBLE = {" ": "␣", "\n": "⏎", "\t": "⇥", "": "∅"}


def _shown(symbol: str) -> str:
    """A symbol as drawn: blanks and newlines made visible."""
    return _VISIBLE.get(symbol, symbol)


def token_strip(tokens: list[str], t: int, window: int = TOKEN_WINDOW) -> str:
    """The typed sequence as HTML with token ``t`` highlighted (a window around it)."""
    if not tokens:
        return ""
    lo, hi = max(0, t - window), min(len(tokens), t + window + 1)
    spaced = any(len(s) > 1 for s in tokens)   # words and numbers apart, characters not
    parts = ["… " if lo else ""]
    for i in range(lo, hi):
        s = tokens[i]
        shown = html.escape(_shown(s))
        if i == t:
            parts.append(f"<span style='background:#d62728;color:white;font-weight:bold;'>"
                         f"&nbsp;{shown}&nbsp;</span>")
        else:
            parts.append(f"<span style='color:#333;'>{shown}</span>")
        if spaced:
            parts.append(" ")
    if hi < len(tokens):
        parts.append(" …")
    return "<span style='font-family:monospace;font-size:13pt;'>" + "".join(parts) + "</span>"


class InputPanel(Panel):
    """The input at step t: the typed sequence with the current symbol highlighted, and
    x_t (the vector the selected layer reads) as bars."""

    title = "Input x_t"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.strip = TokenStrip(token_strip, _shown, TOKEN_WINDOW, point_size=13)
        self.strip.setMinimumHeight(30)
        self.layout().insertWidget(1, self.strip)
        self.plot = self.add_plot(0, 0, "x_t at the current step", "value")
        self.bars = Bars(self, self.plot, value_name="x_t", name="feature")
        self.x: np.ndarray | None = None   # (T, I)
        self.tokens: list[str] = []

    def set_view(self, view: TraceView | None) -> None:
        super().set_view(view)
        self.tokens = list(view.tokens) if view else []
        self.strip.set_tokens(self.tokens)
        x = None
        if view is not None:
            if view.rec is not None:
                x = view.rec.x[0]
            elif view.attn is not None:
                x = view.attn.x[0]
        self.x = None if x is None else np.asarray(x)
        self.bars.labels = None
        syms = view.in_symbols if view else None
        first = view is not None and view.rec is not None and view.rec.layer == 0 and \
            view.trace.layers and view.rec is view.trace.layers[0]
        if self.x is not None and syms and first and self.x.shape[1] == len(syms):
            self.bars.labels = [repr(s) for s in syms]
        axis = self.plot.getAxis("bottom")
        if self.bars.labels:   # every symbol named while they fit, else every k-th
            k = max(1, -(-len(syms) // 16))
            axis.setTicks([[(float(i), _shown(syms[i])) for i in range(0, len(syms), k)],
                           [(float(i), "") for i in range(len(syms))]])
        else:
            axis.setTicks(None)
        name = view.rec.label if view and view.rec is not None else "the model"
        self.caption.setText(f"Input read by {name}" if self.x is not None else "no layer input")
        if self.x is not None and self.x.size:
            lo, hi = float(np.nanmin(self.x)), float(np.nanmax(self.x))
            set_range(self.plot, y=(min(lo, 0.0), max(hi, 1e-6)), padding=0.05)
        self.set_step(self.step)

    def set_step(self, t: int) -> None:
        super().set_step(t)
        self.strip.set_step(t)
        if self.x is not None and len(self.x):
            self.bars.set(self.x[min(t, len(self.x) - 1)])

    def table(self):
        if self.x is None:
            return [], np.zeros((0, 0))
        T, I = self.x.shape
        return ["t"] + [f"x[{i}]" for i in range(I)], np.column_stack([np.arange(T), self.x])


class _Bars(BarItem):
    """Bars of one width at given x (a BarGraphItem re-plans its bars and records a
    QPicture in Python at every change, ~0.3 ms a step for three). ``opts`` holds what is
    drawn (``x``, ``height``), as a BarGraphItem's does."""

    def __init__(self, width: float, brush=None, pen="#333333"):
        super().__init__(pg.mkPen(pen), pg.mkBrush(brush) if brush is not None else None)
        self.bar_width = width

    def set(self, x, height) -> None:
        self.set_values(height, x, self.bar_width)


class OutputPanel(Panel):
    """The head's output at step t. Classes: the top-k probabilities beside the n-gram
    baseline's for the same tokens, with the target named. Values: prediction and target
    over time with the current step marked."""

    title = "Output"

    def __init__(self, parent=None):
        super().__init__(parent)
        p = self.add_plot(0, 0, "", "probability")
        self.plot = p
        self.net = _Bars(0.4, brush="#1f77b4")
        self.base = _Bars(0.4, brush="#bbbbbb")
        self.orig = _Bars(0.4, pen=GHOST_PEN)
        for it in (self.net, self.base, self.orig):
            p.addItem(it, ignoreBounds=True)
        self.legend = p.addLegend(offset=(-5, 5), labelTextSize="8pt")
        # the legend draws its samples from BarGraphItems: two that stand for the bars
        self._net_sample = pg.BarGraphItem(x=[0], height=[0], width=0.4, brush="#1f77b4")
        self._base_sample = pg.BarGraphItem(x=[0], height=[0], width=0.4, brush="#bbbbbb")
        self.legend.addItem(self._net_sample, "network")
        # a click on a legend entry hides its sample: the bars follow
        for sample in (self._net_sample, self._base_sample):
            sample.visibleChanged.connect(self._legend_toggled)
        self.legend_order = None
        # values over time (numeric outputs): up to four features, each with its target
        cols = [pg.intColor(k, 4, maxValue=200) for k in range(MAX_VALUE_CURVES)]
        self._values = [Curve(p, pg.mkPen(c, width=2)) for c in cols]
        self._targets = [Curve(p, pg.mkPen(c, width=1, style=QtCore.Qt.PenStyle.DashLine))
                         for c in cols]
        self.value_curves: list[Curve] = []       # those in use
        self.target_curves: list[Curve] = []
        self.line = StepLine(p)
        self.add_hover(p, self._hover)
        self.mode = "none"
        self.probs = self.outputs = self.targets = self.ngram = self.orig_probs = None
        self.symbols: list[str] = []
        self.shown: list[tuple[str, float, float]] = []   # (symbol, p_net, p_ngram)
        self.names = TickLabels(p, TOP_K)

    def time_axes(self):
        """Time runs along x only while values are drawn over time (not the top classes)."""
        return [(self.plot, "x")] if self.mode == "values" else []

    def set_view(self, view: TraceView | None) -> None:
        super().set_view(view)
        tr = view.trace if view else None
        for c in self.value_curves + self.target_curves:
            c.set([], None)
        self.value_curves, self.target_curves = [], []
        if tr is None:
            self.mode = "none"
            return
        self.targets = None if tr.targets is None else np.asarray(tr.targets[0])
        if tr.probs is not None:
            self.mode = "classes"
            self.probs = tr.probs[0]
            self.top = view.top
            self.orig_probs = view.base.probs[0] if view.base is not None else None
            C = self.probs.shape[1]
            self.symbols = list(view.out_symbols) if view.out_symbols and \
                len(view.out_symbols) == C else [str(i) for i in range(C)]
            self.ngram = view.ngram
            order = view.ngram_order if view.ngram is not None else None
            if order != self.legend_order:   # the baseline is named only when it is there
                self.legend_order = order
                self.legend.removeItem(self._base_sample)
                if order:
                    self.legend.addItem(self._base_sample, f"{order}-gram baseline")
            if self.plot.getAxis("left").logMode:
                self.plot.setLogMode(y=False)
            set_range(self.plot, y=(0, 1), padding=0.02)
            set_range(self.plot, x=(-0.7, min(TOP_K, C) - 0.3), padding=0)
            axis_label(self.plot, "left", "probability")
            axis_label(self.plot, "bottom", "")
            set_title(self.plot, f"Top {min(TOP_K, C)} next symbols at step t")
            self.line.setVisible(False)
            self.legend.setVisible(True)
            if not self.names.active:       # (taking the axis over again re-plans it)
                self.names.show(True)
        else:
            self.mode = "values"
            self.outputs = tr.outputs[0]
            set_title(self.plot, "Prediction (solid), target (dashed)")
            axis_label(self.plot, "left", "value")
            axis_label(self.plot, "bottom", "time step t")
            if self.names.active:
                self.names.show(False)
            for it in (self.net, self.base, self.orig):
                it.set([], [])
            self.legend.setVisible(False)
            self.line.setVisible(True)
            x = np.arange(self.outputs.shape[0], dtype=np.float64)
            for k in range(min(self.outputs.shape[1], MAX_VALUE_CURVES)):
                self._values[k].set(x, self.outputs[:, k])
                self.value_curves.append(self._values[k])
                if self.targets is not None:
                    tg = self.targets if self.targets.ndim == 2 else self.targets[:, None]
                    if k < tg.shape[1]:
                        self._targets[k].set(x, tg[:, k])
                        self.target_curves.append(self._targets[k])
            lo = min(float(np.nanmin(self.outputs)), float(np.nanmin(tg)) if
                     self.targets is not None else np.inf)
            hi = max(float(np.nanmax(self.outputs)), float(np.nanmax(tg)) if
                     self.targets is not None else -np.inf)
            set_range(self.plot, (0, time_extent(self.plot, len(x)) - 1), (lo, hi), padding=0.05)
        self.set_step(self.step)

    def set_step(self, t: int) -> None:
        super().set_step(t)
        if self.mode == "classes":
            self._classes_at(min(t, len(self.probs) - 1))
        elif self.mode == "values":
            t = min(t, len(self.outputs) - 1)
            self.line.setValue(t)
            parts = [f"prediction {', '.join(f'{v:.4g}' for v in self.outputs[t][:4])}"]
            if self.targets is not None:
                tg = np.atleast_1d(self.targets[t])
                parts.append(f"target {', '.join(f'{float(v):.4g}' for v in tg[:4])}")
            self.caption.setText(f"step {t}: " + "; ".join(parts))

    def _classes_at(self, t: int) -> None:
        p = self.probs[t]
        if not np.isfinite(p).any():     # a classifier of playground.show: one output, at T-1
            for it in (self.net, self.base, self.orig):
                it.set([], [])
            self.shown = []
            self.names.set([])
            self.caption.setText(f"step {t}: no output at this step (the model gives one "
                                 f"output per sequence, shown at step {len(self.probs) - 1})")
            return
        order = self.top[t]
        x = np.arange(len(order), dtype=np.float64)
        self.net.set(x - 0.2, p[order])
        ng = self.ngram[t][order] if self.ngram is not None and t < len(self.ngram) else None
        self.base.set(x + 0.2, np.zeros(len(order)) if ng is None else ng)
        if self.orig_probs is not None:
            self.orig.set(x - 0.2, self.orig_probs[t][order])
        self.orig.setVisible(self.orig_probs is not None and self._net_sample.isVisible())
        self.base.setVisible(ng is not None and self._base_sample.isVisible())
        self.net.setVisible(self._net_sample.isVisible())
        self.shown = [(self.symbols[i], float(p[i]), float(ng[j]) if ng is not None else
                       float("nan")) for j, i in enumerate(order)]
        self.names.set([_shown(s[0]) for s in self.shown])
        txt = f"step {t}: most likely {self.shown[0][0]!r} ({self.shown[0][1]:.3f})"
        if self.targets is not None and self.targets.ndim == 1:
            tg = int(self.targets[t])
            if 0 <= tg < len(p):
                txt += f"; target {self.symbols[tg]!r} gets {p[tg]:.3f}"
        self.caption.setText(txt)

    def _legend_toggled(self) -> None:
        if self.mode == "classes":
            self._classes_at(min(self.step, len(self.probs) - 1))

    def _hover(self, x: float, y: float) -> str | None:
        if self.mode == "classes":
            j = int(round(x))
            if 0 <= j < len(self.shown):
                s, pn, pb = self.shown[j]
                return f"{s!r}: network {pn:.6g}" + ("" if pb != pb else f", n-gram {pb:.6g}")
        elif self.mode == "values":
            t = int(round(x))
            if 0 <= t < len(self.outputs):
                return f"t={t}: prediction {self.outputs[t][0]:.6g}"
        return None

    def table(self):
        if self.mode == "classes":
            T, C = self.probs.shape
            names = ["t"] + [f"p[{s!r}]" for s in self.symbols]
            return names, np.column_stack([np.arange(T), self.probs])
        if self.mode == "values":
            T, C = self.outputs.shape
            cols = [np.arange(T), self.outputs]
            names = ["t"] + [f"out[{k}]" for k in range(C)]
            if self.targets is not None:
                tg = self.targets.reshape(T, -1)
                cols.append(tg)
                names += [f"target[{k}]" for k in range(tg.shape[1])]
            return names, np.column_stack(cols)
        return [], np.zeros((0, 0))


class LossPanel(Panel):
    """The loss at each step (nothing drawn where a step carries no loss), the current step
    marked, the original run dashed during a what-if."""

    title = "Loss per step"

    def __init__(self, parent=None):
        super().__init__(parent)
        p = self.add_plot(0, 0, "loss at each step", "loss", "time step t")
        self.ghost = Curve(p, GHOST_PEN)
        # a lone loss-carrying step (many-to-one: the last) would be a curve of one point
        self.curve = Curve(p, CURVE_PEN, symbols=3, symbol_size=6, symbol_brush="#1f77b4")
        self.dot = Dot(p)
        self.line = StepLine(p)
        self.plot = p
        self.add_hover(p, self._hover)
        self.loss: np.ndarray | None = None

    def set_view(self, view: TraceView | None) -> None:
        super().set_view(view)
        tr = view.trace if view else None
        self.loss = None if view is None else view.step_loss   # NaN: no loss at that step
        if self.loss is None:
            self.caption.setText("no loss: this input has no targets")
            for c in (self.curve, self.ghost):
                c.set([], None)
            self.dot.clear()
            return
        x = np.arange(len(self.loss), dtype=np.float64)
        self.curve.set(x, self.loss)
        b = view.base_step_loss
        self.ghost.set(x, b)
        tops = [np.nanmax(a) for a in (self.loss, b) if a is not None and np.isfinite(a).any()]
        top = max(tops) if tops else 1.0
        # a round top, kept while the loss fits it: the axis is not re-planned per key
        set_range(self.plot, (-0.5, time_extent(self.plot, len(x)) - 0.5),
                  (0, steady_top(self.plot, max(top, 1e-6))), padding=0.04)
        base = view.base
        extra = f" (original {base.loss:.4f})" if base is not None and base.loss is not None \
            else ""
        none = int(np.isnan(self.loss).sum())
        gaps = f"; {none} step(s) carry no loss (no point drawn)" if none else ""
        self.caption.setText(f"mean loss {tr.loss:.4f}{extra}{gaps}")
        self.set_step(self.step)

    def set_step(self, t: int) -> None:
        super().set_step(t)
        if self.loss is None:
            return
        t = min(t, len(self.loss) - 1)
        self.line.setValue(t)
        self.dot.set(t, self.loss[t])

    def _hover(self, x: float, y: float) -> str | None:
        if self.loss is None:
            return None
        t = int(round(x))
        if not 0 <= t < len(self.loss):
            return None
        return f"t={t}: no loss at this step" if np.isnan(self.loss[t]) else \
            f"t={t}: loss={self.loss[t]:.6g}"

    def table(self):
        if self.loss is None:
            return [], np.zeros((0, 0))
        return ["t", "loss"], np.column_stack([np.arange(len(self.loss)), self.loss])
