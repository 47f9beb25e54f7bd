import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")   # as ui.app.make_app: serial raster fills
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture
def one_thread():
    """Tiny models run faster on one thread, and a loaded machine cannot stall them."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def pytest_sessionstart(session):
    """Compile (or load) the trace kernels before any test runs. Otherwise the first
    minute of window tests runs beside the compiler, and where it ends depends on the
    machine: each test would meet a different mix of torch and compiled traces. (How the
    app behaves while they compile is tested on its own: tests/app/test_cold_start.py,
    tests/tracing/test_trace_exact.py.)"""
    from playground.tracing import compiled

    compiled.warm_up(block=True)


def pytest_sessionfinish(session, exitstatus):
    """Empty the clipboard before Qt shuts down: offscreen Qt crashes at exit when the
    clipboard still owns data (the canvas tests copy nodes)."""
    qt = sys.modules.get("PySide6.QtWidgets")
    if qt is None:
        return
    app = qt.QApplication.instance()
    if app is not None:
        app.clipboard().clear()
        app.processEvents()
