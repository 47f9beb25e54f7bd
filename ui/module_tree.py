"""The Model dock of an inspected model (``playground.show``): its ``named_modules()`` tree.

One row per module: its name, class and parameter count (its own and its children's);
the modules the trace recorded (recurrent layers, cells, attention) are bold, with how
many records they gave. Clicking a recorded module shows it in the panels
(:meth:`ui.controller_module.ModuleMixin.select_module`); a module called more than once
has a row per call under it ("call 2 of 2"), which shows that call. The row of the module on
view is selected.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

NAME, CLASS, PARAMS, RECORDS = range(4)
ROLE = QtCore.Qt.ItemDataRole.UserRole


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def _params(n: int) -> str:
    return f"{n:,}" if n else "–"


class ModuleTree(QtWidgets.QWidget):
    """The tree of ``controller.inspected``'s model; follows the controller's selection."""

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.setObjectName("moduleTree")
        self.controller = controller
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.note = QtWidgets.QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color:#555;")
        lay.addWidget(self.note)
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setHeaderLabels(["module", "class", "parameters", "recorded"])
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        lay.addWidget(self.tree, 1)
        self.items: dict[str, QtWidgets.QTreeWidgetItem] = {}
        self.tree.itemClicked.connect(self._clicked)
        self.tree.itemActivated.connect(self._clicked)
        controller.selectionChanged.connect(self._follow)
        controller.opened.connect(self.rebuild)
        self.rebuild()

    def rebuild(self) -> None:
        self.tree.clear()
        self.items = {}
        s = self.controller.inspected
        if s is None:
            self.note.setText("")
            return
        recorded = {}
        for r in (self.controller.trace.layers if self.controller.trace is not None else []):
            recorded[r.node] = recorded.get(r.node, 0) + 1
        bold = QtGui.QFont()
        bold.setBold(True)
        for name, m in s.named_modules():
            label = name.rsplit(".", 1)[-1] if name else s.name
            n = recorded.get(name, 0)
            item = QtWidgets.QTreeWidgetItem([label, type(m).__name__, _params(_count(m)),
                                              f"● {n}" if n else ""])
            item.setData(NAME, ROLE, name)
            item.setTextAlignment(PARAMS, QtCore.Qt.AlignmentFlag.AlignRight |
                                  QtCore.Qt.AlignmentFlag.AlignVCenter)
            item.setToolTip(NAME, name or "(the model itself)")
            if n:
                for col in range(4):
                    item.setFont(col, bold)
                item.setForeground(RECORDS, QtGui.QBrush(QtGui.QColor("#1565c0")))
                item.setToolTip(RECORDS, "recorded: " + ", ".join(
                    r.label for r in self.controller.module_records(name)) +
                    " (click to show it in the panels)")
            parent = self.items.get(name.rpartition(".")[0]) if name else None
            if parent is None:
                self.tree.addTopLevelItem(item)
            else:
                parent.addChild(item)
            self.items[name] = item
            calls = self.controller.module_calls(name) if n else 0
            for k in range(calls if calls > 1 else 0):    # a module called more than once
                child = QtWidgets.QTreeWidgetItem([f"call {k + 1} of {calls}", "", "", ""])
                child.setData(NAME, ROLE, (name, k))
                child.setToolTip(NAME, f"{name}, its call {k + 1} in the forward pass "
                                 "(click to show it in the panels)")
                item.addChild(child)
        self.tree.expandAll()
        for col in range(4):
            self.tree.resizeColumnToContents(col)
        n_rec = sum(recorded.values())
        self.note.setText(f"<b>{s.name}</b>: {len(self.items)} modules, {n_rec} record(s). "
                          "Bold modules were recorded: click one to show it in the panels.")
        self._follow()

    def recorded_names(self) -> list[str]:
        return [n for n, it in self.items.items() if it.text(RECORDS)]

    def choose(self, name: str, call: int = 0) -> bool:
        """As a click on module ``name`` (or on its ``call``-th call's row)."""
        return self.controller.select_module(name, call)

    def _clicked(self, item, _col=0) -> None:
        name = item.data(NAME, ROLE)
        name, call = name if isinstance(name, tuple) else (name, 0)
        if name is not None and not self.choose(name, call):
            self.controller.message.emit(f"{name or 'the model'}: no record (only recurrent "
                                         "modules, cells and attention are traced)")

    def _follow(self) -> None:
        sel = self.controller.rec_sel
        item = self.items.get(sel[0]) if sel else None
        if item is not None:
            self.tree.blockSignals(True)
            self.tree.setCurrentItem(item)
            self.tree.blockSignals(False)
