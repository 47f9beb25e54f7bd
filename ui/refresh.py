"""When panels redraw: the window's refresh scheduler.

A new trace or selection updates the panels on screen at once; hidden ones (closed, or
behind a tab) are marked stale and updated when shown. Qt keeps a dock behind a tab
"visible" and only moves it out of the window (``QDockAreaLayoutInfo::apply``: right or
bottom edge below 0, with ``visibilityChanged(False)``), so :func:`on_screen` checks where
the panel lies too; without that, every new trace redrew the three tabbed-away panels and
started the Jacobian analysis of a panel nobody saw (6 of the 11 ms of panel updates a
keystroke cost on the hello preset). While training, the panels on
screen update one per turn of the event loop, so a live trace never freezes the window
for the time of all of them. A step moves the marks of the panels on screen only.
"""

from __future__ import annotations

import shiboken6
from PySide6 import QtCore, QtWidgets

from . import qtfixes

_ORIGIN = QtCore.QPoint(0, 0)


def on_screen(panel) -> bool:
    """Shown, and not in a dock that Qt moved out of the window behind another tab (Qt's
    own test for that: its right or bottom edge is left of or above the window; the dock's
    ``visibilityChanged(True)`` comes when its tab is chosen)."""
    if not panel.isVisible():
        return False
    if panel.isWindow():
        return True
    top_left = panel.mapTo(panel.window(), _ORIGIN)
    return top_left.x() + panel.width() > 0 and top_left.y() + panel.height() > 0


class RefreshScheduler(QtCore.QObject):
    """Keeps ``panels`` (key -> Panel) up to date with the newest view and step."""

    def __init__(self, panels: dict, parent=None):
        super().__init__(parent)
        self.panels = panels
        self.view = None
        self.step = 0
        self.stale: set[str] = set()
        self._refit: set[str] = set()     # panels whose grid of plots is fitted again
        self._queue: list[str] = []
        self._scenes: dict[str, list] = {}   # each panel's graphics scenes (found once)
        self._drain = QtCore.QTimer(self)
        self._drain.setInterval(0)
        self._drain.timeout.connect(self._next)

    def set_view(self, view, step: int, spread: bool = False, reset: bool = False) -> None:
        """A new view: panels on screen now (``spread``: one per event-loop turn).
        ``reset`` (a new experiment or model): every panel forgets the last one first."""
        self.view, self.step = view, step
        if reset:
            for p in self.panels.values():
                p.reset()
            self._refit = set(self.panels)
            self._scenes.clear()
        self.stale = set(self.panels)
        self._queue = [k for k, p in self.panels.items() if on_screen(p)]
        if spread:
            self._drain.start()
        else:
            done = list(self._queue)
            while self._queue:
                self._next()
            self._one_repaint(done)

    def set_step(self, t: int) -> None:
        self.step = t
        done = []
        for key, p in self.panels.items():
            if key in self.stale:
                continue
            if on_screen(p):
                p.set_step(t)
                done.append(key)
            else:
                self.stale.add(key)     # brought up to date when shown
        self._one_repaint(done)

    def _one_repaint(self, keys) -> None:
        """The panels ``keys`` changed: their plots go on screen in one repaint
        (:func:`ui.qtfixes.one_repaint_for_scenes`), not one per plot view."""
        scenes = []
        for key in keys:
            found = self._scenes.get(key)
            if found is None or not all(map(shiboken6.isValid, found)):
                found = self._scenes[key] = [
                    v.scene() for v in self.panels[key].findChildren(QtWidgets.QGraphicsView)
                    if v.scene() is not None]
            scenes += found
        if len(scenes) > 1:
            qtfixes.one_repaint_for_scenes(scenes)

    def shown(self, key: str) -> None:
        if key in self.stale and key in self.panels:
            self._refit.add(key)          # it may have been resized while hidden
            self._update(key)

    def stop(self) -> None:
        self._drain.stop()
        self._queue.clear()

    def _next(self) -> None:
        if not self._queue:
            self._drain.stop()
            return
        self._update(self._queue.pop(0))

    def _update(self, key: str) -> None:
        p = self.panels[key]
        self.stale.discard(key)
        p.step = self.step
        before = _rows(p)
        p.set_view(self.view)
        if key in self._refit or _rows(p) != before:
            # only then (qtfixes.refit_plots): a refit repaints the whole view, 3-8 ms a
            # keystroke on the hello preset, where the same plots only take new data
            self._refit.discard(key)
            p.refit()


def _rows(panel) -> tuple:
    """Which of a panel's plots are shown (the grid a refit fits again)."""
    plots = getattr(panel, "plots", ())
    message = getattr(panel, "message", None)
    return (message is None or message.isHidden(), len(plots),
            tuple(pl.isVisible() for pl in plots))
