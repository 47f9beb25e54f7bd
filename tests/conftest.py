import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


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
