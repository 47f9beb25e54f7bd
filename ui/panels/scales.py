"""Ranges, levels and axes that stay put: what keeps a new trace from re-planning every
axis (pyqtgraph draws axes in Python, ~1 ms each), and the axis classes the panels use."""

from __future__ import annotations

import functools
import weakref

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6 import QtCore, QtGui, QtWidgets

from . import ticks as plan


def time_extent(plot: pg.PlotItem, n: int) -> int:
    """How many steps the time axis of ``plot`` spans for a sequence of ``n`` steps.

    A new view (after :meth:`Panel.reset`, as when an experiment opens) fits ``n`` exactly.
    A sequence that grows past the axis gets room to grow on: ``n`` plus 3 steps or 5%; one
    that shrinks keeps the axis while it fills most of it. Typing at the end of a text then
    neither rescales the plots at every key nor re-plans their axes (~1 ms each, a dozen
    axes at once). A single step (or the 1 x 1 blank of a panel showing a message) is drawn
    as it is and leaves the extent as it was."""
    if n <= 1:
        return max(n, 1)
    e = getattr(plot, "_time_extent", None)
    room = max(3, int(np.ceil(0.05 * n)))
    if e is None or n < e - 2 * room:
        e = n
    elif n > e:
        e = n + room
    plot._time_extent = e
    return e


