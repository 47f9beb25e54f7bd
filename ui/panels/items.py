"""The plot items the panels are made of: step markers, lesson marks, heatmaps with fixed
levels, tick names, the current-step dot. Each is created once; a new trace
calls ``set``, a new step only moves markers (pyqtgraph's fast path)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from .heat_image import LevelsImage
from .scales import Axis, View, draws_nothing, show_range, time_extent

if TYPE_CHECKING:
    from .base import Panel

from .style import (
    CUT_PEN,
    MARK_BRUSH,
    MARK_FRAME_PEN,
    MARK_PEN,
    STATE_CMAP,
    STEP_PEN,
)


class StepLine(QtWidgets.QGraphicsLineItem):
    """A marker at x = ``value`` (a vertical line), or at y = ``value`` with ``axis="y"``
    (a horizontal one, where steps run down): a C++ line item (painted and bounded without
    any Python), moved with ``setPos``.

    It spans three times the visible range across it and follows range changes, in item
    units of a thousandth of the visible range. Qt pads a line's bounds by its pen width in
    item units: in plain data units that is ~10^5 pixels when the range is small (a loss of
    0.001), which overflowed Qt's integer device coordinates, and the view then repainted
    the wrong pixels (the old marker stayed on screen)."""

    def __init__(self, plot: pg.PlotItem, value: float = 0.0, pen=STEP_PEN, axis: str = "x"):
        super().__init__()
        self.setPen(pen)
        self._plot, self._axis = plot, axis
        plot.addItem(self, ignoreBounds=True)
        plot.vb.sigRangeChanged.connect(self._fit)
        self._fit()
        self.setValue(value)

    def _fit(self, *_) -> None:
        (x0, x1), (y0, y1) = self._plot.vb.viewRange()
        sx = max(float(x1) - float(x0), 1e-30) / 1000.0
        sy = max(float(y1) - float(y0), 1e-30) / 1000.0
        self.setTransform(QtGui.QTransform.fromScale(sx, sy))
        if self._axis == "x":
            self.setLine(0.0, float(y0) / sy - 1000.0, 0.0, float(y1) / sy + 1000.0)
        else:
            self.setLine(float(x0) / sx - 1000.0, 0.0, float(x1) / sx + 1000.0, 0.0)

    def remove(self) -> None:
        """Take the line out of its plot (and stop following the plot's range)."""
        if self.scene() is not None:
            self._plot.vb.sigRangeChanged.disconnect(self._fit)
            self._plot.removeItem(self)

    def setValue(self, v: float) -> None:
        if self._axis == "x":
            self.setPos(float(v), 0.0)
        else:
            self.setPos(0.0, float(v))

    def value(self) -> float:
        return self.pos().x() if self._axis == "x" else self.pos().y()


class MarkBand(QtWidgets.QGraphicsRectItem):
    """A lesson's mark on a plot (:meth:`Panel.mark`): steps ``lo..hi`` as a translucent
    band along ``axis`` (``x``, or ``y`` where time runs down, as attention's queries),
    three times as long as the visible range across it; without steps, a frame just inside
    the view. Like :class:`StepLine` it is a C++ item in units of a thousandth of the
    visible range, following range changes (data units overflow Qt's device coordinates
    on tiny ranges)."""

    def __init__(self, plot: pg.PlotItem, lo: int | None = None, hi: int | None = None,
                 axis: str = "x"):
        super().__init__()
        self._plot, self._lo, self._hi, self._axis = plot, lo, hi, axis
        if lo is None:
            self.setPen(MARK_FRAME_PEN)
        else:
            self.setPen(MARK_PEN)
            self.setBrush(MARK_BRUSH)
        self.setZValue(20)
        plot.addItem(self, ignoreBounds=True)
        plot.vb.sigRangeChanged.connect(self._fit)
        self._fit()

    def _fit(self, *_) -> None:
        (x0, x1), (y0, y1) = (tuple(map(float, r)) for r in self._plot.vb.viewRange())
        sx, sy = max(x1 - x0, 1e-30) / 1000.0, max(y1 - y0, 1e-30) / 1000.0
        self.setTransform(QtGui.QTransform.fromScale(sx, sy))
        if self._lo is None:     # the frame: 3 thousandths inside the view
            self.setRect(QtCore.QRectF(x0 / sx + 3, y0 / sy + 3, 994, 994))
            return
        a, b = self._lo - 0.5, self._hi + 0.5
        if self._axis == "x":
            self.setRect(QtCore.QRectF(a / sx, y0 / sy - 1000, (b - a) / sx, 3000))
        else:
            self.setRect(QtCore.QRectF(x0 / sx - 1000, a / sy, 3000, (b - a) / sy))

    def span(self) -> tuple[float, float] | None:
        """The marked steps (for tests), None for a frame."""
        return None if self._lo is None else (self._lo, self._hi)

    def remove(self) -> None:
        if self.scene() is not None:
            self._plot.vb.sigRangeChanged.disconnect(self._fit)
            self._plot.removeItem(self)


def colour_bar(**kw) -> pg.ColorBarItem:
    """pyqtgraph's colour bar, framed by axes and set in a view box whose bounds Qt reads
    without calling into Python (:class:`Axis`, :class:`View`).

    A ColorBarItem is a plot framed by four of pyqtgraph's own axes, made inside its
    constructor. Qt asks each for its bounds at every repaint of the view, and pyqtgraph
    measures them anew each time: ~36 calls a step with the window's colour bars, ~0.2 ms.
    The constructor is given :class:`Axis` and :class:`View` for the time it runs; the bar
    (a C++ pixmap item) is all it draws."""
    module = sys.modules[pg.PlotItem.__module__]
    plain = module.AxisItem, module.ViewBox
    module.AxisItem, module.ViewBox = Axis, View
    try:
        bar = pg.ColorBarItem(**kw)
    finally:
        module.AxisItem, module.ViewBox = plain
    draws_nothing(bar)
    return bar


def record_source(rec, key: str) -> dict:
    """``Heatmap.set``'s ``source`` and ``repeats`` for quantity ``key`` of a recurrent
    record: a trace that reused its base's first steps repeats that record's columns."""
    prefix = getattr(rec, "prefix_of", None)
    return {"source": (getattr(rec, "serial", None), key),
            "repeats": None if prefix is None else ((prefix, key), rec.prefix_steps)}


class Heatmap:
    """An ImageItem in a plot with fixed levels, a current-step line and hover values.

    ``data`` is ``(rows, T)``: rows (units, heads...) on y, time on x.
    """

    def __init__(self, panel: Panel, plot: pg.PlotItem, cmap=STATE_CMAP, levels=(-1.0, 1.0),
                 row_name: str = "unit", value_name: str = "value", colorbar: bool = True):
        self.plot = plot
        self.item = LevelsImage(axisOrder="row-major")
        self.item.setColorMap(cmap)
        self.cmap = cmap
        self.item.setAutoDownsample(True)
        # drawn once into a device pixmap: moving the step line only blits it
        self.item.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.levels = levels
        plot.addItem(self.item)
        plot.invertY(False)
        self.line = StepLine(plot)
        self.cut_lines: list[StepLine] = []
        self.data = np.zeros((1, 1), np.float32)
        self._rect: tuple | None = None
        self._source = None                 # what data is (Heatmap.set's source)
        self._repeats = None                # and what it repeats
        self.row_name, self.value_name = row_name, value_name
        panel.add_hover(plot, self.hover)
        # what a colour means, beside the map (static: it costs nothing per step)
        self.bar = None
        if colorbar:
            self.bar = colour_bar(values=levels, colorMap=cmap, width=8,
                                  interactive=False, colorMapMenu=False)
            self.bar.setImageItem(self.item, insert_in=plot)
            self.bar.getAxis("right").setStyle(tickLength=3)
            self.bar.getAxis("right").setWidth(40)   # fixed: the same room for any levels
            self.bar.getAxis("right").enableAutoSIPrefix(False)
            panel.colorbars.append(self.bar)

    def set_colormap(self, cmap) -> None:
        if cmap is self.cmap:   # the same: its colour bar and scale are not redrawn
            return
        self.cmap = cmap
        self.item.setColorMap(cmap)
        if self.bar is not None:
            self.bar.setColorMap(cmap)

    def set(self, data: np.ndarray, levels=None, source=None, repeats=None) -> None:
        """Show ``data`` (``(rows, T)``). ``source`` names what it is (any hashable, e.g.
        a record's serial and quantity) and ``repeats`` says ``(source, steps)``: its first
        ``steps`` columns are those of that source's data, bit for bit. When that is what
        is shown now, or what is shown repeats this one (a what-if restored), their pixels
        are not worked out again."""
        kept = 0
        if source is not None and self._source is not None:
            if repeats is not None and repeats[0] == self._source:
                kept = repeats[1]               # this repeats what is shown
            elif self._repeats is not None and self._repeats[0] == source:
                kept = self._repeats[1]         # what is shown repeats this (a restore)
        self.item.keep_columns(kept)
        self._source, self._repeats = source, repeats
        # A trace's arrays are never written once traced: one already float32 is shown as it
        # is, through a read-only view (a copy of a gate's strided slice cost ~0.2 ms a map)
        # that pyqtgraph keeps; anything else becomes a float32 copy.
        a = np.asarray(data)
        self.data = a.view() if a.dtype == np.float32 and a.ndim == 2 else \
            np.array(a, dtype=np.float32, copy=True, ndmin=2)
        self.data.flags.writeable = False
        if levels is not None:
            self.levels = levels
        self.item.setImage(self.data, levels=self.levels, autoLevels=False)
        if self.bar is not None and tuple(self.bar.levels()) != tuple(self.levels):
            self.bar.setLevels(self.levels)     # (same levels: its axis is not redrawn)
        rows, cols = self.data.shape
        # cell (r, t) is centred on (t, r): ticks name steps and units
        if self._rect != (rows, cols):    # (the same rect: nothing to move)
            self._rect = (rows, cols)
            self.item.setRect(QtCore.QRectF(-0.5, -0.5, cols, rows))
        show_range(self.plot, (-0.5, time_extent(self.plot, cols) - 0.5), (-0.5, rows - 0.5))

    def set_cuts(self, steps) -> None:
        for ln in self.cut_lines:
            ln.remove()
        self.cut_lines = []
        for s in list(steps)[:200]:
            self.cut_lines.append(StepLine(self.plot, float(s) - 0.5, CUT_PEN))

    def set_step(self, t: int) -> None:
        self.line.setValue(t)

    def hover(self, x: float, y: float) -> str | None:
        c, r = int(np.floor(x + 0.5)), int(np.floor(y + 0.5))
        if 0 <= r < self.data.shape[0] and 0 <= c < self.data.shape[1]:
            return f"t={c} {self.row_name}={r}: {self.value_name}={self.data[r, c]:.6g}"
        return None


class TickLabels:
    """Names under a bottom axis at x = 0, 1, ..., n-1, drawn by C++ text items that change
    in place. An axis given new tick strings re-plans and redraws itself in Python (~1.5 ms),
    and the top-k symbols of a language model change order at nearly every step. The axis
    keeps its tick marks (fixed) and the height the names need."""

    def __init__(self, plot: pg.PlotItem, n: int):
        self.axis = plot.getAxis("bottom")
        self.vb = plot.vb
        font = self.axis.style.get("tickFont") or QtGui.QFont()
        self.height = QtGui.QFontMetrics(font).height()
        color = self.axis.textPen().color()
        self.items = []
        for _ in range(n):
            it = QtWidgets.QGraphicsSimpleTextItem(self.axis)
            it.setFont(font)
            it.setBrush(color)
            it.hide()
            self.items.append(it)
        self.texts = [""] * n
        self.active = False
        self.vb.sigXRangeChanged.connect(self._place)
        self.vb.sigResized.connect(self._place)

    def show(self, on: bool) -> None:
        """Take over the axis's labels (or give them back)."""
        self.active = on
        n = len(self.items)
        if on:
            self.axis.setTicks([[(float(j), "") for j in range(n)]])
            self.axis.setHeight(self.height + 12)
        else:
            self.axis.setTicks(None)
            self.axis.setHeight(None)
            self.set([])
        self._place()

    def set(self, texts: list[str]) -> None:
        for j, it in enumerate(self.items):
            s = texts[j] if j < len(texts) else ""
            if s != self.texts[j]:
                self.texts[j] = s
                it.setText(s)
                self._place_one(j)

    def _place_one(self, j: int) -> None:
        """Under bar j, or hidden while the view (zoomed or panned) does not show it."""
        it = self.items[j]
        x = self.axis.mapFromScene(self.vb.mapViewToScene(QtCore.QPointF(j, 0.0))).x()
        it.setPos(round(x - it.boundingRect().width() / 2.0), 7.0)
        inside = 0.0 <= x <= self.axis.width()
        it.setVisible(self.active and bool(self.texts[j]) and inside)

    def _place(self, *_) -> None:
        for j in range(len(self.items)):
            self._place_one(j)


class Points(pg.ScatterPlotItem):
    """A scatter plot that measures its bounds once per change. Qt asks for them at every
    repaint of its view (a point cache is checked against them), and pyqtgraph measures
    them anew each time: the data's extent and the spots' size in pixels, mapped through
    the view (~20 us a call, three a step in the trajectory). Kept while the data bounds
    and spot size pyqtgraph keeps are the same: pyqtgraph forgets its data bounds at new
    points, new spot sizes and every change of the view's transform."""

    _bounds: tuple | None = None     # ((spot px, x bounds, y bounds), rect)

    def boundingRect(self) -> QtCore.QRectF:
        b = self._bounds
        if b is None or b[0] != (self._maxSpotPxWidth, self.bounds[0], self.bounds[1]):
            rect = super().boundingRect()      # (fills pyqtgraph's data bounds)
            b = self._bounds = ((self._maxSpotPxWidth, self.bounds[0], self.bounds[1]), rect)
        return QtCore.QRectF(b[1])


class Dot:
    """The value at the current step as a fixed-size dot: a C++ ellipse item that ignores
    the view's scaling, moved with ``setPos`` (much cheaper than a scatter plot update).
    ``log`` plots place it at log10(value); :attr:`value` keeps the value itself."""

    def __init__(self, plot: pg.PlotItem, log: bool = False, size: float = 9.0):
        self.item = QtWidgets.QGraphicsEllipseItem(-size / 2, -size / 2, size, size)
        self.item.setBrush(pg.mkBrush("#d62728"))
        self.item.setPen(pg.mkPen(None))
        self.item.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        plot.addItem(self.item, ignoreBounds=True)
        self.log = log
        self.value = float("nan")

    def set(self, t: float, value: float) -> None:
        self.value = float(value)
        ok = np.isfinite(value) and (value > 0 or not self.log)
        self.item.setVisible(bool(ok))
        if ok:
            self.item.setPos(float(t), float(np.log10(value)) if self.log else float(value))

    def clear(self) -> None:
        self.value = float("nan")
        self.item.setVisible(False)


def cache_static(*items) -> None:
    """Draw curves that do not change with the step into a device pixmap once: the step
    line moving across them then blits the pixmap instead of re-stroking every point."""
    for it in items:
        getattr(it, "curve", it).setCacheMode(
            QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)


def message_text(plot: pg.PlotItem) -> pg.TextItem:
    """A centred gray text item for 'nothing to show here' states."""
    t = pg.TextItem("", color="#888", anchor=(0.5, 0.5))
    plot.addItem(t, ignoreBounds=True)
    t.setPos(0.5, 0.5)
    return t


def color(i: int) -> QtGui.QColor:
    return pg.intColor(i, hues=9, values=1, maxValue=200)
