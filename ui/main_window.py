"""The main window: docks and menus, laid out from the tables below.

The window owns no experiment state: the :class:`~ui.controller.Controller` does, and the
window wires it and the :class:`~playground.timeline.Timeline` to the views. When an
experiment opens, every view resets itself from it (:meth:`MainWindow._opened`).

It comes up in two stages, so that it paints before the core is loaded (:mod:`ui.app`).
``MainWindow(settings, core=False)`` makes what needs neither PyTorch, numba nor
pyqtgraph: the docks and menus, the canvas (read-only until then, with the graph of the
file about to open: :meth:`~MainWindow.preview`), the step controls and the guide. The
other docks show a :class:`~ui.widgets.Placeholder` and the file actions are disabled,
with "Loading PyTorch…" in the status bar. :meth:`~MainWindow.attach_core`, once
:data:`CORE_MODULES` are imported, makes the controller, the panels and the other docks'
widgets. ``MainWindow(settings)`` does both at once (tests, benchmarks).
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from playground.errors import PlaygroundError
from playground.model.editing import GraphModel
from playground.model.spec import graph_from_dict
from playground.timeline import FORWARD, Timeline

from . import qtfixes
from .canvas import CanvasView
from .lesson import LessonView, preview_steps
from .menus import NEEDS_CORE, build_menus
from .refresh import RefreshScheduler
from .step_controls import TimelineView
from .widgets import Placeholder, guide_label, scrolling

# What attach_core imports, heaviest first: ui.app's loader thread imports them while the
# window is on screen (the core: PyTorch, and numba where installed, by the tracer; then
# pyqtgraph, the panels' library)
CORE_MODULES = ("torch", "playground.tracing", "pyqtgraph", "ui.controller",
                "ui.files", "ui.panels.analysis", "ui.panels.attention", "ui.panels.equation",
                "ui.panels.io", "ui.panels.recurrent", "ui.panels.training",
                "ui.sequence_input", "ui.training_panel", "ui.whatif", "ui.panels.generate",
                "ui.panels.states", "ui.panels.insight", "ui.horizon_recorder")
# the default preset (playground.files.experiment.DEFAULT_PRESET, which imports torch), for
# the canvas to show before the core is loaded; a test checks that they agree
DEFAULT_PREVIEW = Path(__file__).resolve().parents[1] / "presets" / "hello_rnn.json"
# the canvas's edits, off while the core loads (nothing would rebuild after them)
CANVAS_EDITS = ("delete", "copy", "paste", "duplicate", "select_all")
LOADING = "Loading PyTorch…"

LAYOUT_VERSION = 6
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
    ("generate", "Generate", L, ("tab", "training"), "continue a prompt with the model"),
    ("palette", "Layers", L, ("tab", "training"), "drag a layer onto the canvas"),
    ("properties", "Properties", L, ("tab", "training"), "the selected node's parameters"),
    ("h", "Hidden state h", R, None, ""),
    ("gates", "Gates", R, ("right", "h"), ""),
    ("gradient", "Gradient (BPTT)", R, ("right", "gates"), ""),
    ("c", "Cell state c", R, ("tab", "h"), ""),
    ("attention", "Attention", R, ("tab", "gates"), ""),
    ("jacobian", "Jacobian norms", R, ("tab", "gradient"), ""),
    ("trajectory", "Trajectory", R, ("tab", "jacobian"), "h_t in its top principal components"),
    ("connectivity", "Connectivity", R, ("tab", "jacobian"),
     "how strongly each output step depends on each input step"),
    ("neurons", "Neuron search", R, ("tab", "c"), "the units on over a span, and where else"),
    ("input", "Input x_t", B, None, ""),
    ("output", "Output", B, ("right", "input"), ""),
    ("loss", "Loss per step", B, ("right", "output"), ""),
    ("equation", "Equation", B, ("right", "loss"), ""),
    ("curves", "Training curves", B, ("tab", "loss"), ""),
    ("horizon", "Gradient horizon", B, ("tab", "curves"),
     "how far back the gradient reaches, recorded while training"),
)
RAISED = ("h", "gates", "gradient", "loss", "training")


class MainWindow(QtWidgets.QMainWindow):
    """Sequence Playground's window. ``controller``, ``timeline``, ``panels`` and ``docks``
    are public so that tests and benchmarks can drive it as a user would. ``core=False``:
    the first stage only (see the module docstring); ``controller`` and ``files`` are
    ``None`` until :meth:`attach_core`."""

    def __init__(self, settings: QtCore.QSettings | None = None, *, core: bool = True):
        super().__init__()
        self.settings = settings or QtCore.QSettings("SequencePlayground", "SequencePlayground")
        self.setWindowTitle("Sequence Playground")
        self.setDockNestingEnabled(True)
        self.controller = None            # attach_core: the core's one door
        self.files = None                 # attach_core: the File menu's dialogs
        self.recent_menu: QtWidgets.QMenu | None = None   # build_menus
        self.graph_model = GraphModel()   # the canvas's; the controller takes it over
        self.timeline = Timeline(1)
        self.panels: dict = {}            # attach_core fills it (the refresher holds it)
        self.refresher = RefreshScheduler(self.panels, self)
        self.canvas = CanvasView(self.graph_model, embed_panels=False)
        self.controls = TimelineView(self.timeline)
        self.layer_combo = self.controls.add_layer_choice()
        self.guide = guide_label()
        self.lesson_view = LessonView(self.guide)      # the guide dock: text and Show me
        self.walker = None                # attach_core: shows a lesson's steps
        self._preview_texts = ("Sequence Playground", "", "", ())
        self._later: list[str] = []       # docks whose widget is made after the first trace
        self._later_timer = QtCore.QTimer(self)
        self._later_timer.setSingleShot(True)
        self._later_timer.timeout.connect(self._make_later)
        self._build_docks()
        self.menus = build_menus(self)
        act = self.menus["save_comparison"] = QtGui.QAction("Save &comparison...", self)
        act.setEnabled(False)                # in compare mode only (ui.compare.open_in)
        act.triggered.connect(self._save_comparison)
        file_menu = self.menuBar().actions()[0].menu()
        file_menu.insertAction(self.menus["export"], act)
        self.timeline.events.step.connect(self.refresher.set_step)
        self._loading = QtWidgets.QLabel(LOADING)
        self._loading.setObjectName("loadingCore")
        self.statusBar().addWidget(self._loading)
        self._set_loading(True)
        self.resize(1600, 1000)
        self.restore_layout()
        if core:
            self.attach_core()

    # -- construction ---------------------------------------------------------------------
    def _widget(self, key: str) -> QtWidgets.QWidget:
        named = {"controls": self.controls, "canvas": self.canvas, "guide": self.lesson_view,
                 "palette": self.canvas.palette_widget,
                 "properties": self.canvas.properties_widget}
        return named.get(key) or Placeholder(LOADING)

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
            d.visibilityChanged.connect(lambda on, k=key: on and self._shown(k))
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

    def preview(self, path: str | None = None) -> None:
        """Before the core is loaded: the canvas shows the graph of the experiment about to
        open (default: the default preset) and the guide its texts, read from its JSON. The
        controller then opens it for real (and reports what is wrong with it)."""
        try:
            data = json.loads(Path(path or DEFAULT_PREVIEW).read_text(encoding="utf-8"))
            graph = graph_from_dict(data["graph"])
            texts = tuple(str(data.get(k, "")) for k in ("name", "description",
                                                          "what_to_look_at"))
            texts += (preview_steps(data.get("lesson")),)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, PlaygroundError):
            return
        self.canvas.set_graph(graph)
        self._preview_texts = texts
        self._update_title()

    def attach_core(self, later: bool = False) -> None:
        """The second stage: the controller (on the canvas's graph model), the panels, the
        sequence input, training and what-if docks, the file actions; then everything is
        enabled. ``later``: the docks not on screen now (behind a tab, closed) get their
        widget after the next event-loop turns, one per turn, so the first trace comes
        sooner; until then the refresher leaves them out and then brings them up to date."""
        if self.controller is not None:
            return
        from .controller import Controller
        from .files import FileActions
        from .lesson import LessonWalker
        from .panels.training import TrainingPlotsPanel
        from .sequence_input import SequenceInput
        from .training_panel import TrainingPanel

        self.controller = c = Controller(self, graph_model=self.graph_model)
        self.curves = TrainingPlotsPanel()
        self.seq_input = SequenceInput(c)
        self.training = TrainingPanel(c, self.curves)
        self.files = FileActions(self)
        self.files.recent_menu = self.recent_menu
        self.files.fill_recent()
        self._set_widget("input_box", scrolling(self.seq_input))  # a long vocabulary or
        self._set_widget("training", self.training)          # error scrolls, never hides
        self._set_widget("curves", self.curves)
        for key in self._core_keys():
            if later and not _on_screen(self.docks[key]):
                self._later.append(key)
            else:
                self._make(key)
        c.opened.connect(self._opened)
        c.modelChanged.connect(lambda: self._refresh(reset=True))
        c.traceChanged.connect(self._refresh)
        c.selectionChanged.connect(self._refresh)
        c.dirtyChanged.connect(self._update_title)
        c.staleChanged.connect(lambda why: [p.set_stale(why) for p in self.panels.values()])
        c.message.connect(lambda m: self.statusBar().showMessage(m, 10_000))
        self.canvas.nodeSelected.connect(lambda nid: nid and c.select_node(nid))
        self.layer_combo.chosen.connect(lambda sel: c.select_layer(*sel))
        self.training.message.connect(lambda m: self.statusBar().showMessage(m, 10_000))
        self.walker = LessonWalker(self)
        self.lesson_view.showRequested.connect(self.walker.show)
        self.lesson_view.ready = True
        self._set_loading(False)
        if self._later:
            self._later_timer.start(0)

    def _save_comparison(self, *_) -> bool:
        from .compare import save_comparison

        return save_comparison(self)

    def _core_keys(self) -> list[str]:
        return [k for k, d in self.docks.items() if isinstance(d.widget(), Placeholder)]

    def _make(self, key: str) -> None:
        """The widget of a core dock: a panel (brought up to date when on screen) or the
        what-if dock."""
        from .panels.analysis import JacobianPanel
        from .panels.attention import AttentionPanel
        from .panels.equation import EquationPanel
        from .panels.insight import ConnectivityPanel, HorizonPanel
        from .panels.io import InputPanel, LossPanel, OutputPanel
        from .panels.recurrent import GatesPanel, GradientPanel, StatePanel
        from .panels.states import NeuronSearchPanel, TrajectoryPanel
        from .whatif import WhatIfPanel

        c = self.controller
        if key == "whatif":
            self.whatif = WhatIfPanel(c, self.timeline)
            self._set_widget(key, self.whatif)
            return
        if key == "generate":
            from .panels.generate import GeneratePanel

            self.generate_panel = GeneratePanel(c)
            self._set_widget(key, self.generate_panel)
            return
        make = {"h": lambda: StatePanel("h"), "c": lambda: StatePanel("c"),
                "gates": GatesPanel, "gradient": GradientPanel, "attention": AttentionPanel,
                "jacobian": lambda: JacobianPanel(c), "input": InputPanel,
                "output": OutputPanel, "loss": LossPanel, "equation": EquationPanel,
                "trajectory": lambda: TrajectoryPanel(c),
                "connectivity": lambda: ConnectivityPanel(c),
                "neurons": lambda: NeuronSearchPanel(c, self.timeline),
                "horizon": lambda: HorizonPanel(c)}
        panel = make[key]()
        self.panels[key] = panel
        self._set_widget(key, panel)
        if c.stale:
            panel.set_stale(c.stale)
        self.refresher.stale.add(key)    # drawn from the current view when shown
        if c.trace is not None and _on_screen(self.docks[key]):
            self.refresher.shown(key)

    def _shown(self, key: str) -> None:
        if key in self._later:      # chosen before its turn came: made now
            self._later.remove(key)
            self._make(key)
        self.refresher.shown(key)

    def _make_later(self) -> None:
        if self._later:
            self._make(self._later.pop(0))
        if self._later:
            self._later_timer.start(0)

    def dock_widget(self, key: str, show: bool = False) -> QtWidgets.QWidget:
        """The widget of dock ``key``, made now if it was left for later; ``show``: the
        dock is shown, raised (its tab chosen) and its panel brought up to date."""
        if key in self._later:
            self._later.remove(key)
            self._make(key)
        d = self.docks[key]
        if show:
            d.show()
            d.raise_()
            self.refresher.shown(key)
        return d.widget()

    def _set_widget(self, key: str, widget: QtWidgets.QWidget) -> None:
        old = self.docks[key].widget()
        self.docks[key].setWidget(widget)
        if old is not None and old is not widget:
            old.deleteLater()

    def _set_loading(self, on: bool) -> None:
        """While the core loads: the canvas is read-only (nothing would rebuild after an
        edit) and the file actions are off; the status bar says why."""
        for w in (self.canvas.view, self.canvas.palette_widget,
                  self.canvas.properties_widget, self.controls):
            w.setEnabled(not on)
        for name in CANVAS_EDITS:
            self.canvas.actions_by_name[name].setEnabled(not on)
        for name in NEEDS_CORE:
            self.menus[name].setEnabled(not on)
        if on:
            self.recent_menu.setEnabled(False)
        self._loading.setVisible(on)

    def core_failed(self, problem: str) -> None:
        """The core could not be loaded: say so where it would have been."""
        text = f"PyTorch could not be loaded: {problem}"
        self._loading.setText(text)
        self._loading.setStyleSheet("color:#c62828; font-weight:bold;")
        for key in self._core_keys():
            self.docks[key].widget().setText(text)

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
        if self.walker is not None:
            self.walker.forget()          # the docks as before the last lesson's walk
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
        name, description, look_at, lesson = (self._preview_texts if c is None else
                                              (c.name, c.description, c.look_at, c.lesson))
        self.lesson_view.set_texts(name, description, look_at, lesson,
                                   {k: d.windowTitle() for k, d in self.docks.items()})
        dirty = c is not None and c.dirty
        self.setWindowTitle(f"{name}{'*' if dirty else ''} — Sequence Playground")

    # -- closing ----------------------------------------------------------------------------
    def closeEvent(self, ev: QtGui.QCloseEvent) -> None:
        if self.files is not None and not self.files.maybe_close():
            ev.ignore()
            return
        self.shutdown()
        self.save_layout()
        ev.accept()

    def shutdown(self) -> None:
        """Stop playback, timers, analysis and training (waits for the worker threads)."""
        self.controls.stop()
        self.refresher.stop()
        self._later_timer.stop()
        for p in self.panels.values():     # their own background jobs
            getattr(p, "shutdown", lambda: None)()
        if getattr(self, "compare_view", None) is not None:   # the members' training
            self.compare_view.shutdown()
        if self.controller is not None:
            self.seq_input.stop()
            self.controller.shutdown()
            self.training.shutdown()
        self.statusBar().clearMessage()  # its timeout timer


def _on_screen(widget: QtWidgets.QWidget) -> bool:
    """Shown and not moved out of the window behind another tab (Qt keeps such a dock
    "visible"; nothing of it is visible)."""
    return widget.isVisible() and not widget.visibleRegion().isEmpty()
