"""The graphics view of the canvas: zoom (wheel), pan (middle button, or Alt + drag),
rubber-band selection, and drops from the palette."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QGraphicsView

from .palette import MIME_KIND

MIN_ZOOM, MAX_ZOOM = 0.2, 4.0


class GraphView(QGraphicsView):
    """A view of a :class:`GraphScene`. ``kindDropped(kind, scene_pos)`` on a palette drop."""

    kindDropped = Signal(str, QPointF)

    def __init__(self, scene, parent=None):
        super().__init__(scene, parent)
        self.setObjectName("canvasView")
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setDragMode(QGraphicsView.RubberBandDrag)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.BoundingRectViewportUpdate)
        self.setAcceptDrops(True)
        self.setSceneRect(-5000, -5000, 10000, 10000)
        self._pan_from: QPointF | None = None
        self.auto_fit = True     # refit on resize until the user zooms or pans

    # -- zoom and pan ------------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        self.auto_fit = False
        target = min(max(self.zoom() * factor, MIN_ZOOM), MAX_ZOOM)
        f = target / self.zoom()
        self.scale(f, f)

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(1.15 ** steps)
        event.accept()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.auto_fit:
            self.fit()

    def fit(self) -> None:
        """Zoom to show every node (never beyond 125 %); the view then follows its size
        (a bigger dock shows a bigger graph) until the user zooms or pans."""
        self.auto_fit = True
        rect = self.scene().itemsBoundingRect()
        if rect.isEmpty():
            self.resetTransform()
            self.centerOn(0, 0)
            return
        self.fitInView(rect.adjusted(-40, -40, 40, 40), Qt.KeepAspectRatio)
        if self.zoom() > 1.25:
            self.resetTransform()
            self.scale(1.25, 1.25)
            self.centerOn(rect.center())

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MiddleButton or (
                event.button() == Qt.LeftButton and event.modifiers() & Qt.AltModifier):
            self._pan_from = event.position()
            self.auto_fit = False
            self.viewport().setCursor(Qt.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.pan(-delta.x(), -delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def pan(self, dx: float, dy: float) -> None:
        """Scroll by ``(dx, dy)`` screen pixels."""
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() + int(round(dx)))
        v.setValue(v.value() + int(round(dy)))

    # -- drops from the palette --------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(MIME_KIND):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasFormat(MIME_KIND):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event) -> None:
        if event.mimeData().hasFormat(MIME_KIND):
            kind = bytes(event.mimeData().data(MIME_KIND)).decode()
            self.kindDropped.emit(kind, self.mapToScene(event.position().toPoint()))
            event.acceptProposedAction()
        else:
            super().dropEvent(event)
