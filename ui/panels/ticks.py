"""pyqtgraph's axis plan (``AxisItem.tickValues`` and ``generateDrawSpecs``), with the same
result made with less Python.

An axis re-plans whenever its range changes: each time a sequence grows past its time axis,
a colour bar gets new levels, a plot a new y range. pyqtgraph 0.14 took ~1 ms a plan on
this kind of machine, most of it in three places: ``numpy.isclose`` to drop the ticks of a
finer level that a coarser one already has (~0.07 ms a level), a ``pg.Point`` made from a
list for each end of each tick (~3 us each, ~110 of them on a 500-pixel time axis), and a
text measurement through the painter for each label. Here the same tests are an absolute
difference (``isclose`` with ``rtol=0`` is exactly that for finite values), the ends are
``QPointF``s with the same coordinates, and a label's size is measured once per font,
device resolution and text. Every float is computed by the same expression in the same
order, so the plan is equal to pyqtgraph's, value for value
(``tests/app/test_fast_paint.py::test_axis_plan_equals_pyqtgraphs``). What this does not
cover (a fixed tick alpha, an axis stopped at its last tick, a range that is not finite)
is pyqtgraph's own code.
"""

from __future__ import annotations

from math import ceil, hypot

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

_AF = QtCore.Qt.AlignmentFlag
_DONT_CLIP = QtCore.Qt.TextFlag.TextDontClip
_SOLID = QtCore.Qt.BrushStyle.SolidPattern
_MEASURE = QtCore.QRectF(0, 0, 100, 100)
_CENTER = _AF.AlignCenter
# orientation -> (which axis the ticks step along, span offsets, tick direction, text flags)
_SIDES = {
    "left": (0, (-1.0, -1.0), (-1.0, 1.0), -1, _AF.AlignRight | _AF.AlignVCenter | _DONT_CLIP),
    "right": (0, (1.0, -1.0), (1.0, 1.0), 1, _AF.AlignLeft | _AF.AlignVCenter | _DONT_CLIP),
    "top": (1, (-1.0, -1.0), (1.0, -1.0), -1, _AF.AlignHCenter | _AF.AlignBottom | _DONT_CLIP),
    "bottom": (1, (-1.0, 1.0), (1.0, 1.0), 1, _AF.AlignHCenter | _AF.AlignTop | _DONT_CLIP),
}
_sizes: dict[tuple, tuple[float, float]] = {}     # (dpi x, dpi y, font, text) -> (w, h)


def tick_values(axis: pg.AxisItem, minVal: float, maxVal: float, size: float):  # noqa: N803
    """``pg.AxisItem.tickValues``: the same levels and values."""
    if not (np.isfinite(minVal) and np.isfinite(maxVal)):
        return pg.AxisItem.tickValues(axis, minVal, maxVal, size)
    minVal, maxVal = sorted((minVal, maxVal))
    scale = axis.scale
    minVal *= scale
    maxVal *= scale
    ticks = []
    seen = None
    for spacing, offset in axis.tickSpacing(minVal, maxVal, size):
        start = (ceil((minVal - offset) / spacing) * spacing) + offset
        num = int((maxVal - start) / spacing) + 1
        values = (np.arange(num) * spacing + start) / scale
        if seen is not None and len(seen) and len(values):
            # isclose(seen, values[:, None], rtol=0, atol): |seen - v| <= atol
            close = (np.abs(seen - values[:, np.newaxis]) <= spacing / scale * 0.01).any(-1)
            values = values[~close]
        seen = values if seen is None else np.concatenate([seen, values])
        ticks.append((spacing / scale, values.tolist()))
    if axis.logMode:
        return axis.logTickValues(minVal, maxVal, size, ticks)
    return ticks


def _text_size(p: QtGui.QPainter, where: tuple, s: str) -> tuple[float, float]:
    """pyqtgraph's measure of a label: the painter's bounding rect, 80% of its height
    (``where``: the device's resolution and the font)."""
    key = (*where, s)
    size = _sizes.get(key)
    if size is None:
        br = p.boundingRect(_MEASURE, _CENTER, s)
        br.setHeight(br.height() * 0.8)
        if len(_sizes) > 4096:
            _sizes.clear()
        size = _sizes[key] = (br.width(), br.height())
    return size


