"""Garbage is collected on the GUI thread only (ui.collector): a reference cycle that holds a
Qt object, dropped in a worker thread that then allocates a lot, is destroyed on the GUI
thread, by the app's timer, not in the worker."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6 import QtCore, QtWidgets

from ui import collector
from ui.app import make_app
from ui.testing import no_running_qt  # noqa: F401


class Holder(QtCore.QObject):
    """A QObject in a reference cycle (as pyqtgraph items and their signal slots are)."""

    def __init__(self):
        super().__init__()
        self.me = self


def drop_in_a_thread(objs: list) -> None:
    """Drop the last references to ``objs`` in a worker thread, then allocate enough cycles
    of its own to fill every generation of the collector several times over."""
    def work():
        objs.clear()
        junk = []
        for i in range(60_000):
            a = [i]
            a.append(a)
            junk.append(a)
            if len(junk) > 100:
                junk.clear()

    t = threading.Thread(target=work, name="worker")
    t.start()
    t.join()


def test_a_cycle_with_a_qt_object_dropped_in_a_worker_is_destroyed_on_the_gui_thread(qtbot):
    app = make_app()
    assert not gc.isenabled()
    where: list[str] = []
    gone = []
    objs = [Holder() for _ in range(5)]
    for o in objs:
        o.destroyed.connect(lambda *_: where.append(threading.current_thread().name),
                            QtCore.Qt.ConnectionType.DirectConnection)
        gone.append(weakref.ref(o))
    del o
    threads_gc: list[str] = []

    def seen(phase, info):
        if phase == "start":
            threads_gc.append(threading.current_thread().name)

    gc.callbacks.append(seen)
    try:
        drop_in_a_thread(objs)
        assert "worker" not in threads_gc          # no collection ran in the worker
        assert all(r() is not None for r in gone)  # the cycles wait for the GUI thread
        qtbot.waitUntil(lambda: all(r() is None for r in gone), timeout=5000)
    finally:
        gc.callbacks.remove(seen)
    assert where == ["MainThread"] * 5
    assert set(threads_gc) == {"MainThread"}
    assert app.findChildren(collector.GuiThreadCollector) == [collector.instance()]


def test_each_generation_is_collected_when_it_is_due(qapp):
    c = collector.install(qapp)
    assert collector.install(qapp) is c                  # one per app
    gc.collect()
    assert c.collect_due() == -1                         # nothing allocated since
    t0, t1, _ = gc.get_threshold()
    keep = [[] for _ in range(t0 + 50)]                  # containers the collector tracks
    assert gc.get_count()[0] > t0
    assert c.collect_due() == 0 and gc.get_count()[0] < t0
    before = list(c.collections)
    for _ in range(t1 + 1):                              # the middle generation fills up
        keep += [[] for _ in range(t0 + 50)]
        assert c.collect_due() in (0, 1)
    assert c.collections[1] > before[1]
    c.hold()
    try:
        keep += [[] for _ in range(t0 + 50)]
        assert c.held and c.collect_due() == -1          # held: nothing, however due
    finally:
        c.release()
    assert not c.held and c.collect_due() == 0
    del keep


def test_a_full_collection_waits_until_the_oldest_generation_has_grown_by_a_quarter(
        qapp, monkeypatch):
    """Python's own rule: the oldest generation is collected when it has grown by a quarter
    since the last full collection, not merely when the middle one has filled ten times."""
    monkeypatch.setattr(collector, "FULL_CHECK_S", 0.0)
    c = collector.install(qapp)
    gc.collect()                                       # anyone's full collection: the baseline
    base = len(gc.get_objects(2))
    assert not c.full_due()
    keep = [[] for _ in range(int(base * 0.15))]
    gc.collect(1)                                      # the survivors move to the oldest
    assert not c.full_due()                            # 15% more: not yet
    keep += [[] for _ in range(int(base * 0.2))]
    gc.collect(1)
    assert c.full_due()                                # 35% more
    before = c.collections[2]
    t0 = gc.get_threshold()[0]
    for _ in range(2000):                              # until the counts say so too
        keep += [[] for _ in range(t0 + 10)]
        if c.collect_due() == 2:
            break
    assert c.collections[2] == before + 1
    assert not c.full_due()                            # the new baseline
    del keep


def test_the_collector_timer_is_not_a_timer_left_running(qapp):
    from ui.testing import running_qt_objects

    collector.install(qapp)
    timers = [t for t in qapp.findChildren(QtCore.QTimer)
              if t.objectName() == collector.TIMER_NAME]
    assert len(timers) == 1 and timers[0].isActive()
    assert not any("garbage" in s for s in running_qt_objects())
    stray = QtCore.QTimer(QtWidgets.QApplication.instance())
    stray.start(10_000)
    try:
        assert any("QTimer" in s for s in running_qt_objects())   # others are still found
    finally:
        stray.stop()
        stray.deleteLater()
