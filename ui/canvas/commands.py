"""Undo commands of the canvas. Each is tiny and calls :class:`GraphModel` methods only,
so the scene (which follows the model's events) never needs to know about undo."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QUndoCommand

from playground.model.editing import GraphModel
from playground.model.registry import label as kind_label


class AddNodeCommand(QUndoCommand):
    """Add one node; redo reuses the id it got the first time."""

    def __init__(self, model: GraphModel, kind: str, pos=(0.0, 0.0), params=None,
                 node_id: str | None = None):
        super().__init__(f"Add {kind_label(kind)}")
        self.model, self.kind, self.pos, self.params = model, kind, pos, params
        self.node_id = node_id

    def redo(self) -> None:
        self.node_id = self.model.add_node(self.kind, self.pos, self.params, self.node_id)

    def undo(self) -> None:
        self.model.remove_node(self.node_id)


class RemoveNodeCommand(QUndoCommand):
    """Remove a node and its edges; undo puts all of them back where they were."""

    def __init__(self, model: GraphModel, node_id: str):
        super().__init__(f"Delete {node_id}")
        self.model, self.node_id = model, node_id
        self.record = None

    def redo(self) -> None:
        self.record = self.model.remove_node(self.node_id)

    def undo(self) -> None:
        index, node, edges = self.record
        self.model.restore_node(node, index, edges)


class ConnectCommand(QUndoCommand):
    """Connect ``src`` to ``dst``'s ``port`` (check with ``connection_problem`` first)."""

    def __init__(self, model: GraphModel, src: str, dst: str, port: str = "seq"):
        super().__init__(f"Connect {src} → {dst} ({port})")
        self.model, self.src, self.dst, self.port = model, src, dst, port

    def redo(self) -> None:
        self.model.connect(self.src, self.dst, self.port)

    def undo(self) -> None:
        self.model.disconnect(self.src, self.dst, self.port)


class DisconnectCommand(QUndoCommand):
    def __init__(self, model: GraphModel, src: str, dst: str, port: str = "seq"):
        super().__init__(f"Disconnect {src} → {dst} ({port})")
        self.model, self.src, self.dst, self.port = model, src, dst, port
        self.index = None

    def redo(self) -> None:
        self.index = self.model.disconnect(self.src, self.dst, self.port)

    def undo(self) -> None:
        from playground.model.spec import EdgeSpec

        self.model.restore_edge(EdgeSpec(self.src, self.dst, self.port), self.index)


class SetParamCommand(QUndoCommand):
    """Set one parameter. Consecutive changes of the same field merge into one step."""

    ID = 1001

    def __init__(self, model: GraphModel, node_id: str, name: str, value: Any):
        super().__init__(f"Set {node_id}.{name}")
        self.model, self.node_id, self.name, self.value = model, node_id, name, value
        self.old = model.node(node_id).params.get(name)

    def id(self) -> int:
        return self.ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetParamCommand):
            return False
        if (other.node_id, other.name) != (self.node_id, self.name):
            return False
        self.value = other.value
        return True

    def redo(self) -> None:
        self.model.set_param(self.node_id, self.name, self.value)

    def undo(self) -> None:
        self.model.set_param(self.node_id, self.name, self.old)


class MoveCommand(QUndoCommand):
    """Move nodes: ``moves`` maps node id -> (old pos, new pos)."""

    def __init__(self, model: GraphModel, moves: dict[str, tuple[tuple, tuple]]):
        super().__init__("Move " + ", ".join(moves))
        self.model, self.moves = model, moves

    def redo(self) -> None:
        for nid, (_, new) in self.moves.items():
            self.model.move_node(nid, new)

    def undo(self) -> None:
        for nid, (old, _) in self.moves.items():
            self.model.move_node(nid, old)


class PasteCommand(QUndoCommand):
    """Paste a fragment (copy/paste or duplicate); redo reuses the ids of the first time."""

    def __init__(self, model: GraphModel, fragment: dict, offset=(30.0, 30.0), text="Paste"):
        super().__init__(text)
        self.model, self.fragment, self.offset = model, fragment, offset
        self.ids: list[str] | None = None

    def redo(self) -> None:
        self.ids = self.model.paste(self.fragment, self.offset, self.ids)

    def undo(self) -> None:
        for nid in reversed(self.ids):
            self.model.remove_node(nid)