def draw_specs(axis: pg.AxisItem, p: QtGui.QPainter):
    """``pg.AxisItem.generateDrawSpecs``: the same axis line, ticks and labels."""
    style = axis.style
    side = _SIDES.get(axis.orientation)
    rng = axis.range
    if (side is None or style["tickAlpha"] is not None or style["stopAxisAtTick"][0] is True
            or style["stopAxisAtTick"][1] is True
            or not (np.isfinite(rng[0]) and np.isfinite(rng[1]))):
        specs = pg.AxisItem.generateDrawSpecs(axis, p)
        if specs is None:
            return None
        return specs[0], specs[1], apart(specs[2], 0 if axis.orientation in ("left", "right")
                                         else 1)
    if style["tickFont"] is not None:
        p.setFont(style["tickFont"])
    ax, off0, off1, tick_dir, text_flags = side
    bounds = axis.mapRectFromParent(axis.geometry())
    view = axis.linkedView()
    grid = axis.grid
    tb = bounds if view is None or grid is False else view.mapRectToItem(axis, view.boundingRect())
    o = axis.orientation
    if o == "left":
        a, b = bounds.topRight(), bounds.bottomRight()
        tick_start, tick_stop = tb.right(), bounds.right()
    elif o == "right":
        a, b = bounds.topLeft(), bounds.bottomLeft()
        tick_start, tick_stop = tb.left(), bounds.left()
    elif o == "top":
        a, b = bounds.bottomLeft(), bounds.bottomRight()
        tick_start, tick_stop = tb.bottom(), bounds.bottom()
    else:
        a, b = bounds.topLeft(), bounds.topRight()
        tick_start, tick_stop = tb.top(), bounds.top()
    span = (QtCore.QPointF(a.x() + off0[0], a.y() + off0[1]),
            QtCore.QPointF(b.x() + off1[0], b.y() + off1[1]))
    d0, d1 = axis.mapToDevice(span[0]), axis.mapToDevice(span[1])
    if d0 is None or d1 is None:
        return None
    length = hypot(d1.x() - d0.x(), d1.y() - d0.y())        # as pg.Point.length
    if length == 0:
        return None

    if axis._tickLevels is None:
        levels = axis.tickValues(rng[0], rng[1], length)
        strings_given = None
    else:
        levels = [(None, [v for v, _ in level]) for level in axis._tickLevels]
        strings_given = [[s for _, s in level] for level in axis._tickLevels]

    dif = rng[1] - rng[0]
    if dif == 0:
        x_scale, offset = 1, 0
    elif ax == 0:
        x_scale = -bounds.height() / dif
        offset = rng[0] * x_scale - bounds.height()
    else:
        x_scale = bounds.width() / dif
        offset = rng[0] * x_scale
    x_range = [x * x_scale - offset for x in rng]
    x_min, x_max = min(x_range), max(x_range)

    positions = []
    tick_specs = []
    point = QtCore.QPointF
    base_pen = axis.tickPen()
    for i, (_, ticks) in enumerate(levels):
        tick_length = style["tickLength"] / ((i * 0.5) + 1.0)
        alpha = 255 / (i + 1)
        if grid is not False:
            alpha *= grid / 255. * pg.functions.clip_scalar(
                (0.05 * length / (len(ticks) + 1)), 0., 1.)
        pen = base_pen
        if pen.brush().style() == _SOLID:
            pen = QtGui.QPen(pen)
            color = QtGui.QColor(pen.color())
            color.setAlpha(int(alpha))
            pen.setColor(color)
        end = tick_stop if grid is not False else tick_stop + tick_length * tick_dir
        level = []
        for v in ticks:
            x = (v * x_scale) - offset
            if x < x_min or x > x_max:
                level.append(None)
                continue
            level.append(x)
            if ax == 0:
                tick_specs.append((pen, point(tick_start, x), point(end, x)))
            else:
                tick_specs.append((pen, point(x, tick_start), point(x, end)))
        positions.append(level)
    axis_spec = (axis.pen(), span[0], span[1])

    text_specs = []
    if not style["showValues"]:
        return axis_spec, tick_specs, text_specs
    text_offset = style["tickTextOffset"][ax]
    shift = max(0, style["tickLength"]) + text_offset
    limits = style["textFillLimits"]
    own = axis.boundingRect()
    dev = p.device()
    where = (dev.logicalDpiX(), dev.logicalDpiY(), p.font().key())
    sizes = []                      # every label measured so far (pyqtgraph's textRects)
    last_size2 = 0
    for i in range(min(len(levels), style["maxTextLevel"] + 1)):
        if strings_given is None:
            spacing, values = levels[i]
            strings = axis.tickStrings(values, axis.autoSIPrefixScale * axis.scale, spacing)
        else:
            strings = strings_given[i]
        if len(strings) == 0:
            continue
        level = positions[i]
        rects = []
        for j, s in enumerate(strings):
            if level[j] is None or s is None:
                rects.append(None)
            else:
                rects.append(_text_size(p, where, s))
                sizes.append(rects[-1])
        if sizes:
            along, across = (1, 0) if ax == 0 else (0, 1)
            text_size = np.sum([r[along] for r in sizes])
            text_size2 = np.max([r[across] for r in sizes])
        else:
            text_size = text_size2 = 0
        if i > 0:
            ratio = float(text_size) / length
            if any(len(text_specs) >= n and ratio >= lim for n, lim in limits):
                break
        last_size2 = text_size2
        for j, s in enumerate(strings):
            if rects[j] is None:
                continue
            x = level[j]
            width, height = rects[j]
            if o == "left":
                rect = QtCore.QRectF(tick_stop - shift - width, x - (height / 2), width, height)
            elif o == "right":
                rect = QtCore.QRectF(tick_stop + shift, x - (height / 2), width, height)
            elif o == "top":
                rect = QtCore.QRectF(x - width / 2., tick_stop - shift - height, width, height)
            else:
                rect = QtCore.QRectF(x - width / 2., tick_stop + shift, width, height)
            if own & rect != rect:
                continue
            text_specs.append((rect, text_flags, s))
    axis._updateMaxTextSize(last_size2)
    return axis_spec, tick_specs, apart(text_specs, ax)


def apart(text_specs: list, ax: int, gap: float = 1.0) -> list:
    """The labels of a plan without those that would overlap one kept before them (along
    the axis, with ``gap`` pixels between): pyqtgraph always writes every label of its
    coarsest level, and on a short axis (a plot a few text lines high) they overlap into
    an unreadable stack. Labels come coarsest level first, so those are the ones kept."""
    kept: list[tuple[float, float]] = []
    out = []
    for spec in text_specs:
        r = spec[0]
        lo, hi = (r.top(), r.bottom()) if ax == 0 else (r.left(), r.right())
        if any(lo < b + gap and a < hi + gap for a, b in kept):
            continue
        kept.append((lo, hi))
        out.append(spec)
    return out
