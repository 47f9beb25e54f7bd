"""Bar charts of one value per unit (or feature, or input step), redrawn at every step.

Qt fills a polygon in time that grows with the square of its corners: the outline of 256
bars as one filled polygon took ~1 ms to fill in a 300 x 100 view, 1000 bars ~10 ms. So
:class:`BarItem` fills the bars as rectangles, handed to ``QPainter.drawRects`` straight from
numpy memory (~0.07 ms for 256), and strokes the outline as one unfilled polygon (as cheap).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6 import QtCore, QtGui, QtWidgets

from .style import BAR_BRUSH, BAR_PEN, GHOST_PEN

if TYPE_CHECKING:
    from .base import Panel


def step_polygon(values: np.ndarray) -> QtGui.QPolygonF:
    """The bar outline as a new polygon, written straight into its memory (no Python loop
    and no path building: ~6 us for 256 bars instead of ~140 us)."""
    return _outline(_finite(values))


def _outline(v: np.ndarray) -> QtGui.QPolygonF:
    """:func:`step_polygon` of finite float64 values: the corners' x, then each height as
    the y of its bar's two top corners (a new polygon's points start at (0, 0), so the
    first and last corner are already on the axis)."""
    n = len(v)
    poly = QtGui.QPolygonF()
    poly.resize(2 * n + 2)
    a = np.frombuffer(shiboken6.VoidPtr(poly.data(), (2 * n + 2) * 16, True), np.float64)
    a[0::2] = _bar_xs(n)
    a[3:4 * n + 2:4] = v
    a[5:4 * n + 2:4] = v
    return poly


def _finite(values) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    if not np.isfinite(v).all():
        v = np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)
    return v


_XS: dict[int, np.ndarray] = {}
# a pen and a brush that draw nothing, made once: an enum member passed to Qt is read
# through Python properties at each call (paint runs every step)
_NO_PEN, _NO_BRUSH = QtGui.QPen(QtCore.Qt.PenStyle.NoPen), QtGui.QBrush()


def _bar_xs(n: int) -> np.ndarray:
    xs = _XS.get(n)
    if xs is None:
        xs = np.concatenate([[-0.5], np.repeat(np.arange(n + 1, dtype=np.float64) - 0.5, 2)
                             [1:-1], [n - 0.5]])
        _XS[n] = xs
    return xs


def same_values(a: np.ndarray, b: np.ndarray) -> bool:
    """The same values, bit for bit (a NaN equals a NaN; -0.0 is not 0.0)."""
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def hairline(pen: QtGui.QPen) -> QtGui.QPen:
    """The pen as a width-0 (one device pixel) pen: Qt then bounds a polygon item by its
    points instead of stroking the whole outline to find its shape at every change."""
    pen = QtGui.QPen(pen)
    pen.setWidth(0)
    return pen


class BarItem(QtWidgets.QGraphicsRectItem):
    """Bars from 0 to ``values[i]``: side by side (bar i spans x in [i - 0.5, i + 0.5]),
    their fill as rectangles (when there is a brush) and their outline as one polygon; or
    placed at ``x`` with a ``width`` each, filled and outlined as rectangles. The pen is a
    hairline. The rectangles' memory is kept and rewritten in place at every step (Qt reads
    it only while it paints).

    A rectangle item whose rectangle is the bars' bounds: Qt asks an item for its bounds
    several times a paint, and a rectangle item answers in C++ (a Python ``boundingRect``
    costs a call into Python each time)."""

    def __init__(self, pen: QtGui.QPen, brush: QtGui.QBrush | None = None):
        super().__init__()
        self._pen = hairline(pen)
        self._brush = brush
        self.setPen(QtCore.Qt.PenStyle.NoPen)     # the rectangle itself is never drawn
        self._rects = np.zeros((0, 4))        # x, y, width, height per bar (QRectF's layout)
        self._address = 0                     # of its memory (numpy's ctypes.data costs ~4 us)
        self._outline: QtGui.QPolygonF | None = None    # side by side only
        self._layout: tuple | None = None
        self._xs = np.zeros(0)                # the bars' x when side by side
        self.opts = {"x": np.zeros(0), "height": np.zeros(0)}    # what is drawn
        self._given = np.zeros(0)             # the values last given (NaNs and all)

    def set_values(self, values, x=None, width: float = 1.0) -> None:
        """Draw bars of ``values`` (at ``x``, ``width`` wide each). The very bars drawn
        already cost nothing: no repaint (a new trace that leaves the current step as it
        was, such as a key typed at the end of the text, repaints no bar plot)."""
        v = np.asarray(values, dtype=np.float64).ravel()
        n = len(v)
        if x is not None:
            x = np.asarray(x, dtype=np.float64).ravel()
        if self._layout == (n, None if x is None else width) and \
                same_values(v, self._given) and (x is None or same_values(x, self.opts["x"])):
            return
        self._given = v.copy()
        if n:       # the bounds' extremes also tell whether a value is NaN or infinite
            lo, hi = float(v.min()), float(v.max())
            if not (math.isfinite(lo) and math.isfinite(hi)):
                v = _finite(v)
                lo, hi = float(v.min()), float(v.max())
        layout = (n, None if x is None else width)
        if x is not None:
            if len(x) != n:
                raise ValueError(f"{len(x)} bar positions for {n} values")
        if layout != self._layout:
            self._layout = layout
            self._rects = np.zeros((n, 4))
            self._address = self._rects.__array_interface__["data"][0]
            self._rects[:, 2] = width
            self._xs = np.arange(n, dtype=np.float64)
            if x is None:
                self._rects[:, 0] = self._xs - 0.5
        r = self._rects
        if x is not None:
            r[:, 0] = x - width / 2.0
        np.minimum(v, 0.0, out=r[:, 1])
        np.abs(v, out=r[:, 3])
        # a new polygon each time (~6 us): no numpy view is kept into a Qt container's memory
        self._outline = _outline(v) if x is None else None
        self.opts = {"x": self._xs if x is None else x, "height": v}
        if n:
            if x is None:     # side by side: from -0.5 to n - 0.5
                x0, x1 = -0.5, n - 1.5
            else:
                x0, x1 = float(r[:, 0].min()), float(r[:, 0].max())
            lo, hi = min(lo, 0.0), max(hi, 0.0)
            bounds = QtCore.QRectF(x0, lo, x1 + width - x0, hi - lo)
        else:
            bounds = QtCore.QRectF()
        if bounds != self.rect():
            self.setRect(bounds)     # and repaints the old bounds and the new
        else:
            self.update()

    def heights(self) -> np.ndarray:
        """The bar heights as drawn: the rectangles' tops (or bottoms, below 0), or the
        outline's where only an outline is drawn."""
        if self._brush is None and self._outline is not None:
            poly = self._outline
            return np.asarray([poly.at(i).y() for i in range(1, poly.size() - 1, 2)])
        r = self._rects
        return np.where(r[:, 1] < 0.0, r[:, 1], r[:, 1] + r[:, 3])

    def paint(self, p: QtGui.QPainter, *args) -> None:
        n = len(self._rects)
        if not n:
            return
        if self._outline is None:     # placed bars: each its own outline
            p.setPen(self._pen)
            p.setBrush(self._brush if self._brush is not None else _NO_BRUSH)
            p.drawRects(shiboken6.wrapInstance(self._address, QtCore.QRectF), n)
            return
        if self._brush is not None:
            p.setPen(_NO_PEN)
            p.setBrush(self._brush)
            p.drawRects(shiboken6.wrapInstance(self._address, QtCore.QRectF), n)
        p.setPen(self._pen)
        p.setBrush(_NO_BRUSH)
        p.drawPolygon(self._outline)


