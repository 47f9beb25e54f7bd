"""Building blocks shared by every panel: the panel frame (title, hover read-out,
export menu), heatmaps with fixed levels, bar curves and the current-step marker.

Plot items are created once; a new trace only calls ``setImage`` / ``setData`` and a
new step only moves markers and refreshes the bars (pyqtgraph's fast path).
"""

from __future__ import annotations

import csv
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

from playground.tracing.views import TraceView  # noqa: F401  (what set_view takes)

from ..qtfixes import fast_image_downsampling, refit_plots
from ..widgets import LiveText

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False, background="w",
                    foreground="#222")
fast_image_downsampling()

STATE_CMAP = pg.colormap.get("CET-D1")      # diverging, for tanh states and gradients
GATE_CMAP = pg.colormap.get("viridis")      # sequential, for gates in [0, 1]
STEP_PEN = pg.mkPen("#d62728", width=2)
CUT_PEN = pg.mkPen("#ff7f0e", width=1, style=QtCore.Qt.PenStyle.DashLine)
BAR_PEN = pg.mkPen("#1f77b4", width=1)
BAR_BRUSH = pg.mkBrush(31, 119, 180, 170)
GHOST_PEN = pg.mkPen(120, 120, 120, 150, width=1, style=QtCore.Qt.PenStyle.DashLine)
CURVE_PEN = pg.mkPen("#1f77b4", width=2)
# what a lesson step points at (Panel.mark): a colour no colour map and no curve uses
MARK_PEN = pg.mkPen("#d500f9", width=2)
MARK_FRAME_PEN = pg.mkPen("#d500f9", width=3)
MARK_BRUSH = pg.mkBrush(213, 0, 249, 40)
TIME_AXIS = "time step t"   # a bottom axis of time steps: add_plot lists its plot for mark()


def fmt(v: float) -> str:
    return f"{v:.4g}"


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


def show_range(plot: pg.PlotItem, x: tuple, y: tuple, padding: float = 0.0,
               limits: bool = False) -> None:
    """Set the view to ``x`` by ``y`` (and, with ``limits``, keep panning within them)
    unless it shows exactly that already: an unchanged view keeps its axes' drawings."""
    if limits and getattr(plot, "_limits", None) != (x, y):
        plot.setLimits(xMin=x[0], xMax=x[1], yMin=y[0], yMax=y[1])
        plot._limits = (x, y)
    def padded(r):
        lo, hi = float(r[0]), float(r[1])
        if hi == lo:
            return [lo - 0.5, hi + 0.5]
        d = (hi - lo) * padding
        return [lo - d, hi + d]

    want = [padded(x), padded(y)]
    if [[float(a), float(b)] for a, b in plot.vb.viewRange()] != want:
        plot.setRange(xRange=want[0], yRange=want[1], padding=0)


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


def set_curve(item: pg.PlotDataItem, x: np.ndarray, y: np.ndarray | None, **kw) -> None:
    """``item.setData(x, y, **kw)`` unless it draws exactly that already (``y`` None: no
    data). A what-if's ghost curve is the same trace's again: redrawing its path and its
    cached picture costs a millisecond for nothing."""
    if y is None or not len(y):
        key = None
    else:
        key = (np.asarray(x, np.float64), np.asarray(y, np.float64), repr(sorted(kw.items())))
    old = getattr(item, "_shown_data", None)
    if key is None and old is None and getattr(item, "_shown_set", False):
        return
    if key is not None and old is not None and old[2] == key[2] and \
            np.array_equal(old[0], key[0]) and np.array_equal(old[1], key[1], equal_nan=True):
        return
    if key is None:
        item.setData([], [])
    else:
        item.setData(key[0], key[1], **kw)
    item._shown_data, item._shown_set = key, True


