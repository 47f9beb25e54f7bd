"""A window before torch: the cold start paints the window first, loads the core in a
thread, then opens the experiment (ui.app.Startup); clicks before that wait or say why."""

from __future__ import annotations

import gc
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6 import QtCore, QtWidgets

from ui.testing import close_window, make_window, no_running_qt  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
TIME = re.compile(r"^startup: (first paint|core loaded|interactive) ([0-9.]+) s$", re.M)


def start_app(tmp_path, *args):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PLAYGROUND_STARTUP_TIMES="1",
               PLAYGROUND_STARTUP_QUIT="1", XDG_CONFIG_HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    return out.stderr, {k: float(v) for k, v in TIME.findall(out.stderr)}


def test_the_window_paints_before_torch_then_draws_the_default_trace(tmp_path):
    err, times = start_app(tmp_path)
    assert "startup: torch loaded at first paint: no" in err
    assert 0 < times["first paint"] < times["core loaded"] <= times["interactive"]
    drawn = re.search(r"^startup: first trace: (.+), (\d+) steps, in (\d+) panels$", err, re.M)
    assert drawn, err
    assert drawn[1] == "Hello, RNN" and int(drawn[2]) > 1 and int(drawn[3]) >= 5


def test_a_file_on_the_command_line_opens_after_the_core_loads(tmp_path):
    err, times = start_app(tmp_path, str(ROOT / "presets" / "lstm_forget_gate.json"))
    assert "startup: torch loaded at first paint: no" in err
    assert "interactive" in times
    assert re.search(r"^startup: first trace: .*LSTM.*, \d+ steps", err, re.M | re.I), err


def test_the_first_stage_imports_no_torch_numba_or_pyqtgraph():
    """What the window needs before its first paint stays light (a module of the first
    stage that imported one of them would put it back on that path)."""
    code = ("import sys\n"
            "from ui.app import make_app\n"
            "from ui.main_window import MainWindow\n"
            "app = make_app()\n"
            "win = MainWindow(core=False)\n"
            "win.preview()\n"
            "win.show()\n"
            "app.processEvents()\n"
            "print(sorted(m for m in ('torch', 'numba', 'pyqtgraph') if m in sys.modules))\n"
            "win.shutdown()\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120,
                         env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


# -- in this process --------------------------------------------------------------------
def close(win) -> None:
    """ui.testing.close_window, also for a window whose core never came (no file actions)."""
    if win.files is not None:
        return close_window(win)
    win.close()
    win.deleteLater()
    QtWidgets.QApplication.processEvents()


@pytest.fixture
def settings(tmp_path):
    return QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)


@pytest.fixture
def first_stage(qapp, settings):
    from ui.main_window import MainWindow

    win = MainWindow(settings, core=False)
    win.preview()
    win.show()
    qapp.processEvents()
    yield win
    close(win)


@pytest.fixture
def shown_errors(monkeypatch):
    """The file dialogs' errors, collected instead of shown in a modal box."""
    from ui.files import FileActions

    errors: list[str] = []
    monkeypatch.setattr(FileActions, "_show_error", lambda self, title, msg: errors.append(msg))
    return errors


def test_the_first_stage_shows_the_default_graph_and_says_it_is_loading(first_stage):
    win = first_stage
    assert win.controller is None and win.files is None
    assert [n.id for n in win.canvas.graph.nodes] and win.canvas.graph.nodes[0].kind == "input"
    assert "hello" in win.windowTitle().lower()
    assert win.findChild(QtWidgets.QLabel, "loadingCore").isVisible()
    assert "Loading PyTorch" in win.findChild(QtWidgets.QLabel, "loadingCore").text()
    for name in ("new", "gallery", "open", "save", "save_as", "export"):
        assert not win.menus[name].isEnabled(), name
    assert not win.recent_menu.isEnabled()
    assert not win.canvas.view.isEnabled() and not win.canvas.palette_widget.isEnabled()


def test_clicks_before_the_core_is_loaded_do_nothing_harmful(first_stage, qtbot, qapp):
    win = first_stage
    graph = win.canvas.graph.to_dict()
    for name, act in win.menus.items():      # every menu entry and its shortcut
        if name != "quit":
            act.trigger()
    for box in win.findChildren(QtWidgets.QMessageBox):
        assert "loading" in box.text().lower() or box.objectName() == "shortcutsBox"
        box.close()
    for act in win.canvas.actions_by_name.values():
        act.trigger()
    for key in (QtCore.Qt.Key.Key_Delete, QtCore.Qt.Key.Key_Right, QtCore.Qt.Key.Key_Space,
                QtCore.Qt.Key.Key_End):
        qtbot.keyClick(win.canvas.view, key)
        qtbot.keyClick(win, key)
    win.controls.stop()
    for dock in win.docks.values():
        qtbot.mouseClick(dock.widget(), QtCore.Qt.MouseButton.LeftButton)
    qapp.processEvents()
    assert win.canvas.graph.to_dict() == graph      # nothing was edited behind the load
    assert win.controller is None
    win.attach_core()
    win.files.open_default()
    assert win.controller.trace is not None and win.controller.name == "Hello, RNN"


