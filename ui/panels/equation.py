"""The update of one unit at step t, with the trace's numbers filled in.

Every number shown is read from the trace (pre-activations, gates, states,
gradients); this panel does no model math of its own.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtWidgets

from ..rich_lines import RichLines
from .base import Panel, TraceView

SIG = "σ"


def _v(x: float) -> str:
    return f"<b style='color:#1f4e9c'>{x:.4f}</b>"


def _forced(interventions, rec, t: int, u: int) -> set[str]:
    """Targets a what-if forces at this step and unit (their value is not the formula's)."""
    return {iv.target for iv in interventions
            if iv.node == rec.node and iv.layer == rec.layer and iv.direction == rec.direction
            and iv.covers(t) and (iv.units is None or u in iv.units)}


def equation_lines(rec, t: int, u: int, interventions=()) -> list[tuple[str, str, float]]:
    """``(name, formula with numbers, value)`` for unit ``u`` of ``rec`` at step ``t``;
    a quantity forced by a what-if is marked as such."""
    lines = _equation_lines(rec, t, u)
    forced = _forced(interventions, rec, t, u)
    return [(n, f + (" <i style='color:#c62828'>(forced by what-if)</i>"
                     if n.split("_")[0] in forced else ""), v) for n, f, v in lines]


def _equation_lines(rec, t: int, u: int) -> list[tuple[str, str, float]]:
    b = 0
    h_prev = rec.h[b, t - 1, u] if t > 0 else rec.h0[b, u]
    x_note = "W·[h<sub>t-1</sub>, x<sub>t</sub>] + b"
    lines: list[tuple[str, str, float]] = []
    if rec.kind == "lstm":
        c_prev = rec.c[b, t - 1, u] if t > 0 else rec.c0[b, u]
        for k, fn in (("i", SIG), ("f", SIG), ("g", "tanh"), ("o", SIG)):
            pre, val = rec.pre[k][b, t, u], rec.gates[k][b, t, u]
            lines.append((f"{k}_t", f"{k}<sub>t</sub> = {fn}(W<sub>{k}</sub>·[h<sub>t-1</sub>, "
                          f"x<sub>t</sub>] + b<sub>{k}</sub>) = {fn}({pre:.4f}) = {_v(val)}",
                          float(val)))
        i, f, g, o = (rec.gates[k][b, t, u] for k in "ifgo")
        c = rec.c[b, t, u]
        lines.append(("c_t", f"c<sub>t</sub> = f<sub>t</sub>·c<sub>t-1</sub> + i<sub>t</sub>·"
                      f"g<sub>t</sub> = {f:.4f}·{c_prev:.4f} + {i:.4f}·{g:.4f} = {_v(c)}",
                      float(c)))
        h = rec.h[b, t, u]
        lines.append(("h_t", f"h<sub>t</sub> = o<sub>t</sub>·tanh(c<sub>t</sub>) = "
                      f"{o:.4f}·tanh({c:.4f}) = {_v(h)}", float(h)))
    elif rec.kind == "gru":
        for k in ("r", "z"):
            pre, val = rec.pre[k][b, t, u], rec.gates[k][b, t, u]
            lines.append((f"{k}_t", f"{k}<sub>t</sub> = {SIG}(W<sub>{k}</sub>·[h<sub>t-1</sub>, "
                          f"x<sub>t</sub>] + b<sub>{k}</sub>) = {SIG}({pre:.4f}) = {_v(val)}",
                          float(val)))
        pre, n = rec.pre["n"][b, t, u], rec.gates["n"][b, t, u]
        lines.append(("n_t", "n<sub>t</sub> = tanh(W<sub>in</sub>x<sub>t</sub> + b<sub>in</sub>"
                      " + r<sub>t</sub>·(W<sub>hn</sub>h<sub>t-1</sub> + b<sub>hn</sub>)) = "
                      f"tanh({pre:.4f}) = {_v(n)}", float(n)))
        z, h = rec.gates["z"][b, t, u], rec.h[b, t, u]
        lines.append(("h_t", f"h<sub>t</sub> = (1 − z<sub>t</sub>)·n<sub>t</sub> + z<sub>t</sub>·"
                      f"h<sub>t-1</sub> = (1 − {z:.4f})·{n:.4f} + {z:.4f}·{h_prev:.4f} = {_v(h)}",
                      float(h)))
    else:
        act = rec.nonlinearity
        pre, h = rec.pre["pre"][b, t, u], rec.h[b, t, u]
        lines.append(("h_t", f"h<sub>t</sub> = {act}({x_note}) = {act}({pre:.4f}) = {_v(h)}",
                      float(h)))
    if rec.dh is not None:
        d = rec.dh[b, t, u]
        lines.append(("dL/dh_t", f"∂L/∂h<sub>t</sub> (all later steps, through BPTT) = {_v(d)}",
                      float(d)))
    return lines


class EquationPanel(Panel):
    """The selected unit's update at step t, e.g. ``f_t = σ(W_f·[h_{t-1}, x_t] + b_f) = 0.83``."""

    title = "Equation"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.layout_widget.hide()
        self.hover_label.hide()
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("unit"))
        self.unit = QtWidgets.QSpinBox()
        self.unit.setRange(0, 0)
        self.unit.setToolTip("which hidden unit the equations are written for")
        self.unit.valueChanged.connect(lambda _: self.set_step(self.step))
        row.addWidget(self.unit)
        row.addStretch(1)
        self.layout().insertLayout(1, row)
        self.text = RichLines(point_size=11, background="white")
        scroll = QtWidgets.QScrollArea()
        scroll.setObjectName("equationScroll")
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        scroll.setWidget(self.text)
        self.scroll = scroll
        self.layout().addWidget(scroll, 1)
        self.rec = None
        self.lines: list[tuple[str, str, float]] = []

    def set_view(self, view: TraceView | None) -> None:
        super().set_view(view)
        self.rec = view.rec if view else None
        if self.rec is not None and self.unit.maximum() != self.rec.hidden_size - 1:
            self.unit.setRange(0, self.rec.hidden_size - 1)   # (the same range: no relayout)
        self.set_step(self.step)

    def set_unit(self, u: int) -> None:
        self.unit.setValue(u)

    def set_step(self, t: int) -> None:
        super().set_step(t)
        if self.rec is None:
            self.lines = []
            self.caption.setText("select a recurrent layer")
            self.text.setText("<p style='color:#888'>Select an RNN, LSTM or GRU node to see its "
                              "update equations with live numbers.</p>")
            return
        t = min(t, self.rec.h.shape[1] - 1)
        u = self.unit.value()
        self.lines = equation_lines(self.rec, t, u, self.view.trace.interventions)
        self.caption.setText(f"{self.rec.label}, unit {u}, step t = {t}")
        body = "".join(f"<p style='margin:4px 0'>{f}</p>" for _, f, _ in self.lines)
        self.text.setText(body)

    def table(self):
        if self.rec is None:
            return [], np.zeros((0, 0))
        T = self.rec.h.shape[1]
        rows = [[t] + [v for _, _, v in equation_lines(self.rec, t, self.unit.value())]
                for t in range(T)]
        return ["t"] + [n for n, _, _ in self.lines], np.array(rows, np.float64)
