"""Panels for the selected recurrent layer: hidden / cell state, gates, BPTT gradients."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from playground.tracing.runs import GATE_LABELS, SIGMOID_GATES

from .base import (
    CURVE_PEN,
    CUT_PEN,
    GATE_CMAP,
    GHOST_PEN,
    STATE_CMAP,
    Bars,
    Curve,
    Dot,
    Heatmap,
    Panel,
    StepLine,
    TraceView,
    axis_label,
    decade_labels,  # noqa: I001
    record_source,
    set_range,
    set_title,
    state_levels,
    steady_levels,
    time_extent,
)

MAX_GATES = 4


class StatePanel(Panel):
    """``h`` (or ``c``) of the selected layer: units x time heatmap with the current step
    marked, and the vector at step t as bars (the original faintly during a what-if)."""

    def __init__(self, key: str = "h", parent=None):
        super().__init__(parent)
        self.key = key
        self.title = "Hidden state h" if key == "h" else "Cell state c"
        self.setObjectName(f"StatePanel_{key}")
        hp = self.add_plot(0, 0, f"{key}  (units × time)", "unit", "time step t")
        self.heat = Heatmap(self, hp, STATE_CMAP, row_name="unit", value_name=key)
        bp = self.add_plot(1, 0, f"{key}_t at the current step", key, "unit")
        self.bars = Bars(self, bp, name="unit", value_name=f"{key}_t")
        self.bar_plot = bp
        self.marks, self.quantity_plots[key] = (key,), [hp, bp]
        self.layout_widget.ci.layout.setRowStretchFactor(0, 3)
        self.layout_widget.ci.layout.setRowStretchFactor(1, 2)
        self.array: np.ndarray | None = None     # (T, H)
        self.ghost: np.ndarray | None = None

    def set_view(self, view: TraceView | None) -> None:
        super().set_view(view)
        rec = view.rec if view else None
        a = None if rec is None else (rec.h if self.key == "h" else rec.c)
        if a is None:
            self.array = self.ghost = None
            why = "Select a recurrent layer (RNN, LSTM or GRU)." if rec is None else \
                f"{rec.label} is {rec.kind.upper()}: only an LSTM has a cell state c."
            self.caption.setText(why)
            self.show_message(why)
            self.heat.set(np.zeros((1, 1)))
            self.bars.set(np.zeros(1))
            return
        self.show_message("")
        self.array = a[0]
        base = view.base_rec
        g = None if base is None else (base.h if self.key == "h" else base.c)
        self.ghost = None if g is None else g[0]
        if self.key == "h":
            levels = state_levels(rec.kind, rec.nonlinearity, self.array)
        else:
            levels = steady_levels(self.heat.plot, self.array, 1.0)
        # ReLU states are >= 0: a sequential map (0 dark), not a diverging one centred on 0
        self.heat.set_colormap(GATE_CMAP if levels[0] >= 0 else STATE_CMAP)
        self.caption.setText(f"{self.title} of {rec.label} ({rec.kind.upper()}, "
                             f"{rec.hidden_size} units)")
        self.heat.set(self.array.T, levels, **record_source(rec, self.key))
        set_range(self.bar_plot, y=levels, padding=0.05)
        self.set_step(self.step)

    def set_step(self, t: int) -> None:
        super().set_step(t)
        if self.array is None:
            return
        t = min(t, self.array.shape[0] - 1)
        self.heat.set_step(t)
        self.bars.set(self.array[t], None if self.ghost is None else self.ghost[t])

    def table(self):
        if self.array is None:
            return [], np.zeros((0, 0))
        T, H = self.array.shape
        return ["t"] + [f"{self.key}[{u}]" for u in range(H)], \
            np.column_stack([np.arange(T), self.array])


class GatesPanel(Panel):
    """Every gate of the selected layer: bars at step t (sigmoid gates in [0, 1], tanh
    candidates in [-1, 1]) beside its units x time heatmap."""

    title = "Gates"
    marks = tuple(GATE_LABELS)     # every gate letter of every cell

    def __init__(self, parent=None):
        super().__init__(parent)
        self.heats: list[Heatmap] = []
        self.bars: list[Bars] = []
        self.rows: list[tuple[pg.PlotItem, pg.PlotItem]] = []
        for r in range(MAX_GATES):
            hp = self.add_plot(r, 0, "", "unit")
            bp = self.add_plot(r, 1, "")
            bp.setYRange(0, 1)
            self.heats.append(Heatmap(self, hp, GATE_CMAP, (0.0, 1.0), value_name="gate"))
            self.bars.append(Bars(self, bp, value_name="gate"))
            self.rows.append((hp, bp))
            self.time_plots.append((hp, "x"))
        lay = self.layout_widget.ci.layout
        lay.setColumnStretchFactor(0, 3)
        lay.setColumnStretchFactor(1, 2)
        self.letters: list[str] = []
        self.arrays: dict[str, np.ndarray] = {}
        self.ghosts: dict[str, np.ndarray] = {}

    def set_view(self, view: TraceView | None) -> None:
        super().set_view(view)
        rec = view.rec if view else None
        self.letters = list(rec.gates) if rec is not None else []
        self.quantity_plots = {k: list(self.rows[r]) for r, k in enumerate(self.letters)}
        self.arrays = {k: rec.gates[k][0] for k in self.letters}
        base = view.base_rec if view else None
        self.ghosts = {k: base.gates[k][0] for k in self.letters} if base is not None else {}
        if rec is None:
            self.caption.setText("select a recurrent layer")
            self.show_message("Select a recurrent layer (RNN, LSTM or GRU).")
        elif not self.letters:
            self.caption.setText(f"{rec.label}: a plain RNN has no gates")
            self.show_message(f"{rec.label} is a plain RNN: it has no gates.\n"
                              f"h_t = {rec.nonlinearity}(W_ih·x_t + b_ih + W_hh·h_(t-1) + b_hh)\n"
                              "LSTM (i, f, g, o) and GRU (r, z, n) layers show their gates here.")
        else:
            self.show_message("")
            self.caption.setText(f"Gates of {rec.label}: left over time, right at step t")
        for r, (hp, bp) in enumerate(self.rows):
            show = r < len(self.letters)
            hp.setVisible(show)
            bp.setVisible(show)
            if not show:
                continue
            # the time steps and units are numbered under the lowest gate only: the rows
            # share both, and each axis drawn costs a millisecond a trace
            last = r == len(self.letters) - 1
            for p in (hp, bp):
                if p.getAxis("bottom").isVisible() != last:
                    p.showAxis("bottom", last)
            if last:
                axis_label(hp, "bottom", "time step t")
                axis_label(bp, "bottom", "unit")
            k = self.letters[r]
            levels = (0.0, 1.0) if k in SIGMOID_GATES else (-1.0, 1.0)
            cmap = GATE_CMAP if k in SIGMOID_GATES else STATE_CMAP
            self.heats[r].set_colormap(cmap)
            self.heats[r].value_name = k
            self.bars[r].value_name = f"{k}_t"
            set_title(hp, f"{k}: {GATE_LABELS[k]}")
            set_title(bp, f"{k}_t")
            set_range(bp, y=levels, padding=0.02)
            self.heats[r].set(self.arrays[k].T, levels, **record_source(rec, k))
        self.set_step(self.step)

    def set_step(self, t: int) -> None:
        super().set_step(t)
        for r, k in enumerate(self.letters):
            a = self.arrays[k]
            tt = min(t, a.shape[0] - 1)
            self.heats[r].set_step(tt)
            g = self.ghosts.get(k)
            self.bars[r].set(a[tt], None if g is None else g[tt])

    def table(self):
        if not self.letters:
            return [], np.zeros((0, 0))
        T, H = self.arrays[self.letters[0]].shape
        names = ["t"] + [f"{k}[{u}]" for k in self.letters for u in range(H)]
        return names, np.column_stack([np.arange(T)] + [self.arrays[k] for k in self.letters])


C_PEN = pg.mkPen("#ff7f0e", width=2)
NORM_TITLE = "||dL/dh_t||  (log scale)"
BOTH_TITLE = "||dL/dh_t||, ||dL/dc_t|| (orange); log scale"


class GradientPanel(Panel):
    """What BPTT delivers: ||dL/dh_t|| over t on a log scale (vanishing or exploding
    gradients) and dL/dh as a units x time heatmap; for an LSTM also ||dL/dc_t|| and dL/dc,
    the gradient along the additive cell path; dashed lines where truncated BPTT cuts."""

    title = "Gradient dL/dh"
    marks = ("dh", "dc")

    def __init__(self, parent=None):
        super().__init__(parent)
        np_ = self.add_plot(0, 0, NORM_TITLE, "norm", "time step t")
        np_.setLogMode(y=True)
        decade_labels(np_.getAxis("left"))
        np_.getAxis("left").enableAutoSIPrefix(False)
        np_.getAxis("left").setWidth(52)   # fixed: labels of other decades move nothing
        np_.showGrid(y=True, alpha=0.25)
        self.norm_plot = np_
        self.ghost = Curve(np_, GHOST_PEN)          # drawn under the others
        self.c_curve = Curve(np_, C_PEN)
        self.curve = Curve(np_, CURVE_PEN)
        self.dot = Dot(np_, log=True)
        self.c_dot = Dot(np_, log=True)
        self.c_dot.item.setBrush(pg.mkBrush("#ff7f0e"))
        self.norm_line = StepLine(np_)
        self.add_hover(np_, self._hover_norm)
        hp = self.add_plot(1, 0, "dL/dh  (units × time)", "unit", "time step t")
        self.heat = Heatmap(self, hp, STATE_CMAP, value_name="dL/dh")
        cp = self.add_plot(2, 0, "dL/dc  (units × time): the cell path", "unit", "time step t")
        self.c_heat = Heatmap(self, cp, STATE_CMAP, value_name="dL/dc")
        self.c_plot = cp
        cp.setVisible(False)
        self.quantity_plots["dh"] = [np_, hp]
        self.quantity_plots["dc"] = [np_, cp]
        self.norms: np.ndarray | None = None
        self.c_norms: np.ndarray | None = None      # (T,) ||dL/dc_t||, LSTM layers only
        self.dh: np.ndarray | None = None
        self.dc: np.ndarray | None = None
        self.cut_lines: list[StepLine] = []

    def set_view(self, view: TraceView | None) -> None:
        super().set_view(view)
        rec = view.rec if view else None
        self.dh = None if rec is None or rec.dh is None else rec.dh[0]
        for ln in self.cut_lines:
            ln.remove()
        self.cut_lines = []
        if self.dh is None:
            self.norms = None
            why = ("This model has no recurrent layer: dL/dh is shown for RNN, LSTM and GRU "
                   "layers." if view is not None and not view.has_recurrent else
                   "Select a recurrent layer (RNN, LSTM or GRU)." if rec is None else
                   "No gradient: this input has no targets.")
            self.caption.setText(why)
            self.show_message(why)
            for c in (self.curve, self.ghost, self.c_curve):
                c.set([], None)
            self.dot.clear()
            self.c_dot.clear()
            self.heat.set(np.zeros((1, 1)))
            self.c_norms = self.dc = None
            return
        self.show_message("")
        self.norms = view.dh_norm
        self.dc = None if rec.dc is None else rec.dc[0]
        self.c_norms = None if self.dc is None else view.dc_norm
        lstm = self.c_norms is not None
        T = len(self.norms)
        x = np.arange(T, dtype=np.float64)
        self.curve.set(x, self.norms)           # on a log axis: nothing drawn at 0
        self.c_curve.set(x, self.c_norms if lstm else None)
        set_title(self.norm_plot, BOTH_TITLE if lstm else NORM_TITLE)
        if self.c_plot.isVisible() != lstm:
            self.c_plot.setVisible(lstm)
            self.refit()
        if lstm:
            self.c_heat.set(self.dc.T, steady_levels(self.c_plot, self.dc))
        else:
            self.c_dot.clear()
        both = self.norms if not lstm else np.concatenate([self.norms, self.c_norms])
        pos = both[both > 0]
        if len(pos):
            # whole decades: the log axis then labels decades, not crowded minor ticks (with
            # room around them: pyqtgraph drops a label that would stick out of its axis)
            lo, hi = np.floor(np.log10(pos.min())), np.ceil(np.log10(pos.max()))
            hi = max(hi, lo + 1)
            cur = getattr(self.norm_plot, "_decades", None)   # kept while the norms fit it
            if cur is not None and cur[0] <= lo and hi <= cur[1] <= cur[0] + (hi - lo) + 2:
                lo, hi = cur
            elif cur is not None:       # it moved: a decade of room below, where gradients go
                lo -= 1
            self.norm_plot._decades = (lo, hi)
            set_range(self.norm_plot, (-0.5, time_extent(self.norm_plot, T) - 0.5), (lo, hi),
                      padding=0.08)
        ghost = view.base_dh_norm
        self.ghost.set(x, ghost)
        cuts = np.flatnonzero(rec.cut)
        for s in cuts[:200]:
            self.cut_lines.append(StepLine(self.norm_plot, float(s) - 0.5, CUT_PEN))
        self.heat.set(self.dh.T, steady_levels(self.heat.plot, self.dh))
        self.heat.set_cuts(cuts)
        if lstm:
            self.c_heat.set_cuts(cuts)

        def ratio(a):
            nz = a[a > 0]
            return nz[0] / nz[-1] if len(nz) else float("nan")

        cut_txt = f"; truncated BPTT cuts every {view.trace.tbptt} steps (dashed)" \
            if len(cuts) else ""
        c_txt = f"; ||dL/dc|| {ratio(self.c_norms):.3g}" if lstm else ""
        self.caption.setText(f"Gradient reaching {rec.label}: first / last nonzero norm = "
                             f"{ratio(self.norms):.3g}{c_txt}{cut_txt}")
        self.set_step(self.step)

    def set_step(self, t: int) -> None:
        super().set_step(t)
        if self.norms is None:
            return
        t = min(t, len(self.norms) - 1)
        self.norm_line.setValue(t)
        self.dot.set(t, self.norms[t])
        self.heat.set_step(t)
        if self.c_norms is not None:
            self.c_dot.set(t, self.c_norms[t])
            self.c_heat.set_step(t)

    def _hover_norm(self, x: float, y: float) -> str | None:
        if self.norms is None:
            return None
        t = int(round(x))
        if 0 <= t < len(self.norms):
            c = f", ||dL/dc_t||={self.c_norms[t]:.6g}" if self.c_norms is not None else ""
            return f"t={t}: ||dL/dh_t||={self.norms[t]:.6g}{c}"
        return None

    def table(self):
        if self.dh is None:
            return [], np.zeros((0, 0))
        T, H = self.dh.shape
        names = ["t", "norm"] + [f"dh[{u}]" for u in range(H)]
        cols = [np.arange(T), self.norms, self.dh]
        if self.c_norms is not None:
            names += ["c_norm"] + [f"dc[{u}]" for u in range(H)]
            cols += [self.c_norms, self.dc]
        return names, np.column_stack(cols)
