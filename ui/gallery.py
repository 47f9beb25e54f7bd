"""The preset gallery: every bundled preset with its name, description and what to look at."""

from __future__ import annotations

import html

from PySide6 import QtCore, QtWidgets

from playground.errors import PlaygroundError


def preset_entries() -> list[dict]:
    """``{"path", "name", "description", "look_at", "outcome", "error"}`` per preset file."""
    from playground.files import experiment

    out = []
    for key in experiment.preset_names():
        path = experiment.PRESETS_DIR / f"{key}.json"
        try:
            exp = experiment.load(path, weights=False)
            out.append({"path": str(path), "name": exp.name, "description": exp.description,
                        "look_at": exp.what_to_look_at, "outcome": exp.outcome, "error": ""})
        except PlaygroundError as e:
            out.append({"path": str(path), "name": key, "description": "", "look_at": "",
                        "outcome": "", "error": str(e)})
    return out


class GalleryDialog(QtWidgets.QDialog):
    """Pick a preset; :attr:`chosen` is its path after ``exec()``."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Preset gallery")
        self.resize(960, 520)
        self.chosen: str | None = None
        self.entries = preset_entries()
        lay = QtWidgets.QHBoxLayout(self)
        self.list = QtWidgets.QListWidget()
        self.list.setMinimumWidth(340)
        self.list.setWordWrap(True)
        for e in self.entries:
            it = QtWidgets.QListWidgetItem(e["name"])
            it.setToolTip(e["description"] or e["error"])
            if e["error"]:
                it.setForeground(QtCore.Qt.GlobalColor.red)
            self.list.addItem(it)
        lay.addWidget(self.list)
        right = QtWidgets.QVBoxLayout()
        self.text = QtWidgets.QTextBrowser()
        right.addWidget(self.text, 1)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Open |
                                             QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        right.addWidget(buttons)
        lay.addLayout(right, 1)
        self.list.currentRowChanged.connect(self._show)
        self.list.itemDoubleClicked.connect(lambda _: self._accept())
        if self.entries:
            self.list.setCurrentRow(0)
        else:
            self.text.setHtml("<p>No presets found.</p>")

    def _show(self, row: int) -> None:
        if not 0 <= row < len(self.entries):
            return
        e = self.entries[row]
        esc = html.escape
        parts = [f"<h2>{esc(e['name'])}</h2>"]
        if e["error"]:
            parts.append(f"<p style='color:#c62828'>{esc(e['error'])}</p>")
        if e["description"]:
            parts.append(f"<p>{esc(e['description'])}</p>")
        if e["look_at"]:
            parts.append(f"<h3>What to look at</h3><p>{esc(e['look_at'])}</p>")
        if e["outcome"]:
            parts.append(f"<h3>After training</h3><p>{esc(e['outcome'])}</p>")
        self.text.setHtml("".join(parts))

    def select(self, name: str) -> bool:
        for i, e in enumerate(self.entries):
            if e["name"] == name or e["path"].endswith(f"/{name}.json"):
                self.list.setCurrentRow(i)
                return True
        return False

    def _accept(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self.entries) and not self.entries[row]["error"]:
            self.chosen = self.entries[row]["path"]
            self.accept()
