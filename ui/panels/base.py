"""The panel frame every panel shares: title, hover read-out, export menu (PNG, SVG, CSV),
lesson marks, the "not up to date" mark and the grid of plots.

Its parts live beside it and are taken from here by the panels: the look
(:mod:`.style`), ranges and axes that stay put (:mod:`.scales`) and the plot items
(:mod:`.items`)."""


from __future__ import annotations

import csv
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

from playground.tracing.views import TraceView  # noqa: F401  (what set_view takes)

from ..qtfixes import refit_plots
from ..widgets import LiveText
from .bars import Bars, hairline, step_polygon  # noqa: F401  (the panels' parts)
from .curves import Curve  # noqa: F401
from .items import (  # noqa: F401  (the panels take their parts from here)
    Dot,
    Heatmap,
    MarkBand,
    Points,
    StepLine,
    TickLabels,
    cache_static,
    color,
    message_text,
    record_source,
)
from .scales import (  # noqa: F401
    ROUND_STEPS,
    Axis,
    StepAxis,
    View,
    axis_label,
    decade_labels,
    draws_nothing,
    nice_ceil,
    set_range,
    set_title,
    show_range,
    state_levels,
    steady_levels,
    steady_top,
    symmetric_levels,
    time_extent,
)
from .style import (  # noqa: F401
    BAR_BRUSH,
    BAR_PEN,
    CURVE_PEN,
    CUT_PEN,
    GATE_CMAP,
    GHOST_PEN,
    MARK_BRUSH,
    MARK_FRAME_PEN,
    MARK_PEN,
    STATE_CMAP,
    STEP_PEN,
    TIME_AXIS,
    fmt,
)


class Panel(QtWidgets.QWidget):
    """A titled panel: a pyqtgraph layout, a hover line with exact values and an export
    menu (PNG / SVG image, CSV data). Subclasses fill :attr:`layout_widget` and implement
    :meth:`set_view`, :meth:`set_step` and :meth:`table`."""

    title = "Panel"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName(type(self).__name__)
        # opaque: a control of the panel that repaints (a spin box following the step)
        # repaints the panel's ground, not the dock and window behind it (~0.4 ms a step)
        self.setAutoFillBackground(True)
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
        if "viewBox" not in kw:
            kw["viewBox"] = View(enableMenu=False)
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
        draws_nothing(p)
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
        else:
            data = widget_image(self, "svg" if low.endswith(".svg") else "png", scale,
                                self.title)
            with open(path, "wb") as f:
                f.write(data)


def widget_image(widget: QtWidgets.QWidget, fmt: str, scale: int = 1, title: str = "") -> bytes:
    """``widget`` drawn as ``fmt``: ``"png"`` (``scale`` times its size on screen, drawn at
    that resolution, not magnified) or ``"svg"`` (Qt's SVG painter: vector output, clipped to
    each plot, that never trips over NaN gaps in curves)."""
    buf = QtCore.QBuffer()
    buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    size = widget.size()
    if fmt == "svg":
        device = QtSvg.QSvgGenerator(QtSvg.QSvgGenerator.SvgVersion.Svg11)   # with clipping
        device.setOutputDevice(buf)
        device.setSize(size)
        device.setViewBox(QtCore.QRect(QtCore.QPoint(0, 0), size))
        device.setTitle(title or "Sequence Playground")
    else:
        device = QtGui.QImage(size.width() * scale, size.height() * scale,
                              QtGui.QImage.Format.Format_ARGB32)
        device.setDevicePixelRatio(scale)
        device.fill(QtGui.QColor("white"))
    painter = QtGui.QPainter(device)
    widget.render(painter, QtCore.QPoint(0, 0))
    painter.end()
    if fmt != "svg":
        device.save(buf, "PNG")
    return bytes(buf.data())
