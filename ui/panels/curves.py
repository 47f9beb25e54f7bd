"""Curves over time (the gradient's norm, the loss per step, numeric outputs), drawn as
pyqtgraph draws them, with less Python in between.

pyqtgraph's ``PlotDataItem`` took ~0.35 ms of Python to take a new 1000-point curve
(datasets, options, a path built for it), and with a device cache of its picture (which
spares a moving step line the stroke) ~1 ms more to redraw it: a keystroke on an LSTM
changes three curves. :class:`Curve` takes the same curve in ~0.05 ms and strokes the
same path (or the same segments, for a wide pen) as it is; a step line crossing it
re-strokes only the strip it uncovers (Qt clips the stroke).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6 import QtCore, QtGui, QtWidgets

from .bars import same_values

# A curve of more points than this is drawn with a one-pixel line: its points are closer
# than a wide pen's width anyway, and Qt draws a wide pen segment by segment (~0.8 ms for
# 1000 points, against ~0.09 ms for a one-pixel line).
DENSE_POINTS = 400
# More points than this per pixel of the view's width: only those in view are drawn, and
# of them only the first, lowest, highest and last of each pixel column (:func:`m4`)
DECIMATE_PER_PIXEL = 16
# A line in at most this many pieces is built a piece at a time (more: in one pass)
FEW_LINES = 32
PAD_PX = 2.0          # the bounds reach this far past the points (a wide pen's half, and more)


_NO_SEGMENTS = np.zeros((0, 4))


def polyline(x: np.ndarray, y: np.ndarray) -> QtGui.QPolygonF:
    """The points (x[i], y[i]) as a new polygon, written into its memory."""
    n = len(x)
    poly = QtGui.QPolygonF()
    poly.resize(n)
    if n:
        a = np.frombuffer(shiboken6.VoidPtr(poly.data(), n * 16, True), np.float64)
        a[0::2] = x
        a[1::2] = y
    return poly


def by_segments(pen: QtGui.QPen) -> bool:
    """Whether a line is drawn as separate segments, as pyqtgraph draws it (Qt strokes a
    wide line faster so): a pen wider than a pixel, solid and opaque (the segments' ends
    overlap)."""
    return (pen.widthF() > 1.0 and pen.style() == QtCore.Qt.PenStyle.SolidLine and
            pen.isSolid() and pen.color().alphaF() == 1.0)


def m4(x: np.ndarray, y: np.ndarray, column: np.ndarray):
    """The finite points that a line through them all needs, per pixel column
    (``column[i]``: the column point i falls in) and unbroken run of finite points: the
    first, the lowest, the highest and the last, in order (M4 aggregation: a line without
    antialiasing through them covers the pixels the line through every point covers).
    Returns ``(x, y, connect)``, ``connect[i]``: point i is joined to the next."""
    idx = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    if not len(idx):
        return np.zeros(0), np.zeros(0), np.zeros(0, bool)
    run = np.cumsum(np.concatenate([[0], np.diff(idx) != 1]))
    col = column[idx]
    new = np.concatenate([[True], (np.diff(col) != 0) | (np.diff(run) != 0)])
    starts = np.flatnonzero(new)
    group = np.cumsum(new) - 1
    yv = y[idx]
    pos = np.arange(len(idx))
    at = []
    for extreme in (np.minimum, np.maximum):
        v = extreme.reduceat(yv, starts)
        at.append(np.minimum.reduceat(np.where(yv == v[group], pos, len(idx)), starts))
    last = np.append(starts[1:], len(idx)) - 1
    four = np.sort(np.column_stack([starts, at[0], at[1], last]), axis=1)
    keep = np.ones(four.shape, bool)
    keep[:, 1:] = four[:, 1:] != four[:, :-1]
    sel = four[keep]                # groups in order, and in each its points in order
    r = run[sel]
    return x[idx][sel], yv[sel], np.append(r[1:] == r[:-1], False)


class Curve(QtWidgets.QGraphicsRectItem):
    """A line through the finite points (x[i], y[i]) of a plot, broken where a value is NaN
    or infinite (or, on a log axis, not above 0): pyqtgraph's ``connect="finite"``.

    On a log axis (``plot.setLogMode(y=True)``, which the plot passes on through
    :meth:`setLogMode`) it draws log10(y). A pen wider than a pixel is drawn one pixel wide
    above :data:`DENSE_POINTS` points. More than :data:`DECIMATE_PER_PIXEL` points per pixel
    of the plot's width: those in view are drawn, four a pixel column (:func:`m4`), again
    when the view moves. ``symbols``: at most this many finite points are each
    marked with a dot (a lone loss-carrying step is no line).

    A rectangle item whose rectangle is the points' bounds (padded by a couple of pixels
    for the pen): Qt asks an item for its bounds several times a paint, and a rectangle
    item answers in C++; the plot's auto range takes them too."""

    def __init__(self, plot: pg.PlotItem, pen, symbols: int = 0, symbol_size: float = 6.0,
                 symbol_brush=None):
        super().__init__()
        pen = pg.mkPen(pen)
        self._wide = QtGui.QPen(pen)
        self._thin = QtGui.QPen(pen)
        if pen.widthF() > 1.0:
            self._thin.setWidthF(1.0)
        self._pen = self._wide
        self.setPen(QtCore.Qt.PenStyle.NoPen)     # the rectangle itself is never drawn
        self._x = self._y = None            # the data set, y as given (not its log)
        self._dx = self._dy = np.zeros(0)   # as drawn: log10(y) on a log axis
        self._path: QtGui.QPainterPath | None = None    # a thin or styled pen's: its runs
        self._segments = _NO_SEGMENTS       # (x0, y0, x1, y1) per segment: a wide pen's
        self._ok = np.zeros(0, bool)        # which points are finite (drawn)
        self._finite = 0
        self._bounds: tuple | None = None   # of the finite points: x0, x1, y0, y1
        self._window: tuple | None = None   # points first..stop drawn, and their columns
        self.drawn_points = self.drawn_lines = 0    # the line's corners, and its pieces
        self._log = False
        self._symbols = int(symbols)
        self._symbol_size = float(symbol_size)
        self._symbol_brush = pg.mkBrush(symbol_brush if symbol_brush is not None else
                                        pen.color())
        self._dots: list[QtWidgets.QGraphicsEllipseItem] = []
        self.vb = plot.vb
        plot.addItem(self)
        self.vb.sigXRangeChanged.connect(self._view_moved)
        self.vb.sigYRangeChanged.connect(self._view_moved)
        self.vb.sigResized.connect(self._view_moved)

    # -- data ---------------------------------------------------------------------------
    def set(self, x, y) -> None:
        """Draw (x, y); ``y`` None or empty: nothing. The same data again costs nothing (a
        what-if's ghost curve is the same trace's again)."""
        if y is None or not len(y):
            if self._y is None and self._x is not None:
                return
            self._x, self._y = np.zeros(0), None
        else:
            x = np.asarray(x, np.float64)
            y = np.asarray(y, np.float64)
            if x.shape != y.shape:
                raise ValueError(f"a curve of {len(x)} x values and {len(y)} y values")
            if self._y is not None and same_values(self._x, x) and same_values(self._y, y):
                return
            self._x, self._y = x.copy(), y.copy()
        self._rebuild()

    def setLogMode(self, x: bool, y: bool) -> None:   # noqa: N802  (pyqtgraph calls it)
        """The plot's axes changed between linear and log (only y is followed)."""
        if bool(y) != self._log:
            self._log = bool(y)
            self._rebuild()

    def getData(self) -> tuple[np.ndarray, np.ndarray]:    # noqa: N802  (as pyqtgraph's)
        """(x, y) as drawn, before any peak downsampling: log10(y) on a log axis."""
        return self._dx, self._dy

    def _rebuild(self) -> None:
        y = self._y
        if y is None:
            self._dx = self._dy = np.zeros(0)
        else:
            self._dx = self._x
            if self._log:
                with np.errstate(divide="ignore", invalid="ignore"):
                    self._dy = np.log10(np.where(y > 0, y, np.nan))
            else:
                self._dy = y
        ok = np.isfinite(self._dy) & np.isfinite(self._dx)
        self._ok = ok
        self._finite = int(np.count_nonzero(ok))
        if not self._finite:
            self._bounds = None
        elif self._finite == len(ok):
            self._bounds = (float(self._dx.min()), float(self._dx.max()),
                            float(self._dy.min()), float(self._dy.max()))
        else:
            x, y = self._dx[ok], self._dy[ok]
            self._bounds = (float(x.min()), float(x.max()), float(y.min()), float(y.max()))
        self._window = None
        self._draw()

    # -- drawing ------------------------------------------------------------------------
    def _view_moved(self, *_) -> None:
        if len(self._dx):
            self._draw()

    def _columns(self, i0: int, i1: int):
        """The pixel column each of points i0..i1 falls in (and the mapping to columns),
        or None when they are few enough to draw them all."""
        views = self.scene().views() if self.scene() is not None else []
        if i1 - i0 <= DECIMATE_PER_PIXEL * max(self.vb.width(), 1.0) or not views:
            return None
        self.vb.updateMatrix()          # (pyqtgraph may not have yet, for the new range)
        t = self.deviceTransform(views[0].viewportTransform())
        if not t.m11() > 0 or t.m12() != 0:
            return None
        key = (t.m11(), t.m31())
        with np.errstate(invalid="ignore", over="ignore"):
            col = np.floor(self._dx[i0:i1] * key[0] + key[1])
        return key, np.nan_to_num(col, nan=0.0, posinf=0.0, neginf=0.0).astype(np.int64)

    def _draw(self) -> None:
        n = len(self._dx)
        i0, i1, columns = 0, n, None
        if n > DECIMATE_PER_PIXEL * max(self.vb.width(), 1.0):
            (x0, x1), _ = self.vb.viewRange()      # the points in view, and one either side
            i0 = max(int(np.searchsorted(self._dx, x0, "left")) - 1, 0)
            i1 = min(int(np.searchsorted(self._dx, x1, "right")) + 1, n)
            columns = self._columns(i0, i1)
        window = (i0, i1, None if columns is None else columns[0])
        if window != self._window:
            self._window = window
            self._pen = self._thin if self._finite > DENSE_POINTS else self._wide
            x, y, ok = self._dx[i0:i1], self._dy[i0:i1], self._ok[i0:i1]
            if columns is not None:
                self._lines(*m4(x, y, columns[1]))
            elif self._finite == n:
                self._lines(x, y, None)
            else:
                self._lines(x, y, np.append(ok[1:] & ok[:-1], False))
        self._fit()

    def _lines(self, x: np.ndarray, y: np.ndarray, joined: np.ndarray | None) -> None:
        """Draw lines through the points: point i to the next where ``joined[i]``, or
        ``joined`` None: all of them (all finite) in one line."""
        n = len(x)
        if joined is None:
            self.drawn_lines, self.drawn_points = (1, n) if n > 1 else (0, 0)
        else:
            starts = joined & ~np.concatenate([[False], joined[:-1]])
            self.drawn_lines = int(np.count_nonzero(starts))
            self.drawn_points = int(np.count_nonzero(joined)) + self.drawn_lines
        self._path, self._segments = None, _NO_SEGMENTS
        if not self.drawn_lines:
            pass
        elif by_segments(self._pen):       # pyqtgraph's way for such a pen
            j = np.arange(n - 1) if joined is None else np.flatnonzero(joined)
            self._segments = np.column_stack([x[j], y[j], x[j + 1], y[j + 1]])
        elif joined is None:               # the path pyqtgraph strokes for these points
            self._path = QtGui.QPainterPath()
            self._path.addPolygon(polyline(x, y))
        elif self.drawn_lines <= FEW_LINES:   # each a subpath, as in pyqtgraph's path
            self._path = QtGui.QPainterPath()
            first = np.flatnonzero(starts)
            last = np.flatnonzero(joined & ~np.append(joined[1:], False)) + 1
            for a, b in zip(first.tolist(), last.tolist()):
                self._path.addPolygon(polyline(x[a:b + 1], y[a:b + 1]))
        else:
            self._path = pg.functions.arrayToQPath(x, y, connect=joined.astype(np.int32))
        if self._finite <= self._symbols:
            self._place_dots(self._dx[self._ok], self._dy[self._ok])
        elif self._dots:
            self._place_dots(x[:0], y[:0])

    def _fit(self) -> None:
        """The bounds: the finite points, padded by :data:`PAD_PX` pixels."""
        if self._bounds is None:
            bounds = QtCore.QRectF()
        else:
            px, py = (PAD_PX * abs(v) if np.isfinite(v) else 0.0
                      for v in self.vb.viewPixelSize())
            x0, x1, y0, y1 = self._bounds
            bounds = QtCore.QRectF(x0 - px, y0 - py, x1 - x0 + 2 * px, y1 - y0 + 2 * py)
        if bounds != self.rect():
            self.setRect(bounds)      # and repaints the old bounds and the new
        else:
            self.update()

    def _place_dots(self, x: np.ndarray, y: np.ndarray) -> None:
        while len(self._dots) < len(x):
            s = self._symbol_size
            dot = QtWidgets.QGraphicsEllipseItem(-s / 2, -s / 2, s, s, self)
            dot.setBrush(self._symbol_brush)
            dot.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
            dot.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
            self._dots.append(dot)
        for i, dot in enumerate(self._dots):
            dot.setVisible(i < len(x))
            if i < len(x):
                dot.setPos(float(x[i]), float(y[i]))

    def line_pen(self) -> QtGui.QPen:
        """The pen the line is drawn with now (one pixel wide when the curve is dense)."""
        return self._pen

    def paint(self, p: QtGui.QPainter, *args) -> None:
        if len(self._segments):
            p.setPen(self._pen)
            p.drawLines(shiboken6.wrapInstance(self._segments.ctypes.data, QtCore.QLineF),
                        len(self._segments))
        elif self._path is not None:
            p.setPen(self._pen)
            p.drawPath(self._path)