def set_title(plot: pg.PlotItem, text: str, size: str = "9pt") -> None:
    """The plot's title; the same title again costs nothing (pyqtgraph relays it out)."""
    if getattr(plot, "_title", None) == (text, size):
        return
    plot.setTitle(text, size=size)
    plot._title = (text, size)


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
    """An axis that measures its bounds once per change. Qt asks for them at every repaint
    of its view, ~80 times a step in all, and pyqtgraph recomputes them each time (its own
    and its linked view's geometry, mapped). Forgotten when either geometry changes and at
    every ``prepareGeometryChange`` (grid, style)."""

    _bounds: QtCore.QRectF | None = None

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.geometryChanged.connect(self._forget_bounds)

    def _forget_bounds(self) -> None:
        self._bounds = None

    def prepareGeometryChange(self) -> None:
        super().prepareGeometryChange()     # Qt marks the old (cached) bounds first
        self._bounds = None

    def linkToView(self, view) -> None:
        old = self.linkedView()
        if old is not None and old is not view:
            try:
                old.geometryChanged.disconnect(self._forget_bounds)
            except (RuntimeError, TypeError):
                pass
        super().linkToView(view)
        if view is not None and view is not old:
            view.geometryChanged.connect(self._forget_bounds)
        self._bounds = None

    def boundingRect(self) -> QtCore.QRectF:
        b = self._bounds
        if b is None:
            b = self._bounds = super().boundingRect()
        return QtCore.QRectF(b)

    def setRange(self, mn: float, mx: float) -> None:
        """pyqtgraph redraws an axis (~0.5 ms: ticks planned and drawn in Python) at every
        range change of its view, also of the other coordinate: a new trace of another
        length redrew the unit axes too. An unchanged range keeps the drawing."""
        if self.picture is not None and self.range == [mn, mx]:
            return
        super().setRange(mn, mx)

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


