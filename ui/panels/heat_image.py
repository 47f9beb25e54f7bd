"""The heatmaps' image item: a trace's ``(T, H)`` record drawn as ``H`` rows by ``T``
columns, blocks of steps and units averaged into screen pixels, coloured by a fixed map.

pyqtgraph's ImageItem made the picture of a 1000-step x 256-unit map in ~0.55 ms (a NaN
check, two downsamples, an ``nditer`` rescale and a colour table of 256 ``qRgb`` calls,
at every new trace); :class:`LevelsImage` makes the same picture in a few numpy passes,
and a new trace that repeats the first steps of the one drawn before (typing at the end
of a text, a what-if from step t: :attr:`RecurrentTrace.prefix_steps`) keeps the pixels
of those steps and works out only the rest.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

_ORIGIN, _X, _Y = QtCore.QPointF(0, 0), QtCore.QPointF(1, 0), QtCore.QPointF(0, 1)


class LevelsImage(pg.ImageItem):
    """An ImageItem that turns a heatmap (a 2-D float32 image without NaNs, fixed levels, a
    colour map of at most 256 colours, blocks of pixels averaged) into its QImage in a few
    numpy passes: blocks summed by strided slices, colour indices made in place (as
    pyqtgraph's ``rescaleData``: ``(v - lo) * n / (hi - lo)`` clipped to the map, rounded
    down) and looked up in the colour map's colours (made once per colour map). Its 32-bit
    image is drawn without a conversion. Anything else (NaNs, other images, no block
    averaging) is pyqtgraph's own render.

    :meth:`keep_columns` before ``setImage`` says how many first columns (steps) the new
    image repeats of the last; drawn with the same blocks, levels and colours, their
    pixels are copied from the last picture (a block is summed in the same order either
    way, so they are the pixels a fresh render makes)."""

    _table: tuple | None = None     # (lut it was made from, its colours as 0xffRRGGBB)
    _last: tuple | None = None      # what the last picture was made with, and the picture
    _kept = 0                       # columns of the image set since then that it repeats

    _FAST = (QtGui.QImage.Format.Format_RGB32, QtGui.QImage.Format.Format_ARGB32_Premultiplied)

    def keep_columns(self, n: int) -> None:
        """The image about to be set repeats the first ``n`` columns of the one set before
        (a trace that reused its base's first steps). Call before ``setImage``; of images
        set between two renders, the last repeats the drawn one as far as all of them do."""
        n = max(0, int(n))
        self._kept = min(self._kept, n) if self._renderRequired else n

    def boundingRect(self):
        """pyqtgraph's (the image's shape), without its two calls into ``width`` and
        ``height``: Qt asks for it at every repaint of the view, ~30 times a step."""
        image = self.image
        if image is None:
            return QtCore.QRectF()
        w, h = image.shape[:2] if self.axisOrder == "col-major" else image.shape[1::-1]
        return QtCore.QRectF(0.0, 0.0, float(w), float(h))

    def _computeDownsampleFactors(self) -> tuple[int, int]:  # noqa: N802  (pyqtgraph's)
        """pyqtgraph's (the same points mapped, the same arithmetic), with the device
        transform looked up once instead of three times (~40 us a map a trace)."""
        vt = self.deviceTransform_()
        if vt is None:             # scene may not be available yet
            return 1, 1
        o = vt.map(_ORIGIN)
        w = pg.Point(vt.map(_X) - o).length()
        h = pg.Point(vt.map(_Y) - o).length()
        if w == 0 or h == 0:
            return 1, 1
        return max(1, int(1.0 / w)), max(1, int(1.0 / h))

    def _render_as_pyqtgraph(self) -> None:
        """pyqtgraph's render, its image then in a format Qt draws as it is: an indexed or
        straight-alpha image (pyqtgraph's, with NaNs transparent) is converted at every draw,
        ~0.1 ms each time a step line moves across it; here once per render."""
        self._last = None                   # (no picture of this path is copied from)
        super().render()
        q = self.qimage
        if q is not None and not q.isNull() and q.format() not in self._FAST:
            self.qimage = q.convertToFormat(
                QtGui.QImage.Format.Format_ARGB32_Premultiplied if q.hasAlphaChannel()
                else QtGui.QImage.Format.Format_RGB32)

    def render(self):
        image, lut, levels = self.image, self.lut, self.levels
        if (image is None or image.ndim != 2 or image.dtype != np.float32 or image.size == 0
                or not self.autoDownsample or self.axisOrder != "row-major"
                or not isinstance(lut, np.ndarray) or lut.dtype != np.uint8
                or lut.ndim != 2 or lut.shape[1] != 3 or not 0 < len(lut) <= 256
                or levels is None or np.ndim(levels) != 1):
            return self._render_as_pyqtgraph()
        if self._imageHasNans:
            return self._render_as_pyqtgraph()
        self._unrenderable = True
        xds, yds = self._computeDownsampleFactors()
        if xds is None:
            return
        rows, cols = image.shape[0] // yds, image.shape[1] // xds
        if rows == 0 or cols == 0:
            return
        n = len(lut)
        lo, hi = float(levels[0]), float(levels[1])
        made_with = (xds, yds, image.shape[0], rows, lut, n, lo, hi)
        kept, self._kept = self._kept, 0
        last = self._last
        keep = 0
        if kept and last is not None and last[0][:4] == made_with[:4] and \
                last[0][4] is lut and last[0][5:] == made_with[5:]:
            keep = min(kept // xds, last[1].width(), cols)
        # sum x blocks, then y blocks (pyqtgraph: x, then y); never the image itself
        with np.errstate(invalid="ignore", over="ignore"):   # inf - inf: a NaN, looked at
            part = image[:, keep * xds:] if keep else image
            out = _block_sum(_block_sum(part, xds, 1), yds, 0) if keep < cols else \
                np.empty((rows, 0), np.float32)     # every block is the last picture's
        if out is part:                         # no blocks: a copy, never the record itself
            out = np.array(part, dtype=np.float32, order="K")
        # a NaN anywhere makes its block's sum NaN: looked for in the sums, a pass over the
        # small image instead of the whole one (~0.1 ms a 256 x 1000 map); the columns kept
        # had none (a picture with NaNs is pyqtgraph's, and none is kept of it)
        nan_sums = bool(out.size) and bool(np.isnan(out.min()))
        if self._imageHasNans is None:
            # the values left over past the last whole block are looked at apart; +inf and
            # -inf in one block sum to NaN too, and are no NaN of the image
            rest = (image[:, cols * xds:], image[rows * yds:, :cols * xds])
            nans = any(r.size and np.isnan(r.min()) for r in rest) or \
                (nan_sums and bool(np.isnan(image).any()))
            self._imageHasNans = nans
            self._imageNanLocations = None
            if nans:
                return self._render_as_pyqtgraph()
        table = self._table
        if table is None or table[0] is not lut:
            table = self._table = (lut, np.array([QtGui.qRgb(*rgb) for rgb in lut.tolist()],
                                                 dtype=np.uint32))
        if keep == cols and last[1].width() == cols:
            self._finish(made_with, last[1], xds, yds)      # the very same picture
            return
        # the colours themselves, not an indexed image: Qt converts an indexed image to
        # colours at every draw (~0.1 ms, each time a step line moves across the map). They
        # are written into the image's own memory: no QImage here draws from numpy memory
        # (a copy Qt kept of it would outlive the array)
        qimage = QtGui.QImage(cols, rows, QtGui.QImage.Format.Format_RGB32)
        pixels = np.frombuffer(qimage.bits(), dtype=np.uint32).reshape(rows, cols)
        if keep:
            before = last[1]
            old = np.frombuffer(before.constBits(), dtype=np.uint32).reshape(
                rows, before.bytesPerLine() // 4)
            pixels[:, :keep] = old[:, :keep]
        if out.size:
            scale = n / (hi - lo if hi != lo else 1.0)
            out *= np.float32(scale / (xds * yds))
            out -= np.float32(lo * scale)
            np.clip(out, 0, n - 1, out=out)
            if nan_sums:    # such a block: the lowest colour (what casting its NaN gave)
                np.nan_to_num(out, copy=False, nan=0.0)
            index = np.ascontiguousarray(out.astype(np.uint8, order="K"))   # rows of pixels
            if keep:
                pixels[:, keep:] = np.take(table[1], index, mode="clip")
            else:
                np.take(table[1], index, out=pixels, mode="clip")
        del pixels
        self._finish(made_with, qimage, xds, yds)

    def _finish(self, made_with: tuple, qimage: QtGui.QImage, xds: int, yds: int) -> None:
        self._last = (made_with, qimage)
        self._lastDownsample = (xds, yds)
        self._processingBuffer = self._displayBuffer = None
        self.qimage = qimage
        self._renderRequired = False
        self._unrenderable = False


def _block_sum(a: np.ndarray, n: int, axis: int) -> np.ndarray:
    """Sums of ``n`` consecutive values along ``axis`` of a 2-D array (the rest dropped), as
    float32 in the array's memory order: ``n`` strided slices added (numpy reduces a short
    inner axis block by block, slowly), or for more than 16 a sum over the reshaped axis."""
    if n <= 1:
        return a
    m = a.shape[axis] // n
    if n > 16:
        if axis == 1:
            return a[:, :m * n].reshape(a.shape[0], m, n).sum(axis=2, dtype=np.float32)
        return a[:m * n].reshape(m, n, a.shape[1]).sum(axis=1, dtype=np.float32)
    sl = [slice(None), slice(None)]
    sl[axis] = slice(0, m * n, n)
    out = np.array(a[tuple(sl)], dtype=np.float32, order="K")
    for j in range(1, n):
        sl[axis] = slice(j, m * n, n)
        out += a[tuple(sl)]
    return out
