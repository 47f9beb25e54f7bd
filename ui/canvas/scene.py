"""The canvas scene: follows a :class:`GraphModel`'s events and turns user gestures
(dragging from port to port, moving nodes) into undo commands."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPen, QUndoStack
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsScene

from playground.model import registry
from playground.model.editing import EditInfo, GraphModel
from playground.model.spec import EdgeSpec

from .commands import ConnectCommand, DisconnectCommand, MoveCommand
from .items import EdgeItem, NodeItem, PortItem, curve


class GraphScene(QGraphicsScene):
    """Items for every node and edge of ``model``; kept in step through the model's events.

    ``message(str)`` is emitted when a gesture is refused (e.g. an invalid connection).
    """

    message = Signal(str)

    def __init__(self, model: GraphModel, undo_stack: QUndoStack, parent=None):
        super().__init__(parent)
        self.model = model
        self.undo_stack = undo_stack
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[EdgeSpec, EdgeItem] = {}
        self._drag_port: PortItem | None = None
        self._drag_line: QGraphicsPathItem | None = None
        self._picked: EdgeSpec | None = None
        self._press_pos: dict[str, tuple[float, float]] = {}
        self.setBackgroundBrush(QColor("#eef1f5"))
        model.node_added.connect(self._on_node_added)
        model.node_removed.connect(self._on_node_removed)
        model.edge_added.connect(self._on_edge_added)
        model.edge_removed.connect(self._on_edge_removed)
        model.param_changed.connect(self._on_param_changed)
        model.node_moved.connect(self._on_node_moved)
        model.reset.connect(self.rebuild)
        self.rebuild()

    def detach(self) -> None:
        """Stop following the model (before the scene is dropped)."""
        m = self.model
        for event, fn in ((m.node_added, self._on_node_added), (m.node_removed,
                          self._on_node_removed), (m.edge_added, self._on_edge_added),
                          (m.edge_removed, self._on_edge_removed), (m.param_changed,
                          self._on_param_changed), (m.node_moved, self._on_node_moved),
                          (m.reset, self.rebuild)):
            event.disconnect(fn)

    # -- following the model ---------------------------------------------------------------
    def rebuild(self) -> None:
        for item in list(self.edges.values()):
            self.removeItem(item)
        for item in list(self.nodes.values()):
            self.removeItem(item)
        self.nodes.clear()
        self.edges.clear()
        for node in self.model.graph.nodes:
            self._on_node_added(node.id)
        for edge in self.model.graph.edges:
            self._on_edge_added(edge)

    def _on_node_added(self, node_id: str) -> None:
        item = NodeItem(self.model.node(node_id))
        item.moved_callback = self._node_moved_on_screen
        self.nodes[node_id] = item
        self.addItem(item)

    def _on_node_removed(self, node_id: str) -> None:
        item = self.nodes.pop(node_id, None)
        if item is not None:
            self.removeItem(item)

    def _on_edge_added(self, edge: EdgeSpec) -> None:
        src, dst = self.nodes.get(edge.src), self.nodes.get(edge.dst)
        if src is None or dst is None:
            return  # an edge to a missing node: reported by validation, not drawn
        inp = dst.inputs.get(edge.port)
        port = registry.kind_of(dst.spec.kind).port(edge.port)
        if inp is None or port is None:
            return  # a port the kind does not have: reported by validation
        out = src.outputs.get(port.takes) or src.outputs["seq"]
        item = EdgeItem(edge, out, inp)
        self.edges[edge] = item
        self.addItem(item)

    def _on_edge_removed(self, edge: EdgeSpec) -> None:
        item = self.edges.pop(edge, None)
        if item is not None:
            self.removeItem(item)

    def _on_param_changed(self, node_id: str, name: str, value) -> None:
        item = self.nodes[node_id]
        item.set_spec(self.model.node(node_id))

    def _on_node_moved(self, node_id: str, pos) -> None:
        item = self.nodes[node_id]
        if (item.pos().x(), item.pos().y()) != tuple(pos):
            item.setPos(QPointF(*pos))

    def _node_moved_on_screen(self, node_id: str) -> None:
        for edge, item in self.edges.items():
            if node_id in (edge.src, edge.dst):
                item.update_path()

    def show_analysis(self, info: EditInfo) -> None:
        """Colour invalid nodes and edges, show shapes and parameter counts."""
        by_node: dict[str, list[str]] = {}
        by_edge: dict[tuple, list[str]] = {}
        for p in info.problems:
            if p.edge is not None:
                by_edge.setdefault(p.edge, []).append(p.message)
            if p.node is not None:
                text = p.message if p.port is None else f"port '{p.port}': {p.message}"
                by_node.setdefault(p.node, []).append(text)
        for nid, item in self.nodes.items():
            item.set_status(by_node.get(nid, []), info.shapes.get(nid, {}), info.params.get(nid))
        for edge, item in self.edges.items():
            item.set_problems(by_edge.get((edge.src, edge.dst, edge.port), []))

    # -- gestures --------------------------------------------------------------------------
    def selected_node_ids(self) -> list[str]:
        return [i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)]

    def selected_edges(self) -> list[EdgeSpec]:
        return [i.edge for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def _port_at(self, pos: QPointF) -> PortItem | None:
        for item in self.items(pos):
            if isinstance(item, PortItem):
                return item
        return None

    def mousePressEvent(self, event) -> None:
        port = self._port_at(event.scenePos()) if event.button() == Qt.LeftButton else None
        if port is not None:
            self._picked = None
            if port.direction == "in":  # a connected input: pick up its edge to move it
                edge = next((e for e in self.edges if e.dst == port.node_id
                             and e.port == port.name), None)
                if edge is not None:
                    self._picked = edge
                    self.edges[edge].setVisible(False)
                    port = self.edges[edge].src_port
            self._drag_port = port
            self._drag_line = QGraphicsPathItem()
            self._drag_line.setPen(QPen(QColor("#888"), 2, Qt.DashLine))
            self._drag_line.setZValue(5)
            self.addItem(self._drag_line)
            event.accept()
            return
        self._press_pos = {nid: self.model.node(nid).pos for nid in self.nodes}
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._drag_port is not None:
            a, b = self._drag_port.anchor(), event.scenePos()
            self._drag_line.setPath(curve(a, b) if self._drag_port.direction == "out"
                                    else curve(b, a))
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._drag_port is not None:
            start, self._drag_port = self._drag_port, None
            self.removeItem(self._drag_line)
            self._drag_line = None
            end = self._port_at(event.scenePos())
            if self._picked is not None:
                self._drop_picked(self._picked, end)
            elif end is not None and end is not start:
                self.connect_ports(start, end)
            return
        super().mouseReleaseEvent(event)
        moves = {}
        for nid, item in self.nodes.items():
            new = (item.pos().x(), item.pos().y())
            old = self._press_pos.get(nid)
            if old is not None and tuple(old) != new:
                moves[nid] = (tuple(old), new)
        self._press_pos = {}
        if moves:
            self.undo_stack.push(MoveCommand(self.model, moves))

    def _drop_picked(self, edge: EdgeSpec, end: PortItem | None) -> None:
        """An edge picked up by its input end: dropped on nothing it is removed, on another
        input it is moved there (one undo step), anywhere else nothing changes."""
        self._picked = None
        item = self.edges.get(edge)
        if end is None:
            self.undo_stack.push(DisconnectCommand(self.model, edge.src, edge.dst, edge.port))
            return
        if item is not None:
            item.setVisible(True)
        if end.direction != "in" or (end.node_id, end.name) == (edge.dst, edge.port):
            return
        trial = GraphModel(self.model.graph)
        trial.disconnect(edge.src, edge.dst, edge.port)
        out = registry.kind_of(self.model.node(edge.dst).kind).port(edge.port).takes
        reason = trial.connection_problem(edge.src, end.node_id, end.name, from_output=out)
        if reason:
            self.message.emit(f"Cannot move the edge to {end.node_id} ({end.name}): {reason}")
            return
        self.undo_stack.beginMacro(f"Move edge {edge.src} → {end.node_id}")
        self.undo_stack.push(DisconnectCommand(self.model, edge.src, edge.dst, edge.port))
        self.undo_stack.push(ConnectCommand(self.model, edge.src, end.node_id, end.name))
        self.undo_stack.endMacro()

    def connect_ports(self, a: PortItem, b: PortItem) -> str | None:
        """Connect two ports (either order) through an undo command; returns the reason
        when the connection is refused (also emitted as ``message``)."""
        if a.direction == b.direction:
            reason = (f"both ports are {'outputs' if a.direction == 'out' else 'inputs'}; "
                      "connect an output (right side) to an input (left side)")
        else:
            out, inp = (a, b) if a.direction == "out" else (b, a)
            reason = self.model.connection_problem(out.node_id, inp.node_id, inp.name,
                                                   from_output=out.name)
            if reason is None:
                self.undo_stack.push(ConnectCommand(self.model, out.node_id, inp.node_id,
                                                    inp.name))
                return None
            reason = f"Cannot connect {out.node_id} → {inp.node_id} ({inp.name}): {reason}"
        self.message.emit(reason)
        return reason
