"""Python's garbage collector, run on the GUI thread only.

Python collects reference cycles in whichever thread allocates when a generation is full:
a training step, a background trace, the connectivity job, numba compiling the kernels.
A cycle that holds Qt objects (pyqtgraph items and their signals make many) is then
destroyed in that thread, while the GUI thread may be painting or walking them: a crash
at a random place. (The test suite crashed at random places about once in ten runs; in
probed runs, collections ran in the kernel compiler's thread and in QThreads and freed
hundreds of objects there, none of them Qt's in those runs.)

So :func:`install` turns automatic collection off. A timer on the GUI thread then collects
each generation when it is due, by the collector's own thresholds, as pyqtgraph's
``GarbageCollector`` does. Plain reference counting still frees everything else at once,
in any thread. Test: ``tests/app/test_gui_collector.py``.
"""

from __future__ import annotations

import gc
import time

from PySide6 import QtCore, QtWidgets

INTERVAL_MS = 100       # how often the GUI thread looks at the collector's counts
FULL_CHECK_S = 1.0      # how often, at most, it counts the oldest generation
TIMER_NAME = "gui-thread garbage collection"   # the one timer that is always active


class GuiThreadCollector(QtCore.QObject):
    """Collects when a generation is due (see the module docstring). ``hold()`` stops it
    for a while, e.g. while the startup imports a few hundred thousand objects; ``release()``
    goes on. Automatic collection stays off throughout."""

    def __init__(self, parent: QtCore.QObject):
        super().__init__(parent)
        self._held = 0
        self.collections = [0, 0, 0]     # by generation, since install (for tests)
        self._full_checked = 0.0
        if _after_full not in gc.callbacks:
            gc.callbacks.append(_after_full)
        self._timer = QtCore.QTimer(self)
        self._timer.setObjectName(TIMER_NAME)
        self._timer.timeout.connect(self.collect_due)
        gc.disable()
        self._timer.start(INTERVAL_MS)

    def hold(self) -> None:
        self._held += 1

    def release(self) -> None:
        self._held = max(0, self._held - 1)

    @property
    def held(self) -> bool:
        return self._held > 0

    def collect_due(self) -> int:
        """Collect the oldest generation that is due, as Python's automatic collection
        would have had it run on this thread: the youngest when its count is past its
        threshold, the middle one when its count is too, and the oldest when its count is
        also past its threshold *and* it has grown by a quarter since the last full
        collection (Python's own rule against full collections that find nothing).
        Returns the generation collected, or -1."""
        if self._held:
            return -1
        counts, limits = gc.get_count(), gc.get_threshold()
        if counts[0] <= limits[0]:
            return -1
        gen = 1 if counts[1] > limits[1] else 0
        if gen == 1 and counts[2] > limits[2] and self.full_due():
            gen = 2
        gc.collect(gen)
        self.collections[gen] += 1
        return gen

    def full_due(self) -> bool:
        """Whether the oldest generation has grown by a quarter since the last full
        collection (anyone's: ``gc.collect()`` too). Counted at most every
        :data:`FULL_CHECK_S` seconds (a pass over it); False in between."""
        now = time.monotonic()
        if now - self._full_checked < FULL_CHECK_S:
            return False
        self._full_checked = now
        n = len(gc.get_objects(2))
        if _long_lived[0] is None or n < _long_lived[0]:   # or gc.freeze() took some
            _long_lived[0] = n
        return n - _long_lived[0] > _long_lived[0] / 4


_long_lived: list[int | None] = [None]   # the oldest generation after the last full collection


def _after_full(phase: str, info: dict) -> None:
    """A gc callback: a full collection (the collector's or anyone's ``gc.collect()``)
    counts what it left in the oldest generation, the next full collection's baseline."""
    if phase == "stop" and info.get("generation") == 2:
        _long_lived[0] = len(gc.get_objects(2))


def install(app: QtWidgets.QApplication | None = None) -> GuiThreadCollector:
    """The app's collector, made once per QApplication (on the GUI thread)."""
    app = app or QtWidgets.QApplication.instance()
    if app is None:
        raise RuntimeError("make the QApplication first")
    found = app.findChild(GuiThreadCollector)
    if found is not None:
        gc.disable()    # someone may have turned it back on
        return found
    return GuiThreadCollector(app)


def instance() -> GuiThreadCollector | None:
    app = QtWidgets.QApplication.instance()
    return None if app is None else app.findChild(GuiThreadCollector)
