"""The main window: docks and menus, laid out from the tables below.

The window owns no experiment state: the :class:`~ui.controller.Controller` does, and the
window wires it and the :class:`~playground.timeline.Timeline` to the views. When an
experiment opens, every view resets itself from it (:meth:`MainWindow._opened`).
"""

from __future__ import annotations

import html

from PySide6 import QtCore, QtGui, QtWidgets

from playground.timeline import FORWARD, Timeline

from . import qtfixes
from .canvas import CanvasView
from .controller import Controller
from .files import FileActions
from .menus import build_menus
from .panels.analysis import JacobianPanel
from .panels.attention import AttentionPanel
from .panels.equation import EquationPanel
from .panels.io import InputPanel, LossPanel, OutputPanel
from .panels.recurrent import GatesPanel, GradientPanel, StatePanel
from .panels.training import TrainingPlotsPanel
from .refresh import RefreshScheduler
from .sequence_input import SequenceInput
from .step_controls import TimelineView
from .training_panel import TrainingPanel
from .whatif import WhatIfPanel
from .widgets import guide_label, scrolling

LAYOUT_VERSION = 4
A = QtCore.Qt.DockWidgetArea
L, R, T, B = (A.LeftDockWidgetArea, A.RightDockWidgetArea, A.TopDockWidgetArea,
              A.BottomDockWidgetArea)
H, V = QtCore.Qt.Orientation.Horizontal, QtCore.Qt.Orientation.Vertical

# key, title, area, placed (how, next to which dock), tooltip
DOCKS = (
    ("controls", "Step controls", T, None, ""),
    ("canvas", "Model", L, None, "click a node to choose the layer the panels show"),
    ("input_box", "Sequence input", L, ("below", "canvas"), ""),
    ("guide", "What to look at", L, ("below", "input_box"), ""),
    ("training", "Training", L, ("below", "guide"), ""),
    ("whatif", "What-if", L, ("tab", "training"), ""),
    ("palette", "Layers", L, ("tab", "training"), "drag a layer onto the canvas"),
    ("properties", "Properties", L, ("tab", "training"), "the selected node's parameters"),
    ("h", "Hidden state h", R, None, ""),
    ("gates", "Gates", R, ("right", "h"), ""),
    ("gradient", "Gradient (BPTT)", R, ("right", "gates"), ""),
    ("c", "Cell state c", R, ("tab", "h"), ""),
    ("attention", "Attention", R, ("tab", "gates"), ""),
    ("jacobian", "Jacobian norms", R, ("tab", "gradient"), ""),
    ("input", "Input x_t", B, None, ""),
    ("output", "Output", B, ("right", "input"), ""),
    ("loss", "Loss per step", B, ("right", "output"), ""),
    ("equation", "Equation", B, ("right", "loss"), ""),
    ("curves", "Training curves", B, ("tab", "loss"), ""),
)
RAISED = ("h", "gates", "gradient", "loss", "training")


