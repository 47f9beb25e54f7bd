"""CanvasView: the model editor widget (palette, graph view, properties, problems)."""

from __future__ import annotations

import json

from PySide6.QtCore import QMimeData, QPoint, QPointF, QSize, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from playground.model import registry
from playground.model.editing import EditError, EditInfo, GraphModel
from playground.model.spec import GraphSpec

from .commands import AddNodeCommand, DisconnectCommand, PasteCommand, RemoveNodeCommand
from .items import NODE_W, NodeItem
from .palette import PaletteWidget
from .properties import PropertyEditor
from .scene import GraphScene
from .view import GraphView

MIME_NODES = "application/x-sequence-playground-nodes"
HINT = ("Drag layers from the palette (or double-click them). Connect by dragging from an "
        "output (right) to an input (left). Wheel: zoom · middle-drag: pan · "
        "Del, Ctrl+A/C/V/D, Ctrl+Z, Ctrl+Shift+Z or Ctrl+Y, F: fit")
SHORT_HINT = "Tip: drag output → input to connect; wheel zooms, middle-drag pans (hover for more)"


class ProblemsList(QListWidget):
    """Every validation problem, one per line; clicking one selects its node."""

    nodeClicked = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("canvasProblems")
        self.setWordWrap(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setResizeMode(QListWidget.Adjust)
        self.itemClicked.connect(self._clicked)

    def sizeHint(self) -> QSize:
        return QSize(240, 64)

    def show_problems(self, info: EditInfo) -> None:
        self.clear()
        if info.ok:
            item = QListWidgetItem("✓ The model is valid.")
            item.setForeground(Qt.darkGreen)
            self.addItem(item)
            return
        for p in info.problems:
            item = QListWidgetItem(f"⚠ {p}")
            item.setForeground(Qt.red)
            item.setData(Qt.UserRole, p.node or "")
            self.addItem(item)

    def messages(self) -> list[str]:
        return [self.item(i).text() for i in range(self.count())]

    def _clicked(self, item: QListWidgetItem) -> None:
        if item.data(Qt.UserRole):
            self.nodeClicked.emit(item.data(Qt.UserRole))


class CanvasView(QWidget):
    """The model editor. See the package docstring for the contract with the window."""

    nodeSelected = Signal(str)
    graphChanged = Signal()
    messageShown = Signal(str)

    def sizeHint(self) -> QSize:
        # room for a three-node chain at a readable zoom (the window's left column
        # takes this width)
        return QSize(520, 420)

    def __init__(self, model: GraphModel | None = None, parent=None, embed_panels: bool = True):
        super().__init__(parent)
        self.model = model if model is not None else GraphModel()
        self._undo = QUndoStack(self)
        self.scene = GraphScene(self.model, self._undo, self)
        self.view = GraphView(self.scene, self)
        self.palette = PaletteWidget()
        self.properties = PropertyEditor(self.model, self._undo)
        self.problems = ProblemsList()
        self.total_label = QLabel()
        self.total_label.setObjectName("canvasTotal")
        self.message_label = QLabel()
        self.message_label.setObjectName("canvasMessage")
        self.message_label.setWordWrap(True)
        self.message_label.setToolTip(HINT)
        self.message_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.total_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.info: EditInfo = self.model.analyze()
        self._selected = ""
        self._paste_count = 0

        center = QWidget()
        cl = QVBoxLayout(center)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.view, 1)
        cl.addWidget(self.total_label)
        cl.addWidget(self.message_label)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        if embed_panels:
            side = QSplitter(Qt.Vertical)
            side.addWidget(self.properties)
            side.addWidget(self.problems)
            side.setSizes([300, 120])
            split = QSplitter(Qt.Horizontal)
            self.palette.setMaximumWidth(220)   # embedded beside the graph (docked: free)
            split.addWidget(self.palette)
            split.addWidget(center)
            split.addWidget(side)
            split.setStretchFactor(1, 1)
            split.setSizes([150, 900, 250])
            layout.addWidget(split)
        else:  # the window docks palette and properties; problems stay here unless docked
            split = QSplitter(Qt.Vertical)
            split.addWidget(center)
            split.addWidget(self.problems)
            split.setStretchFactor(0, 1)
            split.setSizes([400, 70])
            layout.addWidget(split)

        self.palette.addRequested.connect(self.add_node)
        self.view.kindDropped.connect(self._dropped)
        self.scene.selectionChanged.connect(self._selection_changed)
        self.scene.message.connect(self.show_message)
        self.problems.nodeClicked.connect(self.select_node)
        self.view.setContextMenuPolicy(Qt.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._show_context_menu)
        self.model.changed.connect(self._model_changed)
        self.model.reset.connect(self._model_reset)
        self._make_actions()
        self._show_hint()
        self._refresh()

    # -- contract with the window ------------------------------------------------------------
    @property
    def undo_stack(self) -> QUndoStack:
        return self._undo

    @property
    def palette_widget(self) -> PaletteWidget:
        return self.palette

    @property
    def properties_widget(self) -> PropertyEditor:
        return self.properties

    @property
    def problems_widget(self) -> ProblemsList:
        return self.problems

    @property
    def graph(self) -> GraphSpec:
        """A copy of the edited graph."""
        return self.model.spec()

    def set_graph(self, graph: GraphSpec) -> None:
        """Replace the content (e.g. a file was opened); clears the undo history."""
        self._undo.clear()
        self.model.set_graph(graph)
        self.view.fit()

    def detach(self) -> None:
        """Stop following the model (call before dropping a canvas whose model lives on)."""
        self.scene.detach()
        self.properties.detach()
        self.model.changed.disconnect(self._model_changed)
        self.model.reset.disconnect(self._model_reset)

    def select_node(self, node_id: str) -> None:
        self.scene.clearSelection()
        item = self.scene.nodes.get(node_id)
        if item is not None:
            item.setSelected(True)
            self.view.ensureVisible(item)

    def selected_node(self) -> str:
        return self._selected

    def select_all(self) -> None:
        for item in self.scene.nodes.values():
            item.setSelected(True)

    # -- edits (each one an undo command) ----------------------------------------------------
    def add_node(self, kind: str, pos: QPointF | tuple | None = None, params=None) -> str:
        """Add a ``kind`` node at ``pos`` (default: right of the existing nodes); select it."""
        if pos is None:
            nodes = self.model.graph.nodes
            x = max((n.pos[0] for n in nodes), default=-NODE_W - 60) + NODE_W + 60
            y = nodes[-1].pos[1] if nodes else 0.0
            pos = (x, y)
        elif isinstance(pos, QPointF):
            pos = (pos.x(), pos.y())
        pos = (float(pos[0]), float(pos[1]))
        try:  # try it on a copy first: a refused command never reaches the undo stack
            GraphModel(self.model.graph).add_node(kind, pos, params)
        except EditError as exc:
            self.show_message(str(exc))
            return ""
        cmd = AddNodeCommand(self.model, kind, pos, params)
        self._undo.push(cmd)
        self.select_node(cmd.node_id)
        return cmd.node_id

    def connect_nodes(self, src: str, dst: str, port: str = "seq",
                      from_output: str | None = None) -> str | None:
        """Connect as a port-to-port drag would; returns the refusal reason or None."""
        s, d = self.scene.nodes.get(src), self.scene.nodes.get(dst)
        if s is None or d is None:
            reason = f"Cannot connect {src} → {dst}: there is no node '{dst if s else src}'"
            self.show_message(reason)
            return reason
        out = s.outputs.get(from_output or ("state" if port == "state" else "seq"))
        inp = d.inputs.get(port)
        if out is None or inp is None:
            reason = self.model.connection_problem(src, dst, port, from_output)
            reason = f"Cannot connect {src} → {dst} ({port}): {reason or 'no such port'}"
            self.show_message(reason)
            return reason
        return self.scene.connect_ports(out, inp)

    def set_param(self, node_id: str, name: str, value) -> None:
        from .commands import SetParamCommand

        self.model.check_param(node_id, name, value)
        self._undo.push(SetParamCommand(self.model, node_id, name, value))

    def delete_selected(self) -> None:
        nodes, edges = self.scene.selected_node_ids(), self.scene.selected_edges()
        edges = [e for e in edges if e.src not in nodes and e.dst not in nodes]
        if not nodes and not edges:
            return
        self._undo.beginMacro("Delete")
        for e in edges:
            self._undo.push(DisconnectCommand(self.model, e.src, e.dst, e.port))
        for nid in nodes:
            self._undo.push(RemoveNodeCommand(self.model, nid))
        self._undo.endMacro()

    def copy_selected(self) -> dict | None:
        ids = self.scene.selected_node_ids()
        if not ids:
            return None
        fragment = self.model.fragment(ids)
        mime = QMimeData()
        mime.setData(MIME_NODES, json.dumps(fragment).encode())
        QGuiApplication.clipboard().setMimeData(mime)
        self._paste_count = 0
        return fragment

    def paste(self, fragment: dict | None = None) -> list[str]:
        if fragment is None:
            mime = QGuiApplication.clipboard().mimeData()
            if mime is None or not mime.hasFormat(MIME_NODES):
                return []
            try:  # JSON only: the clipboard never executes anything
                fragment = json.loads(bytes(mime.data(MIME_NODES)).decode())
            except ValueError:
                self.show_message("The clipboard does not hold canvas nodes.")
                return []
        self._paste_count += 1
        off = 40.0 * self._paste_count
        return self._push_paste(fragment, (off, off), "Paste")

    def duplicate_selected(self) -> list[str]:
        ids = self.scene.selected_node_ids()
        return self._push_paste(self.model.fragment(ids), (40.0, 40.0), "Duplicate") if ids else []

    def _push_paste(self, fragment, offset, text) -> list[str]:
        try:  # try it on a copy first: a refused command never reaches the undo stack
            GraphModel(self.model.graph).paste(fragment, offset)
        except EditError as exc:
            self.show_message(str(exc))
            return []
        cmd = PasteCommand(self.model, fragment, offset, text)
        self._undo.push(cmd)
        self.scene.clearSelection()
        for nid in cmd.ids:
            self.scene.nodes[nid].setSelected(True)
        return list(cmd.ids)

    def show_message(self, text: str) -> None:
        self.message_label.setStyleSheet("color: #d7263d;")
        self.message_label.setWordWrap(True)
        self.message_label.setText(text)
        self.messageShown.emit(text)

    def message(self) -> str:
        """The last refusal shown ("" when the last edit went through)."""
        text = self.message_label.text()
        return "" if text == SHORT_HINT else text

    # -- internals -----------------------------------------------------------------------------
    def _make_actions(self) -> None:
        def act(text, keys, slot):
            a = QAction(text, self)
            a.setShortcuts(keys)
            a.setShortcutContext(Qt.WidgetWithChildrenShortcut)
            a.triggered.connect(slot)
            self.view.addAction(a)
            return a

        self.actions_by_name = {
            "undo": act("Undo", [QKeySequence.Undo], self._undo.undo),
            "redo": act("Redo", [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")],
                        self._undo.redo),
            "delete": act("Delete nodes", [QKeySequence.Delete, QKeySequence(Qt.Key_Backspace)],
                          self.delete_selected),
            "copy": act("Copy nodes", [QKeySequence.Copy], self.copy_selected),
            "paste": act("Paste nodes", [QKeySequence.Paste], lambda: self.paste()),
            "duplicate": act("Duplicate nodes", [QKeySequence("Ctrl+D")],
                             self.duplicate_selected),
            "select_all": act("Select all nodes", [QKeySequence.SelectAll], self.select_all),
            "fit": act("Fit", [QKeySequence("F")], self.view.fit),
            "zoom_in": act("Zoom in", [QKeySequence.ZoomIn], lambda: self.view.zoom_by(1.25)),
            "zoom_out": act("Zoom out", [QKeySequence.ZoomOut], lambda: self.view.zoom_by(0.8)),
        }

    def context_menu(self, view_pos: QPoint) -> QMenu:
        """The right-click menu at ``view_pos``: edit the selection, or add a layer there."""
        menu = QMenu(self)
        item = self.view.itemAt(view_pos)
        while item is not None and not isinstance(item, NodeItem) and item.parentItem():
            item = item.parentItem()
        if isinstance(item, NodeItem) and not item.isSelected():
            self.select_node(item.node_id)
        if self.scene.selectedItems():
            for name in ("copy", "duplicate", "delete"):
                menu.addAction(self.actions_by_name[name])
            menu.addSeparator()
        at = self.view.mapToScene(view_pos)
        add = menu.addMenu("Add layer here")
        for kind in self.palette.kinds():
            add.addAction(registry.label(kind), lambda k=kind: self.add_node(k, at))
        menu.addAction(self.actions_by_name["paste"])
        menu.addAction(self.actions_by_name["fit"])
        return menu

    def _show_context_menu(self, view_pos: QPoint) -> None:
        self.context_menu(view_pos).exec(self.view.viewport().mapToGlobal(view_pos))

    def _dropped(self, kind: str, pos: QPointF) -> None:
        self.add_node(kind, QPointF(pos.x() - NODE_W / 2, pos.y() - 20))

    def _selection_changed(self) -> None:
        items = [i for i in self.scene.selectedItems() if isinstance(i, NodeItem)]
        nid = items[0].node_id if len(items) == 1 else ""
        self.properties.show_node(nid or None)
        if nid != self._selected:
            self._selected = nid
            self.nodeSelected.emit(nid)

    def _model_reset(self) -> None:
        """A whole new graph (an experiment was opened): its edits start a new history."""
        self._undo.clear()
        self.view.fit()

    def _model_changed(self) -> None:
        self._show_hint()
        self._refresh()
        self.graphChanged.emit()

    def _show_hint(self) -> None:
        self.message_label.setStyleSheet("color: #777;")
        self.message_label.setWordWrap(False)
        self.message_label.setText(SHORT_HINT)

    def _refresh(self) -> None:
        self.info = self.model.analyze()
        self.scene.show_analysis(self.info)
        self.problems.show_problems(self.info)
        nodes = len(self.model.graph.nodes)
        if self.info.ok:
            text = f"{nodes} nodes · {self.info.total_params:,} parameters · valid"
        else:
            text = (f"{nodes} nodes · {len(self.info.problems)} problem(s): "
                    "fix them to train")
        self.total_label.setText(text)
