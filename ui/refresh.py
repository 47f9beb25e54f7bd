"""When panels redraw: the window's refresh scheduler.

A new trace or selection updates the panels on screen at once; hidden ones (closed, or
behind a tab) are marked stale and updated when shown. While training, the panels on
screen update one per turn of the event loop, so a live trace never freezes the window
for the time of all of them. A step moves the marks of the panels on screen only.
"""

from __future__ import annotations

from PySide6 import QtCore


class RefreshScheduler(QtCore.QObject):
    """Keeps ``panels`` (key -> Panel) up to date with the newest view and step."""

    def __init__(self, panels: dict, parent=None):
        super().__init__(parent)
        self.panels = panels
        self.view = None
        self.step = 0
        self.stale: set[str] = set()
        self._queue: list[str] = []
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
        self.stale = set(self.panels)
        self._queue = [k for k, p in self.panels.items() if p.isVisible()]
        if spread:
            self._drain.start()
        else:
            while self._queue:
                self._next()

    def set_step(self, t: int) -> None:
        self.step = t
        for key, p in self.panels.items():
            if key in self.stale:
                continue
            if p.isVisible():
                p.set_step(t)
            else:
                self.stale.add(key)     # brought up to date when shown

    def shown(self, key: str) -> None:
        if key in self.stale and key in self.panels:
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
        p.set_view(self.view)
        p.refit()