def nice_ceil(v: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above ``v`` (> 0)."""
    if not np.isfinite(v) or v <= 0:
        return 1.0
    k = np.floor(np.log10(v))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * 10 ** k >= v * (1 - 1e-12):
            return float(m * 10 ** k)
    return float(10 ** (k + 1))


def steady_top(plot: pg.PlotItem, top: float) -> float:
    """The top of a value axis that starts at 0: a round number at or above ``top``, kept
    while ``top`` stays within it and above a third of it (an axis re-planned at every
    keystroke costs a millisecond and makes the plot jump)."""
    cur = getattr(plot, "_steady_top", None)
    if cur is None or not top <= cur <= 3 * top:
        cur = nice_ceil(top)
    plot._steady_top = cur
    return cur


def show_range(plot: pg.PlotItem, x: tuple, y: tuple) -> None:
    """Show exactly ``x`` by ``y`` and pan only within them, unless the view shows that
    already: an unchanged view keeps its axes' drawings."""
    if getattr(plot, "_limits", None) != (x, y):
        plot.setLimits(xMin=x[0], xMax=x[1], yMin=y[0], yMax=y[1])
        plot._limits = (x, y)
    want = [[float(x[0]), float(x[1])], [float(y[0]), float(y[1])]]
    if [[float(a), float(b)] for a, b in plot.vb.viewRange()] != want:
        plot.setRange(xRange=want[0], yRange=want[1], padding=0)


def set_range(plot: pg.PlotItem, x: tuple | None = None, y: tuple | None = None,
              padding: float | None = None) -> None:
    """``plot.setRange(xRange=x, yRange=y, padding=padding)``, unless this was the last
    request for these axes and the view still shows what it gave (nothing moved it since:
    no zoom, pan, reset or other range). pyqtgraph applies an unchanged range again and
    tells every listener (the plot, its axes, the step markers): ~0.1 ms a call, a dozen
    calls a new trace."""
    axes = tuple(i for i, r in enumerate((x, y)) if r is not None)
    if not axes:
        return
    key = (tuple(None if r is None else (float(r[0]), float(r[1])) for r in (x, y)),
           padding if padding is not None else (plot.vb.width(), plot.vb.height()))
    done = getattr(plot, "_range_done", None)
    if done is None:
        done = plot._range_done = {}
    if done.get(axes, (None,))[0] == key and done[axes][1] == _range_state(plot.vb, axes):
        return
    plot.setRange(xRange=x, yRange=y, padding=padding)
    done[axes] = (key, _range_state(plot.vb, axes))


def _range_state(vb, axes: tuple) -> tuple:
    s = vb.state
    return tuple((tuple(s["targetRange"][i]), tuple(s["viewRange"][i]), s["autoRange"][i],
                  s["logMode"][i]) for i in axes)


ROUND_STEPS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def steady_levels(plot: pg.PlotItem, a: np.ndarray | None, floor: float = 1e-6) -> tuple:
    """:func:`symmetric_levels` rounded up to 1, 1.2, 1.5, 2, ... 8 x 10^k and kept while
    the largest value stays within 40% below them: the colour bar's scale is then not
    re-planned (~1 ms) at every keystroke, and colours mean the same from key to key."""
    m = symmetric_levels(a, floor)[1]
    cur = getattr(plot, "_steady_m", None)
    if cur is None or not m <= cur <= 1.6 * m:
        k = np.floor(np.log10(m))
        cur = next((f * 10 ** k for f in ROUND_STEPS if f * 10 ** k >= m * (1 - 1e-9)),
                   10 ** (k + 1))
        cur = float(cur)
    plot._steady_m = cur
    return (-cur, cur)


def axis_label(plot: pg.PlotItem, name: str, text: str) -> None:
    """Name an axis of ``plot``. (``PlotItem.setLabel`` also shows the axis again, which
    re-plans its drawing even when nothing changed.)"""
    axis = plot.getAxis(name)
    axis.setLabel(text)
    if not axis.isVisible():
        plot.showAxis(name)


def set_title(plot: pg.PlotItem, text: str, size: str = "9pt") -> None:
    """The plot's title; the same title again costs nothing (pyqtgraph relays it out)."""
    if getattr(plot, "_title", None) == (text, size):
        return
    plot.setTitle(text, size=size)
    plot._title = (text, size)
    _title_never_widens(plot.titleLabel)


def _title_never_widens(label: pg.LabelItem) -> None:
    """pyqtgraph makes a title's text width the plot's minimum width (``updateMin``, again at
    every resize), so a long title in a narrow dock pushes the plot's right part out of view.
    Keep the title's height, and let the plot be as narrow as its dock."""
    if getattr(label, "_width_free", False):
        return
    plain = label.updateMin

    def update_min():
        plain()
        hint = label._sizeHint
        size = QtCore.Qt.SizeHint
        height = hint[size.MinimumSize][1]
        hint[size.MinimumSize] = hint[size.PreferredSize] = (0, height)
        label.setMinimumWidth(0)
        label.updateGeometry()

    label.updateMin = update_min
    label._width_free = True
    update_min()


def decade_labels(axis: pg.AxisItem) -> None:
    """On a log axis, write labels at whole decades only (pyqtgraph labels every minor tick
    when the range spans a decade or two, and they pile up)."""
    plain = axis.tickStrings

    def tick_strings(values, scale, spacing):
        strings = plain(values, scale, spacing)
        if not axis.logMode:
            return strings
        lo, hi = (float(v) for v in axis.range)
        if np.floor(hi) - np.ceil(lo) < 1:   # fewer than two decades in view: keep every
            return strings                   # label, or a narrow range would have none
        return [s if abs(v - round(v)) < 1e-6 else "" for v, s in zip(values, strings)]

    axis.tickStrings = tick_strings


class Axis(pg.AxisItem):
    """An axis whose bounds Qt reads without calling into Python.

    Qt asks every item for its bounds at every repaint of its view (~140 times a step for
    the window's axes), and pyqtgraph measures an axis anew each time (its own and its
    linked view's geometry, mapped), a round trip into Python per call. Here pyqtgraph's
    bounds are measured once per change and kept as the widget's frame margins, which Qt's
    own ``QGraphicsWidget.boundingRect`` adds to the widget's rectangle (an item that is not
    a window has no frame otherwise: its margins change nothing else). Measured again when
    either geometry changes, at a new linked view, a grid or a style."""

    boundingRect = QtWidgets.QGraphicsWidget.boundingRect   # C++: no Python call from Qt

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.geometryChanged.connect(self.fit_bounds)
        self.fit_bounds()

    def fit_bounds(self) -> None:
        """pyqtgraph's bounds for the axis as it is now, kept as frame margins."""
        b = pg.AxisItem.boundingRect(self)
        r = self.rect()
        self.setWindowFrameMargins(r.left() - b.left(), r.top() - b.top(),
                                   b.right() - r.right(), b.bottom() - r.bottom())

    def prepareGeometryChange(self) -> None:
        super().prepareGeometryChange()     # Qt marks the old bounds first
        self.fit_bounds()                   # (pyqtgraph calls it after a grid change)

    def setStyle(self, *args, **kw) -> None:
        super().setStyle(*args, **kw)       # tick length, overlapping labels: the bounds
        self.fit_bounds()

    def changeEvent(self, ev) -> None:
        super().changeEvent(ev)             # a new style resets a widget's frame margins
        if ev.type() == QtCore.QEvent.Type.StyleChange:
            self.fit_bounds()

    def _linkToView_internal(self, view) -> None:
        """Every way pyqtgraph links an axis (``linkToView``, the constructor's
        ``linkView``) comes here; the view's geometry is followed from then on."""
        super()._linkToView_internal(view)  # (unlinks the last view first)
        view.geometryChanged.connect(self.fit_bounds)
        self.fit_bounds()

    def unlinkFromView(self) -> None:
        old = self.linkedView()
        super().unlinkFromView()
        if old is not None:
            try:
                old.geometryChanged.disconnect(self.fit_bounds)
            except (RuntimeError, TypeError):   # (a view already gone)
                pass
        self.fit_bounds()

    def setRange(self, mn: float, mx: float) -> None:
        """pyqtgraph redraws an axis (~0.5 ms: ticks planned and drawn in Python) at every
        range change of its view, also of the other coordinate: a new trace of another
        length redrew the unit axes too. An unchanged range keeps the drawing."""
        if self.picture is not None and self.range == [mn, mx]:
            return
        super().setRange(mn, mx)

    def tickValues(self, minVal, maxVal, size):  # noqa: N803 (pyqtgraph's names)
        return plan.tick_values(self, minVal, maxVal, size)

    def generateDrawSpecs(self, p):
        return plan.draw_specs(self, p)

    def setTicks(self, ticks) -> None:
        """The same ticks again (a new trace of the same vocabulary) keep the drawing."""
        if self.picture is not None and ticks == self._tickLevels:
            return
        super().setTicks(ticks)

    _label: tuple | None = None

    def setLabel(self, text=None, units=None, unitPrefix=None, **args) -> None:
        """The same text again (panels name their axes at each new view) keeps the drawing."""
        key = (text, units, unitPrefix, repr(sorted(args.items())), self.label.isVisible())
        if self.picture is not None and key == self._label:
            return
        super().setLabel(text, units, unitPrefix, **args)
        self._label = (text, units, unitPrefix, repr(sorted(args.items())),
                       self.label.isVisible())


class View(pg.ViewBox):
    """pyqtgraph's view box with its bounds read by Qt without a call into Python (as
    :class:`Axis`): pyqtgraph's are the widget's rectangle and half a pixel more to the
    right and below, kept as frame margins. Its shape, the clip of what it shows, is
    pyqtgraph's (a path of those bounds), made once per geometry: pyqtgraph's own cache of
    it is renewed only by its Python bounds, which Qt no longer calls."""

    boundingRect = QtWidgets.QGraphicsWidget.boundingRect

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.setWindowFrameMargins(0.0, 0.0, 0.5, 0.5)
        self._shape: QtGui.QPainterPath | None = None
        self.geometryChanged.connect(self._forget_shape)

    def _forget_shape(self) -> None:
        self._shape = None

    def changeEvent(self, ev) -> None:
        super().changeEvent(ev)             # a new style resets a widget's frame margins
        if ev.type() == QtCore.QEvent.Type.StyleChange:
            self.setWindowFrameMargins(0.0, 0.0, 0.5, 0.5)

    def itemChange(self, change, value):
        """pyqtgraph connects every view box to its scene's ``sigPrepareForPaint``, which
        its views emit before each repaint: one signal call into Python per view box and
        repaint (~40 a step). The view boxes of a scene are made ready from one
        connection instead (:func:`_prepare_views`), in the order they joined it."""
        if change == _SCENE_CHANGE:
            ret = pg.GraphicsWidget.itemChange(self, change, value)   # not ViewBox's
            boxes = getattr(self.scene(), "_plot_views", None)
            if boxes is not None:
                boxes[:] = [r for r in boxes if r() is not None and r() is not self]
            return ret
        if change == _SCENE_CHANGED:
            ret = pg.GraphicsWidget.itemChange(self, change, value)
            scene = self.scene()
            if scene is not None and hasattr(scene, "sigPrepareForPaint"):
                boxes = getattr(scene, "_plot_views", None)
                if boxes is None:
                    boxes = scene._plot_views = []
                    ref = weakref.ref(scene)
                    scene.sigPrepareForPaint.connect(functools.partial(_prepare_views, ref))
                boxes.append(weakref.ref(self))
            return ret
        return super().itemChange(change, value)

    def shape(self) -> QtGui.QPainterPath:
        path = self._shape
        if path is None:
            path = self._shape = QtGui.QPainterPath()
            path.addRect(self.boundingRect())
        return path


_SCENE_CHANGE = QtWidgets.QGraphicsItem.GraphicsItemChange.ItemSceneChange
_SCENE_CHANGED = QtWidgets.QGraphicsItem.GraphicsItemChange.ItemSceneHasChanged


def _prepare_views(scene_ref) -> None:
    """Before a repaint of a scene: its :class:`View` boxes' ranges and matrices made
    current where they wait (pyqtgraph's ``ViewBox.prepareForPaint``)."""
    scene = scene_ref()
    if scene is None:
        return
    boxes = scene._plot_views
    for ref in list(boxes):
        vb = ref()
        if vb is None or not shiboken6.isValid(vb):   # deleted without leaving the scene
            boxes.remove(ref)
        elif vb._autoRangeNeedsUpdate or vb._matrixNeedsUpdate:
            pg.ViewBox.prepareForPaint(vb)


def draws_nothing(plot: pg.PlotItem) -> None:
    """Flag the containers of ``plot`` that draw nothing themselves (the plot, its view box
    without a border, the view box's item group, the title's frame): Qt then skips their
    paint call and their bounds, round trips into Python, for every region it repaints
    (~10% of a step)."""
    for it in (plot, plot.vb, plot.vb.childGroup, plot.titleLabel):
        it.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)


