"""The panels' axes plan their ticks and labels with less Python than pyqtgraph
(:mod:`ui.panels.ticks`); the plan must be pyqtgraph's own, value for value, whatever the
side, range, size, grid, labels or scale."""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtGui, QtWidgets

from ui.panels import ticks
from ui.panels.scales import Axis, StepAxis, decade_labels


def _plan(axis, generate):
    """(axis line, ticks, labels) as comparable values, from ``generate(axis, painter)``
    on a picture painter (as ``AxisItem.paint`` makes), and the text size it asks the axis
    to make room for (``_updateMaxTextSize``'s argument)."""
    picture = QtGui.QPicture()
    p = QtGui.QPainter(picture)
    asked = []
    plain = axis._updateMaxTextSize
    axis._updateMaxTextSize = lambda x: asked.append(x) or plain(x)
    try:
        if axis.style["tickFont"]:
            p.setFont(axis.style["tickFont"])
        specs = generate(axis, p)
    finally:
        p.end()
        del axis._updateMaxTextSize
    if specs is None:
        return None
    (pen, a, b), tick_specs, text_specs = specs

    def pt(q):
        return (q.x(), q.y())

    return ((pen.color().rgba(), pen.widthF(), pt(a), pt(b)),
            [(pn.color().rgba(), pn.widthF(), int(pn.style().value), pt(p1), pt(p2))
             for pn, p1, p2 in tick_specs],
            [(r.getRect(), int(f), s) for r, f, s in text_specs],
            [float(x) for x in asked])


def _pyqtgraphs(axis, p):
    """pyqtgraph's own plan, with pyqtgraph's own tick values (``Axis`` overrides both),
    and its labels that overlap one before them left out."""
    axis.tickValues = functools.partial(pg.AxisItem.tickValues, axis)
    try:
        specs = pg.AxisItem.generateDrawSpecs(axis, p)
    finally:
        del axis.tickValues
    if specs is None:
        return None
    ax = 0 if axis.orientation in ("left", "right") else 1
    text, spans = [], []
    for spec in specs[2]:             # (written out here: not ticks.apart itself)
        r = spec[0]
        lo, hi = (r.top(), r.bottom()) if ax == 0 else (r.left(), r.right())
        if all(hi + 1.0 <= a or b + 1.0 <= lo for a, b in spans):
            text.append(spec)
            spans.append((lo, hi))
    return specs[0], specs[1], text


def _same_plan(qapp, axis):
    qapp.processEvents()
    ref = _plan(axis, _pyqtgraphs)          # (settles the text size first)
    qapp.processEvents()
    ref = _plan(axis, _pyqtgraphs)
    got = _plan(axis, ticks.draw_specs)
    assert got == ref
    lo, hi = axis.range
    for size in (37.0, 300.0, 1234.5):
        assert ticks.tick_values(axis, lo, hi, size) == pg.AxisItem.tickValues(axis, lo, hi,
                                                                                size)
        assert ticks.tick_values(axis, hi, lo, size) == pg.AxisItem.tickValues(axis, hi, lo,
                                                                                size)
    return got


@pytest.fixture
def plot(qtbot):
    w = pg.GraphicsLayoutWidget()
    qtbot.addWidget(w)
    axes = {side: Axis(side) for side in ("left", "bottom", "right", "top")}
    p = w.addPlot(axisItems=axes)
    for side in ("right", "top"):
        p.showAxis(side)
    p.plot(np.linspace(0, 10, 50), np.sin(np.linspace(0, 10, 50)))
    w.resize(480, 320)
    w.show()
    qtbot.waitExposed(w)
    return w, p


RANGES = [(0.0, 1.0), (-0.5, 999.5), (-3.25, 17.8), (1e-7, 3e-7), (-2e6, 5e6),
          (12.0, 12.0), (-0.0, 0.0), (99.5, -0.5), (-5.48, 1.48)]


@pytest.mark.parametrize("side", ["left", "bottom", "right", "top"])
def test_axis_plan_equals_pyqtgraphs(qapp, plot, side):
    """Ranges (wide, narrow, reversed, empty), sizes, the grid on and off: the same axis
    line, ticks (pens, ends) and labels (rects, flags, text) as pyqtgraph's, and the same
    text size left for the axis's width."""
    w, p = plot
    axis = p.getAxis(side)
    planned = 0
    for (lo, hi), size, grid in itertools.product(RANGES, ((480, 320), (220, 610)),
                                                  (False, 80)):
        w.resize(*size)
        axis.setGrid(grid)
        axis.setRange(lo, hi)
        planned += _same_plan(qapp, axis) is not None
    assert planned >= len(RANGES) * 3           # (an empty range plans nothing)