class Panel(QtWidgets.QWidget):
    """A titled panel: a pyqtgraph layout, a hover line with exact values and an export
    menu (PNG / SVG image, CSV data). Subclasses fill :attr:`layout_widget` and implement
    :meth:`set_view`, :meth:`set_step` and :meth:`table`."""

    title = "Panel"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName(type(self).__name__)
        self.view: TraceView | None = None
        self.step = 0
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        outer.setSpacing(1)
        head = QtWidgets.QHBoxLayout()
        self.caption = LiveText(color="#444")
        right = QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter
        self.hover_label = LiveText(color="#555", mono=True, align=right)
        self.hover_label.setText("hover for values")
        btn = QtWidgets.QToolButton(text="Export")
        btn.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QtWidgets.QMenu(btn)
        menu.addAction("Image as PNG...", lambda: self._ask_export("png"))
        menu.addAction("Image as PNG, 2x (slides)...", lambda: self._ask_export("png", 2))
        menu.addAction("Image as PNG, 4x (print)...", lambda: self._ask_export("png", 4))
        menu.addAction("Image as SVG...", lambda: self._ask_export("svg"))
        menu.addAction("Data as CSV...", lambda: self._ask_export("csv"))
        btn.setMenu(menu)
        head.addWidget(self.caption, 1)   # the whole row: captions are read, not cut
        head.addWidget(btn)
        outer.addLayout(head)
        self.stale_label = QtWidgets.QLabel()
        self.stale_label.setObjectName("staleMark")
        self.stale_label.setWordWrap(True)
        self.stale_label.setStyleSheet("background:#fff3cd; color:#7a5300; padding:2px 4px;")
        self.stale_label.hide()
        outer.addWidget(self.stale_label)
        self.layout_widget = pg.GraphicsLayoutWidget()
        self.layout_widget.ci.setContentsMargins(2, 2, 2, 2)
        self.layout_widget.ci.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
        outer.addWidget(self.layout_widget, 1)
        # the view draws its own background: nothing behind it needs repainting
        self.layout_widget.viewport().setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.message = QtWidgets.QLabel("")
        self.message.setObjectName("panelMessage")
        self.message.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color:#777; font-size:12pt; background:white;")
        self.message.hide()
        outer.addWidget(self.message, 1)
        outer.addWidget(self.hover_label)
        self._hovers: list[tuple[pg.PlotItem, Callable[[float, float], str | None]]] = []
        self.plots: list[pg.PlotItem] = []
        self.bars_items: list = []
        self.colorbars: list[pg.ColorBarItem] = []
        # for mark(): the plots with time along "x" (or "y"), the plots of each quantity
        self.time_plots: list[tuple[pg.PlotItem, str]] = []
        self.quantity_plots: dict[str, list[pg.PlotItem]] = {}
        self.marked: tuple | None = None     # (span, quantity) of the last mark()
        self._mark_items: list[MarkBand] = []
        self.layout_widget.scene().sigMouseMoved.connect(self._on_mouse)

    # -- subclass API --------------------------------------------------------------------
    def set_view(self, view: TraceView | None) -> None:
        self.view = view

    def set_step(self, t: int) -> None:
        self.step = t

    def table(self) -> tuple[list[str], np.ndarray]:
        """Column names and a 2-D array: the data this panel shows (for CSV)."""
        return [], np.zeros((0, 0))

    # -- lesson marks ---------------------------------------------------------------------
    marks: tuple[str, ...] = ()   # what mark() points at (playground.files.lessons.PANELS)

    def time_axes(self) -> list[tuple[pg.PlotItem, str]]:
        """The plots that draw time steps now, with the axis time runs along."""
        return list(self.time_plots)

    def mark(self, span: tuple[int, int] | None, quantity: str | None = None) -> None:
        """Point at what a lesson step asks to look at: steps ``span[0]..span[1]`` as a
        band on every plot of time, and a frame around the plots of ``quantity`` (a gate
        letter, ``h``, ``dh``...: :attr:`marks`). Replaces the last mark."""
        self.clear_mark()
        self.marked = (span, quantity)
        if span is not None:
            for plot, axis in self.time_axes():
                self._mark_items.append(MarkBand(plot, span[0], span[1], axis))
        for plot in self.quantity_plots.get(quantity or "", ()):
            self._mark_items.append(MarkBand(plot))

    def clear_mark(self) -> None:
        for it in self._mark_items:
            it.remove()
        self._mark_items = []
        self.marked = None

    # -- helpers -------------------------------------------------------------------------
    def set_stale(self, why: str) -> None:
        """Mark the panel as showing an older model or input than the one on screen (``""``:
        it is current)."""
        self.stale_label.setText(f"Not up to date: {why}" if why else "")
        self.stale_label.setVisible(bool(why))

    def reset(self) -> None:
        """Forget what the last experiment left: each axis's room for its tick labels
        (pyqtgraph only widens it), each view's range. The next view sets its own, as in a
        panel made anew."""
        axes = [(p.getAxis(n), n) for p in self.plots for n in ("left", "bottom")]
        axes += [(b.getAxis("right"), "right") for b in self.colorbars]
        for ax, name in axes:
            ax.textWidth, ax.textHeight = 30, 18
            ax._updateHeight() if name == "bottom" else ax._updateWidth()
        for p in self.plots:
            if p.vb.autoRangeEnabled()[0] or p.vb.autoRangeEnabled()[1]:
                p.enableAutoRange()
            else:
                p.vb.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
        for b in self.bars_items:
            b.forget()
        self.clear_mark()
        for p in self.plots:
            p._time_extent = p._steady_top = p._limits = p._steady_m = p._decades = None
        self.caption.setText("")
        self.hover_label.setText("hover for values")

    def refit(self) -> None:
        """After a new view: the grid of plots fills the panel (see qtfixes.refit_plots)."""
        refit_plots(self.layout_widget)

    def show_message(self, text: str) -> None:
        """Show ``text`` in place of the plots ('' shows the plots again)."""
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.layout_widget.setVisible(not text)

    def add_plot(self, row: int, col: int, title: str = "", left: str = "", bottom: str = "",
                 auto: bool = False, **kw) -> pg.PlotItem:
        """A plot in the grid. Without ``auto`` its range is set by the panel (per trace),
        so moving the step never re-measures the data."""
        kw.setdefault("enableMenu", False)   # our own export menu; saves ~10 ms per plot
        # (the top and right axes stay pyqtgraph's: given ones would be shown)
        kw.setdefault("axisItems", {"bottom": StepAxis("bottom"), "left": Axis("left")})
        p = self.layout_widget.addPlot(row=row, col=col, **kw)
        if title:
            set_title(p, title)
        if left:
            p.setLabel("left", left)
        if bottom:
            p.setLabel("bottom", bottom)
        if bottom == TIME_AXIS:
            self.time_plots.append((p, "x"))
        p.setMenuEnabled(False)
        p.hideButtons()
        self.plots.append(p)
        # Containers that draw nothing themselves (the plot, its view box without a border,
        # the view box's item group, the title's frame): flagged so, Qt skips their paint
        # call, a round trip into Python, for every region it repaints (~10% of a step).
        for it in (p, p.vb, p.vb.childGroup, p.titleLabel):
            it.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
        if not auto:
            p.disableAutoRange()
        for name in ("left", "bottom"):
            p.getAxis(name).setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
            # no "(x0.001)" scale on an axis: units and steps are whole numbers, and a
            # scale left from an earlier, tiny range misleads
            p.getAxis(name).enableAutoSIPrefix(False)
        return p

    def add_hover(self, plot: pg.PlotItem, fn: Callable[[float, float], str | None]) -> None:
        self._hovers.append((plot, fn))

    def _on_mouse(self, pos) -> None:
        for plot, fn in self._hovers:
            if plot.isVisible() and plot.sceneBoundingRect().contains(pos):
                p = plot.vb.mapSceneToView(pos)
                text = fn(p.x(), p.y())
                if text:
                    self.hover_label.setText(text)
                return

    # -- export --------------------------------------------------------------------------
    def _ask_export(self, kind: str, scale: int = 1) -> None:
        filt = {"png": "PNG image (*.png)", "svg": "SVG image (*.svg)", "csv": "CSV (*.csv)"}[kind]
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, f"Export {self.title}",
                                                        f"{self.objectName()}.{kind}", filt)
        if path:
            self.export(path, scale)

    def export(self, path: str, scale: int = 1) -> None:
        """Write the panel as PNG (``scale`` times its size on screen, drawn at that
        resolution) or SVG, or its data as CSV, by the file's extension."""
        low = path.lower()
        if low.endswith(".csv"):
            names, data = self.table()
            with open(path, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(names)
                for row in np.asarray(data):
                    w.writerow([fmt(float(v)) if np.isfinite(v) else "" for v in row])
        elif low.endswith(".svg"):
            # Qt's SVG painter: vector output that never trips over NaN gaps in curves
            gen = QtSvg.QSvgGenerator()
            gen.setFileName(path)
            gen.setSize(self.size())
            gen.setViewBox(QtCore.QRect(QtCore.QPoint(0, 0), self.size()))
            gen.setTitle(self.title)
            painter = QtGui.QPainter(gen)
            self.render(painter, QtCore.QPoint(0, 0))
            painter.end()
        else:
            size = self.size()
            img = QtGui.QImage(size.width() * scale, size.height() * scale,
                               QtGui.QImage.Format.Format_ARGB32)
            img.setDevicePixelRatio(scale)   # drawn at that resolution, not magnified
            img.fill(QtGui.QColor("white"))
            painter = QtGui.QPainter(img)
            self.render(painter, QtCore.QPoint(0, 0))
            painter.end()
            img.save(path)


class StepLine(QtWidgets.QGraphicsLineItem):
    """A vertical marker at x = ``value``: a C++ line item (painted and bounded without any
    Python), moved with ``setPos``.

    It spans three times the visible y range and follows range changes, in item units of
    a thousandth of the visible range. Qt pads a line's bounds by its pen width in item
    units: in plain data units that is ~10^5 pixels when the y range is small (a loss of
    0.001), which overflowed Qt's integer device coordinates, and the view then repainted
    the wrong pixels (the old marker stayed on screen)."""

    def __init__(self, plot: pg.PlotItem, value: float = 0.0, pen=STEP_PEN):
        super().__init__()
        self.setPen(pen)
        self._plot = plot
        plot.addItem(self, ignoreBounds=True)
        plot.vb.sigRangeChanged.connect(self._fit)
        self._fit()
        self.setValue(value)

    def _fit(self, *_) -> None:
        (x0, x1), (y0, y1) = self._plot.vb.viewRange()
        sx = max(float(x1) - float(x0), 1e-30) / 1000.0
        span = max(float(y1) - float(y0), 1e-30)
        sy = span / 1000.0
        self.setTransform(QtGui.QTransform.fromScale(sx, sy))
        self.setLine(0.0, (float(y0) - span) / sy, 0.0, (float(y1) + span) / sy)

    def remove(self) -> None:
        """Take the line out of its plot (and stop following the plot's range)."""
        if self.scene() is not None:
            self._plot.vb.sigRangeChanged.disconnect(self._fit)
            self._plot.removeItem(self)

    def setValue(self, v: float) -> None:
        self.setPos(float(v), 0.0)

    def value(self) -> float:
        return self.pos().x()


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


class Heatmap:
    """An ImageItem in a plot with fixed levels, a current-step line and hover values.

    ``data`` is ``(rows, T)``: rows (units, heads...) on y, time on x.
    """

    def __init__(self, panel: Panel, plot: pg.PlotItem, cmap=STATE_CMAP, levels=(-1.0, 1.0),
                 row_name: str = "unit", value_name: str = "value", colorbar: bool = True):
        self.plot = plot
        self.item = pg.ImageItem(axisOrder="row-major")
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
        self.row_name, self.value_name = row_name, value_name
        panel.add_hover(plot, self.hover)
        # what a colour means, beside the map (static: it costs nothing per step)
        self.bar = None
        if colorbar:
            self.bar = pg.ColorBarItem(values=levels, colorMap=cmap, width=8,
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

    def set(self, data: np.ndarray, levels=None) -> None:
        self.data = np.array(data, dtype=np.float32, copy=True)  # pyqtgraph keeps a view
        if levels is not None:
            self.levels = levels
        self.item.setImage(self.data, levels=self.levels, autoLevels=False)
        if self.bar is not None and tuple(self.bar.levels()) != tuple(self.levels):
            self.bar.setLevels(self.levels)     # (same levels: its axis is not redrawn)
        rows, cols = self.data.shape
        # cell (r, t) is centred on (t, r): ticks name steps and units
        self.item.setRect(QtCore.QRectF(-0.5, -0.5, cols, rows))
        show_range(self.plot, (-0.5, time_extent(self.plot, cols) - 0.5), (-0.5, rows - 0.5),
                   limits=True)

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


def step_polygon(values: np.ndarray) -> QtGui.QPolygonF:
    """The bar outline as a new polygon, written straight into its memory (no Python loop
    and no path building: ~6 us for 256 bars instead of ~140 us)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if not np.isfinite(v).all():
        v = np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)
    n = len(v)
    poly = pg.functions.create_qpolygonf(2 * n + 2)
    a = pg.functions.ndarray_from_qpolygonf(poly)
    a[:, 0] = _bar_xs(n)
    a[0, 1] = a[-1, 1] = 0.0
    a[1:-1, 1].reshape(n, 2)[:] = v[:, None]
    return poly


_XS: dict[int, np.ndarray] = {}


def _bar_xs(n: int) -> np.ndarray:
    xs = _XS.get(n)
    if xs is None:
        xs = np.concatenate([[-0.5], np.repeat(np.arange(n + 1, dtype=np.float64) - 0.5, 2)
                             [1:-1], [n - 0.5]])
        _XS[n] = xs
    return xs


def hairline(pen: QtGui.QPen) -> QtGui.QPen:
    """The pen as a width-0 (one device pixel) pen: Qt then bounds a polygon item by its
    points instead of stroking the whole outline to find its shape at every change."""
    pen = QtGui.QPen(pen)
    pen.setWidth(0)
    return pen


class Bars:
    """Bars drawn as one closed polygon by a C++ QGraphicsPolygonItem (fast for thousands
    of bars), with an optional faint 'original' outline for what-if comparisons. A new step
    fills a fresh polygon's memory from numpy (a shared one would compare equal and not
    repaint)."""

    def __init__(self, panel: Panel, plot: pg.PlotItem, brush=BAR_BRUSH, pen=BAR_PEN,
                 name: str = "unit", value_name: str = "value"):
        self.plot = plot
        self.curve = QtWidgets.QGraphicsPolygonItem()
        self.curve.setPen(hairline(pen))
        self.curve.setBrush(brush)
        self.ghost = QtWidgets.QGraphicsPolygonItem()
        self.ghost.setPen(hairline(GHOST_PEN))
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
        self.curve.setPolygon(step_polygon(v))
        self.ghost_values = None if ghost is None else \
            np.array(ghost, dtype=np.float64, copy=True).ravel()
        if self.ghost_values is not None:
            self.ghost.setPolygon(step_polygon(self.ghost_values))
        if self.ghost.isVisible() != (ghost is not None):
            self.ghost.setVisible(ghost is not None)

    @staticmethod
    def heights(item) -> np.ndarray:
        """The bar heights a polygon (or path) item draws, read back from it (for tests)."""
        if isinstance(item, QtWidgets.QGraphicsPolygonItem):
            poly = item.polygon()
            return np.asarray([poly.at(i).y() for i in range(1, poly.size() - 1, 2)])
        path = item.path()
        ys = [path.elementAt(i).y for i in range(1, path.elementCount() - 1, 2)]
        return np.asarray(ys)

    def hover(self, x: float, y: float) -> str | None:
        i = int(np.floor(x + 0.5))
        if 0 <= i < len(self.values):
            name = self.labels[i] if self.labels and i < len(self.labels) else f"{self.name}={i}"
            return f"{name}: {self.value_name}={self.values[i]:.6g}"
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


def symmetric_levels(a: np.ndarray | None, floor: float = 1e-6) -> tuple[float, float]:
    """(-m, m) with m the largest finite |value|: diverging colour maps centred on 0."""
    if a is None or a.size == 0:
        return (-1.0, 1.0)
    finite = np.abs(a[np.isfinite(a)])
    m = float(finite.max()) if finite.size else 1.0
    m = max(m, floor)
    return (-m, m)


def state_levels(kind: str, nonlinearity: str, a: np.ndarray) -> tuple[float, float]:
    """Fixed (-1, 1) for tanh-bounded states; data-driven for ReLU RNNs."""
    if kind == "rnn" and nonlinearity == "relu":
        return (0.0, max(1e-6, float(np.nanmax(a)) if a.size else 1.0))
    return (-1.0, 1.0)


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
