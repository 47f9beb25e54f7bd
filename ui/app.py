"""Starting the app: ``python main.py [FILE]`` calls :func:`run`."""

from __future__ import annotations

import sys

from PySide6 import QtWidgets


def make_app(argv: list[str] | None = None) -> QtWidgets.QApplication:
    """The QApplication (created once)."""
    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication(argv if argv is not None else sys.argv[:1])
        app.setApplicationName("Sequence Playground")
        app.setOrganizationName("SequencePlayground")
        # nodes copied on the canvas live in the clipboard as Python-made QMimeData: clear
        # it while Python still runs, or the exit can crash tearing it down
        app.aboutToQuit.connect(clear_clipboard)
    return app


def clear_clipboard() -> None:
    """Empty the clipboard if this app owns it (called on aboutToQuit)."""
    app = QtWidgets.QApplication.instance()
    if app is None:
        return
    cb = app.clipboard()
    mime = cb.mimeData()
    if cb.ownsClipboard() or (mime is not None and any(
            f.startswith("application/x-sequence-playground") for f in mime.formats())):
        cb.clear()


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


def run(path: str | None = None) -> int:
    """Open the main window and run the event loop; returns the exit status."""
    app = make_app()
    win = open_window(path)
    code = app.exec()
    win.shutdown()
    return int(code)
