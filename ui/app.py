"""Starting the app: ``python main.py [FILE]`` calls :func:`run`.

A cold start shows the window before the core is loaded (:class:`Startup`):

1. The window's first stage (``MainWindow(core=False)``: docks, menus, the canvas with the
   graph of the file about to open, placeholders where the panels go) is shown; nothing on
   this path imports PyTorch, numba or pyqtgraph.
2. Once it has painted, a thread imports them and the app's modules that need them
   (:data:`ui.main_window.CORE_MODULES`), with the garbage collector held (its scans of
   the new objects cost ~7% of the import). Automatic collection is off for the whole run:
   :mod:`ui.collector` collects on the GUI thread only.
3. Back on the GUI thread: ``gc.freeze()`` leaves what the imports made out of the
   collector's scans for the rest of the run (they cost ~4% of a step and its worst pauses,
   ``bench.step_latency``), then the window makes its controller and panels
   (:meth:`~ui.main_window.MainWindow.attach_core`) and opens the file, or the default
   preset (a file that cannot be opened is reported in the window, which then shows the
   default). The first trace comes from the exact torch path: numba's kernels are compiled
   (or loaded from its cache) by :mod:`playground.tracing.compiled` in a thread of its own,
   when a trace first asks for them, never on the GUI thread.

``PLAYGROUND_STARTUP_TIMES=1`` prints to stderr, in seconds since the process started (the
kernel's start time of the process, from ``/proc/self/stat``, so the interpreter's own start
counts; elsewhere, the top of ``main.py``)::

    startup: first paint 0.52 s
    startup: torch loaded at first paint: no
    startup: core loaded 2.31 s
    startup: interactive 2.64 s

"first paint": the window's first paint event has been handled (and the event loop
turned once after it); "interactive": the panels have painted the first trace.
``PLAYGROUND_STARTUP_QUIT=1`` quits once interactive (``bench.cold_start`` runs it), or with
status 1 when the core cannot be loaded.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
import threading
import time

from PySide6 import QtCore, QtWidgets

from . import collector
from .qtfixes import clear_clipboard, serial_raster_fills

LOAD_FALLBACK_MS = 1500   # load the core even if no paint event ever comes (no screen)
INTERACTIVE_FALLBACK_MS = 5000


def make_app(argv: list[str] | None = None) -> QtWidgets.QApplication:
    """The QApplication (created once), with garbage collection on its thread only
    (:mod:`ui.collector`)."""
    app = QtWidgets.QApplication.instance()
    if app is None:
        serial_raster_fills()
        app = QtWidgets.QApplication(argv if argv is not None else sys.argv[:1])
        app.setApplicationName("Sequence Playground")
        app.setOrganizationName("SequencePlayground")
        # nodes copied on the canvas live in the clipboard as Python-made QMimeData: clear
        # it while Python still runs, or the exit can crash tearing it down
        app.aboutToQuit.connect(clear_clipboard)
    collector.install(app)
    return app


def skip_device_backend_scan() -> None:
    """Leave out PyTorch's search for out-of-tree device backends (``import torch`` reads the
    entry points of every installed package for them: ~0.2 s of its ~1.6 s here), unless
    the user set ``TORCH_DEVICE_BACKEND_AUTOLOAD``: the app runs on the CPU or CUDA, which
    torch has built in."""
    os.environ.setdefault("TORCH_DEVICE_BACKEND_AUTOLOAD", "0")


def process_start(fallback: float) -> float:
    """When this process started, on the ``time.perf_counter`` clock: its start time in
    ``/proc/self/stat`` (clock ticks since boot, 10 ms) against ``CLOCK_BOOTTIME``. Where that
    cannot be read (not Linux), or looks wrong, ``fallback`` (the top of ``main.py``)."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        age = (time.clock_gettime(time.CLOCK_BOOTTIME) -
               int(fields[19]) / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return fallback
    start = time.perf_counter() - age
    return start if fallback - 60.0 < start <= fallback + 0.02 else fallback


def freeze_startup_heap() -> None:
    """Import what the app needs (torch, numba, Qt, pyqtgraph: most of the ~300k objects of
    a running app), collect, and leave it out of the garbage collector's scans for the rest
    of the run; for benchmarks that make their window at once (:func:`run` freezes once the
    core is loaded, see the module docstring)."""
    from .main_window import CORE_MODULES

    for name in CORE_MODULES:
        importlib.import_module(name)
    gc.collect()
    gc.freeze()


