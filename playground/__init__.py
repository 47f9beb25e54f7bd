"""Sequence Playground core: specs, models, exact per-step traces, data and training.

Qt-free by design: nothing here imports PySide6, pyqtgraph or ``ui``.
"""

__version__ = "0.1.0"
