"""Fast painting: the heatmaps' image (:class:`ui.panels.items.LevelsImage`) paints exactly
the pixels pyqtgraph's own ImageItem paints for the same data, levels, colour map and view;
bars paint what a polygon paints."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from ui.panels.base import GATE_CMAP, STATE_CMAP
from ui.panels.items import LevelsImage
from ui.testing import image_pixels


def _rendered(qapp, data, size=(300, 150), cls=LevelsImage, levels=(-1.0, 1.0),
              cmap=STATE_CMAP, into=None):
    """An image item ``cls`` of ``data`` (block-averaged, fixed ``levels``) rendered in a
    plot of ``size`` (or in the plot widget ``into``, beside what it shows: the same
    blocks): (item, plot widget); close the widget after."""
    w = into if into is not None else pg.PlotWidget()
    if into is None:
        w.resize(*size)
    item = cls(axisOrder="row-major")
    item.setColorMap(cmap)
    item.setAutoDownsample(True)
    w.addItem(item)
    item.setImage(data, levels=levels, autoLevels=False)
    w.show()
    qapp.processEvents()
    item.render()
    return item, w


def _pixels(qapp, cls, data, levels, cmap, size):
    item, w = _rendered(qapp, data, size, cls, levels, cmap)
    # as drawn: premultiplied (a transparent NaN pixel is (0, 0, 0, 0) whatever its colour)
    out = image_pixels(item.qimage, QtGui.QImage.Format.Format_ARGB32_Premultiplied), \
        item._lastDownsample
    w.close()
    w.deleteLater()
    return out


@pytest.mark.parametrize("shape, size, levels, cmap", [
    ((256, 1000), (400, 200), (-1.5, 1.5), STATE_CMAP),     # x blocks averaged
    ((2000, 40), (300, 150), (-1.0, 1.0), STATE_CMAP),      # y blocks averaged
    ((5000, 3000), (200, 120), (-2.0, 0.5), GATE_CMAP),     # both, more than 16 a block
    ((7, 13), (400, 300), (0.0, 1.0), GATE_CMAP),           # no averaging
    ((64, 300), (400, 200), (-3.0, -3.0), STATE_CMAP),      # equal levels
])
def test_same_pixels_as_pyqtgraph(qapp, shape, size, levels, cmap):
    data = np.random.default_rng(sum(shape)).standard_normal(shape).astype(np.float32)
    ref, ref_ds = _pixels(qapp, pg.ImageItem, data, levels, cmap, size)
    got, got_ds = _pixels(qapp, LevelsImage, data, levels, cmap, size)
    assert got_ds == ref_ds
    assert got.shape == ref.shape
    # a float32 sum in another order may move a value across a colour boundary
    assert np.mean(np.any(got != ref, axis=-1)) < 1e-3


@pytest.mark.parametrize("where", [(3, 7), (49, 399), (0, 0)])
def test_nans_and_other_images_take_pyqtgraphs_render(qapp, where):
    """A NaN inside a block, or in the last row or column (past the last whole block at
    this size), is found, and the image is pyqtgraph's render."""
    data = np.random.default_rng(1).standard_normal((50, 400)).astype(np.float32)
    data[where] = np.nan
    ref, _ = _pixels(qapp, pg.ImageItem, data, (-1.0, 1.0), STATE_CMAP, (300, 200))
    got, _ = _pixels(qapp, LevelsImage, data, (-1.0, 1.0), STATE_CMAP, (300, 200))
    assert np.array_equal(got, ref)
    f64 = data.astype(np.float64)
    ref, _ = _pixels(qapp, pg.ImageItem, f64, (-1.0, 1.0), STATE_CMAP, (300, 200))
    got, _ = _pixels(qapp, LevelsImage, f64, (-1.0, 1.0), STATE_CMAP, (300, 200))
    assert np.array_equal(got, ref)


@pytest.mark.parametrize("nan", [False, True])
def test_the_image_is_in_a_format_qt_draws_without_converting(qapp, nan):
    """Qt converts an indexed or straight-alpha image at every draw (each time the step
    line moves over it): the heatmap's image is 32-bit RGB, or premultiplied with NaNs."""
    data = np.random.default_rng(3).standard_normal((64, 500)).astype(np.float32)
    if nan:
        data[5, 5] = np.nan
    item, w = _rendered(qapp, data)
    F = QtGui.QImage.Format
    assert item.qimage.format() == (F.Format_ARGB32_Premultiplied if nan else F.Format_RGB32)
    w.close()
    w.deleteLater()