class StepAxis(Axis):
    """A bottom axis of whole numbers (time steps, units): no ticks at 0.5 on short ranges."""

    def tickSpacing(self, minVal, maxVal, size):
        levels = super().tickSpacing(minVal, maxVal, size)
        out = []
        for spacing, offset in levels:
            spacing = max(1.0, float(np.ceil(spacing)))
            if all(spacing != s for s, _ in out):
                out.append((spacing, offset))
        return out


def symmetric_levels(a: np.ndarray | None, floor: float = 1e-6) -> tuple[float, float]:
    """(-m, m) with m the largest finite |value|: diverging colour maps centred on 0."""
    if a is None or a.size == 0:
        return (-1.0, 1.0)
    lo, hi = float(np.min(a)), float(np.max(a))      # two passes, no copies (~0.03 ms for
    if np.isfinite(lo) and np.isfinite(hi):          # 1000 x 256, against ~0.16 ms)
        m = max(-lo, hi)
    else:
        finite = np.abs(a[np.isfinite(a)])
        m = float(finite.max()) if finite.size else 1.0
    m = max(m, floor)
    return (-m, m)


def state_levels(kind: str, nonlinearity: str, a: np.ndarray) -> tuple[float, float]:
    """Fixed (-1, 1) for tanh-bounded states; data-driven for ReLU RNNs."""
    if kind == "rnn" and nonlinearity == "relu":
        return (0.0, max(1e-6, float(np.nanmax(a)) if a.size else 1.0))
    return (-1.0, 1.0)
