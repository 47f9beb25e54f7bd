"""The panels' look: pyqtgraph's options, colour maps and pens, number format."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore

from ..qtfixes import fast_image_downsampling

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False, background="w",
                    foreground="#222")
fast_image_downsampling()

STATE_CMAP = pg.colormap.get("CET-D1")      # diverging, for tanh states and gradients
GATE_CMAP = pg.colormap.get("viridis")      # sequential, for gates in [0, 1]
STEP_PEN = pg.mkPen("#d62728", width=2)
CUT_PEN = pg.mkPen("#ff7f0e", width=1, style=QtCore.Qt.PenStyle.DashLine)
BAR_PEN = pg.mkPen("#1f77b4", width=1)
# opaque (the earlier (31, 119, 180, 170) over the white ground): Qt fills translucent
# rectangles a few pixels wide through its general rasterizer, 2.6 ms for 256 bars across
# 500 pixels against 0.05 ms opaque
BAR_BRUSH = pg.mkBrush(106, 164, 205)
GHOST_PEN = pg.mkPen(120, 120, 120, 150, width=1, style=QtCore.Qt.PenStyle.DashLine)
CURVE_PEN = pg.mkPen("#1f77b4", width=2)
# what a lesson step points at (Panel.mark): a colour no colour map and no curve uses
MARK_PEN = pg.mkPen("#d500f9", width=2)
MARK_FRAME_PEN = pg.mkPen("#d500f9", width=3)
MARK_BRUSH = pg.mkBrush(213, 0, 249, 40)
TIME_AXIS = "time step t"   # a bottom axis of time steps: add_plot lists its plot for mark()


def fmt(v: float) -> str:
    return f"{v:.4g}"
