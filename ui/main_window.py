"""The main window: docks for the canvas, input, step controls, panels and training.

Every dock can be moved, tabbed or closed; the layout is remembered with QSettings. The
window wires the :class:`~ui.session.Session` (what is shown) and the
:class:`~playground.timeline.Timeline` (which step) to the panels.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from playground.timeline import Timeline

from .files import FileController
from .panels.attention import AttentionPanel
from .panels.equation import EquationPanel
from .panels.io import InputPanel, LossPanel, OutputPanel
from .panels.recurrent import GatesPanel, GradientPanel, StatePanel
from .panels.training import TrainingPlotsPanel
from .sequence_input import SequenceInput
from .session import Session
from .step_controls import TimelineView
from .training_panel import TrainingPanel
from .whatif import WhatIfPanel

LAYOUT_VERSION = 3
Area = QtCore.Qt.DockWidgetArea


def _structure(graph) -> tuple:
    """A graph without canvas positions (moving a node changes no weights)."""
    return (tuple((n.id, n.kind, tuple(sorted(n.params.items()))) for n in graph.nodes),
            tuple((e.src, e.dst, e.port) for e in graph.edges))


class MainWindow(QtWidgets.QMainWindow):
    """Sequence Playground's window. ``session``, ``timeline`` and ``panels`` are public so
    that tests and benchmarks can drive it as a user would."""

    def __init__(self, settings: QtCore.QSettings | None = None):
        super().__init__()
        self.settings = settings or QtCore.QSettings("SequencePlayground", "SequencePlayground")
        self.setWindowTitle("Sequence Playground")
        self.setDockNestingEnabled(True)
        self.setDockOptions(self.dockOptions() | QtWidgets.QMainWindow.DockOption.AllowTabbedDocks
                            | QtWidgets.QMainWindow.DockOption.AllowNestedDocks)
        self.session = Session(self)
        self.timeline = Timeline(1)
        self.docks: dict[str, QtWidgets.QDockWidget] = {}
        self.panels = {
            "h": StatePanel("h"), "c": StatePanel("c"), "gates": GatesPanel(),
            "gradient": GradientPanel(), "input": InputPanel(), "output": OutputPanel(),
            "loss": LossPanel(), "attention": AttentionPanel(), "equation": EquationPanel(),
        }
        self.panels.update(self._optional_panels())
        self._view = None
        self._stale: set[str] = set()
        self._queue: list[str] = []
        self._drain = QtCore.QTimer(self)
        self._drain.setInterval(0)
        self._drain.timeout.connect(self._refresh_next)
        self.curves = TrainingPlotsPanel()
        self._build_docks()
        self.files = FileController(self)
        self._build_menus()
        self.session.traceChanged.connect(self.refresh_view)
        self.session.selectionChanged.connect(self.refresh_view)
        self.session.modelChanged.connect(self._model_changed)
        self.session.dirtyChanged.connect(self._update_title)
        self.timeline.events.step.connect(self._on_step)
        self.training.message.connect(lambda m: self.statusBar().showMessage(m, 10_000))
        self.resize(1600, 1000)
        self.restore_layout()

    # -- construction ---------------------------------------------------------------------
    def _optional_panels(self) -> dict:
        try:
            from playground.tracing import analysis  # noqa: F401
        except ImportError:
            return {}
        from .panels.analysis import JacobianPanel

        return {"jacobian": JacobianPanel(lambda: None if self.session.training
                                          else self.session.model)}

    def _dock(self, key: str, title: str, widget, area, tip: str = "") -> QtWidgets.QDockWidget:
        d = QtWidgets.QDockWidget(title, self)
        d.setObjectName(f"dock_{key}")
        d.setWidget(widget)
        d.setToolTip(tip)
        self.addDockWidget(area, d)
        self.docks[key] = d
        d.visibilityChanged.connect(lambda on, key=key: self._dock_shown(key, on))
        return d

    def _make_canvas(self):
        try:
            from .canvas import CanvasView
        except ImportError:
            CanvasView = None
        if CanvasView is None:
            from .graph_preview import GraphPreview

            self.canvas = GraphPreview()
        else:
            self.canvas = CanvasView(embed_panels=False)
            self.canvas.graphChanged.connect(self._graph_edited)
        self.canvas.nodeSelected.connect(self._node_selected)
        return self.canvas

    def _build_docks(self) -> None:
        P = self.panels
        self.controls = TimelineView(self.timeline)
        self.layer_combo = QtWidgets.QComboBox()
        self.layer_combo.setToolTip("the recurrent layer the panels show (or click a node)")
        self.layer_combo.setMinimumContentsLength(16)
        self.layer_combo.currentIndexChanged.connect(self._layer_chosen)
        self.controls.layout().addWidget(QtWidgets.QLabel("layer"))
        self.controls.layout().addWidget(self.layer_combo)
        self.controls.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred,
                                    QtWidgets.QSizePolicy.Policy.Fixed)
        self.seq_input = SequenceInput(self.session)
        self.training = TrainingPanel(self.session, self.curves)
        self.whatif = WhatIfPanel(self.session, self.timeline)
        self.setCentralWidget(None)
        self.setCorner(QtCore.Qt.Corner.BottomLeftCorner, Area.LeftDockWidgetArea)
        self.setCorner(QtCore.Qt.Corner.TopLeftCorner, Area.LeftDockWidgetArea)
        L, R, T, B = Area.LeftDockWidgetArea, Area.RightDockWidgetArea, \
            Area.TopDockWidgetArea, Area.BottomDockWidgetArea
        H, V = QtCore.Qt.Orientation.Horizontal, QtCore.Qt.Orientation.Vertical
        self._dock("controls", "Step controls", self.controls, T)
        canvas = self._dock("canvas", "Model", self._make_canvas(), L,
                            "click a node to choose the layer the panels show")
        seq = self._dock("input_box", "Sequence input", self.seq_input, L)
        self.guide = QtWidgets.QLabel()
        self.guide.setObjectName("guide")
        self.guide.setWordWrap(True)
        self.guide.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop)
        self.guide.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.guide.setContentsMargins(6, 4, 6, 4)
        self.guide.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                                 QtWidgets.QSizePolicy.Policy.Ignored)
        guide = self._dock("guide", "What to look at", self.guide, L)
        train = self._dock("training", "Training", self.training, L)
        whatif = self._dock("whatif", "What-if", self.whatif, L)
        extra = []
        for key, title, attr in (("palette", "Layers", "palette_widget"),
                                 ("properties", "Properties", "properties_widget")):
            w = getattr(self.canvas, attr, None)
            if w is not None:
                extra.append(self._dock(key, title, w, L))
        self.splitDockWidget(canvas, seq, V)
        self.splitDockWidget(seq, guide, V)
        self.splitDockWidget(guide, train, V)
        for d in [whatif, *extra]:
            self.tabifyDockWidget(train, d)
        h = self._dock("h", "Hidden state h", P["h"], R)
        g = self._dock("gates", "Gates", P["gates"], R)
        grad = self._dock("gradient", "Gradient (BPTT)", P["gradient"], R)
        self.splitDockWidget(h, g, H)
        self.splitDockWidget(g, grad, H)
        self.tabifyDockWidget(h, self._dock("c", "Cell state c", P["c"], R))
        self.tabifyDockWidget(g, self._dock("attention", "Attention", P["attention"], R))
        if "jacobian" in P:
            self.tabifyDockWidget(grad, self._dock("jacobian", "Jacobian norms", P["jacobian"],
                                                   R))
        inp = self._dock("input", "Input x_t", P["input"], B)
        out = self._dock("output", "Output", P["output"], B)
        loss = self._dock("loss", "Loss per step", P["loss"], B)
        eq = self._dock("equation", "Equation", P["equation"], B)
        self.splitDockWidget(inp, out, H)
        self.splitDockWidget(out, loss, H)
        self.splitDockWidget(loss, eq, H)
        self.tabifyDockWidget(loss, self._dock("curves", "Training curves", self.curves, B))
        for d in (h, g, grad, loss, train):
            d.raise_()
        self._default_sizes()
        self.controls.install_shortcuts(self)
        self._default_state = self.saveState(LAYOUT_VERSION)
        self._sized = False

    def _default_sizes(self) -> None:
        """Dock sizes for the window's current size: the model graph gets the room to be
        read (the left column's tallest dock; the column's width comes from the canvas's size
        hint, ~480 px), panels the rest."""
        d = self.docks
        H, V = QtCore.Qt.Orientation.Horizontal, QtCore.Qt.Orientation.Vertical
        h = max(self.height(), 600)
        left = [d["canvas"], d["input_box"], d["guide"], d["training"]]
        self.resizeDocks(left, [int(h * 0.42), 110, int(h * 0.2), int(h * 0.22)], V)
        # (the left column's width comes from the canvas's size hint: resizeDocks does not
        # move the border between the left and right areas)
        self.resizeDocks([d["h"], d["gates"], d["gradient"]], [380, 380, 360], H)
        self.resizeDocks([d["input"], d["output"], d["loss"], d["equation"]],
                         [230, 280, 270, 340], H)
        self.resizeDocks([d["h"], d["input"]], [int(h * 0.56), int(h * 0.32)], V)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self.files.add_actions(f)
        view = mb.addMenu("&View")
        for d in self.docks.values():
            view.addAction(d.toggleViewAction())
        view.addSeparator()
        view.addAction("Reset layout", self.reset_layout)
        if hasattr(self.canvas, "undo_stack"):
            edit = mb.insertMenu(view.menuAction(), QtWidgets.QMenu("&Edit", self))
            m = edit.menu()
            m.addAction(self.canvas.undo_stack.createUndoAction(self, "Undo"))
            m.addAction(self.canvas.undo_stack.createRedoAction(self, "Redo"))
        helpm = mb.addMenu("&Help")
        helpm.addAction("Keys", lambda: QtWidgets.QMessageBox.information(
            self, "Keys", "Left / Right: previous / next step\nSpace: play / pause\n"
                          "Home / End: first / last step\nCtrl+O open, Ctrl+S save"))

    # -- layout -----------------------------------------------------------------------------
    def restore_layout(self) -> None:
        geo = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if geo is not None:
            self.restoreGeometry(geo)
        if state is not None:
            self.restoreState(state, LAYOUT_VERSION)

    def save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        self.settings.sync()

    def reset_layout(self) -> None:
        self.restoreState(self._default_state, LAYOUT_VERSION)
        for d in self.docks.values():
            d.show()

    # -- session -> panels ----------------------------------------------------------------
    def _model_changed(self) -> None:
        s = self.session
        if s.graph is not None and hasattr(self.canvas, "set_graph") and \
                getattr(self, "_own_edit", False) is False:
            self._loading = True
            try:
                self.canvas.set_graph(s.graph)
            finally:
                self._loading = False
            self.fit_canvas()
        self._update_title()

    def fit_canvas(self) -> None:
        view = getattr(self.canvas, "view", None)
        if view is not None and hasattr(view, "fit"):
            view.fit()

    def event(self, ev: QtCore.QEvent) -> bool:
        done = super().event(ev)
        if ev.type() in (QtCore.QEvent.Type.LayoutRequest, QtCore.QEvent.Type.Resize):
            self.hide_stray_tab_bars()     # the dock layout was just applied
        return done

    def hide_stray_tab_bars(self) -> None:
        """Move the dock tab bars that lie over a dock out of sight.

        Qt (seen with 6.11) keeps a copy of a group's tab bar once another group has been
        tabified, and lays it out at a stale place: drawn over whatever dock is there (the
        sequence input, in the default layout) and repainted with it. A bar in use sits
        against its docks, never over one. Moved, not hidden: Qt shows a hidden one again
        at its next layout, and a hide asks for that layout."""
        if not self.isVisible():
            return
        docks = [d.geometry() for d in self.docks.values()
                 if d.isVisible() and not d.isFloating()]
        only = QtCore.Qt.FindChildOption.FindDirectChildrenOnly
        for bar in self.findChildren(QtWidgets.QTabBar, options=only):
            g = bar.geometry()
            if not bar.isHidden() and any(g.intersects(r) for r in docks):
                bar.move(-g.width() - 10_000, -g.height() - 10_000)

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        if not self._sized:
            # sized for the window as first shown, unless a saved layout was restored
            self._sized = True
            if self.settings.value("window/state") is None:
                self._default_sizes()
                self._default_state = self.saveState(LAYOUT_VERSION)
        self.fit_canvas()

    def refresh_view(self) -> None:
        """A new trace or selection: update the panels on screen now; hidden ones (closed or
        behind a tab) when they are shown. While training, one panel per turn of the event
        loop, so that a live trace never freezes the window for the time of all panels."""
        view = self.session.view()
        if view is not None:
            self.timeline.n_steps = view.steps
        self._refresh_layers()
        self._view = view
        self._stale = set(self.panels)
        self._queue = [k for k, p in self.panels.items() if p.isVisible()]
        if self.session.training:
            self._drain.start()
        else:
            while self._queue:
                self._refresh_next()
        self._update_title()

    def _refresh_next(self) -> None:
        if not self._queue:
            self._drain.stop()
            return
        key = self._queue.pop(0)
        self._update_panel(key)

    def _update_panel(self, key: str) -> None:
        p = self.panels[key]
        self._stale.discard(key)
        p.step = self.timeline.step
        p.set_view(self._view)

    def _dock_shown(self, key: str, visible: bool) -> None:
        if visible and key in self._stale and key in self.panels:
            self._update_panel(key)

    def _on_step(self, t: int) -> None:
        for key, p in self.panels.items():
            if p.isVisible():
                p.set_step(t)
            elif key not in self._stale:
                self._stale.add(key)     # brought up to date when shown

    def _refresh_layers(self) -> None:
        choices = self.session.layer_choices()
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for node, layer, d, label in choices:
            self.layer_combo.addItem(label, (node, layer, d))
        sel = self.session.rec_sel
        idx = next((i for i, c in enumerate(choices) if sel and c[:3] == tuple(sel)), -1)
        self.layer_combo.setCurrentIndex(idx)
        self.layer_combo.blockSignals(False)

    def _layer_chosen(self, idx: int) -> None:
        data = self.layer_combo.itemData(idx)
        if data is not None and tuple(data) != self.session.rec_sel:
            self.session.select_layer(*data)

    def _node_selected(self, node_id: str) -> None:
        if node_id:
            self.session.select_node(node_id)

    def _graph_edited(self) -> None:
        """The canvas changed the graph: rebuild when valid, keeping unchanged layers'
        weights; keep the last valid trace otherwise."""
        info = getattr(self.canvas, "info", None)
        if getattr(self, "_loading", False) or info is None or not info.ok or \
                self.training.running:
            return
        from playground.data import check_model
        from playground.model.build import build
        from playground.model.editing import carry_weights

        s = self.session
        graph = self.canvas.graph
        if s.graph is not None and _structure(graph) == _structure(s.graph):
            if graph.to_dict() != s.graph.to_dict():  # nodes moved: nothing to rebuild
                s.graph = graph
                s.set_dirty(True)
            return
        problems = check_model(s.dataset, graph) if s.dataset is not None else []
        if problems:
            self.statusBar().showMessage("the model does not fit the data: " + problems[0],
                                         10_000)
            return
        try:
            model = build(graph, seed=0)
            fresh = carry_weights(s.model, model, s.graph, graph) if s.model is not None else []
        except Exception as e:  # noqa: BLE001  (shown, never raised)
            self.statusBar().showMessage(f"cannot build the model: {e}", 10_000)
            return
        self._own_edit = True
        try:
            s.replace_model(graph, model)
        finally:
            self._own_edit = False
        if fresh:
            self.statusBar().showMessage("re-initialised: " + ", ".join(fresh), 10_000)

    def _update_title(self, *_):
        s = self.session
        import html as _html
        parts = [f"<b>{_html.escape(s.name)}</b>"]
        if s.description:
            parts.append(_html.escape(s.description))
        if s.look_at:
            parts.append(f"<b>Look at:</b> {_html.escape(s.look_at)}")
        self.guide.setText("<p style='margin:0 0 6px 0'>" + "</p><p style='margin:0 0 6px 0'>"
                           .join(parts) + "</p>")
        star = "*" if s.dirty else ""
        self.setWindowTitle(f"{s.name}{star} — Sequence Playground")

    # -- closing ----------------------------------------------------------------------------
    def closeEvent(self, ev: QtGui.QCloseEvent) -> None:
        if not self.files.maybe_save():
            ev.ignore()
            return
        self.shutdown()
        self.save_layout()
        ev.accept()

    def shutdown(self) -> None:
        """Stop playback, timers and training (waits for the worker thread)."""
        self.controls.stop()
        self._drain.stop()
        self.seq_input.stop()
        self.training.shutdown()
        self.statusBar().clearMessage()  # its timeout timer