class Startup(QtCore.QObject):
    """The cold start of :func:`run` for a first-stage window ``win``: loads the core in a
    thread once the window has painted, then attaches it and opens ``path`` (or the default
    preset). ``times`` holds the moments reached, in seconds since ``started`` (a
    ``perf_counter`` time); ``report`` prints them to stderr, ``quit_when_interactive``
    quits the app then."""

    loaded = QtCore.Signal(str)   # from the loader thread: "" or why the import failed

    def __init__(self, win, path: str | None = None, started: float | None = None,
                 report: bool = False, quit_when_interactive: bool = False):
        super().__init__()
        self.win, self.path = win, path
        self.started = time.perf_counter() if started is None else started
        self.report, self.quit_when_interactive = report, quit_when_interactive
        self.times: dict[str, float] = {}
        self.torch_at_first_paint: bool | None = None
        self.problem = ""
        self._thread: threading.Thread | None = None
        self._watching = ""           # "first paint" | "interactive" | ""
        self.loaded.connect(self._loaded)   # a slot of this GUI-thread object: queued
        self._fallback = QtCore.QTimer(self)   # if the awaited paint never comes
        self._fallback.setSingleShot(True)
        self._fallback.timeout.connect(self._no_paint)

    # -- the sequence -------------------------------------------------------------------
    def start(self) -> None:
        """Call before ``win.show()``: the first paint starts the load."""
        self._watching = "first paint"
        self.win.installEventFilter(self)
        self._fallback.start(LOAD_FALLBACK_MS)

    def _no_paint(self) -> None:
        if "core loaded" in self.times:
            self._interactive()
        else:
            self._load()

    def _first_paint(self) -> None:
        if "first paint" in self.times:
            return
        self._mark("first paint")
        self.torch_at_first_paint = "torch" in sys.modules
        self._say(f"torch loaded at first paint: {'yes' if self.torch_at_first_paint else 'no'}")
        self._load()

    def _load(self) -> None:
        if self._thread is not None:
            return
        self._fallback.stop()
        collector.install().hold()
        self._thread = threading.Thread(target=self._import, name="load-core", daemon=True)
        self._thread.start()

    def _import(self) -> None:
        """In the loader thread."""
        from .main_window import CORE_MODULES

        try:
            for name in CORE_MODULES:
                importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - said in the window, never raised in a thread
            self.loaded.emit(f"{type(exc).__name__}: {exc}")
            return
        self.loaded.emit("")

    @QtCore.Slot(str)
    def _loaded(self, problem: str) -> None:
        gc.freeze()     # the imports' objects: out of every later collection's way
        collector.install().release()
        self._mark("core loaded")
        if problem:
            self.problem = problem
            self._say(f"the core could not be loaded: {problem}")
            self.win.core_failed(problem)
            if self.quit_when_interactive:   # it never will be: a benchmark must not wait
                QtWidgets.QApplication.instance().exit(1)
            return
        from playground.tracing import compiled

        # The first trace takes the torch path, as it would anyway (numba's kernels are not
        # compiled yet), without starting their compilation: that thread would hold the GIL
        # for half the time of the first paint. They compile once the window is interactive.
        compiled.AUTOSTART = False
        self.win.setUpdatesEnabled(False)   # one paint when all is there: a progress bar's
        try:                                # setValue paints the whole window at once
            self.win.attach_core(later=True)
            files = self.win.files
            if not (self.path and files.open_path(self.path, ask=False)):
                files.open_default()
        finally:
            self.win.setUpdatesEnabled(True)
        self._watching = "interactive"
        QtWidgets.QApplication.instance().installEventFilter(self)
        self._fallback.start(INTERACTIVE_FALLBACK_MS)

    def _interactive(self) -> None:
        if "interactive" in self.times or "core loaded" not in self.times:
            return
        self._watching = ""
        self._fallback.stop()
        QtWidgets.QApplication.instance().removeEventFilter(self)
        self._mark("interactive")
        c, view = self.win.controller, self.win.controller.view()
        drawn = [k for k, p in self.win.panels.items()
                 if p.isVisible() and k not in self.win.refresher.stale]
        self._say(f"first trace: {c.name}, {view.steps if view else 0} steps, "
                  f"in {len(drawn)} panels")
        from playground.tracing import compiled

        compiled.warm_up()   # in its own thread; traces take torch until it is done
        if self.quit_when_interactive:
            QtWidgets.QApplication.instance().quit()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the loader thread (imports cannot be stopped; the window is closing)."""
        if self._thread is not None:
            self._thread.join(timeout)

    # -- paints -------------------------------------------------------------------------
    def eventFilter(self, obj, ev) -> bool:
        if ev.type() == QtCore.QEvent.Type.Paint and self._watching:
            if self._watching == "first paint" and obj is self.win:
                self._watching = ""
                self.win.removeEventFilter(self)
                QtCore.QTimer.singleShot(0, self, self._first_paint)   # after the whole pass
            elif self._watching == "interactive" and self._paints_trace(obj):
                self._watching = ""
                QtCore.QTimer.singleShot(0, self, self._interactive)
        return False

    def _paints_trace(self, obj) -> bool:
        """A paint inside a panel on screen (or anywhere in the window, when none is)."""
        if not isinstance(obj, QtWidgets.QWidget) or obj.window() is not self.win:
            return False
        shown = [p for p in self.win.panels.values() if p.isVisible()]
        return not shown or any(p is obj or p.isAncestorOf(obj) for p in shown)

    def _mark(self, what: str) -> None:
        self.times[what] = time.perf_counter() - self.started
        self._say(f"{what} {self.times[what]:.2f} s")

    def _say(self, text: str) -> None:
        if self.report:
            print(f"startup: {text}", file=sys.stderr, flush=True)


def run(path: str | None = None, started: float | None = None) -> int:
    """Open the main window and run the event loop; returns the exit status. ``started``:
    ``time.perf_counter()`` at the top of ``main.py`` (the clock's fallback)."""
    from .main_window import MainWindow

    started = process_start(time.perf_counter() if started is None else started)
    skip_device_backend_scan()
    app = make_app()
    win = MainWindow(core=False)
    win.preview(path)
    startup = Startup(win, path, started,
                      report=os.environ.get("PLAYGROUND_STARTUP_TIMES", "") not in ("", "0"),
                      quit_when_interactive=os.environ.get("PLAYGROUND_STARTUP_QUIT", "")
                      not in ("", "0"))
    startup.start()
    win.show()
    code = app.exec()
    startup.wait()
    win.shutdown()
    return int(code)
