"""Graphics items of the canvas: nodes with typed ports, and edges.

Items draw what the scene tells them (node spec, problems, shapes, parameter
count); they never change the model themselves.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QGraphicsPathItem

from playground.model import registry
from playground.model.spec import EdgeSpec, NodeSpec

NODE_W = 220.0
HEADER_H = 26.0
ROW_H = 19.0
FOOT_H = 38.0
PORT_R = 6.0

ERROR = QColor("#d7263d")
PORT_COLORS = {"seq": QColor("#2f80ed"), "state": QColor("#f2994a"), "memory": QColor("#27ae60")}
PORT_LABELS = {"seq": "seq", "state": "state", "memory": "memory"}
PORT_HELP = {
    ("in", "seq"): "the sequence this layer reads",
    ("in", "state"): "initial state: the final state of another recurrent layer (optional)",
    ("in", "memory"): "keys and values: the sequence attended over",
    ("out", "seq"): "the output sequence",
    ("out", "state"): "the final state (h, c for an LSTM), to start another recurrent layer",
}


def output_ports(kind: str) -> list[str]:
    """Output ports of a node kind, as its declaration lists them (a head has its ``seq``)."""
    decl = registry.get(kind)
    return list(decl.outputs) if decl is not None else ["seq"]


def input_ports(kind: str) -> list[str]:
    decl = registry.get(kind)
    return list(decl.port_names) if decl is not None else []


def kind_color(kind: str) -> QColor:
    decl = registry.get(kind)
    return QColor(decl.color if decl is not None else "#6b6b6b")


def summary(node: NodeSpec) -> str:
    """One line of a node's key parameters (each kind says which)."""
    decl = registry.get(node.kind)
    if decl is None or decl.summary is None:
        return ""
    return decl.summary(node.params)


class PortItem(QGraphicsItem):
    """A typed port on a node: ``direction`` is ``in`` or ``out``, ``name`` the port type."""

    def __init__(self, node: NodeItem, name: str, direction: str):
        super().__init__(node)
        self.node = node
        self.name = name
        self.direction = direction
        self.shape_text = ""
        self.hover = False
        self.setAcceptHoverEvents(True)
        self.setZValue(2)

    @property
    def node_id(self) -> str:
        return self.node.node_id

    def boundingRect(self) -> QRectF:
        r = PORT_R + 3
        return QRectF(-r, -r, 2 * r, 2 * r)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        color = PORT_COLORS[self.name]
        painter.setPen(QPen(color.darker(150), 1.5))
        painter.setBrush(color.lighter(130) if self.hover else color)
        r = PORT_R + (2 if self.hover else 0)
        if self.name == "state":  # state ports are squares, sequences are circles
            painter.drawRect(QRectF(-r, -r, 2 * r, 2 * r))
        else:
            painter.drawEllipse(QPointF(0, 0), r, r)

    def hoverEnterEvent(self, event) -> None:
        self.hover = True
        self.update()

    def hoverLeaveEvent(self, event) -> None:
        self.hover = False
        self.update()

    def anchor(self) -> QPointF:
        return self.scenePos()


