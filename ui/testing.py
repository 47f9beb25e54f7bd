"""Test helpers for the app (imported by tests/test_ui_*.py; not used by the app itself).

``no_running_qt`` is an autouse fixture: a test fails when it leaves a QThread running or a
QTimer active. ``make_window`` opens a main window with its own settings file and dialogs
answered by the test.
"""

from __future__ import annotations

import gc
import warnings

import numpy as np
import pytest
import shiboken6
from PySide6 import QtCore, QtGui, QtWidgets

from . import collector


def running_qt_objects() -> list[str]:
    """Every live QThread that runs and QTimer that is active (Python-visible ones and the
    timers owned by any top-level widget), but the GUI thread's garbage collection timer
    (:mod:`ui.collector`), which runs as long as the app."""
    found = []
    seen = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        candidates = [o for o in gc.get_objects()
                      if isinstance(o, (QtCore.QThread, QtCore.QTimer))]
    for w in QtWidgets.QApplication.topLevelWidgets():
        if shiboken6.isValid(w):
            candidates += w.findChildren(QtCore.QTimer)
    for o in candidates:
        if id(o) in seen or not shiboken6.isValid(o):
            continue
        seen.add(id(o))
        if isinstance(o, QtCore.QThread) and o.isRunning() and \
                o is not QtCore.QThread.currentThread():
            found.append(f"QThread {o.objectName() or o!r} still running")
        elif isinstance(o, QtCore.QTimer) and o.isActive() and \
                o.objectName() != collector.TIMER_NAME:
            owner = o.parent()
            found.append(f"QTimer {o.objectName() or ''} of "
                         f"{type(owner).__name__ if owner else 'nothing'} still active")
    return found


@pytest.fixture(autouse=True)
def no_running_qt(qapp):
    """Fail the test if it leaves a QThread running or a QTimer active. Garbage is
    collected on the GUI thread only, as in the app (:func:`ui.collector.install`)."""
    collector.install(qapp)
    yield
    qapp.processEvents()
    left = running_qt_objects()
    assert not left, "left running: " + "; ".join(left)


def make_window(tmp_path, path: str | None = None):
    """A shown MainWindow with settings in ``tmp_path`` and dialogs that never block:
    unsaved changes are discarded, errors are collected in ``window.errors``."""
    from .app import make_app
    from .main_window import MainWindow

    make_app()
    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    win = MainWindow(settings)
    win.errors = []
    win.files.show_error = lambda title, msg: win.errors.append(msg)
    win.files.ask_unsaved = lambda: "discard"
    win.asked_outside = []           # files outside an experiment's folder it asked about
    win.files.ask_read_outside = lambda files: win.asked_outside.append(list(files)) or True
    if not (path and win.files.open_path(path, ask=False)):
        win.files.open_default()
    win.show()
    return win


def close_window(win) -> None:
    """Close without questions and wait for training to stop."""
    win.files.ask_unsaved = lambda: "discard"
    win.files.ask_stop_training = lambda: True
    win.close()
    win.deleteLater()
    QtWidgets.QApplication.processEvents()



def image_pixels(img: QtGui.QImage, fmt=QtGui.QImage.Format.Format_RGB32) -> np.ndarray:
    """A QImage's pixels in ``fmt`` (a 32-bit format) as an ``(H, W, 4)`` uint8 copy: what
    tests compare drawings by."""
    img = img.convertToFormat(fmt)
    h, w, bpl = img.height(), img.width(), img.bytesPerLine()
    a = np.frombuffer(img.constBits(), np.uint8, count=h * bpl).reshape(h, bpl)
    return a[:, :w * 4].reshape(h, w, 4).copy()
