"""Training curves: loss (and validation loss), gradient norm before and after clipping,
and the learning rate its schedule gives at each step."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from .base import (
    Panel,
    decade_labels,  # noqa: I001
)


class _Series:
    """A growing float64 buffer, doubled when full (appends are O(1) amortised)."""

    def __init__(self, cols: int):
        self.buf = np.full((256, cols), np.nan)
        self.n = 0

    def append(self, row) -> None:
        if self.n == len(self.buf):
            self.buf = np.concatenate([self.buf, np.full_like(self.buf, np.nan)])
        self.buf[self.n] = row
        self.n += 1

    @property
    def data(self) -> np.ndarray:
        return self.buf[: self.n]


class TrainingPlotsPanel(Panel):
    """Loss per training step (with validation loss where measured), the gradient norm
    before and after clipping, both on log scales, and the learning rate (warm-up, steps,
    cosine: what the schedule set at that step). Rows arrive with :meth:`add`; the window
    calls :meth:`redraw` at most ~30 times a second."""

    title = "Training curves"
    marks = ("loss", "grad_norm", "lr")
    COLS = ("step", "loss", "val_loss", "grad_norm", "grad_norm_clipped", "lr")

    def __init__(self, parent=None):
        super().__init__(parent)
        lp = self.add_plot(0, 0, "training loss  <span style='color:#ff7f0e'>● validation</span>",
                           "loss", "training step", auto=True)
        lp.setLogMode(y=True)
        decade_labels(lp.getAxis("left"))
        lp.getAxis("left").enableAutoSIPrefix(False)
        lp.showGrid(y=True, alpha=0.25)
        self.loss = lp.plot(pen=pg.mkPen("#1f77b4", width=2), name="train")
        self.val = lp.plot(pen=None, symbol="o", symbolSize=5, symbolBrush="#ff7f0e",
                           name="validation")
        gp = self.add_plot(1, 0, "||g||  <span style='color:#d62728'>before</span> / "
                           "<span style='color:#2ca02c'>after</span> clipping", "||g||",
                           "training step", auto=True)
        gp.setLogMode(y=True)
        decade_labels(gp.getAxis("left"))
        gp.getAxis("left").enableAutoSIPrefix(False)
        gp.showGrid(y=True, alpha=0.25)
        self.gn = gp.plot(pen=pg.mkPen("#d62728", width=1), name="before clipping")
        self.gc = gp.plot(pen=pg.mkPen("#2ca02c", width=2), name="after clipping")
        rp = self.add_plot(2, 0, "learning rate", "rate",
                           "training step", auto=True)
        rp.showGrid(y=True, alpha=0.25)
        rp.getAxis("left").enableAutoSIPrefix(False)
        self.rate = rp.plot(pen=pg.mkPen("#9467bd", width=2), name="learning rate")
        rp.setXLink(lp)
        rp.setVisible(False)          # shown once the schedule moves the rate
        lay = self.layout_widget.ci.layout
        for row, stretch in ((0, 3), (1, 2), (2, 1)):
            lay.setRowStretchFactor(row, stretch)
        for c in (self.loss, self.gn, self.gc, self.rate):
            c.setDownsampling(auto=True, method="peak")
            c.setClipToView(True)
        self.loss_plot, self.grad_plot, self.rate_plot = lp, gp, rp
        self.quantity_plots = {"loss": [lp], "grad_norm": [gp], "lr": [rp]}
        self.add_hover(lp, self._hover)
        self.add_hover(gp, self._hover)
        self.series = _Series(len(self.COLS))
        self._dirty = False
        self.caption.setText("not trained yet: press Train")

    def clear(self) -> None:
        self.series = _Series(len(self.COLS))
        self._dirty = True
        self.redraw()
        self.caption.setText("not trained yet: press Train")

    def add(self, step: int, loss: float, val_loss, grad_norm, grad_norm_clipped,
            lr=None) -> None:
        nan = float("nan")
        self.series.append([step, loss, nan if val_loss is None else val_loss,
                            nan if grad_norm is None else grad_norm,
                            nan if grad_norm_clipped is None else grad_norm_clipped,
                            nan if lr is None else lr])
        self._dirty = True

    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        d = self.series.data
        if not len(d):
            for c in (self.loss, self.val, self.gn, self.gc, self.rate):
                c.setData([], [])
            self.rate_plot.setVisible(False)
            return
        s = d[:, 0].copy()
        pos = lambda a: np.where(a > 0, a, np.nan)  # noqa: E731  (log axes)
        self.loss.setData(s, pos(d[:, 1]), connect="finite")
        v = np.isfinite(d[:, 2])
        self.val.setData(s[v], pos(d[v, 2]))
        self.gn.setData(s, pos(d[:, 3]), connect="finite")
        self.gc.setData(s, pos(d[:, 4]), connect="finite")
        self.rate.setData(s, d[:, 5], connect="finite")
        rates = d[np.isfinite(d[:, 5]), 5]
        moves = bool(len(rates) > 1 and rates.max() > rates.min())
        if self.rate_plot.isVisible() != moves:   # a constant rate is said in the caption:
            self.rate_plot.setVisible(moves)      # the loss and ||g|| keep the room
            self.refit()
        last = d[-1]
        txt = f"step {int(last[0])}: loss {last[1]:.4f}"
        if np.isfinite(d[:, 2]).any():
            txt += f", validation {d[v, 2][-1]:.4f}"
        if np.isfinite(last[3]):
            txt += f", grad norm {last[3]:.3g} -> {last[4]:.3g}"
        if np.isfinite(last[5]):
            txt += f", learning rate {last[5]:.3g}"
        self.caption.setText(txt)

    @property
    def points(self) -> int:
        return self.series.n

    def _hover(self, x: float, y: float):
        d = self.series.data
        if not len(d):
            return None
        i = int(np.clip(np.searchsorted(d[:, 0], x), 0, len(d) - 1))
        r = d[i]
        return f"step {int(r[0])}: loss={r[1]:.6g} grad={r[3]:.6g}/{r[4]:.6g} lr={r[5]:.6g}"

    def table(self):
        return list(self.COLS), self.series.data.copy()