class NodeItem(QGraphicsObject):
    """A layer box: header (id, kind), one row per port with its tensor shape, a summary
    line and the parameter count. Drawn in the error colour when it has problems."""

    def __init__(self, node: NodeSpec):
        super().__init__()
        self.node_id = node.id
        self.spec = node
        self.problems: list[str] = []
        self.shapes: dict[str, str] = {}
        self.param_count: int | None = None
        self.setFlags(QGraphicsItem.ItemIsMovable | QGraphicsItem.ItemIsSelectable
                      | QGraphicsItem.ItemSendsGeometryChanges)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self.inputs: dict[str, PortItem] = {}
        self.outputs: dict[str, PortItem] = {}
        self.moved_callback = None
        self.set_spec(node)
        self.setPos(QPointF(*node.pos))

    # -- content -------------------------------------------------------------------------
    def rows(self) -> int:
        """Input ports first, then output ports, one row each, so shapes never collide."""
        return len(input_ports(self.spec.kind)) + len(output_ports(self.spec.kind))

    def height(self) -> float:
        return HEADER_H + self.rows() * ROW_H + FOOT_H

    def set_spec(self, node: NodeSpec) -> None:
        """Show ``node`` (ports depend on the kind only, so they are made once)."""
        self.prepareGeometryChange()
        self.spec = node
        if not self.inputs and not self.outputs:
            self.inputs = {n: PortItem(self, n, "in") for n in input_ports(node.kind)}
            self.outputs = {n: PortItem(self, n, "out") for n in output_ports(node.kind)}
            for i, port in enumerate(self.inputs.values()):
                port.setPos(0, HEADER_H + (i + 0.5) * ROW_H)
            first = len(self.inputs)
            for i, port in enumerate(self.outputs.values()):
                port.setPos(NODE_W, HEADER_H + (first + i + 0.5) * ROW_H)
        self.update()

    def set_status(self, problems: list[str], shapes: dict[str, str], params: int | None) -> None:
        self.problems, self.shapes, self.param_count = problems, shapes, params
        tip = f"<b>{self.node_id}</b> ({registry.label(self.spec.kind)})"
        if problems:
            tip += "<br>" + "<br>".join(f"<span style='color:#d7263d'>&#9888; {p}</span>"
                                        for p in problems)
        self.setToolTip(tip)
        for ports, suffix in ((self.inputs, "in"), (self.outputs, "out")):
            for name, port in ports.items():
                shape = shapes.get(f"{name}_{suffix}", "")
                port.setToolTip(f"{name} {suffix}: {PORT_HELP[(suffix, name)]} {shape}".strip())
        self.update()

    # -- drawing -------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return QRectF(-2, -2, NODE_W + 4, self.height() + 4)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.Antialiasing)
        rect = QRectF(0, 0, NODE_W, self.height())
        bad = bool(self.problems)
        border = ERROR if bad else QColor("#2d3436")
        width = 3.0 if self.isSelected() else 1.5
        if self.isSelected() and not bad:
            border = QColor("#f2c94c")
        painter.setPen(QPen(border, width))
        painter.setBrush(QColor("#fdf0f1") if bad else QColor("#fbfbfd"))
        painter.drawRoundedRect(rect, 6, 6)
        head = QPainterPath()
        head.addRoundedRect(QRectF(0, 0, NODE_W, HEADER_H), 6, 6)
        painter.fillPath(head, QBrush(ERROR if bad else kind_color(self.spec.kind)))
        painter.setPen(Qt.white)
        bold = QFont()
        bold.setPointSizeF(9.5)
        bold.setBold(True)
        painter.setFont(bold)
        title = f"{self.node_id}  ·  {registry.label(self.spec.kind)}"
        painter.drawText(QRectF(8, 0, NODE_W - 16, HEADER_H), Qt.AlignVCenter | Qt.AlignLeft,
                         QFontMetrics(bold).elidedText(title, Qt.ElideRight, int(NODE_W - 16)))
        small = QFont()
        small.setPointSizeF(8.5)
        painter.setFont(small)
        for name, port in self.inputs.items():
            text = f"{PORT_LABELS[name]} {self.shapes.get(name + '_in', '')}"
            painter.setPen(PORT_COLORS[name].darker(140))
            painter.drawText(QRectF(12, port.y() - ROW_H / 2, NODE_W - 24, ROW_H),
                             Qt.AlignVCenter | Qt.AlignLeft, text.strip())
        for name, port in self.outputs.items():
            text = self.shapes.get(name + "_out", "")
            label = "out" if name == "seq" else "state out"
            painter.setPen(PORT_COLORS[name].darker(140))
            painter.drawText(QRectF(12, port.y() - ROW_H / 2, NODE_W - 24, ROW_H),
                             Qt.AlignVCenter | Qt.AlignRight, f"{text} {label}".strip())
        y = HEADER_H + self.rows() * ROW_H
        painter.setPen(QColor("#555"))
        painter.drawText(QRectF(8, y, NODE_W - 16, 18), Qt.AlignVCenter | Qt.AlignLeft,
                         summary(self.spec))
        count = "? params" if self.param_count is None else f"{self.param_count:,} params"
        painter.setPen(ERROR if bad else QColor("#222"))
        msg = f"⚠ {len(self.problems)} problem(s)" if bad else ""
        painter.drawText(QRectF(8, y + 17, NODE_W - 16, 18), Qt.AlignVCenter | Qt.AlignLeft, msg)
        painter.drawText(QRectF(8, y + 17, NODE_W - 16, 18), Qt.AlignVCenter | Qt.AlignRight,
                         count)

    def itemChange(self, change, value):
        if change == QGraphicsItem.ItemPositionHasChanged and self.moved_callback:
            self.moved_callback(self.node_id)
        return super().itemChange(change, value)


class EdgeItem(QGraphicsPathItem):
    """A curved edge from a source's output port to a destination's input port."""

    def __init__(self, edge: EdgeSpec, src_port: PortItem, dst_port: PortItem):
        super().__init__()
        self.edge = edge
        self.src_port = src_port
        self.dst_port = dst_port
        self.problems: list[str] = []
        self.setFlag(QGraphicsItem.ItemIsSelectable)
        self.setZValue(0)
        self.setAcceptHoverEvents(True)
        self.update_path()
        self.set_problems([])

    def update_path(self) -> None:
        self.setPath(curve(self.src_port.anchor(), self.dst_port.anchor()))

    def set_problems(self, problems: list[str]) -> None:
        self.problems = problems
        color = ERROR if problems else PORT_COLORS[self.edge.port]
        pen = QPen(color, 2.5 if not problems else 3.0)
        if self.edge.port == "state":
            pen.setStyle(Qt.DashLine)
        self.setPen(pen)
        e = self.edge
        tip = f"{e.src} → {e.dst} ({e.port})"
        if problems:
            tip += "<br>" + "<br>".join(f"<span style='color:#d7263d'>&#9888; {p}</span>"
                                        for p in problems)
        self.setToolTip(tip)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        pen = QPen(self.pen())
        if self.isSelected():
            pen.setWidthF(pen.widthF() + 2)
            pen.setColor(QColor("#f2c94c") if not self.problems else ERROR.darker(130))
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setPen(pen)
        painter.setBrush(Qt.NoBrush)
        painter.drawPath(self.path())
        end = self.dst_port.anchor() - QPointF(PORT_R, 0)
        painter.setBrush(pen.color())
        painter.drawPolygon([end, end + QPointF(-9, -5), end + QPointF(-9, 5)])

    def shape(self) -> QPainterPath:
        from PySide6.QtGui import QPainterPathStroker

        stroker = QPainterPathStroker()
        stroker.setWidth(10)
        return stroker.createStroke(self.path())


def curve(a: QPointF, b: QPointF) -> QPainterPath:
    """A horizontal S-curve from ``a`` to ``b``."""
    path = QPainterPath(a)
    dx = max(abs(b.x() - a.x()) * 0.5, 60.0)
    path.cubicTo(a + QPointF(dx, 0), b - QPointF(dx, 0), b)
    return path
