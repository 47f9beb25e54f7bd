"""The palette of layer kinds: drag one onto the canvas, or double-click / press Enter
to add it (keyboard users and tests)."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QDrag, QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem

from playground.spec import KIND_LABELS, KINDS

from .items import KIND_COLORS

MIME_KIND = "application/x-sequence-playground-kind"
HINTS = {
    "input": "Token ids (one-hot or embedding) or numbers per step",
    "rnn": "Elman RNN: h_t = tanh(W_ih x_t + W_hh h_{t-1} + b)",
    "lstm": "LSTM: gates i, f, g, o and a cell state c",
    "gru": "GRU: reset and update gates",
    "self_attention": "Multi-head self-attention (optionally causal)",
    "cross_attention": "Queries from seq, keys/values from memory",
    "transformer": "Pre-norm transformer block: attention + feed-forward",
    "linear": "Linear output head (softmax classes or values)",
}


class PaletteWidget(QListWidget):
    """One entry per layer kind. ``addRequested(kind)`` on double-click or Enter."""

    addRequested = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("canvasPalette")
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragOnly)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        for kind in KINDS:
            item = QListWidgetItem(KIND_LABELS[kind])
            item.setData(Qt.UserRole, kind)
            item.setToolTip(HINTS[kind] + "\nDrag onto the canvas, or double-click to add.")
            item.setForeground(QBrush(QColor(KIND_COLORS[kind]).darker(110)))
            swatch = QPixmap(14, 14)
            swatch.fill(QColor(KIND_COLORS[kind]))
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
