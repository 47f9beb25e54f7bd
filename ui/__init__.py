"""The desktop app: PySide6 + pyqtgraph views of what :mod:`playground` computes."""
