"""The panels' curves (:class:`ui.panels.curves.Curve`) against pyqtgraph's own curve items:
the same pixels for the same points, pen and view (gaps at NaN and infinity, and at values
not above 0 on a log axis), peak downsampling that covers what every point covers, the
pen one pixel wide on a dense curve, dots on a lone point, bounds the plot's auto range
takes."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest

from ui.panels.curves import DENSE_POINTS, Curve
from ui.testing import image_pixels

WHITE = np.array([255, 255, 255, 255], np.uint8)


def _plot(size=(300, 120), log=False):
    w = pg.PlotWidget(background="w")
    w.resize(*size)
    p = w.getPlotItem()
    for ax in ("left", "bottom"):
        p.hideAxis(ax)
    if log:
        p.setLogMode(y=True)
    return w, p


def _covered(qapp, w, x_range, y_range):
    """The pixels of ``w`` drawn over (not white), with the view showing exactly the
    ranges given."""
    w.setXRange(*x_range, padding=0)
    w.setYRange(*y_range, padding=0)
    w.show()
    qapp.processEvents()
    return np.any(image_pixels(w.grab().toImage()) != WHITE, axis=-1)


def _reference(qapp, x, y, pen, ranges, log=False, size=(300, 120)):
    w, p = _plot(size, log)
    p.addItem(pg.PlotDataItem(x, y, pen=pen, connect="finite"))
    out = _covered(qapp, w, *ranges)
    w.close()
    w.deleteLater()
    return out


def _drawn(qapp, x, y, pen, ranges, log=False, size=(300, 120), **kw):
    w, p = _plot(size, log)
    c = Curve(p, pen, **kw)
    c.set(x, y)
    out = _covered(qapp, w, *ranges)
    return out, c, w


def _gappy(n, rng, log):
    y = np.exp(rng.normal(0, 0.2, n).cumsum()) if log else rng.normal(0, 1, n).cumsum()
    y[n // 3] = np.nan
    y[n // 2: n // 2 + 3] = np.inf
    if log:
        y[2 * n // 3] = 0.0         # no point on a log axis
        y[2 * n // 3 + 5] = -1.0
    return y


@pytest.mark.parametrize("n, width, log", [(50, 2, False), (300, 2, True), (1000, 1, False),
                                           (1000, 2, True)])
def test_a_curve_paints_what_pyqtgraphs_curve_paints(qapp, n, width, log):
    rng = np.random.default_rng(n + width)
    x = np.arange(n, dtype=np.float64)
    y = _gappy(n, rng, log)
    pen = pg.mkPen("#1f77b4", width=width)
    # pyqtgraph's with the pen Curve draws: one pixel wide above DENSE_POINTS points
    ref_pen = pg.mkPen("#1f77b4", width=1 if n > DENSE_POINTS else width)
    fin = np.isfinite(y) & (y > 0 if log else True)
    shown = np.log10(y[fin]) if log else y[fin]
    ranges = ((-1, n), (float(shown.min()) - 0.1, float(shown.max()) + 0.1))
    got, c, w = _drawn(qapp, x, y, pen, ranges, log)
    exp = _reference(qapp, x, y, ref_pen, ranges, log)
    assert c.line_pen().widthF() == ref_pen.widthF()
    assert exp.mean() > 0.005
    # the same pixels, but for a few where a polyline and a path round apart
    assert np.mean(got != exp) < 0.002
    dx, dy = c.getData()
    np.testing.assert_array_equal(dx, x)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_array_equal(dy, np.log10(np.where(y > 0, y, np.nan)) if log else y)
    w.close()


def test_a_long_curve_is_drawn_as_its_peaks_and_in_full_when_zoomed_in(qapp):
    n = 200_000
    rng = np.random.default_rng(3)
    x = np.arange(n, dtype=np.float64)
    y = rng.normal(0, 1, n).cumsum()
    y[120_000:126_000] = np.nan                    # a gap of nine pixels
    pen = pg.mkPen("k", width=1)
    lo, hi = float(np.nanmin(y)) - 1, float(np.nanmax(y)) + 1
    got, c, w = _drawn(qapp, x, y, pen, ((0, n), (lo, hi)))
    exp = _reference(qapp, x, y, pen, ((0, n), (lo, hi)))
    assert c.drawn_points < n / 20                 # four points a pixel, not 200,000
    assert np.mean(got & ~exp) < 1e-4              # nothing drawn that the points do not draw
    assert np.mean(exp & ~got) < 0.006             # and all they draw but a few ends of spans
    # each pixel column spans the rows all points span, within a pixel's rounding
    rows = np.arange(got.shape[0])[:, None]
    cols = exp.any(axis=0)
    assert (got.any(axis=0) == cols).all() and not cols[181:187].any()   # the gap is a gap
    tops = [np.where(m, rows, 10**6).min(0)[cols] for m in (got, exp)]
    bottoms = [np.where(m, rows, -1).max(0)[cols] for m in (got, exp)]
    for a, b in (tops, bottoms):
        assert np.mean(np.abs(a - b) <= 1) > 0.97 and np.abs(a - b).max() <= 6
    # zoomed in: every point there, and pyqtgraph's pixels
    zoom = ((1000.0, 1300.0), (float(y[1000:1300].min()) - 1, float(y[1000:1300].max()) + 1))
    got = _covered(qapp, w, *zoom)
    assert 300 <= c.drawn_points < 400        # the points in view, and no more
    exp = _reference(qapp, x, y, pen, zoom)
    assert np.mean(got != exp) < 0.002
    w.close()


def test_a_lone_point_is_a_dot_and_a_line_is_none(qapp):
    w, p = _plot()
    c = Curve(p, pg.mkPen("#1f77b4", width=2), symbols=3, symbol_size=6)
    y = np.full(20, np.nan)
    y[19] = 2.0
    c.set(np.arange(20.0), y)
    shown = [d for d in c.childItems() if d.isVisible()]
    assert len(shown) == 1 and (shown[0].pos().x(), shown[0].pos().y()) == (19.0, 2.0)
    assert c.drawn_lines == 0
    got = _covered(qapp, w, (-1, 21), (0, 4))
    assert got.sum() > 10                           # the dot is on screen
    c.set(np.arange(20.0), np.linspace(0, 1, 20))
    assert not any(d.isVisible() for d in c.childItems()) and c.drawn_lines == 1
    w.close()


def test_the_same_data_again_redraws_nothing_and_nothing_clears(qapp):
    w, p = _plot()
    c = Curve(p, pg.mkPen("k"))
    calls = []
    real = c._rebuild
    c._rebuild = lambda: (calls.append(1), real())
    x, y = np.arange(10.0), np.arange(10.0) ** 2
    c.set(x, y)
    c.set(x.copy(), y.copy())
    assert len(calls) == 1
    y2 = y.copy()
    y2[4] = np.nan
    c.set(x, y2)
    c.set(x, y2.copy())                              # NaN equals NaN here
    assert len(calls) == 2
    c.set([], None)
    assert len(calls) == 3 and len(c.getData()[0]) == 0 and c.rect().isEmpty()
    c.set([], None)
    assert len(calls) == 3
    with pytest.raises(ValueError, match="3 x values and 2 y values"):
        c.set(np.arange(3.0), np.arange(2.0))
    w.close()


def test_the_plots_auto_range_shows_the_curve(qapp):
    w, p = _plot(log=True)
    c = Curve(p, pg.mkPen("k"))
    y = 10.0 ** np.linspace(-30, 2, 50)
    c.set(np.arange(50.0), y)
    p.setXRange(0, 1)
    p.setYRange(5, 6)
    w.show()
    qapp.processEvents()
    p.autoRange()
    (x0, x1), (y0, y1) = p.vb.viewRange()
    assert x0 <= 0 and x1 >= 49 and y0 <= -30 and y1 >= 2
    assert y0 > -35 and y1 < 6                       # the data's bounds, padded
    w.close()