class MainWindow(QtWidgets.QMainWindow):
    """Sequence Playground's window. ``controller``, ``timeline``, ``panels`` and ``docks``
    are public so that tests and benchmarks can drive it as a user would."""

    def __init__(self, settings: QtCore.QSettings | None = None):
        super().__init__()
        self.settings = settings or QtCore.QSettings("SequencePlayground", "SequencePlayground")
        self.setWindowTitle("Sequence Playground")
        self.setDockNestingEnabled(True)
        self.controller = c = Controller(self)
        self.timeline = Timeline(1)
        self.panels = {"h": StatePanel("h"), "c": StatePanel("c"), "gates": GatesPanel(),
                       "gradient": GradientPanel(), "attention": AttentionPanel(),
                       "jacobian": JacobianPanel(c), "input": InputPanel(),
                       "output": OutputPanel(), "loss": LossPanel(),
                       "equation": EquationPanel()}
        self.refresher = RefreshScheduler(self.panels, self)
        self.curves = TrainingPlotsPanel()
        self.canvas = CanvasView(c.graph_model, embed_panels=False)
        self.controls = TimelineView(self.timeline)
        self.layer_combo = self.controls.add_layer_choice()
        self.seq_input = SequenceInput(c)
        self.training = TrainingPanel(c, self.curves)
        self.whatif = WhatIfPanel(c, self.timeline)
        self.guide = guide_label()
        self.files = FileActions(self)
        self._build_docks()
        self.menus = build_menus(self)
        c.opened.connect(self._opened)
        c.modelChanged.connect(lambda: self._refresh(reset=True))
        c.traceChanged.connect(self._refresh)
        c.selectionChanged.connect(self._refresh)
        c.dirtyChanged.connect(self._update_title)
        c.staleChanged.connect(lambda why: [p.set_stale(why) for p in self.panels.values()])
        c.message.connect(lambda m: self.statusBar().showMessage(m, 10_000))
        self.canvas.nodeSelected.connect(lambda nid: nid and c.select_node(nid))
        self.layer_combo.chosen.connect(lambda sel: c.select_layer(*sel))
        self.timeline.events.step.connect(self.refresher.set_step)
        self.training.message.connect(lambda m: self.statusBar().showMessage(m, 10_000))
        self.resize(1600, 1000)
        self.restore_layout()

    # -- construction ---------------------------------------------------------------------
    def _widget(self, key: str) -> QtWidgets.QWidget:
        named = {"controls": self.controls, "canvas": self.canvas,
                 "guide": self.guide, "training": self.training, "whatif": self.whatif,
                 "palette": self.canvas.palette_widget,
                 "properties": self.canvas.properties_widget, "curves": self.curves}
        if key == "input_box":   # a long vocabulary or error message scrolls, never hides
            return scrolling(self.seq_input)
        return named.get(key) or self.panels[key]

    def _build_docks(self) -> None:
        self.docks: dict[str, QtWidgets.QDockWidget] = {}
        self.setCentralWidget(None)
        self.setCorner(QtCore.Qt.Corner.BottomLeftCorner, L)
        self.setCorner(QtCore.Qt.Corner.TopLeftCorner, L)
        for key, title, area, placed, tip in DOCKS:
            d = QtWidgets.QDockWidget(title, self)
            d.setObjectName(f"dock_{key}")
            d.setWidget(self._widget(key))
            d.setToolTip(tip)
            self.addDockWidget(area, d)
            self.docks[key] = d
            d.visibilityChanged.connect(lambda on, k=key: on and self.refresher.shown(k))
            if placed is not None:
                how, other = placed
                if how == "tab":
                    self.tabifyDockWidget(self.docks[other], d)
                else:
                    self.splitDockWidget(self.docks[other], d, V if how == "below" else H)
        for key in RAISED:
            self.docks[key].raise_()
        self.controls.install_shortcuts(self)
        self._default_sizes()
        self._default_state = self.saveState(LAYOUT_VERSION)
        self._sized = False
        self._attention_raised = False

    def _default_sizes(self) -> None:
        """The model graph gets the room to be read (the left column's tallest dock), the
        panels the rest."""
        d, h = self.docks, max(self.height(), 600)
        self.resizeDocks([d["canvas"], d["input_box"], d["guide"], d["training"]],
                         [int(h * 0.40), 120, int(h * 0.2), int(h * 0.22)], V)
        self.resizeDocks([d["h"], d["gates"], d["gradient"]], [380, 380, 360], H)
        self.resizeDocks([d["input"], d["output"], d["loss"], d["equation"]],
                         [230, 280, 270, 340], H)
        self.resizeDocks([d["h"], d["input"]], [int(h * 0.56), int(h * 0.32)], V)

    # -- layout -----------------------------------------------------------------------------
    def restore_layout(self) -> None:
        geo, state = self.settings.value("window/geometry"), self.settings.value("window/state")
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
        for key in RAISED:
            self.docks[key].raise_()

    def event(self, ev: QtCore.QEvent) -> bool:
        done = super().event(ev)
        if ev.type() in (QtCore.QEvent.Type.LayoutRequest, QtCore.QEvent.Type.Resize):
            qtfixes.hide_stray_tab_bars(self, self.docks.values())
        return done

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        if not self._sized:  # sized for the window as first shown, unless a layout was saved
            self._sized = True
            if self.settings.value("window/state") is None:
                self._default_sizes()
                self._default_state = self.saveState(LAYOUT_VERSION)
        self.canvas.view.fit()

    # -- controller -> views ----------------------------------------------------------------
    def _opened(self) -> None:
        """A new experiment: the step, direction and playback start afresh, then every view
        redraws from it (each panel sets its own ranges from the new data)."""
        self.controls.stop()
        self.timeline.direction = FORWARD
        self.timeline.step = 0
        self._refresh(reset=True)
        view = self.controller.view()
        only_attention = view is not None and view.has_attention and not view.has_recurrent
        if only_attention != self._attention_raised:   # nothing recurrent: attention first;
            self.docks["attention" if only_attention else "gates"].raise_()  # and back
            self._attention_raised = only_attention
        self.canvas.view.fit()

    def _refresh(self, reset: bool = False) -> None:
        view = self.controller.view()
        if view is not None:
            self.timeline.n_steps = view.steps
        self.layer_combo.set_choices(self.controller.layer_choices(), self.controller.rec_sel)
        self.refresher.set_view(view, self.timeline.step, reset=reset,
                                spread=self.controller.training.running)
        self._update_title()

    def _update_title(self, *_) -> None:
        c = self.controller
        parts = [f"<b>{html.escape(c.name)}</b>"]
        if c.description:
            parts.append(html.escape(c.description))
        if c.look_at:
            parts.append(f"<b>Look at:</b> {html.escape(c.look_at)}")
        self.guide.widget().setText("<p style='margin:0 0 6px 0'>" +
                                    "</p><p style='margin:0 0 6px 0'>".join(parts) + "</p>")
        self.setWindowTitle(f"{c.name}{'*' if c.dirty else ''} — Sequence Playground")

    # -- closing ----------------------------------------------------------------------------
    def closeEvent(self, ev: QtGui.QCloseEvent) -> None:
        if not self.files.maybe_close():
            ev.ignore()
            return
        self.shutdown()
        self.save_layout()
        ev.accept()

    def shutdown(self) -> None:
        """Stop playback, timers, analysis and training (waits for the worker threads)."""
        self.controls.stop()
        self.refresher.stop()
        self.seq_input.stop()
        self.controller.shutdown()
        self.training.shutdown()
        self.statusBar().clearMessage()  # its timeout timer
