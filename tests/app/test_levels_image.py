"""The heatmaps' fast image (:class:`ui.panels.items.LevelsImage`) paints exactly the pixels
pyqtgraph's own ImageItem paints for the same data, levels, colour map and view."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest

from ui.panels.base import GATE_CMAP, STATE_CMAP
from ui.panels.items import LevelsImage


def _pixels(qapp, cls, data, levels, cmap, size):
    w = pg.PlotWidget()
    w.resize(*size)
    item = cls(axisOrder="row-major")
    item.setColorMap(cmap)
    item.setAutoDownsample(True)
    w.addItem(item)
    item.setImage(data, levels=levels, autoLevels=False)
    w.show()
    qapp.processEvents()
    item.render()
    q = item.qimage.convertToFormat(item.qimage.Format.Format_RGB32)
    a = np.frombuffer(q.constBits(), np.uint8).reshape(q.height(), q.bytesPerLine())
    out = a[:, :q.width() * 4].reshape(q.height(), q.width(), 4).copy(), item._lastDownsample
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


def test_nans_and_other_images_take_pyqtgraphs_render(qapp):
    data = np.random.default_rng(1).standard_normal((50, 400)).astype(np.float32)
    data[3, 7] = np.nan
    ref, _ = _pixels(qapp, pg.ImageItem, data, (-1.0, 1.0), STATE_CMAP, (300, 200))
    got, _ = _pixels(qapp, LevelsImage, data, (-1.0, 1.0), STATE_CMAP, (300, 200))
    assert np.array_equal(got, ref)
    f64 = data.astype(np.float64)
    ref, _ = _pixels(qapp, pg.ImageItem, f64, (-1.0, 1.0), STATE_CMAP, (300, 200))
    got, _ = _pixels(qapp, LevelsImage, f64, (-1.0, 1.0), STATE_CMAP, (300, 200))
    assert np.array_equal(got, ref)