def test_plans_with_given_ticks_labels_units_and_styles(qapp, plot):
    w, p = plot
    bottom, left = p.getAxis("bottom"), p.getAxis("left")
    bottom.setRange(-0.5, 30.5)
    bottom.setTicks([[(float(i), "abc"[i % 3] * (1 + i % 4)) for i in range(0, 31, 2)],
                     [(float(i), "") for i in range(31)]])
    assert _same_plan(qapp, bottom)[2]          # labels drawn
    bottom.setTicks(None)
    left.setRange(-3e-4, 7e-4)
    left.setLabel("value", units="V")            # SI prefix scale
    _same_plan(qapp, left)
    font = QtGui.QFont()
    font.setPointSize(15)
    for axis in (bottom, left):
        axis.setStyle(tickFont=font, tickLength=-8, tickTextOffset=9, maxTextLevel=1,
                      textFillLimits=[(0, 0.3), (2, 0.2)])
        _same_plan(qapp, axis)
        axis.setStyle(showValues=False)
        assert _same_plan(qapp, axis)[2] == []
        axis.setStyle(showValues=True)
    # what ticks.draw_specs leaves to pyqtgraph: a fixed alpha, an axis stopped at a tick
    left.setStyle(tickAlpha=0.5, stopAxisAtTick=(True, False))
    _same_plan(qapp, left)


def test_plans_of_log_and_whole_number_axes(qtbot, qapp):
    w = pg.GraphicsLayoutWidget()
    qtbot.addWidget(w)
    p = w.addPlot(axisItems={"left": Axis("left"), "bottom": StepAxis("bottom")})
    p.setLogMode(y=True)
    decade_labels(p.getAxis("left"))
    w.resize(500, 300)
    w.show()
    qtbot.waitExposed(w)
    for (ylo, yhi), (xlo, xhi) in (((-9.3, 0.4), (-0.5, 3.5)), ((-2.2, -1.6), (-0.5, 15.5)),
                                   ((-40.0, 2.0), (-0.5, 1000.5))):
        p.getAxis("left").setRange(ylo, yhi)
        p.getAxis("bottom").setRange(xlo, xhi)
        for side in ("left", "bottom"):
            _same_plan(qapp, p.getAxis(side))


def test_a_label_measured_again_in_another_font(qtbot, qapp, plot):
    """Label sizes are kept per font: the same text in a bigger font is measured anew."""
    w, p = plot
    axis = p.getAxis("bottom")
    axis.setRange(0, 100)
    small = _same_plan(qapp, axis)
    font = QtGui.QFont()
    font.setPointSize(QtWidgets.QApplication.font().pointSize() + 9)
    axis.setStyle(tickFont=font)
    big = _same_plan(qapp, axis)
    assert [s for *_, s in small[2]] and all(
        b[0][2] > s[0][2] for b, s in zip(big[2], small[2]))     # wider labels


def test_labels_of_a_short_axis_never_overlap(qtbot, qapp):
    """A plot a few text lines high (the gradient horizon's singular values in a small
    dock), or long labels on a narrow one: pyqtgraph writes every label of its coarsest
    level, one over the other; here the labels kept are apart and the first is
    pyqtgraph's first. A tall axis keeps all of pyqtgraph's."""
    w = pg.GraphicsLayoutWidget()
    qtbot.addWidget(w)
    p = w.addPlot(axisItems={"left": Axis("left"), "bottom": Axis("bottom")})
    p.setRange(yRange=(0.05, 0.65), xRange=(-0.00012, 0.00088), padding=0)
    w.show()
    qtbot.waitExposed(w)

    def plans(axis):
        for _ in range(2):                  # (settles the axis's room for its text)
            plain = _plan(axis, lambda a, pt: pg.AxisItem.generateDrawSpecs(a, pt))[2]
            qapp.processEvents()
        return _plan(axis, ticks.draw_specs)[2], plain

    def spans(labels, ax):
        return sorted((r[1], r[1] + r[3]) if ax == 0 else (r[0], r[0] + r[2])
                      for r, _, _ in labels)

    for side, size in (("left", (180, 70)), ("bottom", (150, 300))):
        w.resize(*size)
        qapp.processEvents()
        ax = 0 if side == "left" else 1
        ours, plain = plans(p.getAxis(side))
        assert ours and ours[0] == plain[0] and len(ours) < len(plain)
        kept = spans(ours, ax)
        assert all(b + 1.0 <= c for (_, b), (c, _) in zip(kept, kept[1:]))
        every = spans(plain, ax)
        assert any(c < b for (_, b), (c, _) in zip(every, every[1:]))   # pyqtgraph's do
    w.resize(180, 600)
    qapp.processEvents()
    ours, plain = plans(p.getAxis("left"))
    assert ours == plain and len(ours) >= 3
