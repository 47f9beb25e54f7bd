"""Workarounds for Qt itself, in one place: each says the Qt version it was seen with and
names the test that checks it (``tests/app/``). Nothing else in ``ui/`` patches Qt."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

if TYPE_CHECKING:   # the window paints before pyqtgraph is loaded (ui.app)
    import pyqtgraph as pg


def serial_raster_fills() -> None:
    """Keep Qt's raster fills on the GUI thread (``QT_NO_GUI_THREADPOOL``), unless the user
    set the variable.

    Qt 6.8-6.11: every fill of 96 or more scanlines goes to a thread pool, and Qt waits for
    it; for panel-sized shapes (a bar, a step marker's strip) the hand-off costs more than
    the fill (``bench.step_latency``: 12.6-13.3 ms per step with the pool, 7.1-8.4 ms
    without). Qt reads it once, at the first fill: call before painting. Test:
    ``test_defects.py::test_raster_fills_stay_on_the_gui_thread_unless_the_user_says_otherwise``."""
    os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")


def clear_clipboard() -> None:
    """Empty the clipboard if this app owns it (connect to ``aboutToQuit``).

    PySide6 6.8-6.11, offscreen and xcb: nodes copied on the canvas live in the clipboard as
    Python-made QMimeData, and the exit crashes tearing it down after Python is gone. Test:
    ``test_canvas.py::test_copied_nodes_leave_the_clipboard_on_quit``."""
    app = QtWidgets.QApplication.instance()
    if app is None:
        return
    cb = app.clipboard()
    mime = cb.mimeData()
    if cb.ownsClipboard() or (mime is not None and any(
            f.startswith("application/x-sequence-playground") for f in mime.formats())):
        cb.clear()


def hide_stray_tab_bars(window: QtWidgets.QMainWindow, docks) -> None:
    """Move the dock tab bars that lie over a dock out of sight.

    Qt 6.11: a main window keeps a copy of a group's tab bar once another group has been
    tabified, and lays it out at a stale place: drawn over whatever dock is there (the
    sequence input, in the default layout) and repainted with it. A bar in use sits against
    its docks, never over one. Moved, not hidden: Qt shows a hidden one again at its next
    layout, and a hide asks for that layout. Call after each layout of the window. Test:
    ``test_ui_app.py::test_no_stray_tab_bar_over_the_docks``."""
    if not window.isVisible():
        return
    rects = [d.geometry() for d in docks if d.isVisible() and not d.isFloating()]
    only = QtCore.Qt.FindChildOption.FindDirectChildrenOnly
    for bar in window.findChildren(QtWidgets.QTabBar, options=only):
        g = bar.geometry()
        if not bar.isHidden() and any(g.intersects(r) for r in rects):
            bar.move(-g.width() - 10_000, -g.height() - 10_000)


class _HeldUpdates(QtCore.QObject):
    """An event filter that keeps a window's update requests back (and notes the window)."""

    def __init__(self):
        super().__init__()
        self.windows: list = []

    def eventFilter(self, obj, ev) -> bool:
        if ev.type() == _UPDATE_REQUEST:
            if obj not in self.windows:
                self.windows.append(obj)
            return True
        return False


_HELD: _HeldUpdates | None = None
_META_CALL = QtCore.QEvent.Type.MetaCall.value
_UPDATE_REQUEST = QtCore.QEvent.Type.UpdateRequest
_LOW = QtCore.Qt.EventPriority.LowEventPriority.value


def one_repaint_for_scenes(scenes) -> None:
    """Let the graphics scenes that changed put their changes on screen in one repaint of
    their windows, not one repaint each.

    Qt 6.8-6.11: a scene hands its changed items to its views from a queued call, and then
    delivers the window's pending update request at once
    (``QGraphicsViewPrivate::dispatchPendingUpdateRequests``, "should we really do this?").
    A step that moved the marker in nine panels so repainted the window nine times, each
    with its fixed cost (the backing store set up and flushed). Here each scene's queued call
    is made now, with the windows' update requests held, and one request is posted to each
    window that asked; it repaints everything that is dirty. Test:
    ``test_fast_paint.py::test_a_step_repaints_the_window_once_and_leaves_a_whole_repaint``."""
    global _HELD
    if _HELD is None:
        _HELD = _HeldUpdates()
    held = _HELD
    windows = []
    for scene in scenes:
        for view in scene.views():
            w = view.window()
            if w not in windows:
                windows.append(w)
    for w in windows:
        w.installEventFilter(held)
    try:
        for scene in scenes:
            QtCore.QCoreApplication.sendPostedEvents(scene, _META_CALL)
    finally:
        for w in windows:
            w.removeEventFilter(held)
        asked, held.windows = held.windows, []
        for w in asked:
            QtCore.QCoreApplication.postEvent(w, QtCore.QEvent(_UPDATE_REQUEST), _LOW)


def refit_plots(view: pg.GraphicsLayoutWidget) -> None:
    """Fit a pyqtgraph view's grid of plots to the view's size again.

    pyqtgraph 0.13 with Qt 6.8-6.11: a view resized while its plots change from hidden to
    shown keeps the grid at the size the hidden rows allowed, smaller than the view: the
    gate heatmaps of an LSTM opened after an RNN (whose panel showed a message, not plots)
    were squashed to zero height. Applying the view's geometry again once the rows are
    shown fixes it; it costs nothing when the size is right. Test:
    ``test_workflow.py::test_opening_every_preset_in_one_window_equals_a_fresh_window``."""
    if view.isVisible():
        view.ci.layout.invalidate()   # the minimum sizes new titles and axes ask for,
        view.ci.layout.activate()     # now rather than at the next layout pass
        view.resizeEvent(None)
        view.viewport().update()      # items the refit moved leave no trail on screen


def fast_image_downsampling() -> None:
    """Average an image's blocks of pixels (``ImageItem(autoDownsample=True)``) by adding
    strided slices, not with numpy's ``mean`` over a short inner axis.

    pyqtgraph 0.13-0.14: a gate heatmap of 1000 steps x 256 units drawn ~330 pixels wide
    spends 1.2 ms of its 1.7 ms redraw in ``mean`` over blocks of 3 (numpy reduces each
    block of 3 separately); the sum of 3 slices takes 0.12 ms. The same values up to float
    rounding; blocks of more than 16 (where ``mean`` is fast) and NaN-omitting or integer
    images keep pyqtgraph's code. Test:
    ``test_ui_panels.py::test_fast_image_downsampling_averages_like_pyqtgraph``."""
    import numpy as np
    import pyqtgraph.functions as fn

    plain = getattr(fn.downsample, "plain", fn.downsample)

    def downsample(data, n, axis=0, xvals="subsample", *, nanPolicy="propagate"):
        if hasattr(axis, "__len__") or not 1 < n <= 16 or nanPolicy != "propagate" or \
                getattr(data, "dtype", None) not in (np.float32, np.float64):
            return plain(data, n, axis, xvals, nanPolicy=nanPolicy)
        blocks = data.shape[axis] // n
        sl = [slice(None)] * data.ndim
        sl[axis] = slice(0, blocks * n, n)
        out = np.array(data[tuple(sl)], copy=True)
        for j in range(1, n):
            sl[axis] = slice(j, blocks * n, n)
            out += data[tuple(sl)]
        out *= out.dtype.type(1.0 / n)
        return out

    downsample.plain = plain
    fn.downsample = downsample