def test_attached_later_the_window_equals_one_made_at_once(first_stage, settings, qtbot,
                                                         tmp_path):
    win = first_stage
    win.attach_core(later=True)
    win.files.open_default()
    assert "h" in win.panels and "attention" not in win.panels   # behind a tab: later
    qtbot.waitUntil(lambda: not win._later, timeout=5000)
    ref = make_window(tmp_path / "ref")
    ref.resize(win.size())
    try:
        qtbot.waitUntil(lambda: ref.isVisible())
        assert set(win.panels) == set(ref.panels)
        for key in ("h", "gates", "loss"):
            assert win.panels[key].isVisible()
        for key, dock in win.docks.items():
            assert dock.isVisible() == ref.docks[key].isVisible(), key
            assert type(dock.widget()) is type(ref.docks[key].widget()), key
        assert win.menus["open"].isEnabled()
        assert not win.findChild(QtWidgets.QLabel, "loadingCore").isVisible()
        win.docks["attention"].raise_()              # made later: drawn when shown
        qtbot.waitUntil(lambda: "attention" not in win.refresher.stale, timeout=5000)
    finally:
        close_window(ref)


def run_startup(win, path, qtbot, timeout=60_000):
    from ui.app import Startup

    startup = Startup(win, path)
    startup.start()
    win.show()
    qtbot.waitUntil(lambda: "interactive" in startup.times or bool(startup.problem),
                    timeout=timeout)
    startup.wait()
    gc.unfreeze()   # the test process's heap stays collectable
    return startup


def collected_here_only():
    """After the startup, garbage is collected by the GUI thread's timer only (automatic
    collection would run in whichever thread allocates: ui.collector)."""
    from ui import collector

    assert not gc.isenabled()
    c = collector.instance()
    assert c is not None and not c.held


def test_startup_reports_a_file_that_cannot_be_opened_then_shows_the_default(
        qapp, settings, qtbot, tmp_path, shown_errors):
    from ui.main_window import MainWindow

    bad = tmp_path / "broken.json"
    bad.write_text('{"version": 1, "name": "broken", "graph": {"nodes": 3}}')
    win = MainWindow(settings, core=False)
    win.preview(str(bad))                            # nothing to preview: no error yet
    try:
        startup = run_startup(win, str(bad), qtbot)
        assert win.controller is not None
        assert shown_errors and "graph" in shown_errors[0]
        assert win.controller.name == "Hello, RNN" and win.controller.trace is not None
        assert set(startup.times) == {"first paint", "core loaded", "interactive"}
        collected_here_only()
    finally:
        close(win)


def test_a_core_that_fails_to_load_is_said_in_the_window(qapp, settings, qtbot,
                                                         monkeypatch):
    from ui import main_window

    monkeypatch.setattr(main_window, "CORE_MODULES", ("playground.no_such_module",))
    win = main_window.MainWindow(settings, core=False)
    try:
        startup = run_startup(win, None, qtbot)
        assert "no_such_module" in startup.problem
        label = win.findChild(QtWidgets.QLabel, "loadingCore")
        assert "could not be loaded" in label.text() and label.isVisible()
        assert "could not be loaded" in win.docks["h"].widget().text()
        assert win.controller is None and not win.menus["open"].isEnabled()
        collected_here_only()
    finally:
        close(win)


def test_the_preview_default_is_the_default_preset():
    from playground.files import experiment
    from ui.main_window import DEFAULT_PREVIEW

    assert DEFAULT_PREVIEW == experiment.resolve(experiment.DEFAULT_PRESET).resolve()


def test_the_startup_clock_starts_with_the_process():
    from ui.app import process_start

    now = time.perf_counter()
    start = process_start(now)
    assert now - 600 < start <= now
    assert process_start(now + 3600) == now + 3600 or process_start(now + 3600) < now


def test_the_device_backend_scan_is_skipped_unless_the_user_asked(monkeypatch):
    from ui.app import skip_device_backend_scan

    monkeypatch.delenv("TORCH_DEVICE_BACKEND_AUTOLOAD", raising=False)
    skip_device_backend_scan()
    assert os.environ["TORCH_DEVICE_BACKEND_AUTOLOAD"] == "0"
    monkeypatch.setenv("TORCH_DEVICE_BACKEND_AUTOLOAD", "1")
    skip_device_backend_scan()
    assert os.environ["TORCH_DEVICE_BACKEND_AUTOLOAD"] == "1"
