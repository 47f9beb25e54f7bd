"""The window's one door to the core: the open experiment and everything done to it.

:class:`Controller` owns the experiment (its graph, model, data, input and trace). Views
call its methods (new, open, save, export, edit, type, retrace, what-if, train, analyse)
and follow its signals; none of them builds, trains or traces on its own.

* ``opened``: a new experiment. Every view resets itself from it (ranges, step, direction,
  input text, lesson); nothing carries over.
* ``modelChanged``: the model was rebuilt after a canvas edit (same data and input).
* ``traceChanged`` / ``selectionChanged``: what the panels draw changed.
* ``staleChanged(why)``: the panels show an older model or input than the one on screen
  (an invalid edit or sequence); ``""`` when they are current again.
* ``traceBusy(on)``: a long trace runs in the background (:mod:`ui.tracejob`); the panels
  show the last one until it is done.
* ``weightsChanged``: which weights the model has changed (:attr:`Controller.weights`, a
  :class:`~playground.files.trained.WeightsChoice`: trained or the seed's untrained
  initialisation; :meth:`Controller.use_trained` switches).

The canvas's :class:`~playground.model.editing.GraphModel` (:attr:`graph_model`) is the one
owner of the graph: the controller builds from it after every valid edit.

:meth:`open_module` (:mod:`ui.controller_module`) shows a user's own ``torch.nn.Module``
instead (``playground.show``): no graph, its what-if re-runs ``playground.inspect``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PySide6 import QtCore

from playground.data import check_model, suggest_head, suggest_input
from playground.data.ngram import NGramModel
from playground.data.sources import TextDataset
from playground.errors import PlaygroundError
from playground.files import experiment as X
from playground.files import lessons
from playground.files.trained import WeightsChoice
from playground.model import registry
from playground.model.build import build
from playground.model.editing import GraphModel, carry_weights
from playground.model.spec import GraphSpec, chain
from playground.tracing.views import TraceView, layer_choices, make_view

from .controller_module import ModuleMixin
from .controller_parts import HELLO_TEXT, FilesMixin, GenerationMixin, TrainingMixin
from .jobs import AnalysisJob, GenerationJob, TrainingJob


def _structure(graph: GraphSpec) -> tuple:
    """A graph without canvas positions (moving a node changes no weights)."""
    return (tuple((n.id, n.kind, tuple(sorted(n.params.items()))) for n in graph.nodes),
            tuple((e.src, e.dst, e.port) for e in graph.edges))


def _style(kind: str) -> str | None:
    decl = registry.get(kind)
    return None if decl is None else decl.trace


class Controller(ModuleMixin, FilesMixin, GenerationMixin, TrainingMixin, QtCore.QObject):
    """The open experiment; see the module docstring."""

    opened = QtCore.Signal()
    modelChanged = QtCore.Signal()
    traceChanged = QtCore.Signal()
    selectionChanged = QtCore.Signal()
    inputError = QtCore.Signal(str)       # "" when the input is fine again
    staleChanged = QtCore.Signal(str)
    traceBusy = QtCore.Signal(bool)       # a trace runs in the background (panels: the last)
    weightsChanged = QtCore.Signal()      # trained or untrained weights (self.weights)
    dirtyChanged = QtCore.Signal(bool)
    message = QtCore.Signal(str)

    def __init__(self, parent=None, graph_model: GraphModel | None = None):
        """``graph_model``: the canvas's, when the window made it before the core was
        loaded (:meth:`ui.main_window.MainWindow.attach_core`)."""
        super().__init__(parent)
        self.graph_model = graph_model if graph_model is not None else GraphModel()
        self.training = TrainingJob(self)
        self.analysis = AnalysisJob(self)
        self.generation = GenerationJob(self)    # the Generate dock's
        self.name, self.description, self.look_at = "untitled", "", ""
        self.lesson: tuple[lessons.LessonStep, ...] = ()    # the steps of what to look at
        self.walk = lessons.LessonWalk()                    # the one shown (Show me)
        self.path: str | None = None
        self.dirty = False
        self.experiment = None
        self.weights = WeightsChoice()        # which weights the model has
        self.model = None
        self.dataset = None
        self.train_config = None
        self.batch = None
        self.input_text = ""
        self.tokens: list[str] = []
        self.trace = self.base_trace = None
        self.interventions: tuple = ()
        self.rec_sel: tuple | None = None  # (node, layer, direction[, call])
        self.attn_sel: str | None = None
        self.ngram_model = self.ngram = self.ngram_order = None
        self.stale = ""
        self._view_cache = None
        self._rng = np.random.default_rng(0)
        self.graph_model.changed.connect(self._graph_edited)
        self.training.finished.connect(self._training_finished)
        self.training.trace.connect(self._training_trace)
        from .horizon_recorder import HorizonRecorder

        self.horizon = HorizonRecorder(self)   # the gradient horizon recorded while training

    # -- opening ------------------------------------------------------------------------
    @property
    def graph(self) -> GraphSpec | None:
        """The graph of the built model (the canvas may hold a newer, invalid one)."""
        return None if self.model is None else self.model.graph

    def open(self, path, as_copy: bool = False) -> str:
        """Open an experiment file (``as_copy``: a preset, saved elsewhere). Returns ``""``,
        or the problem (the current experiment then stays)."""
        if self.training.running:
            return "stop training first, then open another experiment"
        from playground.files.access import outside_data_files

        outside = outside_data_files(path)
        if outside and not self.ask_read_outside(outside):
            return (f"{path}: not opened: it reads {outside[0]}, outside its own folder, "
                    "and you chose not to read it")
        try:
            exp = X.load(path)
            model = exp.build_model()
            dataset = exp.make_dataset()
        except PlaygroundError as e:   # the core's file boundary types every failure
            return str(e)
        except Exception as e:  # noqa: BLE001 - last resort: a sentence, never a traceback
            return f"{path}: could not be opened ({type(e).__name__}: {str(e)[:200]})"
        if as_copy:
            exp.path = None
        self.load(exp.graph, model, dataset, exp, name=exp.name, description=exp.description,
                   look_at=exp.what_to_look_at, lesson=exp.lesson,
                   path=None if as_copy else str(path))
        return ""

    def ask_read_outside(self, files) -> bool:
        """Whether to read data files outside the experiment's folder; the window asks the
        user (:class:`ui.files.FileActions`), code that made a Controller alone says yes."""
        ask = getattr(self, "read_outside_prompt", None)
        return True if ask is None else bool(ask(files))

    def open_default(self) -> None:
        """The default preset as an untitled copy (or a built-in hello RNN without it)."""
        if not self.open(X.resolve(X.DEFAULT_PRESET), as_copy=True):
            return
        ds = TextDataset(HELLO_TEXT, window=8, name="hello")
        g = chain(("x", "input", suggest_input(ds)), ("rnn", "rnn", {"hidden_size": 8}),
                  ("head", "linear", suggest_head(ds)))
        self.load(g, build(g, seed=0), ds, None, name="hello (built-in)",
                   description="A character RNN learning 'hello'.",
                   look_at="Step through 'hell' and watch the prediction of the next letter.")

    def new(self) -> None:
        """An empty canvas on typed text ("hello ..."): build a model to see it run."""
        ds = TextDataset(HELLO_TEXT, window=8, name="typed text")
        self.load(GraphSpec(), None, ds, None, name="untitled",
                   description="An empty model. Drag layers from the Layers dock onto the "
                               "canvas and connect them: input, a recurrent layer, a linear "
                               "head.",
                   look_at="")

    def load(self, graph, model, dataset, exp=None, *, name="untitled", description="",
             look_at="", lesson=(), path=None) -> None:
        """Take an experiment made in code (a graph, its built model and a dataset)."""
        self.analysis.cancel()
        self.generation.cancel()
        self.tracer.cancel()                  # a trace of the last one is never shown
        self.inspected = None                 # out of playground.show's mode (ui.controller_module)
        self.model, self.dataset, self.experiment = model, dataset, exp
        self.weights = WeightsChoice.of(exp)
        self.train_config = exp.train if exp is not None else None
        self.name, self.description, self.look_at, self.path = name, description, look_at, path
        self.lesson = tuple(lesson)
        self.walk.reset(self.lesson)
        self.interventions, self.trace, self.base_trace, self.batch = (), None, None, None
        self.input_text, self.tokens = "", []
        self.rec_sel = self.attn_sel = None
        self._select_first(graph)
        self.ngram_model = NGramModel.baseline_for(dataset)
        self.ngram_order = None if self.ngram_model is None else self.ngram_model.order
        self.training.forget()
        self.graph_model.set_graph(graph)     # the canvas follows (nothing to rebuild)
        self.dirty = False
        self._set_stale("")
        if model is not None:
            self.use_batch(dataset.example(), emit=False)
        self.opened.emit()
        self.weightsChanged.emit()
        self.dirtyChanged.emit(False)

    def _select_first(self, graph) -> None:
        for n in graph.nodes:
            style = _style(n.kind)
            if style == "recurrent" and self.rec_sel is None:
                self.rec_sel = (n.id, 0, 0)
            if style == "attention" and self.attn_sel is None:
                self.attn_sel = n.id

    # -- editing ------------------------------------------------------------------------
    def _graph_edited(self) -> None:
        """The canvas changed the graph: rebuild when valid, keeping unchanged layers'
        weights; otherwise the panels keep the last valid model, marked stale."""
        graph = self.graph_model.spec()
        old = self.graph
        if old is not None and _structure(graph) == _structure(old):
            if graph.to_dict() != old.to_dict():   # nodes moved: nothing to rebuild
                self.model.graph = graph
                self.set_dirty(True)
            if self.stale.startswith("the model"):
                self._set_stale("")
            return
        if self.model is None and not graph.nodes:
            return
        self.set_dirty(True)
        info = self.graph_model.analyze()
        if not info.ok:
            return self._set_stale(f"the model on the canvas has {len(info.problems)} "
                                   f"problem(s): {info.problems[0]}")
        if self.training.running:
            return self._set_stale("the model changed during training: stop training to "
                                   "apply the edit")
        problems = check_model(self.dataset, graph) if self.dataset is not None else []
        if problems:
            return self._set_stale(f"the model does not fit the data: {problems[0]}")
        try:
            model = build(graph, seed=0)
            fresh = carry_weights(self.model, model, old, graph) if self.model else []
        except PlaygroundError as e:
            return self._set_stale(f"the model cannot be built: {e}")
        self.model = model
        self.weights = self.weights.after_edit(fresh)
        self.weightsChanged.emit()
        self.interventions, self.base_trace = (), None
        ids = {n.id for n in graph.nodes}
        if self.rec_sel and self.rec_sel[0] not in ids:
            self.rec_sel = None
        if self.attn_sel and self.attn_sel not in ids:
            self.attn_sel = None
        self._select_first(graph)
        self.training.forget()
        self.horizon.forget_experiments()
        self._set_stale("")
        self._lesson_after_edit(old, graph)
        self.modelChanged.emit()
        if self.batch is None:
            self.use_batch(self.dataset.example())
        else:
            self.retrace()
        if fresh:
            self.message.emit("re-initialised: " + ", ".join(fresh))

    def _lesson_after_edit(self, old, new) -> None:
        """An edit that changes which kinds of layer the model has leaves the preset's lesson
        behind: it described the original model."""
        def kinds(g):
            return sorted(n.kind for n in g.nodes if _style(n.kind) in ("recurrent",
                                                                         "attention"))
        if old is None or kinds(old) == kinds(new) or not (self.look_at or self.lesson):
            return
        labels = " + ".join(registry.label(k) for k in kinds(new)) or "no recurrent layer"
        self.description = (f"Edited from '{self.name}': the model is now {labels}. The "
                            "preset's lesson was about the original model.")
        self.look_at, self.lesson = "", ()
        self.walk.reset(())

    def _set_stale(self, why: str) -> None:
        if why != self.stale:
            self.stale = why
            self.staleChanged.emit(why)

    def set_training(self, **changes) -> str:
        """Change training settings (``lr``, ``schedule``, ``warmup``, ``step_every``,
        ``step_factor``...): ``""`` or what is wrong. They are saved with the experiment and
        the next Train uses them, also when it continues an earlier run."""
        if self.train_config is None:
            return "open an experiment first"
        try:
            cfg = dataclasses.replace(self.train_config, **changes)
        except (PlaygroundError, TypeError, ValueError) as e:
            return str(e)
        if cfg != self.train_config:
            old, self.train_config = self.train_config, cfg
            self.set_dirty()
            if cfg.forget_bias != old.forget_bias:      # an initialisation setting
                return self.reinitialise()
        return ""

    def set_dirty(self, dirty: bool = True) -> None:
        if dirty != self.dirty:
            self.dirty = dirty
            self.dirtyChanged.emit(dirty)

    # -- input --------------------------------------------------------------------------
    def set_input_text(self, text: str) -> bool:
        """Encode a typed sequence and trace it (in the background when that takes long);
        on a problem emit ``inputError`` and keep the old trace."""
        if self.dataset is None:
            return False
        try:
            batch = self.dataset.encode_input(text)
        except (PlaygroundError, ValueError) as e:
            self.inputError.emit(str(e))
            self._set_stale("the sequence cannot be read: the panels show the last one")
            return False
        return self.use_batch(batch, text=text, wait=False)

    def sample(self, which: str = "example") -> bool:
        """A sequence from the task: its fixed example, or a fresh random one."""
        try:
            b = self.dataset.example() if which == "example" else self.dataset.sample(1, self._rng)
        except PlaygroundError as e:
            self.inputError.emit(str(e))
            return False
        return self.use_batch(b, wait=False)

    def use_batch(self, batch, emit: bool = True, text: str | None = None,
                  wait: bool = True) -> bool:
        """Show ``batch`` with no what-if. ``wait``: trace it now, whatever it costs;
        otherwise a long trace runs in the background (:mod:`ui.tracejob`) and the panels
        keep the last one until it is done. False (and ``inputError``) on a problem."""
        try:
            tokens = self.dataset.step_labels(batch)
        except (PlaygroundError, KeyError):
            tokens = []
        if self.dataset.vocab is not None and tokens:
            text = self.dataset.vocab.join(tokens)
        return self._request(batch, tokens, self.input_text if text is None else text, (),
                             emit=emit, wait=wait, new_input=True)

    def input_as_text(self) -> str:
        if self.dataset is not None and self.dataset.vocab is not None:
            return self.input_text
        return "; ".join(self.tokens)

    # -- tracing ------------------------------------------------------------------------
    @property
    def tracer(self):
        """The :class:`~ui.tracejob.TraceJob` that runs this controller's traces."""
        job = self.__dict__.get("_tracer")
        if job is None:   # made on first use (the window may exist before the core is loaded)
            from .tracejob import TraceJob

            job = self.__dict__["_tracer"] = TraceJob(self)
            job.ready.connect(self._traced)
            job.failed.connect(self._trace_failed)
            job.busy.connect(self.traceBusy)
        return job

    @property
    def validation(self):
        """The validation sequences' hidden states (:class:`~ui.validation.ValidationJob`),
        for the Trajectory and Neuron search docks; made on first use."""
        job = self.__dict__.get("_validation")
        if job is None:
            from .validation import ValidationJob

            job = self.__dict__["_validation"] = ValidationJob(self)
        return job

    def _wanted(self) -> tuple:
        """(batch, tokens, text) the user asked for last: one still being traced, or the
        one on screen."""
        req = self.tracer.latest()
        if req is not None and req.model is self.model:
            return req.batch, req.tokens, req.text
        return self.batch, self.tokens, self.input_text

    def _request(self, batch, tokens, text, interventions, *, emit=True, wait=True,
                 new_input=False) -> bool:
        if self.model is None or batch is None:
            return False
        if self.training.running:       # the trainer traces it at its next step
            self.tracer.cancel()
            self.batch, self.tokens, self.input_text = batch, tokens, text
            self.interventions, self.base_trace = (), None
            self.training.request_trace(batch)
            if new_input:
                self._input_fine()
            return True
        from .tracejob import TraceRequest

        req = TraceRequest(self.model, batch, tokens, text, tuple(interventions),
                           tbptt=getattr(self.train_config, "tbptt", None),
                           ngram=self.ngram_model, emit=emit, new_input=new_input)
        try:
            done = self.tracer.run(req, wait=wait)
        except PlaygroundError as e:
            self.inputError.emit(str(e))
            return False
        if done is not None:
            self._traced(req, done)
        return True

    def _traced(self, req, result) -> None:
        """The trace of ``req`` is ready (now, or from the background): show it."""
        if req.model is not self.model:
            return
        self.batch, self.tokens, self.input_text = req.batch, req.tokens, req.text
        self.interventions = req.interventions
        self.trace, self.base_trace, self.ngram = result
        if req.emit:
            self.traceChanged.emit()
        if req.new_input:
            self._input_fine()

    def _trace_failed(self, _req, message: str) -> None:
        self.inputError.emit(message)      # as a trace in this thread reports it

    def _input_fine(self) -> None:
        self.inputError.emit("")
        if self.stale.startswith("the sequence"):
            self._set_stale("")

    def retrace(self, emit: bool = True, wait: bool = True) -> bool:
        """Trace the current input again (with the current what-if); False on a problem.
        ``wait=False``: in the background when that takes long."""
        return self._request(self.batch, self.tokens, self.input_text, self.interventions,
                             emit=emit, wait=wait)

    def apply_interventions(self, ivs) -> bool:
        """Re-run the input with ``ivs`` (:class:`playground.tracing.Intervention`), in the
        background when that takes long; the original stays as :attr:`base_trace`."""
        if self.inspected is not None:     # a user's own model (ui.controller_module)
            return self.module_whatif(ivs)
        if self.training.running:
            self.inputError.emit("what-if needs the model to itself: stop training first")
            return False
        return self._request(*self._wanted(), tuple(ivs), wait=False)

    def clear_whatif(self) -> None:
        """The input without the what-if (its trace is the one kept as the original)."""
        if self.inspected is not None:
            self.module_whatif(())
            return
        latest = self.tracer.latest()
        if self.interventions or (latest is not None and latest.interventions):
            self._request(*self._wanted(), (), wait=False)

    # -- selection ----------------------------------------------------------------------
    def select_node(self, node_id: str) -> None:
        """Choose which layer the panels show (a recurrent or attention node)."""
        try:
            style = _style(self.graph.node(node_id).kind)
        except (KeyError, AttributeError):
            return
        if style == "recurrent":
            self.rec_sel = (node_id, 0, 0)
        elif style == "attention":
            self.attn_sel = node_id
        else:
            return
        self.selectionChanged.emit()

    def select_layer(self, node: str, layer: int, direction: int, call: int = 0) -> None:
        """Show that record (``call``: which call of a module called more than once)."""
        self.rec_sel = (node, layer, direction) + ((call,) if call else ())
        self.selectionChanged.emit()

    def layer_choices(self) -> list[tuple]:
        """Every recurrent record of the trace as (node, layer, direction[, call], label):
        the key :meth:`select_layer` takes and :attr:`rec_sel` holds, then its label."""
        return layer_choices(self.trace)

    def view(self) -> TraceView | None:
        """What the panels draw (:mod:`playground.tracing.views`)."""
        if self.trace is None:
            return None
        # made once per trace and selection: every view that asks gets the same one
        key = (self.trace, self.base_trace, self.ngram, self.rec_sel, self.attn_sel)
        if self._view_cache is not None:
            old, view = self._view_cache
            if all(a is b for a, b in zip(old[:3], key[:3])) and old[3:] == key[3:]:
                return view
        classes = getattr(self.dataset, "classes", None)
        vocab = getattr(self.dataset, "vocab", None)
        view = make_view(self.trace, self.base_trace, self.rec_sel, self.attn_sel,
                         tokens=self.tokens,
                         out_symbols=None if classes is None else classes.symbols,
                         in_symbols=None if vocab is None else vocab.symbols,
                         ngram=self.ngram, ngram_order=self.ngram_order,
                         interventions=self.interventions)
        self._view_cache = (key, view)
        return view

    def shutdown(self) -> None:
        self.analysis.cancel(wait=True)
        self.generation.cancel(wait=True)
        self.tracer.cancel(wait=True)
        if "_validation" in self.__dict__:
            self._validation.cancel(wait=True)
        if "_inspect_job" in self.__dict__:       # a what-if of playground.show's model
            self._inspect_job.cancel(wait=True)
        self.training.shutdown()
