"""A read-only fallback view of the model graph (used when the canvas editor is absent):
nodes as boxes with their kind and size, edges as lines; clicking a node selects it."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from playground.model.registry import label as kind_label

W, H = 150.0, 48.0


def node_size(node) -> str:
    p = node.params
    for k in ("hidden_size", "out_features", "vocab_size", "features", "num_heads"):
        if k in p:
            return f"{k.replace('_', ' ')} {p[k]}"
    return ""


class GraphPreview(QtWidgets.QGraphicsView):
    """Boxes and arrows of a GraphSpec; ``nodeSelected(str)`` on click."""

    nodeSelected = QtCore.Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QtWidgets.QGraphicsScene(self))
        self.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        self._boxes: dict[str, QtWidgets.QGraphicsRectItem] = {}
        self._labels: list[QtWidgets.QGraphicsTextItem] = []

    def set_graph(self, graph) -> None:
        sc = self.scene()
        sc.clear()
        self._boxes = {}
        self._labels: list[QtWidgets.QGraphicsTextItem] = []
        pos = {n.id: QtCore.QPointF(*n.pos) for n in graph.nodes}
        pen = QtGui.QPen(QtGui.QColor("#555"), 2)
        for e in graph.edges:
            a, b = pos[e.src] + QtCore.QPointF(W, H / 2), pos[e.dst] + QtCore.QPointF(0, H / 2)
            sc.addLine(QtCore.QLineF(a, b), pen)
        for n in graph.nodes:
            r = sc.addRect(QtCore.QRectF(pos[n.id], QtCore.QSizeF(W, H)), QtGui.QPen("#345"),
                           QtGui.QBrush(QtGui.QColor("#e8f0fb")))
            r.setData(0, n.id)
            r.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
            t = QtWidgets.QGraphicsTextItem(f"{n.id}: {kind_label(n.kind)}\n"
                                            f"{node_size(n)}", r)
            t.setPos(pos[n.id] + QtCore.QPointF(4, 2))
            self._labels.append(t)   # PySide does not keep child items alive by itself
            self._boxes[n.id] = r
        self.fitInView(sc.itemsBoundingRect().adjusted(-20, -20, 20, 20),
                       QtCore.Qt.AspectRatioMode.KeepAspectRatio)

    def select_node(self, node_id: str) -> None:
        for nid, r in self._boxes.items():
            r.setBrush(QtGui.QColor("#ffd59e" if nid == node_id else "#e8f0fb"))
        self.nodeSelected.emit(node_id)

    def mousePressEvent(self, ev) -> None:
        for it in self.items(ev.position().toPoint()):
            nid = it.data(0)
            if nid:
                self.select_node(str(nid))
                return
        super().mousePressEvent(ev)
