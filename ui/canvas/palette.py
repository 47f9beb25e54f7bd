"""The palette of layer kinds: drag one onto the canvas, or double-click / press Enter
to add it (keyboard users and tests)."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QDrag, QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem

from playground.model import registry

MIME_KIND = "application/x-sequence-playground-kind"

class PaletteWidget(QListWidget):
    """One entry per registered layer kind (:mod:`playground.model.registry`), in
    registration order. ``addRequested(kind)`` on double-click or Enter."""

    addRequested = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("canvasPalette")
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragOnly)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        for decl in registry.kinds():
            item = QListWidgetItem(decl.label)
            item.setData(Qt.UserRole, decl.name)
            item.setToolTip(decl.description + "\nDrag onto the canvas, or double-click to add.")
            item.setForeground(QBrush(QColor(decl.color).darker(110)))
            swatch = QPixmap(14, 14)
            swatch.fill(QColor(decl.color))
            item.setIcon(QIcon(swatch))
            self.addItem(item)
        self.itemActivated.connect(self._activated)
        self.setSpacing(3)
        self.setToolTip("Drag a layer onto the canvas, or double-click it to add it")

    def kinds(self) -> list[str]:
        return [self.item(i).data(Qt.UserRole) for i in range(self.count())]

    def item_for(self, kind: str) -> QListWidgetItem:
        return self.item(self.kinds().index(kind))

    def _activated(self, item: QListWidgetItem) -> None:
        self.addRequested.emit(item.data(Qt.UserRole))

    def mouseDoubleClickEvent(self, event) -> None:
        item = self.itemAt(event.position().toPoint())
        if item is not None:
            self.addRequested.emit(item.data(Qt.UserRole))
            return
        super().mouseDoubleClickEvent(event)

    def startDrag(self, actions) -> None:
        item = self.currentItem()
        if item is None:
            return
        mime = QMimeData()
        mime.setData(MIME_KIND, item.data(Qt.UserRole).encode())
        mime.setText(item.data(Qt.UserRole))
        drag = QDrag(self)
        drag.setMimeData(mime)
        drag.exec(Qt.CopyAction)