def _scene_pixels(qapp, items, x_range, y_range, size=(300, 120)):
    """The pixels a plot of ``size`` shows with ``items`` in it (and nothing else drawn)."""
    w = pg.PlotWidget()
    w.resize(*size)
    for ax in ("left", "bottom"):
        w.getPlotItem().hideAxis(ax)
    for it in items:
        w.addItem(it, ignoreBounds=True)
    w.setXRange(*x_range, padding=0)
    w.setYRange(*y_range, padding=0)
    w.show()
    qapp.processEvents()
    out = image_pixels(w.grab().toImage())
    w.close()
    w.deleteLater()
    return out


@pytest.mark.parametrize("n", [5, 64, 256, 1000])
def test_bars_paint_what_a_filled_polygon_paints(qapp, n):
    """The bars (rectangles, outline) cover the pixels Qt's own polygon item covers for the
    same outline, filled, and heights read back are the values (negative ones too)."""
    from ui.panels.bars import BarItem

    v = np.random.default_rng(n).standard_normal(n)
    v[n // 2] = np.nan                          # drawn as 0
    pen, brush = pg.mkPen("#1f77b4"), pg.mkBrush(106, 164, 205)
    item = BarItem(pen, brush)
    item.set_values(v)
    want = np.nan_to_num(v)
    np.testing.assert_array_equal(item.heights(), want)
    xs = np.repeat(np.arange(n + 1) - 0.5, 2)
    ys = np.concatenate([[0.0], np.repeat(want, 2), [0.0]])
    ref = QtWidgets.QGraphicsPolygonItem(QtGui.QPolygonF(
        [QtCore.QPointF(x, y) for x, y in zip(xs, ys)]))
    p0 = QtGui.QPen(pen)
    p0.setWidth(0)
    ref.setPen(p0)
    ref.setBrush(brush)
    rng = ((-0.5, n - 0.5), (float(want.min()) - 0.2, float(want.max()) + 0.2))
    got = _scene_pixels(qapp, [item], *rng)
    exp = _scene_pixels(qapp, [ref], *rng)
    white = np.array([255, 255, 255, 255], np.uint8)
    covered_got = np.any(got != white, axis=-1)
    covered_exp = np.any(exp != white, axis=-1)
    # the same pixels, but for rounding at bar edges
    assert np.mean(covered_got != covered_exp) < 0.01
    assert covered_got.mean() > 0.05


def test_placed_bars_and_their_bounds(qapp):
    from ui.panels.bars import BarItem

    item = BarItem(pg.mkPen("#333"), pg.mkBrush("#1f77b4"))
    item.set_values([0.5, -0.25, 1.0], x=[0.0, 2.0, 4.0], width=0.4)
    np.testing.assert_allclose(item.heights(), [0.5, -0.25, 1.0])
    r = item.boundingRect()
    assert (r.left(), r.right(), r.top(), r.bottom()) == pytest.approx((-0.2, 4.2, -0.25, 1.0))
    item.set_values([], x=[], width=0.4)
    assert item.boundingRect().isEmpty() and len(item.heights()) == 0
    item.set_values([1.0, 2.0], x=[0.0, 1.0], width=0.4)
    with pytest.raises(ValueError, match="3 bar positions for 2 values"):
        item.set_values([1.0, 2.0], x=[0.0, 1.0, 2.0], width=0.4)
    np.testing.assert_allclose(item.heights(), [1.0, 2.0])     # what it drew before


def test_opposite_infinities_in_one_block_are_no_nan(qapp):
    """+inf and -inf summed in one block give NaN: the image still has none, and takes
    the fast render (its colours as 32-bit pixels), as before."""
    data = np.random.default_rng(2).standard_normal((256, 3000)).astype(np.float32)
    data[10, 100], data[10, 101] = np.inf, -np.inf
    item, w = _rendered(qapp, data)
    assert item._imageHasNans is False
    assert item.qimage.format() == QtGui.QImage.Format.Format_RGB32
    w.close()
    w.deleteLater()


def _on_screen(qapp, widget) -> QtGui.QImage:
    """The pixels the window holds (its backing store), not a fresh render of it."""
    qapp.processEvents()
    return QtGui.QGuiApplication.primaryScreen().grabWindow(widget.winId()).toImage()


def _scrubber_at(qapp, value: int, moves=()) -> QtGui.QImage:
    from ui.widgets import Scrubber

    w = QtWidgets.QWidget()
    QtWidgets.QVBoxLayout(w).addWidget(s := Scrubber())
    s.setRange(0, 999)
    w.resize(800, 40)
    w.show()
    qapp.processEvents()
    for v in moves:
        s.setValue(v)
        qapp.processEvents()
    s.setValue(value)
    img = _on_screen(qapp, w)
    w.close()
    w.deleteLater()
    return img


@pytest.mark.parametrize("moves", [range(0, 500, 7), [900, 10, 600], [499]])
def test_scrubber_repainting_a_part_leaves_what_a_whole_repaint_shows(qapp, moves):
    """A new value repaints only the track between the old handle and the new one: after
    any walk of values the window holds the pixels of a slider painted whole at the last."""
    assert _scrubber_at(qapp, 500, moves) == _scrubber_at(qapp, 500)


@pytest.mark.parametrize("order", ["row-major", "col-major"])
def test_heatmap_bounds_are_pyqtgraphs(qapp, order):
    img = LevelsImage(axisOrder=order)
    assert img.boundingRect() == pg.ImageItem.boundingRect(img)      # no image yet
    for shape in ((3, 7), (1000, 256), (5, 5, 3)):
        img.setImage(np.zeros(shape, np.float32), levels=(0, 1))
        assert img.boundingRect() == pg.ImageItem.boundingRect(img), shape


class _Requests(QtCore.QObject):
    """Counts the update requests (repaint passes) a window gets."""

    n = 0

    def eventFilter(self, obj, ev) -> bool:
        if ev.type() == QtCore.QEvent.Type.UpdateRequest:
            self.n += 1
        return False


@pytest.mark.parametrize("floating", [False, True])
def test_a_step_repaints_the_window_once_and_leaves_a_whole_repaint(qapp, tmp_path, floating):
    """Every panel's plots change at a step; Qt would repaint the window once per changed
    plot view (qtfixes.one_repaint_for_scenes). One pass; and what the window then holds is
    what a repaint of the whole window shows, after steps forward, back and far; also with
    a panel in a floating dock, a window of its own."""
    from ui.testing import close_window, make_window

    win = make_window(tmp_path, "hello_rnn")
    try:
        win.resize(1500, 950)
        dock = win.docks["gradient"]
        if floating:
            dock.setFloating(True)
            dock.resize(500, 400)
            dock.show()
        assert win.seq_input.set_text("hello" * 8)
        win.panels["h"].setFocus()        # no text caret blinking in a grab
        for _ in range(5):
            qapp.processEvents()
        views = [v for p in win.panels.values() if p.isVisible()
                 for v in p.findChildren(QtWidgets.QGraphicsView) if v.isVisible()]
        assert len(views) >= 4
        count = _Requests()
        win.installEventFilter(count)
        passes = []
        n = win.timeline.n_steps
        assert n >= 30
        for t in (1, 2, 3, n - 1, n - 2, 0, n // 2):
            count.n = 0
            win.timeline.step = t
            qapp.processEvents()
            passes.append(count.n)
        win.removeEventFilter(count)
        assert passes == [1] * len(passes)
        held = _on_screen(qapp, win)
        win.update()                       # the whole window painted anew
        assert _on_screen(qapp, win) == held
    finally:
        close_window(win)


def test_scenes_changed_together_are_painted_in_one_pass(qapp):
    from ui import qtfixes

    w = QtWidgets.QWidget()
    lay = QtWidgets.QHBoxLayout(w)
    lines, views = [], []
    for _ in range(4):
        view = pg.GraphicsLayoutWidget()
        plot = view.addPlot()
        plot.plot([0, 1, 2], [0, 1, 0])
        line = pg.InfiniteLine(0.5)
        plot.addItem(line)
        lay.addWidget(view)
        lines.append(line)
        views.append(view)
    w.resize(800, 240)
    w.show()
    for _ in range(5):
        qapp.processEvents()
    count = _Requests()
    w.installEventFilter(count)
    try:
        for line in lines:
            line.setValue(1.5)
        qapp.processEvents()
        assert count.n == len(views)       # Qt alone: a pass per view
        count.n = 0
        for line in lines:
            line.setValue(0.25)
        qtfixes.one_repaint_for_scenes([v.scene() for v in views])
        qapp.processEvents()
        assert count.n == 1
    finally:
        w.removeEventFilter(count)
    held = _on_screen(qapp, w)
    w.update()
    assert _on_screen(qapp, w) == held
    w.close()
    w.deleteLater()


def _plot_of(qtbot, axis_cls, view_cls, size):
    """A plot with an image, a curve and a grid, its left and bottom axes ``axis_cls`` and
    its view box ``view_cls``: (widget, plot)."""
    w = pg.GraphicsLayoutWidget()
    qtbot.addWidget(w)
    axes = {"left": axis_cls("left"), "bottom": axis_cls("bottom")}
    p = w.addPlot(axisItems=axes, viewBox=view_cls(enableMenu=False), title="a plot")
    rng = np.random.default_rng(3)
    img = pg.ImageItem(rng.standard_normal((40, 12)).astype(np.float32))
    p.addItem(img)
    p.plot(np.linspace(0, 40, 200), 6 + 5 * np.sin(np.linspace(0, 9, 200)), pen="r")
    p.showGrid(x=True, y=True, alpha=0.3)
    p.setRange(xRange=(-2, 42), yRange=(-1, 13), padding=0)
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    return w, p


def test_axes_and_view_boxes_with_kept_bounds_paint_pyqtgraphs_pixels(qtbot):
    """Axis and View keep pyqtgraph's bounds as frame margins that Qt reads itself: a plot
    made of them paints what pyqtgraph's own axes and view box paint, after resizes, a new
    range and with the grid turned off."""
    from ui.panels.scales import Axis, View

    ours, op = _plot_of(qtbot, Axis, View, (360, 240))
    plain, pp = _plot_of(qtbot, pg.AxisItem, pg.ViewBox, (360, 240))

    def same():
        QtWidgets.QApplication.processEvents()
        assert ours.grab().toImage() == plain.grab().toImage()

    same()
    for size in ((520, 300), (250, 420)):
        ours.resize(*size)
        plain.resize(*size)
        same()
    for p in (op, pp):
        p.setRange(xRange=(10, 30), yRange=(2, 9), padding=0)
        p.showGrid(x=False, y=False)
    same()
    for p in (op, pp):          # the range follows the data, made current before a repaint
        p.enableAutoRange()
        p.plot(np.linspace(-30, 80, 50), np.linspace(-5, 25, 50), pen="b")
    same()
    assert op.vb.viewRange() == pp.vb.viewRange()


def test_a_repaint_asks_no_python_for_axis_or_view_bounds(qtbot):
    """Qt asks every item in a repainted region for its bounds: a panel's axes and view
    boxes answer in C++ (no Python function named boundingRect of theirs is called while
    the whole panel is drawn again)."""
    import sys

    from ui.panels.base import Panel
    from ui.panels.items import Heatmap

    panel = Panel()
    qtbot.addWidget(panel)
    hp = panel.add_plot(0, 0, "heat", "unit", "time step t")
    Heatmap(panel, hp, STATE_CMAP, (-1.0, 1.0)).set(np.zeros((8, 50), np.float32))
    panel.add_plot(1, 0, "bars", "value")
    panel.show_message("")                  # the plots shown, not a message
    panel.resize(400, 400)
    panel.show()
    qtbot.waitExposed(panel)
    asked = []

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_name in ("boundingRect", "shape"):
            owner = type(frame.f_locals.get("self"))
            asked.append((owner.__name__, frame.f_code.co_name))

    panel.grab()              # the first drawing indexes the items (asks each once)
    sys.setprofile(profile)
    try:
        panel.grab()
    finally:
        sys.setprofile(None)
    plots = [type(p.getAxis(n)).__name__ for p in panel.plots for n in ("left", "bottom")]
    assert plots and set(plots) <= {"Axis", "StepAxis"}
    bad = {a for a in asked if a[0] in {"Axis", "StepAxis", "AxisItem", "ColorBarItem"}
           or (a[0] in {"View", "ViewBox"} and a[1] == "boundingRect")}
    assert len(asked) > 0 and bad == set(), bad   # (the heatmap's image is asked)


def _set_point_size(widget, size: float) -> None:
    f = widget.font()
    f.setPointSizeF(size)
    widget.setFont(f)


def _text_widget(qtbot, widget, size, text, point_size=None):
    """``widget`` (a caption or rich lines) of ``size`` showing ``text``, in ``point_size``
    where given."""
    qtbot.addWidget(widget)
    if point_size:
        _set_point_size(widget, point_size)
    widget.resize(*size)
    widget.setText(text)
    return widget


def test_live_text_cut_to_its_width_matches_a_fresh_one(qtbot):
    """A caption keeps the text it cut to its width between repaints: after a new text, a
    resize and a new font it paints what a fresh caption in the same state paints (the
    whole text where it fits, cut with an ellipsis where not)."""
    from ui.widgets import LiveText

    def made(text, width, point_size=None):
        return _text_widget(qtbot, LiveText(), (width, 24), text, point_size)

    long = "LSTM, unit 3, step t = 120: the forget gate keeps most of the cell state"
    w = made("short", 160)
    states = [("short", 160, None), (long, 160, None), (long, 600, None), ("t = 7", 600, None),
              (long, 300, None), (long, 300, 15.0)]
    for text, width, size in states:
        w.setText(text)
        w.resize(width, 24)
        if size:
            _set_point_size(w, size)
        got = w.grab().toImage()
        want = made(text, width, size).grab().toImage()
        assert got == want, (text, width, size)
    cut = QtGui.QFontMetrics(w.font()).elidedText(long, QtCore.Qt.TextElideMode.ElideRight,
                                                  296)
    assert cut.endswith("…") and cut != long         # the last state is a cut one


def test_points_keep_pyqtgraphs_scatter_bounds_through_changes(qtbot):
    """The trajectory's points keep their bounds between changes: still what pyqtgraph's
    scatter plot measures after new points, a new range, a resize and bigger spots."""
    from ui.panels.items import Points

    w = pg.PlotWidget()
    qtbot.addWidget(w)
    pts = Points(size=7, pen=pg.mkPen(None))
    w.addItem(pts)
    rng = np.random.default_rng(5)
    pts.setData(x=rng.normal(size=50), y=rng.normal(size=50))
    w.resize(300, 200)
    w.show()
    qtbot.waitExposed(w)

    def check():
        QtWidgets.QApplication.processEvents()
        w.grab()
        assert pts.boundingRect() == pg.ScatterPlotItem.boundingRect(pts)

    check()
    pts.setData(x=rng.normal(size=80) * 5 + 3, y=rng.normal(size=80) * 0.1)
    check()
    w.setRange(xRange=(-20, 20), yRange=(-1, 1), padding=0)
    check()
    w.resize(500, 420)
    check()
    pts.setSize(15)
    check()
    pts.clear()
    check()


def test_view_boxes_of_a_scene_are_made_ready_after_moves_and_deletions(qtbot):
    """A scene's view boxes are made ready before its repaints from one list: a plot moved
    to another view leaves it (and joins the other's), and a deleted plot does not keep the
    others from being made ready (their ranges are applied before they are drawn)."""
    import shiboken6

    from ui.panels.scales import View

    def plot_in(w):
        p = w.addPlot(viewBox=View(enableMenu=False))
        p.plot([0.0, 10.0], [0.0, 1.0])
        return p

    a, b = pg.GraphicsLayoutWidget(), pg.GraphicsLayoutWidget()
    for w in (a, b):
        qtbot.addWidget(w)
        w.resize(300, 200)
        w.show()
    p1, p2, moved = plot_in(a), plot_in(a), plot_in(a)
    qtbot.waitExposed(a)
    a.grab()
    a.removeItem(moved)
    b.addItem(moved)
    in_a = [r() for r in a.scene()._plot_views]
    assert p1.vb in in_a and p2.vb in in_a and moved.vb not in in_a
    assert [r() for r in b.scene()._plot_views] == [moved.vb]
    p1.vb.setRange(xRange=(0, 5), padding=0)    # waiting to be made ready, then
    shiboken6.delete(p1)                 # gone in C++ (its wrapper kept by this test)
    p2.vb.setRange(xRange=(3, 9), padding=0)
    moved.vb.setRange(xRange=(1, 2), padding=0)
    a.grab()
    b.grab()
    assert not p2.vb._matrixNeedsUpdate and not moved.vb._matrixNeedsUpdate
    assert p2.vb.viewRange()[0] == [3, 9]
    # the matrix applied: x = 3 at the view's left edge, 9 at its right
    left = p2.vb.mapViewToScene(QtCore.QPointF(3.0, 0.0)).x()
    assert abs(left - p2.vb.sceneBoundingRect().left()) < 1.0


def test_rich_lines_in_a_new_font_paint_what_a_fresh_widget_paints(qtbot):
    """A font set after text was shown: the formula pieces, widths and plans are made again
    in it (a fresh widget in that font is the reference)."""
    from ui.rich_lines import RichLines

    text = ("<p>f<sub>t</sub> = σ(<b>0.1234</b>) = <b style='color:#1f4e9c'>-0.5078</b> and "
            "a tail that wraps 0.2500 · 0.7500</p><p>h = 0.9000</p>")

    def made(point_size=None):
        return _text_widget(qtbot, RichLines(), (260, 200), text, point_size)

    w = made()
    w.grab()
    _set_point_size(w, 15.0)
    assert w.grab().toImage() == made(15.0).grab().toImage()


def test_a_row_line_paints_what_pyqtgraphs_horizontal_line_paints(qtbot):
    """The connectivity's row marker (a C++ StepLine along y) replaced pyqtgraph's
    InfiniteLine(angle=0): the same pixels at several rows and after a new range."""
    from ui.panels.base import StepLine

    def made(ours):
        w = pg.GraphicsLayoutWidget()
        qtbot.addWidget(w)
        w.resize(300, 300)
        p = w.addPlot()
        p.setRange(xRange=(0, 1000), yRange=(0, 1000), padding=0)
        pen = pg.mkPen("#d62728", width=1)
        if ours:
            line = StepLine(p, 250.0, pen=pen, axis="y")
        else:
            line = pg.InfiniteLine(250.0, angle=0, pen=pen)
            p.addItem(line, ignoreBounds=True)
        w.show()
        qtbot.waitExposed(w)
        return w, p, line

    (a, pa, la), (b, pb, lb) = made(True), made(False)
    for value, rng in ((250.0, None), (333.3, None), (717.5, (600.0, 800.0))):
        if rng:
            pa.setYRange(*rng, padding=0)
            pb.setYRange(*rng, padding=0)
        la.setValue(value)
        lb.setValue(value)
        QtWidgets.QApplication.processEvents()
        assert a.grab().toImage() == b.grab().toImage(), value


def _image_bytes(item):
    q = item.qimage
    return bytes(q.constBits())[:q.sizeInBytes()], (q.width(), q.height())


@pytest.mark.parametrize("kept", [0, 37, 200, 999, 1000])
def test_kept_columns_give_the_pixels_of_a_fresh_render(qapp, kept):
    """A map that repeats the first steps of the one drawn before (a trace that reused its
    base) keeps their block sums: its pixels are those of a fresh image item, exactly, also
    when two maps are set before one is drawn. Claiming more than is repeated shows the
    old columns (so the sums are really kept)."""
    rng = np.random.default_rng(kept)
    old = rng.standard_normal((64, 1000)).astype(np.float32)
    new = old.copy()
    new[:, kept:] = rng.standard_normal((64, 1000 - kept)).astype(np.float32)
    item, w = _rendered(qapp, old, (400, 200))
    fresh = _rendered(qapp, new, into=w)[0]          # in the same view: the same blocks
    assert item._lastDownsample == fresh._lastDownsample and item._lastDownsample[0] > 1
    item.keep_columns(kept)
    item.setImage(new, levels=(-1.0, 1.0), autoLevels=False)
    item.render()
    assert _image_bytes(item) == _image_bytes(fresh)
    # two maps set before a draw: the last repeats the first steps of the one set before
    # it, which repeats the drawn one's first 500
    mid = old.copy()
    mid[:, 500:] += 1.0
    after = mid.copy()
    after[:, kept:] = rng.standard_normal((64, 1000 - kept)).astype(np.float32)
    item.keep_columns(1000)
    item.setImage(old, levels=(-1.0, 1.0), autoLevels=False)
    item.render()
    item.keep_columns(500)
    item.setImage(mid, levels=(-1.0, 1.0), autoLevels=False)
    item.keep_columns(kept)
    item.setImage(after, levels=(-1.0, 1.0), autoLevels=False)
    item.render()
    fresh.setImage(after, levels=(-1.0, 1.0), autoLevels=False)
    fresh.render()
    assert _image_bytes(item) == _image_bytes(fresh)
    fresh.setImage(new, levels=(-1.0, 1.0), autoLevels=False)
    fresh.render()
    if kept < 990:                           # a false claim keeps old columns
        item.setImage(old, levels=(-1.0, 1.0), autoLevels=False)
        item.render()
        item.keep_columns(1000)
        item.setImage(new, levels=(-1.0, 1.0), autoLevels=False)
        item.render()
        assert _image_bytes(item) != _image_bytes(fresh)
    w.close()
    w.deleteLater()


def test_kept_columns_with_new_levels_or_no_blocks_are_drawn_afresh(qapp):
    """Kept columns are copied only when drawn with the same blocks, levels and colours:
    new levels colour the whole map again; a map of one pixel per value (no blocks)
    copies its kept columns and never writes into the (read-only) record."""
    rng = np.random.default_rng(5)
    old = rng.standard_normal((64, 1000)).astype(np.float32)
    new = old.copy()
    new[:, 600:] = 0.5
    item, w = _rendered(qapp, old, (400, 200))
    ref = _rendered(qapp, new, levels=(-3.0, 2.0), into=w)[0]
    assert ref._lastDownsample == item._lastDownsample
    item.keep_columns(600)
    item.setImage(new, levels=(-3.0, 2.0), autoLevels=False)
    item.render()
    assert _image_bytes(item) == _image_bytes(ref)
    small = rng.standard_normal((7, 13)).astype(np.float32)
    small.flags.writeable = False
    item2, w2 = _rendered(qapp, small, (400, 300))
    assert item2._lastDownsample == (1, 1)
    changed = small.copy()
    changed[:, 9:] = -0.25
    changed.flags.writeable = False
    item2.keep_columns(9)
    item2.setImage(changed, levels=(-1.0, 1.0), autoLevels=False)
    item2.render()
    ref2 = _rendered(qapp, changed, into=w2)[0]
    assert _image_bytes(item2) == _image_bytes(ref2)
    for x in (w, w2):
        x.close()
        x.deleteLater()


@pytest.mark.parametrize("sx, sy", [(0.37, 0.2), (0.5, 1 / 3), (1.0, 7.0), (2.5, 0.2),
                                    (3.0000001, 1.0), (9.0, 3.0)])
def test_downsample_factors_are_pyqtgraphs(qapp, sx, sy):
    """The map's blocks of pixels (looked up with one device transform) are the ones
    pyqtgraph's own ImageItem picks for the same view, at many scales."""
    w = pg.PlotWidget()
    w.resize(400, 200)
    mine, ref = LevelsImage(axisOrder="row-major"), pg.ImageItem(axisOrder="row-major")
    for it in (mine, ref):
        w.addItem(it)
        it.setImage(np.zeros((256, 1000), np.float32))
    w.getPlotItem().vb.setRange(xRange=(0, 1000 * sx), yRange=(0, 256 * sy), padding=0)
    w.show()
    qapp.processEvents()
    assert mine._computeDownsampleFactors() == ref._computeDownsampleFactors()
    assert mine._computeDownsampleFactors() != (1, 1) or sx <= 1.0
    w.close()
    w.deleteLater()