class Bars:
    """The values at the current step as bars (:class:`BarItem`), with an optional faint
    dashed 'original' outline for what-if comparisons, and a hover that names the bar."""

    def __init__(self, panel: Panel, plot: pg.PlotItem, brush=BAR_BRUSH, pen=BAR_PEN,
                 name: str = "unit", value_name: str = "value"):
        self.plot = plot
        self.curve = BarItem(pen, brush)
        self.ghost = BarItem(GHOST_PEN)
        plot.addItem(self.curve, ignoreBounds=True)
        plot.addItem(self.ghost, ignoreBounds=True)
        self.ghost.setVisible(False)
        self.values = np.zeros(0)
        self.ghost_values: np.ndarray | None = None
        self.labels: list[str] | None = None
        self.name, self.value_name = name, value_name
        panel.add_hover(plot, self.hover)
        panel.bars_items.append(self)

    def forget(self) -> None:
        """The next values set the x range again (a new experiment)."""
        self.values = np.zeros(0)

    def set(self, values: np.ndarray, ghost: np.ndarray | None = None) -> None:
        v = np.array(values, dtype=np.float64, copy=True).ravel()
        if len(v) != len(self.values):
            self.plot.setXRange(-0.5, len(v) - 0.5, padding=0.01)
        self.values = v
        self.curve.set_values(v)
        self.ghost_values = None if ghost is None else \
            np.array(ghost, dtype=np.float64, copy=True).ravel()
        if self.ghost_values is not None:
            self.ghost.set_values(self.ghost_values)
        if self.ghost.isVisible() != (ghost is not None):
            self.ghost.setVisible(ghost is not None)

    def hover(self, x: float, y: float) -> str | None:
        i = int(np.floor(x + 0.5))
        if 0 <= i < len(self.values):
            name = self.labels[i] if self.labels and i < len(self.labels) else f"{self.name}={i}"
            return f"{name}: {self.value_name}={self.values[i]:.6g}"
        return None
