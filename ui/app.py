"""Starting the app: ``python main.py [FILE]`` calls :func:`run`."""

from __future__ import annotations

import gc
import sys

from PySide6 import QtWidgets

from .qtfixes import clear_clipboard, serial_raster_fills


def make_app(argv: list[str] | None = None) -> QtWidgets.QApplication:
    """The QApplication (created once)."""
    app = QtWidgets.QApplication.instance()
    if app is None:
        serial_raster_fills()
        app = QtWidgets.QApplication(argv if argv is not None else sys.argv[:1])
        app.setApplicationName("Sequence Playground")
        app.setOrganizationName("SequencePlayground")
        # nodes copied on the canvas live in the clipboard as Python-made QMimeData: clear
        # it while Python still runs, or the exit can crash tearing it down
        app.aboutToQuit.connect(clear_clipboard)
    return app


def open_window(path: str | None = None, settings=None):
    """A shown main window on ``path`` (an experiment file) or the default preset. A file
    that cannot be opened is reported in the window, which then shows the default."""
    from .main_window import MainWindow

    win = MainWindow(settings)
    opened = False
    if path:
        opened = win.files.open_path(path, ask=False)
    if not opened:
        win.files.open_default()
    win.show()
    return win


def freeze_startup_heap() -> None:
    """Leave what the imports loaded (torch, numba, Qt, pyqtgraph: most of the ~300k
    objects of a running app) out of the garbage collector's scans for the rest of the run.
    Those scans otherwise cost ~4% of a step, and its worst pauses (bench.step_latency). Called
    before any window or experiment exists: what those make stays collectable."""
    from . import main_window  # noqa: F401  (the app's imports: torch, numba, pyqtgraph)

    gc.collect()
    gc.freeze()


def run(path: str | None = None) -> int:
    """Open the main window and run the event loop; returns the exit status."""
    app = make_app()
    freeze_startup_heap()
    win = open_window(path)
    code = app.exec()
    win.shutdown()
    return int(code)
