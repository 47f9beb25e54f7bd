"""Property editor of the selected node, generated from each kind's parameters
in the layer registry (:mod:`playground.model.registry`).

Integers get spin boxes, numbers double spin boxes, choices combo boxes and flags check
boxes, with the schema's ranges. Parameters that apply only for some value of another
(``only_if``) are shown only when they apply. Every change becomes a ``SetParamCommand``.
"""

from __future__ import annotations

from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from playground.model import registry
from playground.model.editing import EditError, GraphModel
from playground.schema import Param, param_applies

from .commands import SetParamCommand

INT_MAX = 2_147_483_647


class PropertyEditor(QWidget):
    """Fields for one node's parameters; follows the model (undo updates the fields)."""

    def __init__(self, model: GraphModel, undo_stack: QUndoStack, parent=None):
        super().__init__(parent)
        self.setObjectName("canvasProperties")
        self.model = model
        self.undo_stack = undo_stack
        self.node_id: str | None = None
        self.fields: dict[str, QWidget] = {}
        self.labels: dict[str, QLabel] = {}
        self._updating = False
        outer = QVBoxLayout(self)
        self.title = QLabel("Select a node to edit its properties.")
        self.title.setWordWrap(True)
        outer.addWidget(self.title)
        self.form = QFormLayout()
        outer.addLayout(self.form)
        outer.addStretch(1)
        model.param_changed.connect(self._on_param_changed)
        model.node_removed.connect(self._on_node_removed)
        model.reset.connect(self._on_reset)

    def detach(self) -> None:
        self.model.param_changed.disconnect(self._on_param_changed)
        self.model.node_removed.disconnect(self._on_node_removed)
        self.model.reset.disconnect(self._on_reset)

    def _on_reset(self) -> None:
        self.show_node(None)

    def show_node(self, node_id: str | None) -> None:
        """Rebuild the form for ``node_id`` (None: empty)."""
        while self.form.rowCount():
            self.form.removeRow(0)
        self.fields.clear()
        self.labels.clear()
        self.node_id = node_id if node_id and self.model.has_node(node_id) else None
        if self.node_id is None:
            self.title.setText("Select a node to edit its properties.")
            return
        node = self.model.node(self.node_id)
        self.title.setText(f"<b>{node.id}</b> — {registry.label(node.kind)}")
        for p in registry.kind_of(node.kind).params:
            field = self._make_field(p)
            label = QLabel(p.label or p.name)
            self.fields[p.name] = field
            self.labels[p.name] = label
            self.form.addRow(label, field)
        self._refresh()

    def _make_field(self, p: Param) -> QWidget:
        if p.type is bool:
            w = QCheckBox()
            w.toggled.connect(lambda v, n=p.name: self._edited(n, bool(v)))
        elif p.choices is not None:
            w = QComboBox()
            for c in p.choices:
                w.addItem(str(c), c)
            w.currentIndexChanged.connect(
                lambda i, n=p.name, box=w: self._edited(n, box.itemData(i)))
        elif p.type is int:
            w = QSpinBox()
            w.setRange(int(p.min if p.min is not None else -INT_MAX),
                       int(min(p.max if p.max is not None else INT_MAX, INT_MAX)))
            w.setKeyboardTracking(False)
            w.valueChanged.connect(lambda v, n=p.name: self._edited(n, int(v)))
        else:
            w = QDoubleSpinBox()
            w.setDecimals(3)
            w.setSingleStep(0.05)
            w.setRange(p.min if p.min is not None else -1e9, p.max if p.max is not None else 1e9)
            w.setKeyboardTracking(False)
            w.valueChanged.connect(lambda v, n=p.name: self._edited(n, float(v)))
        w.setObjectName(f"param_{p.name}")
        w.setToolTip(_range_text(p))
        return w

    def _refresh(self) -> None:
        """Put the model's values into the fields; show only parameters that apply."""
        if self.node_id is None:
            return
        node = self.model.node(self.node_id)
        self._updating = True
        try:
            for p in registry.kind_of(node.kind).params:
                w, value = self.fields[p.name], node.params.get(p.name, p.default)
                if isinstance(w, QCheckBox):
                    w.setChecked(bool(value))
                elif isinstance(w, QComboBox):
                    i = w.findData(value)
                    w.setCurrentIndex(max(i, 0))
                else:
                    w.setValue(value)
                shown = param_applies(p, node.params)
                w.setVisible(shown)
                self.labels[p.name].setVisible(shown)
        finally:
            self._updating = False

    def _edited(self, name: str, value) -> None:
        if self._updating or self.node_id is None:
            return
        if self.model.node(self.node_id).params.get(name) == value:
            return
        try:
            self.model.check_param(self.node_id, name, value)
        except EditError as exc:
            self.title.setText(str(exc))
            return
        self.undo_stack.push(SetParamCommand(self.model, self.node_id, name, value))

    def _on_param_changed(self, node_id: str, name: str, value) -> None:
        if node_id == self.node_id:
            self._refresh()

    def _on_node_removed(self, node_id: str) -> None:
        if node_id == self.node_id:
            self.show_node(None)


def _range_text(p: Param) -> str:
    if p.choices is not None:
        return "one of " + ", ".join(map(str, p.choices))
    if p.type is bool:
        return "on or off"
    lo = "" if p.min is None else f"{p.min:g}"
    hi = "" if p.max is None else f"{p.max:g}"
    return f"{p.name}: {lo} .. {hi}"
